"""Nodes: GPU capacity, with what running pods hold of it; Enter lists the pods holding GPUs."""

from __future__ import annotations

from cockpit.kube import rows
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.kube.utilization import sparkline
from cockpit.resources.base import Kind

HOLDER_COLUMNS = (Column("NAMESPACE", 16, priority=1, min_width=11), Column("POD", 40, min_width=20, cut="middle"),
                  Column("GPUS", 14), Column("STATUS", 12), Column("UTIL", 5, "right", priority=1),
                  Column("ACTIVITY", 12, priority=2), Column("AGE", 6, "right", priority=3))


class Nodes(Kind):
    id, title, api_kind, plural = "nodes", "Nodes", "Node", "nodes"
    namespaced = False
    aliases = ("no",)
    commands = ("nodes", "no", "node")
    columns = rows.NODE_COLUMNS
    core = True
    follows_gpu_allocation = True
    rebuild_as_time_passes = False  # rebuilt when pods change what they hold
    pane_order = 7
    help = "nodes"
    deletable = False
    opens = True

    def build(self, obj, hub):
        gpu = hub.gpu
        name = (obj.get("metadata") or {}).get("name", "")
        allocated = gpu.index.allocated(name) if gpu.pods_known else None
        return rows.node_row(obj, hub.clock(), allocated, gpu.index.names, gpu.index.prefixes)

    def seen(self, obj, hub):
        hub.gpu.node_seen(obj)

    def gone(self, key, hub):
        hub.gpu.node_gone(key)

    def reset(self, gone, hub):
        hub.gpu.nodes_reset(gone)

    def open(self, nav, row):
        open_holders(nav, row.name or row.key)


def open_holders(nav, node: str) -> None:
    """The pods holding GPUs on `node`, with their utilisation."""
    from cockpit.ui.views import View

    def holder_rows() -> list[Row]:
        if not nav.hub:
            return []
        holders = dict(nav.hub.gpu.pods_on(node))
        pods = {r.key: r for r in nav.pod_rows(lambda r: r.key in holders)}
        out = []
        for key, gpus in holders.items():
            r = pods.get(key)
            ns, _, name = key.partition("/")
            text = ", ".join(f"{v:g}×{k.split('/', 1)[-1]}" for k, v in sorted(gpus.items()))
            use = nav.util.pod_summary(key)
            util = use.avg_util if use and use.avg_util is not None else None
            spark = sparkline(use.spark, 12) if use else ""
            out.append(Row(key=key, cells=(ns, name, text, r.cells[3] if r else "",
                                           "-" if util is None else f"{util:.0f}%", spark,
                                           r.cells[7] if r else ""),
                           sort=(ns, name, sum(gpus.values()), r.cells[3] if r else "",
                                 -1 if util is None else util, -1 if util is None else util,
                                 r.sort[7] if r else 0),
                           status=r.status if r else "", namespace=ns, name=name))
        return out

    nav.push_view(View(f"node:{node}", f"Pods holding GPUs on {node}", HOLDER_COLUMNS, RowStore(),
                       rows_fn=holder_rows, depends_on=("pods", "nodes", "util"), kind_id="pods"))


KIND = Nodes()
