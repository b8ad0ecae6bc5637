"""Kueue LocalQueues: where a team's namespace submits; the ClusterQueue behind each, and its
pending and admitted workloads. Enter lists those workloads."""

from __future__ import annotations

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _int, _meta
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.resources import _kueue
from cockpit.resources.base import Kind

LOCAL_QUEUE_COLUMNS = (
    Column("NAMESPACE", 14, priority=1, min_width=10),
    Column("NAME", 18, min_width=10),
    Column("CLUSTERQUEUE", 16),
    Column("PENDING", 7, "right"),
    Column("ADMITTED", 8, "right"),
    Column("GPU USED", 9, "right", priority=1),
    Column("AGE", 5, "right", priority=2),
)


class LocalQueues(Kind):
    id, title, api_kind, group, version, plural = ("localqueues", "LocalQueues", "LocalQueue", _kueue.GROUP,
                                                   _kueue.VERSION, "localqueues")
    aliases = ("lq", "queues")
    commands = ("localqueues", "lq", "queues", "localqueue")
    columns = LOCAL_QUEUE_COLUMNS
    help = "Kueue local queues (Enter: their workloads)"
    rebuild_as_time_passes = False
    not_served = _kueue.NOT_INSTALLED
    opens = True

    def build(self, obj, hub):
        ns, name, labels = _meta(obj)
        status = obj.get("status") or {}
        used = 0.0
        for fu in status.get("flavorsUsage") or ():
            for r in fu.get("resources") or ():
                if r.get("name") and _kueue.is_gpu(r["name"], hub):
                    used += _kueue._num(r.get("total"))
        age, age_s = _age(obj, hub.clock())
        pending, admitted = _int(status.get("pendingWorkloads")), _int(status.get("admittedWorkloads"))
        return Row(
            key=f"{ns}/{name}",
            cells=(ns, name, clean((obj.get("spec") or {}).get("clusterQueue") or "", 63), str(pending),
                   str(admitted), f"{used:g}", age),
            sort=(ns, name, (obj.get("spec") or {}).get("clusterQueue") or "", pending, admitted, used, age_s),
            status="warn" if pending else "ok", labels=labels, namespace=ns, name=name)

    def open(self, nav, row):
        from cockpit.resources import registry
        from cockpit.ui.views import View

        workloads = registry.get("workloads")
        ns, name = row.namespace, row.name
        feed_id = workloads.id
        if nav.hub:
            nav.hub.ensure(workloads)

        def rows():
            feed = nav.hub.feeds.get(feed_id) if nav.hub else None
            return [r for r in feed.snapshot() if r.namespace == ns and r.cells[6] == name] if feed else []

        nav.push_view(View(f"lq:{row.key}", f"Workloads of queue {row.key}", workloads.columns, RowStore(),
                           rows_fn=rows, depends_on=(feed_id,), kind_id=workloads.id))


KIND = LocalQueues()
