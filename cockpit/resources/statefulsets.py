"""StatefulSets (apps/v1): pods with stable names and their own volumes (databases, sharded
servers). Scale, rollout restart, delete; Enter lists the pods its selector chooses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import NO_VALUE, _age, _int, _key, _meta, fmt_gpus
from cockpit.resources import _workload

STATEFULSET_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("READY", 7, "right"),
    Column("GPUS", 8, "right", priority=1),
    Column("AGE", 6, "right", priority=2),
)


def statefulset_row(sts: Mapping[str, Any], now: float, names: Iterable[str] = DEFAULT_GPU_RESOURCES,
                    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES) -> Row:
    ns, name, labels = _meta(sts)
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    desired = _int(spec.get("replicas", 1))
    ready = _int(status.get("readyReplicas"))
    gpus = _workload.template_gpus(sts, desired, names, prefixes)
    age, age_s = _age(sts, now)
    deleting = bool((sts.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=_key(ns, name),
        cells=(ns, name, f"{ready}/{desired}", fmt_gpus(gpus), age),
        sort=(ns, name, ready, sum(gpus.values()) if gpus else NO_VALUE, age_s),
        status=_workload.ready_hint(ready, desired, deleting),
        labels=labels, namespace=ns, name=name,
    )


class StatefulSets(_workload.AppsWorkload):
    id, title, api_kind, plural = "statefulsets", "StatefulSets", "StatefulSet", "statefulsets"
    aliases = ("sts",)
    commands = ("sts", "statefulsets", "statefulset")
    columns = STATEFULSET_COLUMNS
    help = "stateful sets (Enter: their pods)"
    # Its PersistentVolumeClaims stay: the API server never deletes them with the set.
    delete_note = " (and their pods; their volume claims stay)"

    def __init__(self):
        self.actions = {
            "scale": _workload.scale_action(self.resource),
            "retry": _workload.restart_action(self.resource, "Pods are replaced one by one, the highest ordinal first."),
        }

    def build(self, obj, hub):
        return statefulset_row(obj, hub.clock(), hub.gpu.index.names, hub.gpu.index.prefixes)

    def open(self, nav, row):
        obj = _workload.kept_object(nav, self, row.key) or {}
        selector = _workload.selector_of((obj.get("spec") or {}).get("selector"))
        _workload.open_pods(nav, f"sts:{row.key}", f"Pods of statefulset {row.key}", row.namespace, selector)


KIND = StatefulSets()
