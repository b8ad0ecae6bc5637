"""Kueue Workloads: one per queued Job (or other integration), with its queue, its place in
that queue, its priority, the flavor it was admitted to and, while it waits, Kueue's reason."""

from __future__ import annotations

import threading

from cockpit.kube.informer import object_key
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _meta, parse_time
from cockpit.kube.text import clean
from cockpit.resources import _kueue
from cockpit.resources.base import Kind

WORKLOAD_COLUMNS = (
    Column("NAMESPACE", 12, priority=2, min_width=10),
    Column("OWNER", 30, min_width=16, cut="middle"),
    Column("STATE", 9),
    Column("POS", 5, "right"),
    Column("GPUS", 4, "right"),
    # What a person opens this pane for: kept at 80 columns, where it takes what is left.
    Column("WHY PENDING", 40, cut="end"),
    Column("QUEUE", 10, priority=1),
    Column("FLAVOR", 12, priority=1),
    Column("PRIO", 5, "right", priority=2),
    Column("AGE", 5, "right", priority=3),
)
_STATUS = {"Admitted": "ok", "Finished": "done", "Pending": "pending", "QuotaReserved": "pending",
           "Preempted": "warn", "Evicted": "warn", "Inactive": "done"}


class _Queues:
    """Pending workloads per local queue, in Kueue's order (priority, then age): positions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[str, int, float]] = {}  # key -> (queue key, -priority, created)
        self.dirty: set[str] = set()  # queue keys whose order changed

    def put(self, key: str, entry: tuple[str, int, float] | None) -> None:
        with self.lock:
            old = self.entries.pop(key, None)
            if entry is not None:
                self.entries[key] = entry
            for e in (old, entry):
                if e is not None:
                    self.dirty.add(e[0])

    def position(self, key: str) -> tuple[int, int] | None:
        with self.lock:
            mine = self.entries.get(key)
            if mine is None:
                return None
            same = sorted((e[1], e[2], k) for k, e in self.entries.items() if e[0] == mine[0])
        return 1 + [k for _, _, k in same].index(key), len(same)

    def take_dirty(self) -> set[str]:
        with self.lock:
            queues, self.dirty = self.dirty, set()
            return {k for k, e in self.entries.items() if e[0] in queues}


class Workloads(Kind):
    id, title, api_kind, group, version, plural = ("workloads", "Workloads", "Workload", _kueue.GROUP,
                                                   _kueue.VERSION, "workloads")
    aliases = ("wl",)
    commands = ("workloads", "wl", "workload")
    columns = WORKLOAD_COLUMNS
    help = "Kueue workloads: queue, position, why pending"
    rebuild_as_time_passes = False
    not_served = _kueue.NOT_INSTALLED

    def _queues(self, hub) -> _Queues:
        return hub.kind_state.setdefault(self.id, _Queues())

    def seen(self, obj, hub):
        key = object_key(obj)
        spec = obj.get("spec") or {}
        waiting = _kueue.workload_state(obj) in ("Pending", "Preempted", "Evicted")
        meta = obj.get("metadata") or {}
        queue = f"{meta.get('namespace', '')}/{spec.get('queueName', '')}"
        created = parse_time(meta.get("creationTimestamp")) or 0.0
        self._queues(hub).put(key, (queue, -int(spec.get("priority") or 0), created) if waiting else None)

    def gone(self, key, hub):
        self._queues(hub).put(key, None)

    rebuilds_on = ("workloads",)  # one admitted or gone moves the others' positions

    def rebuild_keys(self, hub, changed):
        return self._queues(hub).take_dirty()

    def build(self, obj, hub):
        ns, name, labels = _meta(obj)
        spec = obj.get("spec") or {}
        # What the user submitted (the Job), not the Workload's derived "job-NAME-hash" name.
        owner = next((clean(r.get("name"), 253) for r in (obj.get("metadata") or {}).get("ownerReferences") or ()
                      if isinstance(r, dict) and r.get("controller")), name)
        state = _kueue.workload_state(obj)
        pos = self._queues(hub).position(object_key(obj))
        gpus = _kueue.workload_gpus(obj, hub.gpu.index.names, hub.gpu.index.prefixes)
        why = _kueue.why_waiting(obj)
        age, age_s = _age(obj, hub.clock())
        prio = int(spec.get("priority") or 0)
        flavors = _kueue.admitted_flavors(obj, hub.gpu.index.names, hub.gpu.index.prefixes)
        return Row(
            key=f"{ns}/{name}",
            cells=(ns, owner, state, f"{pos[0]}/{pos[1]}" if pos else "", f"{gpus:g}" if gpus else "", why,
                   clean(spec.get("queueName") or "", 63), flavors, str(prio), age),
            sort=(ns, name, state, pos[0] if pos else 0, gpus, why, spec.get("queueName") or "", flavors, prio,
                  age_s),
            status=_STATUS.get(state, ""), labels=labels, namespace=ns, name=name)


KIND = Workloads()
