"""GPU-hours held by live pods, per namespace, per owner and per GPU product, with the idle
share where utilisation is known. Fed one pod event at a time (`GpuHours.pod_seen`); nothing
here polls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cockpit.kube import gpu as gpumod
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import parse_time
from cockpit.kube.text import clean

USER_LABEL = "gpu-cockpit.io/user"  # set on what the cockpit launches (launch/apply.py): who launched it

GPU_HOURS_COLUMNS = (
    Column("BY", 9),
    Column("NAME", 40, min_width=18, cut="middle"),
    Column("GPUS", 5, "right"),
    Column("GPU-HOURS", 9, "right"),
    Column("IDLE", 5, "right", priority=1),
    Column("PODS", 5, "right", priority=2),
)


@dataclass(frozen=True, slots=True)
class Holding:
    namespace: str
    owner: str  # "Job team-nlp/bert" or "Pod team-nlp/x" for a bare pod
    user: str
    gpus: float
    started: float
    node: str


class GpuHours:
    """Running pods that hold GPUs, as the pods feed reports them."""

    def __init__(self, names: Iterable[str], prefixes: Iterable[str]):
        self.names, self.prefixes = tuple(names), tuple(prefixes)
        self.lock = threading.Lock()
        self.held: dict[str, Holding] = {}

    def pod_seen(self, pod: dict) -> None:
        key = gpumod.pod_key(pod)
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        running = status.get("phase") == "Running" and not meta.get("deletionTimestamp")
        gpus = sum(gpumod.gpu_requests(pod, self.names, self.prefixes).values()) if running else 0
        started = parse_time(status.get("startTime")) if gpus else None
        if started is None:
            self.pod_gone(key)
            return
        ns = meta.get("namespace") or ""
        owner = f"Pod {ns}/{meta.get('name', '')}"
        for ref in meta.get("ownerReferences") or ():
            if isinstance(ref, dict) and ref.get("controller"):
                owner = f"{ref.get('kind', '')} {ns}/{ref.get('name', '')}"
        user = ((meta.get("labels") or {}).get(USER_LABEL) or "")
        h = Holding(ns, clean(owner, 200), clean(user, 63), gpus, started, spec.get("nodeName") or "")
        with self.lock:
            self.held[key] = h

    def pod_gone(self, key: str) -> None:
        if key not in self.held:  # most pods never held a GPU: no lock for them
            return
        with self.lock:
            self.held.pop(key, None)

    def snapshot(self) -> dict[str, Holding]:
        with self.lock:
            return dict(self.held)


def gpu_hours_rows(held: dict[str, Holding], now: float, product_of: Callable[[str], str],
                   idle_of: Callable[[str], float | None]) -> list[Row]:
    """One row per namespace, owner, user (when labelled) and GPU product: GPUs held now, GPU-hours
    held so far by the pods holding them now, and the idle share of those hours where known."""
    groups: dict[tuple[str, str], list[float]] = {}  # (by, name) -> [gpus, gpu-hours, known hours, idle hours, pods]
    for key, h in held.items():
        hours = h.gpus * max(0.0, now - h.started) / 3600
        idle = idle_of(key)
        names = [("namespace", h.namespace), ("owner", h.owner), ("product", product_of(h.node) or "unknown")]
        if h.user:
            names.append(("user", h.user))
        for g in names:
            acc = groups.setdefault(g, [0.0, 0.0, 0.0, 0.0, 0])
            acc[0] += h.gpus
            acc[1] += hours
            if idle is not None:
                acc[2] += hours
                acc[3] += hours * idle
            acc[4] += 1
    order = {"product": 0, "namespace": 1, "user": 2, "owner": 3}
    out = []
    for (by, name), (gpus, hours, known, idle_h, pods) in groups.items():
        idle = f"{100 * idle_h / known:.0f}%" if known else "-"
        # The key orders the default view: products, namespaces, users, then the many owners.
        out.append(Row(key=f"{order.get(by, 9)}:{by}|{name}", cells=(by, name, f"{gpus:g}", f"{hours:,.1f}", idle, str(int(pods))),
                       sort=(order.get(by, 9), name, gpus, hours, idle_h / known if known else -1, pods),
                       status="warn" if known and idle_h / known >= 0.5 else "", name=name))
    return out
