"""The utilisation tracker (idle window, busy leaves at once), sparklines, the `:idle` rows and
the scraper's rounds against fake exporters."""

from __future__ import annotations

import threading

import pytest

from cockpit.kube import utilization as util_mod
from cockpit.kube.dcgm import Exporter, GpuSample, MetricsError
from cockpit.kube.utilization import (
    IDLE_COLUMNS,
    MetricsScraper,
    UtilizationTracker,
    idle_rows,
    node_util_cells,
    sparkline,
)


def sample(node="n1", gpu="0", pod="team/p", util=0.0, used=1000.0, free=80920.0, mig_profile="", mig_id=""):
    return GpuSample(node=node, gpu=gpu, uuid=f"GPU-{node}-{gpu}", model="A100", mig_profile=mig_profile,
                     mig_id=mig_id, pod_key=pod, util_pct=util, fb_used_mib=used, fb_free_mib=free,
                     temp_c=40.0, power_w=100.0)


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_idle_after_the_window_and_busy_leaves_at_once():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=60, clock=clock)
    for _ in range(6):  # 0..50 s at zero
        tr.add([sample(pod="team/idle", util=0, used=11264), sample(gpu="1", pod="team/busy", util=90)])
        clock.t += 10
    assert tr.idle_pods(now=clock.t - 1) == []  # 59 s: not yet
    tr.add([sample(pod="team/idle", util=0, used=11264), sample(gpu="1", pod="team/busy", util=90)])
    (idle,) = tr.idle_pods()
    assert (idle.pod_key, idle.gpus, idle.fb_used_mib, idle.node) == ("team/idle", 1, 11264, "n1")
    assert idle.idle_for_seconds == pytest.approx(60)
    clock.t += 5
    assert tr.idle_pods()[0].idle_for_seconds == pytest.approx(65)  # counts on between readings
    clock.t += 5
    tr.add([sample(pod="team/idle", util=3), sample(gpu="1", pod="team/busy", util=90)])
    assert tr.idle_pods() == []  # one reading above zero is enough
    clock.t += 10
    tr.add([sample(pod="team/idle", util=0), sample(gpu="1", pod="team/busy", util=90)])
    clock.t += 59
    assert tr.idle_pods() == []  # the window starts again from the last busy reading


def test_multi_gpu_pod_is_idle_only_when_every_gpu_is():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=10, clock=clock)
    for _ in range(3):
        tr.add([sample(gpu="0", pod="t/ddp", util=0), sample(gpu="1", pod="t/ddp", util=40)])
        clock.t += 10
    assert tr.idle_pods() == []
    for _ in range(3):
        tr.add([sample(gpu="0", pod="t/ddp", util=0, used=500), sample(gpu="1", pod="t/ddp", util=0, used=700)])
        clock.t += 10
    (idle,) = tr.idle_pods()
    assert (idle.gpus, idle.fb_used_mib) == (2, 1200)


def test_pods_that_let_go_of_their_gpu_are_forgotten_and_stale_ones_not_reported():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=5, clock=clock, stale_seconds=30)
    tr.add([sample(node="n1", pod="t/a"), sample(node="n2", pod="t/b")])
    clock.t += 10
    tr.add([sample(node="n1", pod="t/a"), sample(node="n2", pod="t/b")])
    assert [i.pod_key for i in tr.idle_pods()] == ["t/a", "t/b"]
    clock.t += 1
    tr.add([sample(node="n1", pod=None)])  # n1 read again: its GPU is free now
    assert [i.pod_key for i in tr.idle_pods()] == ["t/b"]
    assert tr.pod_summary("t/a") is None
    clock.t += 40  # n2 has not been read for a while: no evidence either way
    assert tr.idle_pods() == []
    tr.add([], nodes=["n2"])  # read, and nothing on it any more
    assert tr.pod_summary("t/b") is None


def test_missing_utilisation_is_no_evidence():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=5, clock=clock)
    for _ in range(3):
        tr.add([sample(pod="t/mig", util=None, mig_profile="1g.10gb", mig_id="7")])
        clock.t += 10
    assert tr.idle_pods() == []


