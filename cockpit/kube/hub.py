"""One cluster connection's live state: an informer per kind, batched changes for the UI, and
the GPU allocation kept up to date one pod event at a time.

Informer threads call into the feeds; the UI thread calls `drain()` on a timer (~10 Hz) and gets
only what changed since the last call, so the screen repaints at most that often however fast
the cluster changes. Nothing here imports Textual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from cockpit.kube import gpu as gpumod
from cockpit.kube.gpuhours import GpuHours
from cockpit.kube.informer import CONNECTING, ERROR, FORBIDDEN, LIVE, STOPPED, Informer, Resource, Sink, object_key
from cockpit.kube.model import Row
from cockpit.kube.rows import fmt_age, parse_time
from cockpit.kube.text import clean


class Kind(Protocol):
    """What the hub needs of a kind (cockpit.resources.base.Kind): the cluster layer never
    imports the kind registry."""

    id: str
    keep_objects: bool
    rebuild_as_time_passes: bool
    resource: Resource
    age_column: int | None

    def build(self, obj: dict, hub: ClusterHub) -> Row: ...
    def kept(self, obj: dict) -> dict: ...
    def seen(self, obj: dict, hub: ClusterHub) -> None: ...
    def gone(self, key: str, hub: ClusterHub) -> None: ...
    def reset(self, gone: set[str], hub: ClusterHub) -> None: ...


@dataclass(slots=True)
class Item:
    row: Row
    created: float | None
    obj: dict | None = None


@dataclass
class Changes:
    kind: str  # the feed id
    upserts: list[Row] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    reset: bool = False


class KindFeed(Sink):
    """Pending changes of one kind, written by its informer thread, drained by the UI."""

    def __init__(self, kind: Kind, on_delete: Callable[[str], None] | None = None,
                 on_reset: Callable[[set[str]], None] | None = None, feed_id: str = "",
                 wake: Callable[[], None] | None = None):
        self.kind = kind
        self.feed_id = feed_id or kind.id
        self.lock = threading.Lock()
        self.items: dict[str, Item] = {}  # what the UI has been given (or will be)
        self._pending: dict[str, Item | None] = {}
        self._reset = False
        self.state_name = CONNECTING
        self.synced = False  # a full list has arrived and is still believed current
        self.detail = ""
        self.retry_at = 0.0  # monotonic time of the next reconnect try, while in ERROR
        self.stale_since = 0.0  # wall time the feed lost the server with rows on screen; 0 while live
        self.loading: tuple[int, int | None] | None = None  # (arrived, of about) while a list pages in
        self._on_delete = on_delete
        self._on_reset = on_reset
        # Called (from the informer thread) when the UI should not wait for its next tick: the
        # first rows of a list, and the end of one.
        self._wake = wake
        self.informer: Informer | None = None

    # informer thread
    def upsert(self, key: str, item: Item) -> None:
        with self.lock:
            self.items[key] = item
            self._pending[key] = item

    def delete(self, key: str) -> None:
        if self._on_delete:
            self._on_delete(key)
        with self.lock:
            self.items.pop(key, None)
            self._pending[key] = None

    def page(self, items: dict[str, Item], loaded: int, total: int | None) -> None:
        with self.lock:
            first = self.loading is None
            self.items.update(items)
            self._pending.update(items)
            self.loading = (loaded, total)
        if first and self._wake:
            self._wake()

    def reset(self, items: dict[str, Item]) -> None:
        with self.lock:
            self.loading = None
            mine = self.items
            if len(items) == len(mine) and all(mine.get(k) is v for k, v in items.items()):
                # The end of a list whose pages handed over these very items: the UI has them
                # (or will with what is pending), so it has nothing to redo for 10,000 rows.
                gone: set[str] = set()
            else:
                gone = set(mine) - set(items)
                self.items = dict(items)
                self._pending = dict(items)
                self._reset = True
            self.synced = True
        if self._on_reset:
            self._on_reset(gone)
        if self._wake:
            self._wake()

    def state(self, state: str, detail: str = "", retry_in: float = 0.0) -> None:
        with self.lock:
            self.state_name, self.detail = state, clean(detail, 300)
            self.retry_at = time.monotonic() + retry_in if retry_in else 0.0
            if state == LIVE:
                self.stale_since = 0.0
            elif state == ERROR and not self.stale_since and self.synced:
                self.stale_since = time.time()  # the rows shown are the last ones known from here on
            if state == FORBIDDEN:
                self.synced = False

    # UI thread
    def drain(self) -> Changes | None:
        with self.lock:
            if not self._pending and not self._reset:
                return None
            pending, reset = self._pending, self._reset
            self._pending, self._reset = {}, False
        ch = Changes(self.feed_id, reset=reset)
        for key, item in pending.items():
            if item is None:
                ch.deletes.append(key)
            else:
                ch.upserts.append(item.row)
        return ch

    def snapshot(self) -> list[Row]:
        with self.lock:
            return [i.row for i in self.items.values()]

    def get_object(self, key: str) -> dict | None:
        with self.lock:
            item = self.items.get(key)
            return item.obj if item else None

    def columns(self, definitions) -> None:
        """A table-mode informer read the server's column definitions (even for an empty list):
        the kind learns its columns before any row arrives."""
        seen = getattr(self.kind, "columns_seen", None)
        if seen is not None:
            seen(definitions)

    def objects(self) -> list[dict]:
        """The kept objects (kinds that keep them)."""
        with self.lock:
            return [i.obj for i in self.items.values() if i.obj is not None]


class GpuState:
    """Nodes' GPU pools and the pods holding them, maintained from watch events."""

    def __init__(self, names: Iterable[str], prefixes: Iterable[str]):
        self.lock = threading.Lock()
        self.index = gpumod.PodGpuIndex(names, prefixes)
        self.nodes: dict[str, gpumod.NodeGpu] = {}
        self.dirty: set[str] = set()
        self.pods_known = False
        self.node_of: dict[str, str] = {}  # pod key -> node, to mark the right node on delete

    def pod_seen(self, pod: dict) -> None:
        key = gpumod.pod_key(pod)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        with self.lock:
            old_node = self.node_of.get(key)
            changed = self.index.upsert(pod)
            if node:
                self.node_of[key] = node
            if old_node and old_node != node:
                self.dirty.add(old_node)
            if node and (changed or old_node != node):
                self.dirty.add(node)

    def pod_gone(self, key: str) -> None:
        with self.lock:
            self.index.remove(key)
            node = self.node_of.pop(key, None)
            if node:
                self.dirty.add(node)

    def pods_reset(self, gone: set[str]) -> None:
        for key in gone:
            self.pod_gone(key)

    def node_seen(self, node: dict) -> None:
        info = gpumod.node_gpu_info(node, self.index.names, self.index.prefixes)
        with self.lock:
            if self.nodes.get(info.name) != info:
                self.nodes[info.name] = info
                self.dirty.add(info.name)

    def node_gone(self, name: str) -> None:
        with self.lock:
            if self.nodes.pop(name, None) is not None:
                self.dirty.add(name)

    def nodes_reset(self, gone: set[str]) -> None:
        for name in gone:
            self.node_gone(name)

    def take_dirty(self) -> set[str]:
        with self.lock:
            d, self.dirty = self.dirty, set()
            return d

    def allocation(self, name: str) -> gpumod.NodeAllocation | None:
        with self.lock:
            info = self.nodes.get(name)
            if info is None or not info.pools:
                return None
            used = self.index.allocated(name) if self.pods_known else None
            dra = self.index.has_dra_claims(name)
        pools = {r: gpumod.PoolAllocation(r, p.allocatable, p.capacity,
                                          None if used is None else used.get(r, 0.0), p.replicas)
                 for r, p in info.pools.items()}
        return gpumod.NodeAllocation(info, pools, dra)

    def all_allocations(self) -> list[gpumod.NodeAllocation]:
        with self.lock:
            names = list(self.nodes)
        return [a for a in (self.allocation(n) for n in names) if a is not None]

    def pods_on(self, name: str) -> list[tuple[str, dict[str, float]]]:
        with self.lock:
            return self.index.pods_on(name)


