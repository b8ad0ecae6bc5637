"""What the Kueue kinds share: GPU quota per flavor read from a ClusterQueue's spec and status,
a Workload's state and the one line that says why it waits. Pure functions on raw objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.gpu import is_gpu_resource
from cockpit.kube.text import clean

from cockpit.kube.kueue import GROUP, NOT_INSTALLED, VERSION, FlavorQuota, _num, gpu_quotas  # noqa: F401

def _n(x: float) -> str:
    return f"{x:g}"


def quota_text(quotas: Iterable[FlavorQuota]) -> str:
    """"a100-80gb 4/4+2 · t4-shared 0/4": used/nominal, +borrowed when borrowing."""
    parts = []
    for q in quotas:
        extra = f"+{_n(q.borrowed)}" if q.borrowed else ""
        parts.append(f"{clean(q.flavor, 40)} {_n(q.used - q.borrowed)}/{_n(q.nominal)}{extra}")
    return " · ".join(parts)


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in ((obj.get("status") or {}).get("conditions") or ()):
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def _true(obj: Mapping[str, Any], kind: str) -> bool:
    return (condition(obj, kind) or {}).get("status") == "True"


def workload_state(wl: Mapping[str, Any]) -> str:
    """Finished, Admitted, Evicted (preempted...), Inactive, QuotaReserved or Pending."""
    if _true(wl, "Finished"):
        return "Finished"
    if _true(wl, "Admitted"):
        return "Admitted"
    if _true(wl, "Evicted") or _true(wl, "Preempted"):
        return "Preempted" if _true(wl, "Preempted") else "Evicted"
    if (wl.get("spec") or {}).get("active") is False:
        return "Inactive"
    if _true(wl, "QuotaReserved"):
        return "QuotaReserved"
    return "Pending"


def why_waiting(wl: Mapping[str, Any]) -> str:
    """Why the workload does not run, in a few words ("" once admitted)."""
    from cockpit.kube.why import why_workload

    return why_workload(wl).removeprefix("Kueue: ")


def workload_gpus(wl: Mapping[str, Any], names: Iterable[str], prefixes: Iterable[str]) -> float:
    """GPUs the workload asks for: per pod set, the template's requests × count."""
    from cockpit.kube.gpu import pod_requests

    names, prefixes = tuple(names), tuple(prefixes)
    total = 0.0
    for ps in ((wl.get("spec") or {}).get("podSets") or ()):
        template = ps.get("template") or {}
        requests = pod_requests({"spec": template.get("spec") or {}})
        gpus = sum(v for k, v in requests.items() if is_gpu_resource(k, names, prefixes))
        total += gpus * int(ps.get("count") or 1)
    return total


def admitted_flavors(wl: Mapping[str, Any], names: Iterable[str] = (), prefixes: Iterable[str] = ()) -> str:
    """The flavors the workload's GPUs were admitted to (the CPU and memory flavor is noise)."""
    names, prefixes = tuple(names), tuple(prefixes)
    flavors: list[str] = []
    for psa in (((wl.get("status") or {}).get("admission") or {}).get("podSetAssignments") or ()):
        for resource, f in (psa.get("flavors") or {}).items():
            if (not names and not prefixes or is_gpu_resource(resource, names, prefixes)) and f not in flavors:
                flavors.append(str(f))
    return ",".join(clean(f, 40) for f in flavors)


def is_gpu(resource: str, hub) -> bool:
    return is_gpu_resource(resource, hub.gpu.index.names, hub.gpu.index.prefixes)
