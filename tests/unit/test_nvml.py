"""NVML on the GPU box: cgroup -> pod UID, the feature off without NVML, and `read_local`
against a stand-in `pynvml` module (the real one needs the driver and a GPU)."""

from __future__ import annotations

import sys
import types

import pytest

from cockpit.kube.nvml import nvml_available, pod_uid_from_cgroup, read_local

UID = "6b1e3a2c-9f4d-4c1b-8e7a-0d2f5c9b1a34"

# Recorded /proc/<pid>/cgroup contents.
CGROUP_V2_SYSTEMD = f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID.replace('-', '_')}.slice/cri-containerd-3f2a9c0e1b7d.scope\n"
CGROUP_V2_SYSTEMD_GUARANTEED = f"0::/kubepods.slice/kubepods-pod{UID.replace('-', '_')}.slice/cri-containerd-77aa.scope\n"
CGROUP_V2_CGROUPFS = f"0::/kubepods/besteffort/pod{UID}/0123456789abcdef\n"
CGROUP_V1_CGROUPFS = f"""\
12:pids:/kubepods/burstable/pod{UID}/9a8b7c6d5e4f
11:memory:/kubepods/burstable/pod{UID}/9a8b7c6d5e4f
10:devices:/kubepods/burstable/pod{UID}/9a8b7c6d5e4f
1:name=systemd:/kubepods/burstable/pod{UID}/9a8b7c6d5e4f
0::/
"""
CGROUP_V1_SYSTEMD = f"""\
11:cpuset:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID.replace('-', '_')}.slice/docker-1a2b.scope
2:cpu,cpuacct:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID.replace('-', '_')}.slice/docker-1a2b.scope
"""
CGROUP_GUARANTEED_V1 = f"4:memory:/kubepods/pod{UID}/ab12\n"
CGROUP_STATIC_POD = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podd3f4c5b6a7980123456789abcdef0123.slice/cri-containerd-1.scope\n"
CGROUP_HOST = "0::/user.slice/user-1000.slice/session-3.scope\n"
CGROUP_SYSTEM = "0::/system.slice/containerd.service\n"
CGROUP_NOT_A_POD = "0::/kubepods.slice/kubepods-burstable.slice\n"


@pytest.mark.parametrize("text", [CGROUP_V2_SYSTEMD, CGROUP_V2_SYSTEMD_GUARANTEED, CGROUP_V2_CGROUPFS,
                                  CGROUP_V1_CGROUPFS, CGROUP_V1_SYSTEMD, CGROUP_GUARANTEED_V1])
def test_pod_uid_from_cgroup(text):
    assert pod_uid_from_cgroup(text) == UID


def test_static_pod_hash_and_non_pods():
    assert pod_uid_from_cgroup(CGROUP_STATIC_POD) == "d3f4c5b6a7980123456789abcdef0123"
    for text in (CGROUP_HOST, CGROUP_SYSTEM, CGROUP_NOT_A_POD, "", "garbage without colons"):
        assert pod_uid_from_cgroup(text) is None
    # "pod" inside another word is not a pod element.
    assert pod_uid_from_cgroup(f"0::/kubepods/ipod{UID}/x\n") is None


def test_nvml_is_off_here():
    # No pynvml module, or no driver / GPU: False, quietly.
    assert nvml_available() is False
    assert read_local("this-node") == []


class NVMLError(Exception):
    pass


