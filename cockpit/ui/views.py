"""What the main screen's one live table shows at a time: a pane, or a drill-down pushed on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore


@dataclass
class View:
    """What the table shows: a pane, or a drill-down pushed on top of one."""

    id: str
    title: str
    columns: tuple[Column, ...]
    store: RowStore
    feed_id: str | None = None  # the hub feed whose rows fill the store directly
    rows_fn: Callable[[], list[Row]] | None = None  # drill-downs: rows recomputed on change
    depends_on: tuple[str, ...] = ()  # feeds whose change means rows_fn must run again
    kind_id: str | None = None  # what describe/yaml fetch for a row
    cursor: str | None = None
    # Views that are no kind's pane: what Enter on a row does (switch context), what ctrl+d does
    # (close a port-forward) and whether that changes the cluster, and how often rows_fn runs
    # again as time passes (None: only when depends_on changes).
    on_enter: Callable[[str], None] | None = None
    on_delete: Callable[[], None] | None = None
    delete_is_local: bool = False
    refill_every: float | None = None
    extra: dict = field(default_factory=dict)
