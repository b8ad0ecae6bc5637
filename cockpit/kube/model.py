"""The shapes shared by the cluster layer and the UI: columns and rows of a resource table.

A row is built from a raw (JSON-decoded) Kubernetes object by a pure function and holds only
what the table shows plus what sorting and drill-down need. Every string in a row has already
been neutralised (see ``cockpit.kube.text.clean``): the UI may render it as-is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int  # preferred width in cells; the last column takes what is left
    align: str = "left"  # "left" | "right"
    # Narrow terminals drop columns with the highest `priority` number first (0 = never dropped).
    priority: int = 0
    # A column that may be narrowed down to this many cells before any column is dropped
    # (0: keeps its width). Names get one, so narrow terminals still show the namespace.
    min_width: int = 0
    # How a value too wide for the column is cut: "end" keeps the start; "middle" keeps the start
    # and the end, for names whose unique part is the tail (a pod's hash, a run's timestamp).
    cut: str = "end"


@dataclass(frozen=True, slots=True)
class Row:
    """One table row. `key` is unique within a kind: "namespace/name" or "name"."""

    key: str
    cells: tuple[str, ...]
    # Values used to sort by column i (same length as cells); numbers sort numerically.
    sort: tuple[Any, ...] = ()
    # A style hint for the whole row, mapped to a theme variable by the UI:
    # "ok" | "warn" | "error" | "pending" | "done" | "" (default).
    status: str = ""
    # Label set, for `-l key=value` filters.
    labels: dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    name: str = ""
