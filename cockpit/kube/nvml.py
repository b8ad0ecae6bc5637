"""GPU utilisation read on the GPU box itself through NVML (`nvidia-ml-py`, import `pynvml`).

Optional: `pip install gpu-cockpit[gpu]`. Without the module, without the driver's library or
without GPUs, `nvml_available()` is False and nothing else here is called; no error is shown.

Processes map to pods through `/proc/<pid>/cgroup`, which names the pod's UID in both cgroup
layouts the kubelet makes (cgroupfs: `/kubepods/burstable/pod<uid>/<container>`; systemd:
`kubepods-burstable-pod<uid with _>.slice`). A UID becomes "namespace/name" through the
`resolve` mapping the caller builds from the pod list; an unknown UID stays "uid:<uid>".
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cockpit.kube.dcgm import GpuSample
from cockpit.kube.text import clean

__all__ = ["nvml_available", "pod_uid_from_cgroup", "read_local"]

_UID = r"[0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12}"
# "pod" right after a path or slice separator, the UID (dashes or, in systemd slice names,
# underscores; static pods have a 32-digit hash instead), then the end of that path element.
_POD = re.compile(rf"(?:^|[/\-])pod({_UID}|[0-9a-fA-F]{{32}})(?=\.slice|/|$)")
_MIG_PROFILE = re.compile(r"MIG\s+(\d+g\.\d+gb(?:\+me)?)", re.IGNORECASE)


def pod_uid_from_cgroup(text: str) -> str | None:
    """The pod UID in the contents of `/proc/<pid>/cgroup` (cgroup v1 or v2), or None when the
    process is not in a pod. Underscores of systemd slice names become dashes."""
    for line in text.splitlines():
        # v1: "12:memory:/kubepods/...", v2: "0::/kubepods.slice/..."
        path = line.split(":", 2)[-1].strip()
        if "kubepods" not in path:
            continue
        for element in path.split("/"):
            m = _POD.search(element)
            if m:
                return m.group(1).replace("_", "-").lower()
    return None


def _pynvml():
    import pynvml  # optional: imported only where used

    return pynvml


def nvml_available() -> bool:
    """Whether NVML answers here and sees at least one GPU. Never raises, never prints."""
    try:
        nv = _pynvml()
        nv.nvmlInit()
    except Exception:  # noqa: BLE001 - module, library or driver missing: the feature stays off
        return False
    try:
        return int(nv.nvmlDeviceGetCount()) > 0
    except Exception:  # noqa: BLE001
        return False
    finally:
        with contextlib.suppress(Exception):
            nv.nvmlShutdown()


def _text(v: Any, limit: int = 96) -> str:
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    return clean(v, limit)


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - NVML answers NotSupported for many fields (MIG, old GPUs)
        return None


def _processes(nv, handle) -> list[tuple[int, float | None]]:
    """(pid, used MiB or None) of the compute and graphics processes on a device."""
    out: dict[int, float | None] = {}
    for name in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        fn = getattr(nv, name, None)
        procs = _try(lambda fn=fn: fn(handle)) if fn else None
        for p in procs or []:
            used = getattr(p, "usedGpuMemory", None)
            mib = used / (1024 * 1024) if isinstance(used, int) and used >= 0 else None
            pid = int(p.pid)
            prev = out.get(pid)
            out[pid] = mib if prev is None else prev + (mib or 0)
    return list(out.items())


def _pod_of(pid: int, proc_root: Path) -> str | None:
    try:
        return pod_uid_from_cgroup((proc_root / str(pid) / "cgroup").read_text(errors="replace"))
    except OSError:
        return None


def _device_samples(nv, handle, *, node: str, gpu: str, uuid: str, model: str, mig_profile: str, mig_id: str,
                    util: float | None, temp: float | None, power: float | None,
                    resolve: Mapping[str, str] | Callable[[str], str | None] | None,
                    proc_root: Path) -> list[GpuSample]:
    mem = _try(lambda: nv.nvmlDeviceGetMemoryInfo(handle))
    used = mem.used / (1024 * 1024) if mem is not None else None
    free = mem.free / (1024 * 1024) if mem is not None else None
    base = {"node": node, "gpu": gpu, "uuid": uuid, "model": model, "mig_profile": mig_profile,
            "mig_id": mig_id, "util_pct": util, "fb_free_mib": free, "temp_c": temp, "power_w": power}
    # The device itself (pod None) with its totals, then one sample per pod holding it, with the
    # memory of that pod's processes.
    out = [GpuSample(pod_key=None, fb_used_mib=used, **base)]
    per_pod: dict[str, float] = {}
    for pid, mib in _processes(nv, handle):
        uid = _pod_of(pid, proc_root)
        if uid is None:
            continue
        per_pod[uid] = per_pod.get(uid, 0.0) + (mib or 0.0)
    for uid, mib in per_pod.items():
        name = resolve(uid) if callable(resolve) else (resolve or {}).get(uid)
        out.append(GpuSample(pod_key=clean(name, 320) if name else f"uid:{uid}", fb_used_mib=mib,
                             pod_uid=uid, **base))
    return out


def read_local(node_name: str, resolve: Mapping[str, str] | Callable[[str], str | None] | None = None,
               proc_root: Path | str = "/proc") -> list[GpuSample]:
    """Samples of this machine's GPUs and MIG instances (see `_device_samples`). Returns [] when
    NVML is not there; NVML errors on one field leave that field None."""
    try:
        nv = _pynvml()
        nv.nvmlInit()
    except Exception:  # noqa: BLE001 - off, quietly
        return []
    root = Path(proc_root)
    node = clean(node_name, 253)
    out: list[GpuSample] = []
    try:
        for i in range(int(nv.nvmlDeviceGetCount())):
            h = _try(lambda i=i: nv.nvmlDeviceGetHandleByIndex(i))
            if h is None:
                continue
            uuid = _text(_try(lambda h=h: nv.nvmlDeviceGetUUID(h)) or "")
            model = _text(_try(lambda h=h: nv.nvmlDeviceGetName(h)) or "")
            rates = _try(lambda h=h: nv.nvmlDeviceGetUtilizationRates(h))
            util = float(rates.gpu) if rates is not None else None
            temp = _try(lambda h=h: nv.nvmlDeviceGetTemperature(h, getattr(nv, "NVML_TEMPERATURE_GPU", 0)))
            milliwatts = _try(lambda h=h: nv.nvmlDeviceGetPowerUsage(h))
            power = milliwatts / 1000.0 if milliwatts is not None else None
            common = {"node": node, "gpu": str(i), "uuid": uuid, "model": model, "temp": temp,
                      "power": power, "resolve": resolve, "proc_root": root}
            mig = _try(lambda h=h: nv.nvmlDeviceGetMigMode(h))
            current = mig[0] if isinstance(mig, (list, tuple)) and mig else None
            if current == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1):
                count = _try(lambda h=h: nv.nvmlDeviceGetMaxMigDeviceCount(h)) or 0
                for j in range(int(count)):
                    mh = _try(lambda h=h, j=j: nv.nvmlDeviceGetMigDeviceHandleByIndex(h, j))
                    if mh is None:
                        continue
                    gi = _try(lambda mh=mh: nv.nvmlDeviceGetGpuInstanceId(mh))
                    mname = _text(_try(lambda mh=mh: nv.nvmlDeviceGetName(mh)) or "")
                    m = _MIG_PROFILE.search(mname)
                    # NVML has no per-instance utilisation (DCGM's profiling does): None.
                    out += _device_samples(nv, mh, mig_profile=m.group(1) if m else "mig",
                                           mig_id="" if gi is None else str(gi), util=None, **common)
            else:
                out += _device_samples(nv, h, mig_profile="", mig_id="", util=util, **common)
    except Exception:  # noqa: BLE001 - a driver hiccup gives no samples this time
        return out
    finally:
        with contextlib.suppress(Exception):
            nv.nvmlShutdown()
    return out
