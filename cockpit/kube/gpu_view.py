"""Rows of the GPU pane: one row per node and GPU pool (each MIG profile and shared pool on its
own), with a text bar, and the cluster totals line per GPU product."""

from __future__ import annotations

from collections.abc import Iterable

from cockpit.kube.gpu import NodeAllocation, PoolTotal, add_to_totals
from cockpit.kube.model import Column, Row

GPU_COLUMNS: tuple[Column, ...] = (
    Column("NODE", 18, min_width=12, cut="middle"),
    Column("PRODUCT", 16, priority=2),
    Column("POOL", 13),
    Column("USED", 6, "right"),
    Column("FREE", 4, "right"),
    Column("CAPACITY", 12, "right", priority=3),
    Column("LOAD", 10, priority=1),
    Column("STATE", 14, priority=1),
)

BAR_WIDTH = 10


def short_product(product: str) -> str:
    return product.removeprefix("NVIDIA-") or "-"


def pool_label(resource: str, replicas: int) -> str:
    name = resource.split("/", 1)[-1]
    if replicas > 1:
        return f"{name} ×{replicas}"
    return name


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def bar(used: float | None, total: float, width: int = BAR_WIDTH) -> str:
    if used is None:
        return "?" * 3
    if total <= 0:
        return "·" * width
    filled = round(width * min(used / total, 1.0))
    if used > 0 and filled == 0:
        filled = 1
    return "█" * filled + "░" * (width - filled)


def load_status(used: float | None, total: float) -> str:
    """A row hint: the theme colours GPU load through these."""
    if used is None or total <= 0:
        return ""
    ratio = used / total
    if ratio >= 1:
        return "error"  # full
    if ratio >= 0.75:
        return "warn"
    return "ok"


def node_state(alloc: NodeAllocation) -> str:
    g = alloc.gpu
    parts = []
    parts.append("Ready" if g.ready else "NotReady")
    if g.cordoned:
        parts.append("Cordoned")
    if g.taints:
        parts.append("Tainted")
    if alloc.dra_claims:
        parts.append("DRA")
    return ",".join(parts)


def gpu_rows(alloc: NodeAllocation) -> list[Row]:
    g = alloc.gpu
    rows = []
    state = node_state(alloc)
    for resource, p in sorted(alloc.pools.items()):
        used = p.allocated
        free = p.free
        cap = _n(p.capacity)
        if p.physical is not None:
            cap = f"{cap} ({_n(p.physical)} GPU)"
        hint = load_status(used, p.allocatable)
        if not g.ready or g.cordoned:
            hint = "pending"
        rows.append(Row(
            key=f"{g.name}|{resource}",
            cells=(g.name, short_product(g.product), pool_label(resource, p.replicas),
                   f"{'?' if used is None else _n(used)}/{_n(p.allocatable)}",
                   "?" if free is None else _n(free), cap, bar(used, p.allocatable), state),
            sort=(g.name, g.product, resource, -1 if used is None else used, -1 if free is None else free,
                  p.capacity, -1 if used is None else (used / p.allocatable if p.allocatable else 0), state),
            status=hint,
            labels={"node": g.name, "resource": resource, "product": g.product},
            name=g.name,
        ))
    return rows


def totals(allocs: Iterable[NodeAllocation]) -> list[PoolTotal]:
    out: dict[tuple[str, str], PoolTotal] = {}
    for a in allocs:
        add_to_totals(out, a)
    return [out[k] for k in sorted(out)]


def totals_parts(allocs: Iterable[NodeAllocation]) -> list[str]:
    """One entry per (product, pool): used/allocatable, and what a new pod could still get
    (`free`: on Ready, uncordoned, untainted nodes, as `gpu.node_schedulable` decides)."""
    parts = []
    product = None
    for t in totals(allocs):
        used = "?" if t.allocated is None else _n(t.allocated)
        pool = t.resource.split("/", 1)[-1]
        # The product is said once for its pools (its MIG profiles follow it), to fit 80 columns.
        name = "" if t.product == product else f"{short_product(t.product)} "
        product = t.product
        text = f"{name}{pool} {used}/{_n(t.allocatable)}"
        if t.physical is not None:
            text += f" ({_n(t.physical)} GPU)"
        text += ", ? free" if t.schedulable_free is None else f", {_n(t.schedulable_free)} free"
        if t.unavailable:
            text += f" [{_n(t.unavailable)} unavailable]"
        parts.append(text)
    return parts


def totals_line(allocs: Iterable[NodeAllocation]) -> str:
    """The totals as one text; the pane bar lets it wrap, so every product stays visible."""
    return " · ".join(totals_parts(allocs)) or "no GPU nodes"
