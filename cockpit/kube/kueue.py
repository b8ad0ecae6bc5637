"""Kueue quotas read from ClusterQueues, and what a namespace's queues can still take: the
launch form offers queues the way it offers GPU products, with what is free in each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES, is_gpu_resource
from cockpit.kube.quantity import parse_quantity
from cockpit.kube.text import clean

GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"  # what puts a Job in a LocalQueue
NOT_INSTALLED = "Kueue is not installed on this cluster"


@dataclass(frozen=True)
class FlavorQuota:
    flavor: str
    resource: str
    nominal: float
    borrowing_limit: float | None  # None: may borrow without limit (in a cohort)
    used: float
    borrowed: float

    @property
    def free(self) -> float:
        """Left of the nominal quota (borrowing aside)."""
        return max(0.0, self.nominal - self.used)


def _num(value: object) -> float:
    return parse_quantity(value, 0.0) if value not in (None, "") else 0.0


def gpu_quotas(cq: Mapping[str, Any], names: Iterable[str] = DEFAULT_GPU_RESOURCES,
               prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES) -> list[FlavorQuota]:
    """Every (flavor, GPU resource) the queue has a quota for, with what its workloads use."""
    names, prefixes = tuple(names), tuple(prefixes)
    usage: dict[tuple[str, str], tuple[float, float]] = {}
    for fu in ((cq.get("status") or {}).get("flavorsUsage") or ()):
        for r in fu.get("resources") or ():
            usage[(str(fu.get("name")), str(r.get("name")))] = (_num(r.get("total")), _num(r.get("borrowed")))
    out = []
    for group in ((cq.get("spec") or {}).get("resourceGroups") or ()):
        for flavor in group.get("flavors") or ():
            for r in flavor.get("resources") or ():
                res = str(r.get("name") or "")
                if not is_gpu_resource(res, names, prefixes):
                    continue
                used, borrowed = usage.get((str(flavor.get("name")), res), (0.0, 0.0))
                limit = r.get("borrowingLimit")
                out.append(FlavorQuota(str(flavor.get("name") or ""), res, _num(r.get("nominalQuota")),
                                       None if limit is None else _num(limit), used, borrowed))
    return out


@dataclass(frozen=True)
class QueueOffer:
    """A LocalQueue of the namespace and what its ClusterQueue has free per GPU flavor."""

    name: str
    cluster_queue: str
    free: tuple[tuple[str, float], ...]  # (flavor, GPUs free of the nominal quota), quota order

    def label(self) -> str:
        free = " · ".join(f"{clean(f, 40)} {n:g} free" for f, n in self.free if n) or "no GPU quota free"
        return f"{clean(self.name, 63)} → {clean(self.cluster_queue, 63)}: {free}"


def queue_offers(api, namespace: str) -> tuple[list[QueueOffer], str]:
    """(the namespace's queues with their free GPU quota, "" or why there are none). Blocking."""
    from cockpit.kube.rest import api_errors

    from cockpit.kube.connection import request_json

    base = f"/apis/{GROUP}/{VERSION}"
    try:
        local = request_json(api, "GET", f"{base}/namespaces/{namespace}/localqueues", timeout=(5, 20))
    except api_errors() as e:
        if e.status == 404:
            return [], NOT_INSTALLED
        return [], f"cannot list queues: {e.status} {clean(e.reason or '', 80)}"
    out = []
    for lq in local.get("items") or ():
        cq_name = str((lq.get("spec") or {}).get("clusterQueue") or "")
        try:
            cq = request_json(api, "GET", f"{base}/clusterqueues/{cq_name}", timeout=(5, 20))
        except api_errors():
            cq = {}  # not readable (RBAC) or gone: offered, with nothing known free
        free: dict[str, float] = {}
        for q in gpu_quotas(cq):
            free[q.flavor] = free.get(q.flavor, 0.0) + q.free
        out.append(QueueOffer(str((lq.get("metadata") or {}).get("name") or ""), cq_name, tuple(free.items())))
    return sorted(out, key=lambda o: o.name), "" if out else f"no Kueue queue in namespace {namespace}"
