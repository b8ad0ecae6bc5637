"""The cockpit side by side with k9s and kubectl on one demo cluster, in one run.

    .venv/bin/python bench/bench_vs_k9s.py --nodes 1000 --pods 10000 [--rounds 3] [--port 38711]

What a user waits for, whole process, each TUI started by exec in tmux at 160x50:
- exec -> first frame (anything drawn on the captured screen);
- exec -> first pod rows;
- exec -> every pod counted in the title (cockpit "Pods (10057)", k9s "pods(all)[10,057]");
- RSS of the process (and its children) right after that paint;
- new pod -> its row on screen: the pane is filtered to "lat-", pods of that name are created
  one at a time while a background thread patches labels on other pods at --churn events/s;
- key press -> next frame: Down pressed in the unfiltered list, timed until the captured screen
  (attributes included) changes.
`kubectl get pods -A` is timed in the same rounds. The cockpit package's byte-code is brought up to
date first, as an installed package has it. The TUIs alternate (cockpit, k9s, cockpit,
k9s, ...) so drift on the machine falls on both; ratios are taken pair by pair and their median
reported. Before each exec (and each kubectl) the bench waits, up to 20 s, until the machine uses
under --settle cores (default 1.0 of 2; the 1,000-node cluster idles at about 0.4): the previous
client's churn, deletes and the API server's collector otherwise land on the next one's list. The k9s binary is built from its Go module into the binaries cache (never committed):
`BUILD_TARGETS=k9s bash cockpit/demo/build-binaries.sh ~/.cache/gpu-cockpit`.

Screen polling (tmux capture-pane every 10-20 ms) adds a few ms and some CPU to every figure,
the same for both. Prints a JSON object and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

K9S_VERSION = "v0.50.16"
COCKPIT = ROOT / ".venv" / "bin" / "cockpit"
SOCK = f"bench-vs-k9s-{os.getpid()}"


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", SOCK, *args], capture_output=True, text=True, check=check).stdout


def screen(attrs: bool = False) -> str:
    return tmux("capture-pane", "-p", *(["-e"] if attrs else []), "-t", "b", check=False)


def rss_mb(pid: int) -> float:
    """RSS of a process and its descendants, MB."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def build_k9s() -> Path:
    from cockpit import locations

    cache = locations.binaries_cache()
    binary = cache / "bin" / f"k9s-{K9S_VERSION}"
    if not binary.exists():
        t0 = time.monotonic()
        subprocess.run(["bash", str(ROOT / "cockpit" / "demo" / "build-binaries.sh"), str(cache)],
                       env={**os.environ, "BUILD_TARGETS": "k9s", "K9S_VERSION": K9S_VERSION}, check=True)
        print(f"# k9s {K9S_VERSION} built in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return binary


def cluster_up(workdir: Path, nodes: int, pods: int, port: int | None):
    from cockpit.demo.cluster import DemoCluster

    cluster = DemoCluster(workdir=workdir)
    t0 = time.monotonic()
    if cluster.exists():  # built at this size before: start it again, without seeding the pods anew
        cluster.up(log=lambda m: print(f"# {m}", file=sys.stderr))
        return cluster
    cluster.up(port=port, nodes=nodes, pods=pods, log=lambda m: print(f"# {m}", file=sys.stderr))
    print(f"# demo cluster ({nodes} extra nodes, {pods} pods asked) up in {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    return cluster


def kubectl_get(cluster) -> tuple[float, int]:
    t0 = time.monotonic()
    out = subprocess.run([str(cluster.bins.path("kubectl")), "--kubeconfig", str(cluster.kubeconfig),
                          "get", "pods", "-A", "--no-headers"], capture_output=True, text=True, check=True).stdout
    return time.monotonic() - t0, len(out.splitlines())


class Tui:
    name = ""
    done: re.Pattern

    def command(self, kubeconfig: Path, home: Path) -> str: ...
    def filter(self, text: str) -> None: ...
    def count(self, text: str) -> int | None:
        m = self.done.search(text)
        return int(m.group(1).replace(",", "")) if m else None


class Cockpit(Tui):
    name = "cockpit"
    done = re.compile(r"Pods \(([\d,]+)\)")

    def command(self, kubeconfig, home):
        return (f"env XDG_CONFIG_HOME={home}/config XDG_STATE_HOME={home}/state "
                f"{COCKPIT} --kubeconfig {kubeconfig} --context cockpit-demo")

    def filter(self, text):
        tmux("send-keys", "-t", "b", "/", text, "Enter")


class K9s(Tui):
    name = "k9s"
    done = re.compile(r"pods\(all\)\[([\d,]+)\]", re.IGNORECASE)

    def __init__(self, binary: Path):
        self.binary = binary

    def command(self, kubeconfig, home):
        return (f"env K9S_CONFIG_DIR={home}/k9s XDG_CONFIG_HOME={home}/config XDG_STATE_HOME={home}/state "
                f"XDG_DATA_HOME={home}/data {self.binary} --kubeconfig {kubeconfig} --context cockpit-demo "
                f"-A -c pods --readonly --logoless")

    def filter(self, text):
        tmux("send-keys", "-t", "b", "/", text, "Enter")


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def busy_cores(window: float) -> float:
    """How many cores' worth of CPU the whole machine used over `window` seconds."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    b0, t0 = sample()
    time.sleep(window)
    b1, t1 = sample()
    return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)


def settle(limit: float, max_wait: float = 20.0) -> float:
    """Waits until the machine uses under `limit` cores over a second (the previous client's
    lists, churn and deletes done, the API server's collector run), at most `max_wait` s; returns
    how long it waited. Each TUI starts on a machine as quiet as the cluster lets it be."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_wait and busy_cores(1.0) > limit:
        pass
    return round(time.monotonic() - t0, 1)


def run_tui(tui: Tui, cluster, expected: int, args, tag: str) -> dict:
    from kubernetes import client, config

    api = config.new_client_from_config(str(cluster.kubeconfig), context="cockpit-demo")
    core = client.CoreV1Api(api)
    home = Path(tempfile.mkdtemp(prefix=f"bench-{tui.name}-"))
    tmux("kill-server", check=False)
    out: dict = {"tui": tui.name}
    if args.settle:
        out["settled_s"] = settle(args.settle)
    start = time.monotonic()
    tmux("new-session", "-d", "-s", "b", "-x", "160", "-y", "50", tui.command(cluster.kubeconfig, home))
    pid = int(tmux("display", "-p", "-t", "b", "#{pane_pid}").strip())
    deadline = start + args.timeout
    while time.monotonic() < deadline:
        text = screen()
        now = time.monotonic()
        if "first_frame_s" not in out and text.strip():
            out["first_frame_s"] = round(now - start, 3)
        if "first_rows_s" not in out and "Running" in text:
            out["first_rows_s"] = round(now - start, 3)
        n = tui.count(text)
        # The demo's own jobs start and end pods meanwhile: a count within 1% is the whole list.
        if n is not None and n >= expected * 0.99:
            out["all_pods_s"] = round(now - start, 3)
            break
        time.sleep(0.02)
    else:
        out["error"] = f"no complete paint in {args.timeout} s; last screen:\n{screen()}"
        tmux("kill-server", check=False)
        return out
    time.sleep(0.5)
    out["rss_mb"] = round(rss_mb(pid), 1)

    # Key press -> next frame, in the whole list.
    keys = []
    for _ in range(args.keys):
        before = screen(attrs=True)
        t0 = time.monotonic()
        tmux("send-keys", "-t", "b", "Down")
        while time.monotonic() - t0 < 5:
            if screen(attrs=True) != before:
                keys.append((time.monotonic() - t0) * 1000)
                break
            time.sleep(0.002)
        time.sleep(0.15)
    out["key_ms"] = [round(k, 1) for k in keys]

    # New pod -> on screen, while other pods change at --churn events/s.
    tui.filter("lat-")
    time.sleep(1.5)
    stop = threading.Event()
    running = [p.metadata for p in core.list_pod_for_all_namespaces(limit=500).items]

    def churn():
        tick = 0
        while not stop.is_set():
            m = random.choice(running)
            tick += 1
            try:
                core.patch_namespaced_pod(m.name, m.namespace, {"metadata": {"labels": {"bench-tick": str(tick)}}})
            except Exception:
                pass
            stop.wait(1 / args.churn)

    th = threading.Thread(target=churn, daemon=True)
    if args.churn:
        th.start()
    lat, made = [], []
    for i in range(args.new_pods):
        name = f"lat-{tag}-{i}"
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}],
                         "nodeSelector": {"bench": "nowhere"}}}
        core.create_namespaced_pod("default", body)
        t0 = time.monotonic()
        made.append(name)
        while time.monotonic() - t0 < 20:
            if name in screen():
                lat.append((time.monotonic() - t0) * 1000)
                break
            time.sleep(0.005)
        time.sleep(0.2)
    stop.set()
    out["new_pod_ms"] = [round(v, 1) for v in lat]
    out["new_pod_made"] = len(made)
    tmux("kill-server", check=False)
    for name in made:
        try:
            core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
        except Exception:
            pass
    while any(p.metadata.name.startswith("lat-") for p in core.list_namespaced_pod("default").items):
        time.sleep(0.2)
    api.close()
    return out


