"""DaemonSets (apps/v1): one pod per matching node (device plugins, exporters). Rollout
restart, delete; Enter lists its pods."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _int, _key, _meta
from cockpit.kube.selector import labels_text
from cockpit.kube.text import clean
from cockpit.resources import _workload

DAEMONSET_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 36, min_width=24, cut="middle"),
    Column("DESIRED", 7, "right"),
    Column("CURRENT", 7, "right", priority=2),
    Column("READY", 5, "right"),
    Column("UP-TO-DATE", 10, "right", priority=3),
    Column("AVAILABLE", 9, "right", priority=1),
    Column("NODE SELECTOR", 24, priority=4),
    Column("AGE", 6, "right", priority=2),
)


def daemonset_row(ds: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(ds)
    status = ds.get("status") or {}
    desired, current = _int(status.get("desiredNumberScheduled")), _int(status.get("currentNumberScheduled"))
    ready, updated = _int(status.get("numberReady")), _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    node_selector = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    selector = clean(labels_text(node_selector), 200) or "<none>"
    age, age_s = _age(ds, now)
    deleting = bool((ds.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=_key(ns, name),
        cells=(ns, name, str(desired), str(current), str(ready), str(updated), str(available), selector, age),
        sort=(ns, name, desired, current, ready, updated, available, selector, age_s),
        status=_workload.ready_hint(ready, desired, deleting),
        labels=labels, namespace=ns, name=name,
    )


class DaemonSets(_workload.AppsWorkload):
    id, title, api_kind, plural = "daemonsets", "DaemonSets", "DaemonSet", "daemonsets"
    aliases = ("ds",)
    commands = ("ds", "daemonsets", "daemonset")
    columns = DAEMONSET_COLUMNS
    help = "daemon sets (Enter: their pods)"

    def __init__(self):
        self.actions = {
            "retry": _workload.restart_action(self.resource, "Pods are replaced node by node with new ones."),
        }

    def build(self, obj, hub):
        return daemonset_row(obj, hub.clock())

    def open(self, nav, row):
        obj = _workload.kept_object(nav, self, row.key) or {}
        selector = _workload.selector_of((obj.get("spec") or {}).get("selector"))
        _workload.open_pods(nav, f"ds:{row.key}", f"Pods of daemonset {row.key}", row.namespace, selector)


KIND = DaemonSets()
