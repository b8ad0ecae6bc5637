"""ReplicaSets (apps/v1): what a Deployment runs its pods through; Enter lists the pods."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import NO_VALUE, _age, _int, _key, _meta, fmt_gpus
from cockpit.kube.selector import Requirement, Selector
from cockpit.resources import _workload

REPLICASET_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("DESIRED", 7, "right"),
    Column("CURRENT", 7, "right", priority=1),
    Column("READY", 5, "right"),
    Column("GPUS", 8, "right", priority=1),
    Column("AGE", 6, "right", priority=2),
)


def replicaset_row(rs: Mapping[str, Any], now: float, names: Iterable[str] = DEFAULT_GPU_RESOURCES,
                   prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES) -> Row:
    ns, name, labels = _meta(rs)
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    desired = _int(spec.get("replicas", 1))
    current, ready = _int(status.get("replicas")), _int(status.get("readyReplicas"))
    gpus = _workload.template_gpus(rs, desired, names, prefixes)
    age, age_s = _age(rs, now)
    deleting = bool((rs.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=_key(ns, name),
        cells=(ns, name, str(desired), str(current), str(ready), fmt_gpus(gpus), age),
        sort=(ns, name, desired, current, ready, sum(gpus.values()) if gpus else NO_VALUE, age_s),
        status=_workload.ready_hint(ready, desired, deleting),
        labels=labels, namespace=ns, name=name,
    )


class ReplicaSets(_workload.AppsWorkload):
    id, title, api_kind, plural = "replicasets", "ReplicaSets", "ReplicaSet", "replicasets"
    aliases = ("rs",)
    commands = ("rs", "replicasets", "replicaset")
    columns = REPLICASET_COLUMNS
    help = "replica sets (Enter: their pods)"

    def build(self, obj, hub):
        return replicaset_row(obj, hub.clock(), hub.gpu.index.names, hub.gpu.index.prefixes)

    def open(self, nav, row):
        obj = _workload.kept_object(nav, self, row.key)
        if obj is not None:
            selector = _workload.selector_of((obj.get("spec") or {}).get("selector"))
        elif row.labels.get("pod-template-hash"):  # not arrived yet: a Deployment's own label
            selector = Selector((Requirement("pod-template-hash", "=", (row.labels["pod-template-hash"],)),))
        else:
            selector = None
        _workload.open_pods(nav, f"rs:{row.key}", f"Pods of replicaset {row.key}", row.namespace, selector)


KIND = ReplicaSets()