def fake_pynvml(monkeypatch, *, fail_init: bool = False) -> types.ModuleType:
    m = types.ModuleType("pynvml")
    m.NVML_TEMPERATURE_GPU = 0
    m.NVML_DEVICE_MIG_ENABLE = 1
    Mem = types.SimpleNamespace
    mib = 1024 * 1024
    gpus = [
        {"uuid": "GPU-0000", "name": "NVIDIA A100-SXM4-80GB", "util": 0, "mig": 0,
         "mem": Mem(used=11264 * mib, free=70656 * mib), "procs": [(100, 11000 * mib), (300, 200 * mib)]},
        {"uuid": b"GPU-1111", "name": b"NVIDIA A100-SXM4-80GB", "util": None, "mig": 1,
         "mem": Mem(used=0, free=81920 * mib), "procs": [],
         "instances": [{"gi": 7, "name": "NVIDIA A100-SXM4-80GB MIG 1g.10gb", "mem": Mem(used=500 * mib, free=9356 * mib),
                        "procs": [(200, None)]}]},
    ]

    def init():
        if fail_init:
            raise NVMLError("NVML Shared Library Not Found")

    m.nvmlInit = init
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: len(gpus)
    m.nvmlDeviceGetHandleByIndex = lambda i: ("gpu", i)

    def dev(h):
        if h[0] == "gpu":
            return gpus[h[1]]
        return gpus[h[1]]["instances"][h[2]]

    m.nvmlDeviceGetUUID = lambda h: dev(h)["uuid"]
    m.nvmlDeviceGetName = lambda h: dev(h)["name"]

    def rates(h):
        u = dev(h).get("util")
        if u is None:
            raise NVMLError("Not Supported")
        return types.SimpleNamespace(gpu=u, memory=0)

    m.nvmlDeviceGetUtilizationRates = rates
    m.nvmlDeviceGetTemperature = lambda h, kind: 35
    m.nvmlDeviceGetPowerUsage = lambda h: 61500
    m.nvmlDeviceGetMemoryInfo = lambda h: dev(h)["mem"]
    m.nvmlDeviceGetMigMode = lambda h: [dev(h)["mig"], dev(h)["mig"]]
    m.nvmlDeviceGetMaxMigDeviceCount = lambda h: 7

    def mig_handle(h, j):
        if j >= len(gpus[h[1]].get("instances", [])):
            raise NVMLError("Not Found")
        return ("mig", h[1], j)

    m.nvmlDeviceGetMigDeviceHandleByIndex = mig_handle
    m.nvmlDeviceGetGpuInstanceId = lambda h: dev(h)["gi"]
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [
        types.SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in dev(h)["procs"]]
    monkeypatch.setitem(sys.modules, "pynvml", m)
    return m


def proc_tree(tmp_path):
    for pid, text in ((100, CGROUP_V2_SYSTEMD), (200, CGROUP_V1_CGROUPFS.replace(UID, "11111111-2222-3333-4444-555555555555")),
                      (300, CGROUP_HOST)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cgroup").write_text(text)
    return tmp_path


def test_read_local_per_gpu_and_per_pod(monkeypatch, tmp_path):
    fake_pynvml(monkeypatch)
    assert nvml_available() is True
    names = {UID: "team-vision/dev-box-alice"}
    samples = read_local("gpu-box", resolve=names, proc_root=proc_tree(tmp_path))
    got = [(s.device, s.pod_key, s.util_pct, s.fb_used_mib, s.pod_uid) for s in samples]
    assert got == [
        ("0", None, 0.0, 11264.0, ""),  # the GPU itself, its totals
        ("0", "team-vision/dev-box-alice", 0.0, pytest.approx(11000.0), UID),  # host process 300 left out
        ("1/1g.10gb#7", None, None, 500.0, ""),  # MIG: NVML has no utilisation per instance
        ("1/1g.10gb#7", "uid:11111111-2222-3333-4444-555555555555", None, 0.0,
         "11111111-2222-3333-4444-555555555555"),
    ]
    first = samples[0]
    assert (first.node, first.uuid, first.model, first.temp_c, first.power_w) == (
        "gpu-box", "GPU-0000", "NVIDIA A100-SXM4-80GB", 35, 61.5)
    assert samples[2].uuid == "GPU-1111" and samples[2].fb_free_mib == 9356


def test_read_local_feeds_the_tracker_idle_list(monkeypatch, tmp_path):
    from cockpit.kube.utilization import UtilizationTracker

    fake_pynvml(monkeypatch)
    t = [0.0]
    tr = UtilizationTracker(window_seconds=5, clock=lambda: t[0])
    root = proc_tree(tmp_path)
    for _ in range(2):
        tr.add(read_local("gpu-box", resolve=lambda uid: "team-vision/dev-box-alice" if uid == UID else None,
                          proc_root=root))
        t[0] += 5
    assert [(i.pod_key, i.gpus) for i in tr.idle_pods()] == [("team-vision/dev-box-alice", 1)]
    assert tr.node_summary("gpu-box").fb_used_mib == 11264 + 500


def test_nvml_init_failure_is_quiet(monkeypatch):
    fake_pynvml(monkeypatch, fail_init=True)
    assert nvml_available() is False
    assert read_local("gpu-box") == []