def summary(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"errors": [r.get("error") for r in runs]}
    keys = [k for r in ok for k in r["key_ms"]]
    lat = [v for r in ok for v in r["new_pod_ms"]]
    return {
        "first_frame_s": statistics.median(r["first_frame_s"] for r in ok if "first_frame_s" in r),
        "first_rows_s": statistics.median(r["first_rows_s"] for r in ok if "first_rows_s" in r),
        "all_pods_s": statistics.median(r["all_pods_s"] for r in ok),
        "rss_mb": statistics.median(r["rss_mb"] for r in ok),
        "key_p50_ms": round(percentile(keys, 0.5), 1) if keys else None,
        "key_p95_ms": round(percentile(keys, 0.95), 1) if keys else None,
        "new_pod_p50_ms": round(percentile(lat, 0.5), 1) if lat else None,
        "new_pod_p95_ms": round(percentile(lat, 0.95), 1) if lat else None,
        "new_pod_seen": f"{len(lat)} of {sum(r.get('new_pod_made', 0) for r in ok)}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=1.0,
                    help="before each exec, wait (up to 20 s) until the machine uses under this many cores; 0: no wait")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--demo-dir", default="")
    ap.add_argument("--new-pods", type=int, default=20)
    ap.add_argument("--churn", type=float, default=50.0, help="label patches per second meanwhile")
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--only", choices=("cockpit", "k9s"), default=None)
    args = ap.parse_args()

    k9s = None if args.only == "cockpit" else K9s(build_k9s())
    # The package's byte-code as an installed package has it (pip writes it, so does
    # scripts/setup): a source file edited since would otherwise be compiled at every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cockpit")], check=True)
    workdir = Path(args.demo_dir or f"/tmp/bench-demo-{args.pods}")
    cluster = cluster_up(workdir, args.nodes, args.pods, args.port)
    _, expected = kubectl_get(cluster)
    print(f"# {expected} pods", file=sys.stderr)
    tuis = [t for t in (Cockpit(), k9s) if t is not None and (args.only in (None, t.name))]
    runs: dict[str, list[dict]] = {t.name: [] for t in tuis}
    kubectl: list[float] = []
    for rnd in range(args.rounds):
        if args.settle:
            settle(args.settle)
        kubectl.append(kubectl_get(cluster)[0])
        for tui in tuis:
            r = run_tui(tui, cluster, expected, args, f"{tui.name[:2]}{rnd}")
            print(f"# round {rnd + 1} {tui.name}: " + json.dumps({k: v for k, v in r.items() if not k.endswith("_ms")}),
                  file=sys.stderr)
            runs[tui.name].append(r)
    result = {"pods": expected, "nodes": args.nodes, "kubectl_s": [round(k, 3) for k in kubectl],
              "kubectl_median_s": round(statistics.median(kubectl), 3),
              "summary": {name: summary(rs) for name, rs in runs.items()}, "runs": runs}
    if "k9s" in runs and "cockpit" in runs:
        pairs = [(c, k) for c, k in zip(runs["cockpit"], runs["k9s"], strict=True) if "error" not in c and "error" not in k]
        result["cockpit_over_k9s_all_pods"] = round(statistics.median(c["all_pods_s"] / k["all_pods_s"]
                                                                      for c, k in pairs), 3) if pairs else None
    result["cockpit_over_kubectl_all_pods"] = round(statistics.median(
        r["all_pods_s"] / k for r, k in zip(runs.get("cockpit", []), kubectl, strict=True) if "error" not in r), 3) \
        if runs.get("cockpit") else None
    print(json.dumps(result, indent=1))
    s = result["summary"]
    print("\n| | exec → first frame | exec → first rows | exec → every pod | RSS | key → frame p50 / p95 "
          "| new pod → screen p50 / p95 |")
    print("|---|---|---|---|---|---|---|")
    print(f"| `kubectl get pods -A` | – | – | {result['kubectl_median_s']:.2f} s | – | – | – |")
    for name, v in s.items():
        if "errors" in v:
            print(f"| {name} | failed | | | | | |")
            continue
        print(f"| {name} | {v['first_frame_s']:.2f} s | {v['first_rows_s']:.2f} s | {v['all_pods_s']:.2f} s | {v['rss_mb']:.0f} MB | "
              f"{v['key_p50_ms']} / {v['key_p95_ms']} ms | {v['new_pod_p50_ms']} / {v['new_pod_p95_ms']} ms |")


if __name__ == "__main__":
    main()
