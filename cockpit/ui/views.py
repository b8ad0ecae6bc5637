"""What the cockpit's one live table shows at a time: a pane, or a drill-down pushed on it."""

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
    extra: dict = field(default_factory=dict)
