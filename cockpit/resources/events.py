"""Events (core/v1), in all namespaces: Warnings first, newest first; sortable by last seen.

Core v1 rather than events.k8s.io/v1: both read the same stored objects (the server converts),
but core v1 is what `kubectl get events` and describe read, its field names (involvedObject,
lastTimestamp, count) are the ones users know, and it is the group the usual RBAC roles
(`view`, and ours) grant `events` in. Events written through events.k8s.io/v1 (the scheduler's,
the controllers') arrive with `series`/`eventTime` instead of `count`/`lastTimestamp`; the row
reads either.

Events are many and short-lived: the kind keeps, of each, only what its row is rebuilt from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _key, _meta, fmt_age, parse_time
from cockpit.kube.text import clean
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 14, priority=3, min_width=10),
    Column("LAST SEEN", 9, "right"),
    Column("TYPE", 7, priority=1),
    Column("REASON", 18, min_width=12),
    Column("OBJECT", 30, min_width=16, priority=1, cut="middle"),
    # COUNT before MESSAGE: the last column takes the width left over, and messages are long.
    Column("COUNT", 5, "right", priority=2),
    Column("MESSAGE", 50, min_width=20),
)
TYPE_COLUMN = 2
LAST_SEEN_COLUMN = 1

# Sort values of TYPE: Warnings (negative numbers) before the rest, each newest first. Numbers
# that do not change as time passes, so a rebuilt row keeps its place without a re-sort.
_RANK = 1e11  # above any epoch second in this millennium
_NEVER = float("inf")  # an event with no time at all sorts last

_KEEP_TOP = ("metadata", "involvedObject", "type", "reason", "message", "count", "lastTimestamp",
             "firstTimestamp", "eventTime", "series")
_KEEP_META = ("name", "namespace", "uid", "creationTimestamp", "resourceVersion")
_KEEP_OBJECT = ("kind", "name", "namespace")


def last_seen(ev: Mapping[str, Any]) -> float | None:
    """When the event last happened, the way kubectl picks it: lastTimestamp, the series' last
    observation, eventTime, firstTimestamp, then the object's creation."""
    series = ev.get("series") or {}
    for value in (ev.get("lastTimestamp"), series.get("lastObservedTime") if isinstance(series, Mapping) else None,
                  ev.get("eventTime"), ev.get("firstTimestamp"),
                  (ev.get("metadata") or {}).get("creationTimestamp")):
        t = parse_time(value)
        if t is not None:
            return t
    return None


def event_count(ev: Mapping[str, Any]) -> int:
    series = ev.get("series") or {}
    for value in (ev.get("count"), series.get("count") if isinstance(series, Mapping) else None):
        try:
            n = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if n > 0:
            return n
    return 1


def event_row(ev: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(ev)
    kind = clean(ev.get("type") or "", 16)
    warning = kind == "Warning"
    involved = ev.get("involvedObject") or {}
    obj = clean(f"{involved.get('kind') or ''}/{involved.get('name') or ''}".strip("/"), 253)
    when = last_seen(ev)
    count = event_count(ev)
    reason = clean(ev.get("reason") or "", 64)
    message = clean(ev.get("message") or "", 512)
    newest_first = _NEVER if when is None else -when
    order = _NEVER if when is None else (0.0 if warning else _RANK) - when
    return Row(
        key=_key(ns, name),
        cells=(ns, fmt_age(None if when is None else now - when), kind, reason, obj, str(count), message),
        sort=(ns, newest_first, order, reason, obj, count, message),
        status="warn" if warning else "",
        labels=labels,
        namespace=ns,
        name=name,
    )


def slim_event(ev: dict) -> dict:
    """Drop, in place, what no row needs (source, reporting fields, annotations, the involved
    object's uid and field path...): events are the most numerous objects in most clusters."""
    for k in [k for k in ev if k not in _KEEP_TOP]:
        del ev[k]
    meta = ev.get("metadata")
    if isinstance(meta, dict):
        for k in [k for k in meta if k not in _KEEP_META]:
            del meta[k]
    involved = ev.get("involvedObject")
    if isinstance(involved, dict):
        for k in [k for k in involved if k not in _KEEP_OBJECT]:
            del involved[k]
    return ev


class Events(Kind):
    id, title, api_kind, plural = "events", "Events", "Event", "events"
    aliases = ("ev",)
    commands = ("ev", "events", "event")
    columns = COLUMNS
    help = "events, all namespaces (Warnings first)"
    # Kept so LAST SEEN keeps counting (it is no AGE column), trimmed to what the row needs.
    keep_objects = True
    rebuild_as_time_passes = True
    deletable = False  # the API server ages them out; deleting one hides what happened
    # The order the pane opens in, (column, reversed): by TYPE, i.e. Warnings first, newest
    # first within each type. `Kind` has no such attribute yet: the pane opens in it once the
    # main screen applies it where it makes a kind's pane (until then: by namespace and name).
    default_sort: tuple[int, bool] = (TYPE_COLUMN, False)

    def kept(self, obj):
        return slim_event(dict(obj))  # the most numerous objects: only what the row reads

    def build(self, obj, hub):
        return event_row(obj, hub.clock())


KIND = Events()