class ClaimUsers:
    """Which running pods mount which PVC ("ns/claim" -> pod names), from pod events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._by_pod: dict[str, tuple[str, ...]] = {}
        self.users: dict[str, set[str]] = {}
        self.dirty: set[str] = set()

    def pod_seen(self, pod: dict) -> None:
        from cockpit.kube.rows import pvc_users

        key = object_key(pod)
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            if vol.get("persistentVolumeClaim") or vol.get("ephemeral") is not None:
                break
        else:
            if key not in self._by_pod:  # mounts no claim, and mounted none (most pods)
                return
        name = (pod.get("metadata") or {}).get("name", "")
        claims = tuple(pvc_users([pod]))
        with self.lock:
            old = self._by_pod.get(key, ())
            if old == claims:
                return
            self._drop(key, name, old)
            if claims:
                self._by_pod[key] = claims
            for c in claims:
                self.users.setdefault(c, set()).add(name)
            self.dirty.update(old, claims)

    def pod_gone(self, key: str) -> None:
        with self.lock:
            old = self._by_pod.get(key, ())
            self._drop(key, key.partition("/")[2], old)
            self.dirty.update(old)

    def _drop(self, key: str, name: str, claims: tuple[str, ...]) -> None:
        self._by_pod.pop(key, None)
        for c in claims:
            names = self.users.get(c)
            if names is not None:
                names.discard(name)
                if not names:
                    del self.users[c]

    def take(self) -> tuple[set[str], dict[str, list[str]]]:
        with self.lock:
            dirty, self.dirty = self.dirty, set()
            return dirty, {c: sorted(self.users.get(c, ())) for c in dirty}

    def used_by(self, claim_key: str) -> list[str]:
        with self.lock:
            return sorted(self.users.get(claim_key, ()))


class ClusterHub:
    """Informers for one API client. Kinds start when first asked for; pods and nodes always
    run, cluster-wide when allowed, because GPU allocation needs every pod."""

    def __init__(self, api, *, clock: Callable[[], float] = time.time,
                 gpu_names: Iterable[str] = gpumod.DEFAULT_GPU_RESOURCES,
                 gpu_prefixes: Iterable[str] = gpumod.DEFAULT_GPU_PREFIXES,
                 fallback_namespace: str = "default", offline: bool = False,
                 wake: Callable[[], None] | None = None):
        self.api = api
        self.wake = wake  # handed to every feed (KindFeed)
        # Offline hubs never open a connection: `load` feeds them recorded objects through the
        # same transforms (deterministic snapshots of the UI).
        self.offline = offline
        self.clock = clock
        self.gpu = GpuState(gpu_names, gpu_prefixes)
        self.claims = ClaimUsers()
        self.gpu_hours = GpuHours(gpu_names, gpu_prefixes)
        self.fallback_namespace = fallback_namespace
        self.feeds: dict[str, KindFeed] = {}
        # What a kind derives across its objects (a Workload's place in its queue), by kind id.
        self.kind_state: dict[str, object] = {}
        self._closed = False

    def _transform(self, kind: Kind, primary: bool) -> Callable[[dict], Item]:
        """In the informer thread: the kind keeps its derived state (GPU allocation, claim
        users) from its own feed, then builds the row."""
        build, seen, keep = kind.build, kind.seen, kind.keep_objects
        kept = getattr(kind, "kept", None) or (lambda obj: obj)

        def t(obj: dict) -> Item:
            with gpumod.one_object():
                if primary:
                    seen(obj, self)
                created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
                return Item(build(obj, self), created, kept(_slim(obj)) if keep else None)
        return t

    def ensure(self, kind: Kind, *, namespace: str | None = None, label_selector: str = "",
               feed_id: str | None = None) -> KindFeed:
        """Start (once) the informer feeding `feed_id` (default: the kind's id)."""
        feed_id = feed_id or kind.id
        feed = self.feeds.get(feed_id)
        if feed is not None:
            return feed
        primary = feed_id == kind.id
        on_delete = on_reset = None
        if primary:
            def on_delete(key: str) -> None:
                kind.gone(key, self)

            def on_reset(gone: set[str]) -> None:
                kind.reset(gone, self)
        feed = KindFeed(kind, on_delete, on_reset, feed_id, self.wake)
        self.feeds[feed_id] = feed
        # Kinds without a module of their own read the server's Table format (discovered.py).
        table = {"table": True} if getattr(kind, "table", False) else {}
        informer = Informer(self.api, kind.resource, feed, self._transform(kind, primary), namespace=namespace,
                            label_selector=label_selector, name=feed_id, typed=getattr(kind, "typed", None),
                            **table)
        feed.informer = informer
        if not self._closed and not self.offline:
            informer.start()
        return feed

    def load(self, kind: Kind, objects: list[dict], *, feed_id: str | None = None) -> None:
        """Feed recorded objects to an offline hub as if a list had returned them."""
        feed = self.ensure(kind, feed_id=feed_id)
        transform = self._transform(kind, feed.feed_id == kind.id)
        feed.reset({object_key(o): transform(o) for o in objects})
        feed.state(LIVE)

    def drop(self, feed_id: str) -> None:
        feed = self.feeds.pop(feed_id, None)
        if feed and feed.informer:
            feed.informer.stop()

    def start_core(self, kinds: Iterable[Kind]) -> None:
        for kind in kinds:
            self.ensure(kind)

    def pods_forbidden(self) -> bool:
        feed = self.feeds.get("pods")
        return feed is not None and feed.state_name == FORBIDDEN

    def drain(self) -> list[Changes]:
        out = []
        for feed in list(self.feeds.values()):
            ch = feed.drain()
            if ch:
                out.append(ch)
        # Until every pod has been listed, allocation is unknown rather than zero.
        pods = self.feeds.get("pods")
        known = pods is not None and pods.synced
        if known != self.gpu.pods_known:
            with self.gpu.lock:
                self.gpu.pods_known = known
                self.gpu.dirty |= set(self.gpu.nodes)
        return out

    def objects_of(self, feed_id: str) -> list[dict]:
        """The kept objects of a running feed ([] when it does not run)."""
        feed = self.feeds.get(feed_id)
        return feed.objects() if feed is not None else []

    def keys_of(self, feed_id: str, pred: Callable[[dict], bool]) -> set[str]:
        """Keys of a feed's kept objects that `pred` holds for."""
        feed = self.feeds.get(feed_id)
        if feed is None:
            return set()
        with feed.lock:
            return {k for k, i in feed.items.items() if i.obj is not None and pred(i.obj)}

    def rebuild(self, feed_id: str, keys: Iterable[str]) -> list[Row]:
        """Rows of `keys` rebuilt from their kept objects: what they show depends on another
        feed (a node's allocation on pods, a PVC's users on pods)."""
        feed = self.feeds.get(feed_id)
        if feed is None:
            return []
        build = feed.kind.build
        out = []
        with feed.lock:
            for key in keys:
                item = feed.items.get(key)
                if item is not None and item.obj is not None:
                    item.row = build(item.obj, self)
                    out.append(item.row)
        return out

    def refresh_times(self, feed_id: str) -> list[Row]:
        """Rows whose time columns (AGE, DURATION) read differently now."""
        feed = self.feeds.get(feed_id)
        if feed is None:
            return []
        kind, now = feed.kind, self.clock()
        age_col = kind.age_column
        changed: list[Row] = []
        with feed.lock:
            items = list(feed.items.values())
        for item in items:
            if item.obj is not None and kind.rebuild_as_time_passes:
                row = kind.build(item.obj, self)
            elif age_col is not None and item.created is not None:
                age = fmt_age(now - item.created)
                if item.row.cells[age_col] == age:
                    continue
                cells = list(item.row.cells)
                cells[age_col] = age
                row = replace(item.row, cells=tuple(cells))
            else:
                continue
            if row != item.row:
                item.row = row
                changed.append(row)
        return changed

    def state(self, feed_id: str) -> tuple[str, str]:
        feed = self.feeds.get(feed_id)
        if feed is None:
            return STOPPED, ""
        return feed.state_name, feed.detail

    def retry(self, feed_id: str) -> tuple[float, float]:
        """(seconds until the next reconnect try or 0, wall time the rows went stale or 0)."""
        feed = self.feeds.get(feed_id)
        if feed is None:
            return 0.0, 0.0
        wait = max(0.0, feed.retry_at - time.monotonic()) if feed.retry_at else 0.0
        return wait, feed.stale_since

    def close(self) -> None:
        self._closed = True
        for feed in self.feeds.values():
            if feed.informer:
                feed.informer.stop()


_DROP_META = ("managedFields",)


def _slim(obj: dict) -> dict:
    """The object minus what no row needs (managedFields dominate small objects)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and any(k in meta for k in _DROP_META):
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k not in _DROP_META}}
    return obj

