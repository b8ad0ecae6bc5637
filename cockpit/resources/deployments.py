"""Deployments (apps/v1): Jupyter, TensorBoard and inference servers that keep their pods
running. Scale, rollout restart, delete; Enter lists its ReplicaSets, and Enter on one of
those its pods."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import NO_VALUE, _age, _int, _key, _meta, fmt_gpus
from cockpit.kube.store import RowStore
from cockpit.resources import _workload

DEPLOYMENT_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("READY", 7, "right"),
    Column("UP-TO-DATE", 10, "right", priority=1),
    Column("AVAILABLE", 9, "right", priority=1),
    Column("GPUS", 8, "right", priority=1),
    Column("AGE", 6, "right", priority=2),
)


def deployment_row(dep: Mapping[str, Any], now: float, names: Iterable[str] = DEFAULT_GPU_RESOURCES,
                   prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES) -> Row:
    """The row `kubectl get deploy` prints, plus the GPUs its pods ask for (template × replicas)."""
    ns, name, labels = _meta(dep)
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    desired = _int(spec.get("replicas", 1))  # the API server defaults a missing count to 1
    ready = _int(status.get("readyReplicas"))
    updated, available = _int(status.get("updatedReplicas")), _int(status.get("availableReplicas"))
    gpus = _workload.template_gpus(dep, desired, names, prefixes)
    age, age_s = _age(dep, now)
    deleting = bool((dep.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=_key(ns, name),
        cells=(ns, name, f"{ready}/{desired}", str(updated), str(available), fmt_gpus(gpus), age),
        sort=(ns, name, ready, updated, available, sum(gpus.values()) if gpus else NO_VALUE, age_s),
        status=_workload.ready_hint(min(ready, available), desired, deleting),
        labels=labels, namespace=ns, name=name,
    )


class Deployments(_workload.AppsWorkload):
    id, title, api_kind, plural = "deployments", "Deployments", "Deployment", "deployments"
    aliases = ("deploy",)
    commands = ("deploy", "deployments", "deployment")
    columns = DEPLOYMENT_COLUMNS
    help = "deployments (Enter: their replica sets)"

    def __init__(self):
        self.actions = {
            "scale": _workload.scale_action(self.resource),
            "retry": _workload.restart_action(self.resource, "Pods are replaced one by one with new ones."),
        }

    def build(self, obj, hub):
        return deployment_row(obj, hub.clock(), hub.gpu.index.names, hub.gpu.index.prefixes)

    def open(self, nav, row):
        """Its ReplicaSets: a feed of the namespace's ReplicaSets that its selector chooses, kept
        to those it controls (by uid: a same-named Deployment made since owns others)."""
        from cockpit.resources import registry
        from cockpit.ui.views import View

        replicasets = registry.get("replicasets")
        key, ns, name = row.key, row.namespace, row.name
        obj = _workload.kept_object(nav, self, key) or {}
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        feed_id = f"replicasets:{key}"
        if nav.hub:
            nav.hub.ensure(replicasets, namespace=ns, feed_id=feed_id,
                           label_selector=_workload.selector_text((obj.get("spec") or {}).get("selector")))

        def replicaset_rows() -> list[Row]:
            feed = nav.hub.feeds.get(feed_id) if nav.hub else None
            if feed is None:
                return []
            return [r for r in feed.snapshot()
                    if _workload.controlled_by(feed.get_object(r.key) or {}, self.api_kind, name, uid)]

        nav.push_view(View(f"deploy:{key}", f"ReplicaSets of deployment {key}", replicasets.columns, RowStore(),
                           rows_fn=replicaset_rows, depends_on=(feed_id,), kind_id=replicasets.id,
                           extra={"drop_feed": feed_id}))


KIND = Deployments()