def test_node_and_pod_summaries_and_mig_profiles():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=5, clock=clock)
    tr.add([sample(gpu="0", pod="t/a", util=100, used=40000, free=41920),
            sample(gpu="1", pod=None, util=0, used=0, free=81920)])
    clock.t += 5
    tr.add([sample(gpu="0", pod="t/a", util=50, used=40000, free=41920),
            sample(gpu="1", pod=None, util=0, used=0, free=81920)])
    s = tr.node_summary("n1")
    assert (s.avg_util, s.fb_used_mib, s.fb_total_mib) == (25, 40000, 163840)
    assert s.spark == [50, 25]
    avg, used, total, spark = s  # unpacks as the tuple it is
    p = tr.pod_summary("t/a")
    assert (p.avg_util, p.fb_used_mib, p.gpus, p.spark) == (50, 40000, 1, [100, 50])
    assert tr.node_summary("elsewhere") is None

    tr.add([sample(node="mig", gpu="0", pod="t/m", util=30, mig_profile="1g.10gb", mig_id="7", used=1, free=9),
            sample(node="mig", gpu="0", pod=None, util=0, mig_profile="1g.10gb", mig_id="8", used=0, free=10),
            sample(node="mig", gpu="1", pod="t/n", util=90, mig_profile="3g.40gb", mig_id="1", used=5, free=35)])
    one_g = tr.node_summary("mig", "1g.10gb")
    assert (one_g.avg_util, one_g.fb_used_mib, one_g.fb_total_mib) == (15, 1, 20)
    assert [d.device for d in tr.devices("mig")] == ["0/1g.10gb#7", "0/1g.10gb#8", "1/3g.40gb#1"]
    assert node_util_cells(tr, "mig", "nvidia.com/mig-3g.40gb", spark_width=3) == ("90%", "0/0Gi", "  ▇")
    assert node_util_cells(tr, "n1", "nvidia.com/gpu", spark_width=4) == ("25%", "39/160Gi", "  ▅▃")
    assert node_util_cells(tr, "unknown") == ("-", "-", "")


def test_time_sliced_gpu_counts_once_for_the_node():
    tr = UtilizationTracker(window_seconds=5, clock=Clock())
    tr.add([sample(gpu="0", pod="t/a", util=60), sample(gpu="0", pod="t/b", util=60),
            sample(gpu="1", pod=None, util=0, used=0)])
    s = tr.node_summary("n1")
    assert s.avg_util == 30 and s.fb_used_mib == 1000
    assert tr.pod_summary("t/b").gpus == 1


def test_ring_is_bounded():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=5, clock=clock, ring_size=120)
    for i in range(300):
        tr.add([sample(util=i % 100)])
        clock.t += 1
    assert len(tr.node_summary("n1").spark) == 120
    assert len(tr.pod_summary("team/p").spark) == 120


def test_sparkline():
    assert sparkline([0, 50, 100], 3) == "▁▅█"
    assert sparkline([0, 100], 5) == "   ▁█"  # right-aligned to its width
    assert sparkline(list(range(0, 101, 10)), 4) == "▆▇▇█"  # the newest values
    assert sparkline([None, 200, -5], 3) == " █▁"  # missing, clamped
    assert sparkline([1, 2], 0) == ""
    assert len(sparkline([3] * 500, 12)) == 12


def test_idle_rows():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=60, clock=clock)
    tr.add([sample(node="gpu-a100-01", gpu="4", pod="team-vision/dev-box-alice", util=0, used=11264),
            sample(node="gpu-a100-01", gpu="5", pod="team-vision/dev-box-alice", util=0, used=11264)])
    clock.t += 3700
    tr.add([sample(node="gpu-a100-01", gpu="4", pod="team-vision/dev-box-alice", util=0, used=11264),
            sample(node="gpu-a100-01", gpu="5", pod="team-vision/dev-box-alice", util=0, used=11264)])
    (row,) = idle_rows(tr)
    assert len(row.cells) == len(IDLE_COLUMNS)
    assert [c.title for c in IDLE_COLUMNS] == ["NAMESPACE", "POD", "GPUS", "IDLE FOR", "MEMORY", "NODE"]
    assert row.cells == ("team-vision", "dev-box-alice", "2", "61m", "22.0Gi", "gpu-a100-01")
    assert row.key == "team-vision/dev-box-alice" and (row.namespace, row.name) == ("team-vision", "dev-box-alice")
    assert row.sort[3] == pytest.approx(3700)


