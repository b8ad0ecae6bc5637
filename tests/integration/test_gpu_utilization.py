"""GPU utilisation, read the real way: dcgm-exporter pods in the demo cluster, reached through
the API server (its pod proxy refuses the demo's pod addresses, so through the port-forward
fallback), whose numbers come from the simulator, driven here through its control file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from cockpit.demo import simulator
from cockpit.kube.dcgm import MetricsError, fetch_node_metrics, list_exporters, parse_metrics
from cockpit.kube.utilization import MetricsScraper, UtilizationTracker, idle_rows
from tests.conftest import wait_for


def set_control(cluster, changes: dict) -> dict:
    control = simulator.read_control(cluster.workdir)
    control.update(changes)
    simulator.write_json(cluster.workdir / simulator.CONTROL_FILE, control)
    return control


@pytest.fixture(autouse=True)
def restore_control(demo_cluster):
    path = demo_cluster.workdir / simulator.CONTROL_FILE
    before = path.read_bytes() if path.exists() else None
    yield
    if before is not None:
        tmp = path.with_suffix(".restore")
        tmp.write_bytes(before)
        tmp.replace(path)


@pytest.fixture(scope="module")
def exporters(kube_admin):
    layout = simulator.gpu_layout()
    found = wait_for(lambda: len(list_exporters(kube_admin)) == len(layout) and list_exporters(kube_admin),
                     30, what="an exporter pod on every GPU node")
    assert {e.node for e in found} == set(layout)
    return {e.node: e for e in found}


def test_the_pod_proxy_is_refused_and_the_port_forward_carries_the_metrics(kube_admin, demo_cluster, exporters):
    layout = simulator.gpu_layout()
    node = "gpu-h100-01"
    devices = layout[node]
    wanted = {d.key: {"util": 10 * i + 3, "fb_used": 1000 * i + 7, "pod": f"team-nlp/h100-user-{i}" if i % 2 else ""}
              for i, d in enumerate(devices)}
    set_control(demo_cluster, wanted)
    exp = exporters[node]
    with pytest.raises(MetricsError, match="proxy"):
        fetch_node_metrics(kube_admin, exp.namespace, exp.pod, via="proxy", timeout=10)
    text = fetch_node_metrics(kube_admin, exp.namespace, exp.pod, timeout=10)  # the fallback
    samples = {s.gpu: s for s in parse_metrics(text)}
    assert len(samples) == len(devices)
    for d in devices:
        s, want = samples[str(d.gpu)], wanted[d.key]
        assert s.node == node and s.uuid == d.uuid
        assert s.util_pct == pytest.approx(want["util"])
        assert s.fb_used_mib == want["fb_used"] and s.fb_used_mib + s.fb_free_mib == d.memory_mib
        assert s.pod_key == (want["pod"] or None)


def test_every_node_is_attributed_whichever_hostname_spelling(kube_admin, exporters):
    spellings = set()
    for node, exp in exporters.items():
        text = fetch_node_metrics(kube_admin, exp.namespace, exp.pod, timeout=10)
        spellings |= {label for label in ("Hostname", "hostname") if f'{label}="{node}"' in text}
        samples = parse_metrics(text)  # the node from the label alone, no hint
        assert samples and {s.node for s in samples} == {node}, node
    assert spellings == {"Hostname", "hostname"}


def test_mig_instances_are_attributed_to_their_pods(kube_admin, demo_cluster, exporters):
    node = "gpu-a100-mig-01"
    devices = simulator.gpu_layout()[node]
    small, other = next(d for d in devices if d.mig_profile == "1g.10gb"), next(
        d for d in devices if d.mig_profile == "3g.40gb")
    set_control(demo_cluster, {
        small.key: {"util": 0, "fb_used": 900, "pod": "team-nlp/mig-idle"},
        other.key: {"util": 64, "fb_used": 30000, "pod": "team-vision/mig-busy"},
    })
    exp = exporters[node]
    samples = parse_metrics(fetch_node_metrics(kube_admin, exp.namespace, exp.pod, timeout=10))
    by_pod = {s.pod_key: s for s in samples if s.pod_key in ("team-nlp/mig-idle", "team-vision/mig-busy")}
    idle, busy = by_pod["team-nlp/mig-idle"], by_pod["team-vision/mig-busy"]
    assert (idle.gpu, idle.mig_profile, idle.mig_id, idle.util_pct, idle.fb_used_mib) == (
        str(small.gpu), "1g.10gb", small.mig_id, 0, 900)
    assert (busy.gpu, busy.mig_profile, busy.mig_id, busy.fb_used_mib) == (str(other.gpu), "3g.40gb", other.mig_id, 30000)
    assert busy.util_pct == pytest.approx(64)  # from the profiling ratio: MIG has no GPU_UTIL
    assert len({s.device for s in samples}) == len(devices)


def test_idle_pod_appears_after_the_window_and_leaves_when_busy(kube_admin, demo_cluster, exporters, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_pod("team-vision", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name},
        "spec": {"containers": [{"name": "train", "image": "nvcr.io/nvidia/pytorch:24.08-py3",
                                 "command": ["sleep", "infinity"],
                                 "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})
    pod = wait_for(lambda: (p := core.read_namespaced_pod(unique_name, "team-vision")).spec.node_name and p,
                   30, what="GPU pod scheduled")
    node = pod.spec.node_name
    key = f"team-vision/{unique_name}"
    control = simulator.read_control(demo_cluster.workdir)
    device = next(d for d in simulator.gpu_layout()[node] if not (control.get(d.key) or {}).get("pod"))

    window = 2.5
    tracker = UtilizationTracker(window_seconds=window)
    scraper = MetricsScraper(kube_admin, tracker, interval=0.5, timeout=10)
    idle_written = time.time()
    set_control(demo_cluster, {device.key: {"util": 0, "fb_used": 2048, "pod": key}})
    scraper.start()
    try:
        found = wait_for(lambda: next((i for i in tracker.idle_pods() if i.pod_key == key), None), 30,
                         interval=0.1, what="the pod in the idle list")
        assert time.time() - idle_written >= window
        assert found.idle_for_seconds >= window
        assert (found.gpus, found.fb_used_mib, found.node) == (1, 2048, node)
        assert scraper.state == "dcgm-exporter" and not scraper.errors
        rows = {r.key: r for r in idle_rows(tracker)}
        assert rows[key].cells[:3] == ("team-vision", unique_name, "1") and rows[key].cells[5] == node
        # The seeded dev box holds memory at 0 %: idle too.
        alice = simulator.read_control(demo_cluster.workdir)
        if any((v or {}).get("pod") == "team-vision/dev-box-alice" and v.get("util") == 0 for v in alice.values()):
            assert "team-vision/dev-box-alice" in rows
        # Busy pods never are.
        assert all((v or {}).get("util", 0) == 0 for k, v in alice.items()
                   if isinstance((v or {}).get("pod"), str) and v["pod"] in rows)

        busy_mib = device.memory_mib // 2
        set_control(demo_cluster, {device.key: {"util": 55, "fb_used": busy_mib, "pod": key}})
        wait_for(lambda: all(i.pod_key != key for i in tracker.idle_pods()), 15, interval=0.1,
                 what="the pod leaving the idle list")
        # Forwards opened in parallel left the shared client fit for plain requests.
        assert core.list_namespaced_pod("gpu-operator", limit=1).items
        summary = tracker.pod_summary(key)
        assert summary.avg_util == pytest.approx(55) and summary.fb_used_mib == busy_mib
        cells = tracker.node_summary(node)
        assert cells.avg_util is not None and cells.fb_total_mib > 0 and cells.spark
    finally:
        scraper.stop(timeout=10)
        core.delete_namespaced_pod(unique_name, "team-vision", grace_period_seconds=0)
    assert not scraper.running and not scraper._thread.is_alive()


def test_the_cockpits_own_client_reads_the_port_forward_without_the_official_client(demo_cluster, exporters):
    # The app's client is cockpit.kube.rest's; its port-forward is a websocket of its own, so the
    # scraper does not load the `kubernetes` package (35 MB) into the process. In a fresh
    # interpreter, as the app runs.
    exp = exporters["gpu-h100-01"]
    code = f"""
import sys
from pathlib import Path
from cockpit.kube import rest
from cockpit.kube.connection import ReadOnlyRefused, guard_read_only
from cockpit.kube.dcgm import MetricsError, fetch_node_metrics, parse_metrics
api = rest.connect([Path({str(demo_cluster.kubeconfig)!r})], "cockpit-demo")
guard_read_only(api, False)
text = fetch_node_metrics(api, {exp.namespace!r}, {exp.pod!r}, via="portforward", timeout=10)
print(len(parse_metrics(text)), {{s.node for s in parse_metrics(text)}} == {{{exp.node!r}}})
print("kubernetes" in sys.modules)
guard_read_only(api, True)
try:
    fetch_node_metrics(api, {exp.namespace!r}, {exp.pod!r}, via="portforward", timeout=10)
except MetricsError as e:
    print("refused" if "read-only" in str(e) else f"other: {{e}}")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{len(simulator.gpu_layout()[exp.node])} True", out.stdout
    assert lines[1] == "False", "the official client was imported"
    assert lines[2] == "refused", out.stdout  # read-only: no port-forward leaves the process
