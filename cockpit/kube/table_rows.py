"""Rows from the API server's own Table format, for kinds nobody wrote a row builder for.

The server sends column definitions (name, type, format, priority) and, per object, cells it
formatted itself, `additionalPrinterColumns` included for CRDs. Here they become the cockpit's
`Column`s and `Row`s: NAME kept, NAMESPACE added first when listing across namespaces, the
server's default columns (priority 0) before its wide ones, ages and durations right-aligned,
numbers and ages sorted as numbers, and every cell through `clean()` (the cells hold whatever
the objects hold: a CRD's message column is free text).

Ages are formatted by the server when it answers, so a row is rebuilt as time passes (`now`):
an age of the object's creation is recomputed from its creationTimestamp; any other date
column (a Workflow's start) is advanced from the moment the answer arrived.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cockpit.kube.informer import TableRow
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import fmt_age, parse_time
from cockpit.kube.text import clean

NO_VALUE = float("-inf")  # sort value of a missing number or age: first when ascending

# What each cell is, for formatting and sorting.
NAMESPACE, NAME, CREATED, DATE, NUMBER, DURATION, TEXT = (
    "namespace", "name", "created", "date", "number", "duration", "text")

# The server's HumanDuration: "45s", "2m30s", "3h", "2h5m", "4d", "3d5h", "2y30d".
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (365 * 86400, 86400, 3600, 60, 1)
_RATIO = re.compile(r"^(\d+)/(\d+)$")
# A number, perhaps with a note: RESTARTS "3 (5m ago)".
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(?: \(.*\))?$")

# Row colours from a status-like column, in the words most controllers use.
_HINTS = {
    "running": "ok", "active": "ok", "ready": "ok", "bound": "ok", "available": "ok", "true": "ok",
    "succeeded": "done", "complete": "done", "completed": "done",
    "failed": "error", "error": "error", "crashloopbackoff": "error", "lost": "error",
    "pending": "pending", "created": "pending", "creating": "pending", "containercreating": "pending",
    "terminating": "warn", "unknown": "warn", "suspended": "warn", "warning": "warn", "notready": "warn",
}
_STATUS_TITLES = ("STATUS", "PHASE", "STATE", "TYPE")
# Counts the server sends as text: right-aligned like numbers.
_COUNT_TITLES = frozenset({"READY", "RESTARTS", "COUNT", "DATA", "COMPLETIONS", "DESIRED", "CURRENT",
                           "UP-TO-DATE", "AVAILABLE", "REPLICAS", "SECRETS", "TRIALS"})


def parse_duration(text: object) -> float | None:
    """Seconds in a server-formatted duration ("2h5m" -> 7500), None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    return float(sum(int(g) * u for g, u in zip(m.groups(), _UNITS, strict=True) if g))


@dataclass(frozen=True, slots=True)
class TableLayout:
    """The cockpit's columns for one set of server column definitions, and for each column
    which server cell fills it (-1: none, the namespace) and what the cell is."""

    columns: tuple[Column, ...]
    sources: tuple[int, ...]
    kinds: tuple[str, ...]
    all_namespaces: bool


def _is_creation(defn: dict) -> bool:
    # The built-in kinds' age columns document themselves with ObjectMeta's text for
    # creationTimestamp; a CRD's column without a description with its JSONPath.
    text = str(defn.get("description") or "")
    return text.startswith("CreationTimestamp") or text.endswith(".metadata.creationTimestamp")


def _cell_kind(defn: dict) -> str:
    if defn.get("format") == "name":
        return NAME
    if _is_creation(defn):
        return CREATED
    kind = defn.get("type")
    if kind == "date":
        return DATE
    if kind in ("integer", "number"):
        return NUMBER
    title = str(defn.get("name") or "").lower()
    if title in ("age", "last seen", "first seen"):  # ages the server sends as text (Events)
        return DATE
    if title == "duration":  # a span that may have ended: shown as the server said
        return DURATION
    return TEXT


def _column(title: str, kind: str, rank: int) -> Column:
    if kind == NAME:
        return Column(title, 36, min_width=20, cut="middle")
    if kind in (CREATED, DATE, DURATION):
        return Column(title, max(len(title), 6), "right", priority=rank)
    if kind == NUMBER:
        return Column(title, max(len(title), 6), "right", priority=rank)
    if title in _COUNT_TITLES:
        return Column(title, max(len(title), 6), "right", priority=rank)
    width = 30 if title in ("MESSAGE", "DESCRIPTION", "REASON", "NOTE") else max(len(title) + 2, 12)
    return Column(title, width, priority=rank)


