"""The cockpit against kubectl on a large demo cluster, measured in one run.

    .venv/bin/python bench/bench_cockpit.py [--nodes 1000] [--pods 10000] [--updates 200]

Starts (or reuses) a demo cluster in its own state dir with the given size, then measures:
- `kubectl get pods -A` wall time (median of 3);
- the cockpit's time from start to the first complete paint of all-namespace pods (a headless
  app at 160x50, in a fresh process so its RSS is its own);
- watch-event-to-screen latency while pods change: a label is patched on a running pod, and the
  time until the row carrying the new value is painted is recorded (p50, p95);
- the cockpit process's peak RSS.
Prints one JSON object; bench/RESULTS.md records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cluster_up(workdir: Path, nodes: int, pods: int):
    from cockpit.demo.cluster import DemoCluster, free_port

    cluster = DemoCluster(workdir=workdir)
    if not cluster.exists():
        t0 = time.monotonic()
        cluster.up(port=free_port(), nodes=nodes, pods=pods)
        print(f"# cluster with {nodes} extra nodes and {pods} pods up in {time.monotonic() - t0:.1f}s",
              file=sys.stderr)
    else:
        cluster.up()
    return cluster


def kubectl_time(cluster) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(3):
        t0 = time.monotonic()
        out = subprocess.run([str(cluster.bins.path("kubectl")), "--kubeconfig", str(cluster.kubeconfig),
                              "get", "pods", "-A", "--no-headers"], capture_output=True, text=True, check=True).stdout
        times.append(time.monotonic() - t0)
        count = len(out.splitlines())
    return statistics.median(times), count


def cockpit_run(kubeconfig: str, expected: int, updates: int) -> dict:
    """Runs in a child process: first paint, update latency, RSS."""
    from kubernetes import client, config

    from cockpit.app import CockpitApp
    from cockpit.kube.connection import Kubeconfig

    t_start = time.monotonic()
    app = CockpitApp(Kubeconfig.load(kubeconfig), context="cockpit-demo", start_pane="pods")
    result: dict = {}
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}

    # Record the moment a row carrying a fresh label value is applied to the visible table.
    original_apply = app._apply

    def spy(view, delta):
        original_apply(view, delta)
        if view is app.main.current and sent:
            for key in delta.changed_keys:
                row = view.store.get(key)
                value = row.labels.get("bench-tick") if row else None
                if value in sent and value not in seen:
                    seen[value] = time.monotonic()

    app._apply = spy

    async def drive():
        async with app.run_test(size=(160, 50)) as pilot:
            deadline = time.monotonic() + 300
            while app.main.current.store.total < expected - 5 and time.monotonic() < deadline:
                await pilot.pause(0.01)
            app.main.table.refresh()
            await pilot.pause(0)
            result["first_paint_s"] = time.monotonic() - t_start
            result["rows"] = app.main.current.store.total
            cfg = client.Configuration()
            config.load_kube_config(kubeconfig, context="cockpit-demo", client_configuration=cfg)
            core = client.CoreV1Api(client.ApiClient(cfg))
            names = [k for k in app.main.current.store.view() if k.startswith("bench-")][:updates]

            run = f"{int(time.time()) % 100000}"

            def patcher():
                for i, key in enumerate(names):
                    ns, name = key.split("/", 1)
                    tick = f"r{run}-{i}"
                    sent[tick] = time.monotonic()
                    core.patch_namespaced_pod(name, ns, {"metadata": {"labels": {"bench-tick": tick}}})
                    time.sleep(0.02)

            th = threading.Thread(target=patcher)
            th.start()
            deadline = time.monotonic() + 120
            while (th.is_alive() or len(seen) < len(sent)) and time.monotonic() < deadline:
                await pilot.pause(0.01)
            th.join()
            lat = sorted((seen[t] - sent[t]) * 1000 for t in seen)
            result["updates_sent"] = len(sent)
            result["updates_seen"] = len(seen)
            if lat:
                result["latency_ms_p50"] = round(statistics.median(lat), 1)
                result["latency_ms_p95"] = round(lat[int(len(lat) * 0.95) - 1], 1)

    asyncio.run(drive())
    result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--workdir", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "cockpit-bench-cluster"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = p.parse_args()
    if args.child:
        kubeconfig, expected = args.child.rsplit(":", 1)
        print(json.dumps(cockpit_run(kubeconfig, int(expected), args.updates)))
        return 0
    cluster = cluster_up(Path(args.workdir), args.nodes, args.pods)
    try:
        kubectl_s, count = kubectl_time(cluster)
        child = subprocess.run([sys.executable, __file__, "--child", f"{cluster.kubeconfig}:{count}",
                                "--updates", str(args.updates)], capture_output=True, text=True)
        if child.returncode != 0:
            print(child.stderr[-3000:], file=sys.stderr)
            return 1
        res = json.loads(child.stdout.strip().splitlines()[-1])
        res.update(kubectl_get_pods_s=round(kubectl_s, 3), pods=count,
                   first_paint_vs_kubectl=round(res["first_paint_s"] / kubectl_s, 2))
        res["first_paint_s"] = round(res["first_paint_s"], 3)
        print(json.dumps(res, indent=1))
    finally:
        if not args.keep:
            cluster.down(log=lambda *_: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