# --- the scraper -------------------------------------------------------------------------------

TEXT = {
    "n1": 'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="GPU-1",Hostname="n1",namespace="team",pod="a"}} {u}\n'
          'DCGM_FI_DEV_FB_USED{{gpu="0",UUID="GPU-1",Hostname="n1",namespace="team",pod="a"}} 900\n',
    "n2": 'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="GPU-2",hostname="n2",namespace="team",pod="b"}} 77\n',
}


class FakeFetcher:
    def __init__(self, util: dict):
        self.util = util
        self.lock = threading.Lock()
        self.calls = 0

    def fetch(self, exp: Exporter) -> str:
        with self.lock:
            self.calls += 1
        if exp.node == "broken":
            raise MetricsError("port-forward: 404 pods \"x\" not found")
        return TEXT[exp.node].format(u=self.util.get(exp.node, 0))


def test_scraper_rounds_feed_the_tracker():
    clock = Clock()
    tr = UtilizationTracker(window_seconds=10, clock=clock)
    exporters = [Exporter("gpu-operator", "e1", "n1"), Exporter("gpu-operator", "e2", "n2"),
                 Exporter("gpu-operator", "e3", "broken")]
    updates = []
    s = MetricsScraper(object(), tr, on_update=lambda: updates.append(1), exporters=lambda: exporters,
                       use_nvml=False)
    s.fetcher = FakeFetcher({"n1": 0})
    assert s.scrape_once() == 2
    assert s.state == "dcgm-exporter" and updates == [1]
    assert "404" in s.errors["broken"]
    clock.t += 11
    s.scrape_once()
    assert [i.pod_key for i in tr.idle_pods()] == ["team/a"]
    s.fetcher.util["n1"] = 12
    s.scrape_once()
    assert tr.idle_pods() == []
    assert tr.pod_summary("team/b").avg_util == 77


def test_scraper_accepts_pod_objects_from_a_store():
    tr = UtilizationTracker(window_seconds=10, clock=Clock())
    pods = [{"metadata": {"name": "e1", "namespace": "gpu-operator", "labels": {"app": "nvidia-dcgm-exporter"}},
             "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}]
    s = MetricsScraper(object(), tr, exporters=lambda: pods, use_nvml=False)
    s.fetcher = FakeFetcher({})
    assert s.scrape_once() == 1
    assert tr.nodes() == ["n1"]


def test_scraper_is_quietly_off_without_exporters_or_nvml(monkeypatch):
    import cockpit.kube.nvml as nvml

    monkeypatch.setattr(nvml, "nvml_available", lambda: False)
    tr = UtilizationTracker(clock=Clock())
    s = MetricsScraper(object(), tr, exporters=lambda: [], interval=0.01, rediscover_seconds=0.01)
    assert s.scrape_once() == 0 and s.state == "off" and s.last_error == ""
    s.start()
    assert s.running
    s.stop(timeout=5)
    assert not s._thread.is_alive()
    assert tr.nodes() == []


def test_scraper_thread_runs_and_stops(monkeypatch):
    tr = UtilizationTracker(window_seconds=10)
    seen = threading.Event()
    s = MetricsScraper(object(), tr, interval=0.05, on_update=seen.set,
                       exporters=lambda: [Exporter("gpu-operator", "e1", "n1")], use_nvml=False)
    s.fetcher = FakeFetcher({"n1": 50})
    s.start()
    try:
        assert seen.wait(5)
    finally:
        s.stop(timeout=5)
    assert not s._thread.is_alive()
    assert tr.node_summary("n1").avg_util == 50


def test_listing_exporters_forbidden_means_off(monkeypatch):
    def forbidden(api, timeout):
        from kubernetes.client.rest import ApiException

        raise ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(util_mod, "list_exporters", forbidden)
    import cockpit.kube.nvml as nvml

    monkeypatch.setattr(nvml, "nvml_available", lambda: False)
    s = MetricsScraper(object(), UtilizationTracker(clock=Clock()))
    assert s.scrape_once() == 0 and s.state == "off" and "403" in s.last_error