def table_layout(definitions: Iterable[dict], *, all_namespaces: bool = False) -> TableLayout:
    """Columns for the server's definitions: NAMESPACE first when listing across namespaces,
    then the server's default columns (priority 0) in its order, then its wide ones. On a narrow
    terminal the wide ones go first, then the later default ones (NAME never goes)."""
    defs = [d for d in definitions if isinstance(d, dict)]
    # NAME first whatever its priority (Events mark theirs wide); the rest in the server's order.
    names = [(i, d) for i, d in enumerate(defs) if _cell_kind(d) == NAME][:1]
    rest = [(i, d) for i, d in enumerate(defs) if (i, d) not in names]
    default = [(i, d) for i, d in rest if not d.get("priority")]
    wide = [(i, d) for i, d in rest if d.get("priority")]
    columns: list[Column] = []
    sources: list[int] = []
    kinds: list[str] = []
    if all_namespaces:
        columns.append(Column("NAMESPACE", 16, priority=2, min_width=11))
        sources.append(-1)
        kinds.append(NAMESPACE)
    if not names:  # every server table has one; be sure
        columns.append(Column("NAME", 36, min_width=20, cut="middle"))
        sources.append(-2)
        kinds.append(NAME)
    shown = 0
    for i, d in names + default + wide:
        kind = _cell_kind(d)
        title = clean(str(d.get("name") or ""), 40).upper().replace(" ", "-") or f"COLUMN{i}"
        if kind == NAME and (i, d) in names:
            rank = 0
            title = "NAME"
        elif d.get("priority"):
            rank = 6 + min(int(d.get("priority") or 0), 3)
        else:
            shown += 1
            rank = min(1 + shown // 2, 5)
        columns.append(_column(title, kind, rank))
        sources.append(i)
        kinds.append(kind)
    return TableLayout(tuple(columns), tuple(sources), tuple(kinds), all_namespaces)


# One layout per set of definitions: an informer hands every row of a list or watch the same
# tuple, so the layout is looked up by identity, not rebuilt per row.
_LAYOUTS: dict[tuple[int, bool], tuple[tuple[dict, ...], TableLayout]] = {}


def layout_for(definitions: tuple[dict, ...], all_namespaces: bool) -> TableLayout:
    key = (id(definitions), all_namespaces)
    hit = _LAYOUTS.get(key)
    if hit is not None and hit[0] is definitions:
        return hit[1]
    layout = table_layout(definitions, all_namespaces=all_namespaces)
    if len(_LAYOUTS) > 64:
        _LAYOUTS.clear()
    _LAYOUTS[key] = (definitions, layout)
    return layout


def _sort_text(text: str) -> float | str:
    ratio = _RATIO.match(text)
    if ratio:  # READY "2/3": by how complete, then by size
        done, total = int(ratio.group(1)), int(ratio.group(2))
        return done / total + total * 1e-9 if total else NO_VALUE
    number = _NUMBER.match(text)
    if number:
        return float(number.group(1))
    return text


def table_row(trow: TableRow, now: float, *, all_namespaces: bool = False,
              layout: TableLayout | None = None) -> Row:
    """One cockpit Row from one server Table row, its ages as they read at `now`."""
    layout = layout or layout_for(trow.columns, all_namespaces)
    meta = trow.object.get("metadata") or {}
    ns = clean(meta.get("namespace") or "", 253)
    name = clean(meta.get("name") or "", 253)
    created = parse_time(meta.get("creationTimestamp"))
    received = trow.received or now
    cells: list[str] = []
    sort: list[object] = []
    status = ""
    raw = trow.cells
    for column, src, kind in zip(layout.columns, layout.sources, layout.kinds, strict=True):
        value = raw[src] if 0 <= src < len(raw) else None
        if kind == NAMESPACE:
            text, key = ns, ns
        elif kind == NAME:
            text = name if src < 0 or value in (None, "") else clean(value, 253)
            key = text
        elif kind == CREATED and created is not None:
            age = now - created
            text, key = fmt_age(age), age
        elif kind in (CREATED, DATE, DURATION):
            seconds = parse_duration(value)
            if seconds is None:
                text, key = clean(value, 64), NO_VALUE
            else:
                if kind != DURATION:  # the server's age then, advanced to now
                    seconds += max(now - received, 0.0)
                text, key = fmt_age(seconds) if kind != DURATION else clean(value, 64), seconds
        elif kind == NUMBER:
            text = "" if value is None else clean(value, 64)
            key = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else NO_VALUE
        elif isinstance(value, (int, float)) and not isinstance(value, bool):  # a "string" column's count
            text, key = clean(value, 64), float(value)
        else:
            if isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = ""
            elif isinstance(value, bool):
                value = "true" if value else "false"
            text = "" if value is None else clean(value)
            key = _sort_text(text)
            if not status and column.title in _STATUS_TITLES:
                status = _HINTS.get(text.lower().split(" ")[0].rstrip(":"), "")
        cells.append(text)
        sort.append(key)
    return Row(
        key=f"{ns}/{name}" if ns else name,
        cells=tuple(cells),
        sort=tuple(sort),
        status=status,
        labels=dict(meta.get("labels") or {}),
        namespace=ns,
        name=name,
    )


def table_rows(trows: Iterable[TableRow], now: float, *, all_namespaces: bool = False) -> list[Row]:
    return [table_row(t, now, all_namespaces=all_namespaces) for t in trows]


# -- :api-resources ---------------------------------------------------------------------------------
# At 80 columns: the name, its aliases and its API version (what `:` accepts); KIND, NAMESPACED
# and VERBS join as the terminal widens.
API_RESOURCE_COLUMNS: tuple[Column, ...] = (
    Column("NAME", 33, min_width=28),
    Column("SHORTNAMES", 12, priority=1),
    Column("APIVERSION", 31, priority=1, min_width=16),
    Column("NAMESPACED", 10, "right", priority=2),
    Column("KIND", 24, priority=3),
    Column("VERBS", 40, priority=4),
)


def api_resource_rows(resources: Iterable) -> list[Row]:
    """One row per discovered resource (pass `Discovery.preferred()`: one version per group),
    keyed `plural.group` (`plural` in the core group), which `:` also accepts."""
    out = []
    for r in resources:
        name = clean(r.plural, 253)
        key = clean(r.full_name, 253)
        short = clean(",".join(r.short_names), 128)
        gv = clean(r.group_version, 253)
        kind = clean(r.kind, 128)
        verbs = clean(",".join(r.verbs), 256)
        namespaced = "true" if r.namespaced else "false"
        out.append(Row(
            key=key,
            cells=(name, short, gv, namespaced, kind, verbs),
            sort=(name, short, gv, namespaced, kind.lower(), verbs),
            status="" if r.listable else "done",
            name=key,
        ))
    return out
