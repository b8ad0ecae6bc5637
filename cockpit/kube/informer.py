"""List+watch of one kind, in a thread of its own.

Where the API server streams lists (its WatchList feature, on by default since Kubernetes 1.32),
the list is one watch request that begins with every existing object as an ADDED event, marks
the end of them with a bookmark, and goes on as the watch: served from the server's watch cache,
read as it arrives, rows on screen while the rest streams. Elsewhere (a server that refuses it,
table mode) the list is paged. Either way it is read raw, so 10,000 pods never become
generated model objects: into just the fields a kind's schema declares (msgspec,
cockpit/kube/typed.py) where it has one, whole (orjson) otherwise. The watch of a kind whose
schema has a protobuf form (pods, cockpit/kube/proto.py) asks for protobuf, which the API server
encodes at a fraction of JSON's cost, and reads whichever encoding the server answers with. The watch resumes from the last
resourceVersion, asks for bookmarks, relists on 410 Gone, and reconnects with capped exponential
backoff. Each object is handed to
`transform` in this thread (keep what a row needs, drop the rest) and the results reach
the consumer through `sink`, which batches them for the UI.

In table mode (`table=True`) the server renders the rows itself: list and watch ask for the
meta.k8s.io Table format with each row's PartialObjectMetadata, so any kind (a CRD nobody wrote
a row builder for) shows the server's own columns, `additionalPrinterColumns` included. Each
Table row reaches `transform` as a `TableRow`, keyed like the object it shows.
"""

from __future__ import annotations

import functools
import queue
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cockpit.kube.proto import ACCEPT_WATCH, PROTOBUF_WATCH

_CONTINUE = re.compile(rb'"continue":"([^"]*)"')

LIVE, CONNECTING, ERROR, FORBIDDEN, STOPPED = "live", "connecting", "error", "forbidden", "stopped"
NOT_SERVED = "this kind is not served by the cluster"  # the detail of a 404 on list
# The annotation on the bookmark that ends a streaming list's initial events.
INITIAL_EVENTS_END = "k8s.io/initial-events-end"

JSON = "application/json"
# The server's Table rendering; a server without it answers plain JSON, which table mode
# reports as an error rather than showing an empty table.
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


class Gone(Exception):
    """The resourceVersion is too old: relist."""


class Sink:
    """Where an informer reports. `reset` replaces everything the informer reported before."""

    def upsert(self, key: str, item: Any) -> None: ...
    def delete(self, key: str) -> None: ...
    def reset(self, items: dict[str, Any]) -> None: ...
    # A page of a list that has more to come: its items (reported again by `reset` at the end),
    # how many have arrived, and the server's estimate of the whole (None when it gives none).
    def page(self, items: dict[str, Any], loaded: int, total: int | None) -> None: ...
    # Table mode: the server's column definitions, before the rows that use them (again when
    # they change: a CRD's printer columns were edited).
    def columns(self, definitions: tuple[dict, ...]) -> None: ...
    def state(self, state: str, detail: str = "", retry_in: float = 0.0) -> None: ...


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of the server's Table: its column definitions (shared by every row of one list or
    watch), the cells as the server formatted them, and the object's metadata (a
    PartialObjectMetadata minus managedFields)."""

    columns: tuple[dict, ...]
    cells: tuple[Any, ...]
    object: dict
    # Wall time the server's answer arrived: the server formats dates as ages ("5m") at that
    # moment, so an age that is not the object's creation can still be advanced from here.
    received: float = 0.0

    def get(self, key: str, default: Any = None) -> Any:
        """Reads like the object it shows (`row.get("metadata")`), for code that keys, dates and
        slims objects without knowing they came as table rows."""
        return self.object.get(key, default)


def object_key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    return f"{ns}/{name}" if ns else name


class Informer:
    # Pages of 500, fetched one ahead while the last is parsed: the round trips mostly hide behind
    # the parsing, and what is parsed at once stays small. At 10k pods the process stays 25 MB
    # smaller than with pages of 2,000 (111 against 136 MB), for an exec-to-every-pod time within
    # the rounds' noise but about 0.3 s slower in the medians (bench/RESULTS.md).
    PAGE = 500
    # After a list this long, or this big on the wire, the parsing's freed memory is handed
    # back to the system (1,000 nodes are 5 MB of JSON: 30 MB of dicts while parsed).
    TRIM_AFTER = 2000
    TRIM_BYTES = 4 << 20
    FIRST_PAGE = 250
    WATCH_SECONDS = 290

    def __init__(self, api, resource: Resource, sink: Sink, transform: Callable[[dict], Any], *,
                 namespace: str | None = None, label_selector: str = "", field_selector: str = "",
                 name: str = "", table: bool = False, typed: type | None = None):
        self.api = api
        self.resource = resource
        self.sink = sink
        self.transform = transform
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.name = name or resource.plural
        self._stop = threading.Event()
        self._response = None
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        self.resource_version = ""
        self.table = table
        self.table_columns: tuple[dict, ...] = ()
        # A kind's schema (cockpit.kube.typed): lists and events decode into just its fields.
        self._decoders = None
        # Lists stream until the server refuses it once; table mode pages (its watch events are
        # Tables, and what its lists carry is small).
        self.streaming = not table
        self._initial: dict[str, Any] | None = None  # a streaming list's objects until its end
        self._initial_page: dict[str, Any] = {}
        self._estimate: int | None = None  # the server's count of the whole, for the title
        self._listed = False  # the streaming list now running has ended its initial events
        self.proto = True  # watches of a kind with a protobuf schema ask for it (until one fails)
        self.encoding = ""  # what the last watch stream came as: "protobuf" or "json"
        self._list_bytes = 0  # what the list now arriving has taken on the wire so far
        if typed is not None and not table:
            from cockpit.kube.typed import Decoders

            self._decoders = Decoders(typed)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        resp = self._response
        if resp is not None:
            try:
                resp.shutdown()  # unblocks a read in progress (urllib3 >= 2.3)
            except Exception:
                pass
            try:
                resp.release_conn()
            except Exception:
                pass

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- HTTP --------------------------------------------------------------------------------
    def _query(self, **extra) -> list[tuple[str, Any]]:
        q: list[tuple[str, Any]] = []
        if self.label_selector:
            q.append(("labelSelector", self.label_selector))
        if self.field_selector:
            q.append(("fieldSelector", self.field_selector))
        q.extend((k, v) for k, v in extra.items() if v not in (None, ""))
        if self.table:
            q.append(("includeObject", "Metadata"))
        return q

    def _get(self, query, timeout, accept: str = ""):
        from cockpit.kube.connection import request

        return request(self.api, "GET", self.resource.path(self.namespace), query=query,
                       accept=accept or (TABLE if self.table else JSON), timeout=timeout)

    def _list(self) -> None:
        """Page through the list; the next page is fetched while this one is parsed (the API
        server writes `metadata.continue` before the items, so it can be read off the front)."""
        items: dict[str, Any] = {}
        pages: queue.Queue = queue.Queue(maxsize=1)

        def fetch() -> None:
            cont = ""
            try:
                while True:
                    # A small first page: its rows are on screen while the rest comes.
                    limit = self.PAGE if cont else min(self.PAGE, self.FIRST_PAGE)
                    resp = self._get(self._query(limit=limit, **{"continue": cont}), (10, 60))
                    try:
                        data = resp.data
                    finally:
                        resp.release_conn()
                    m = _CONTINUE.search(data, 0, 4096)
                    cont = m.group(1).decode() if m else ""
                    pages.put(data)
                    if not cont or self._stop.is_set():
                        break
            except BaseException as e:  # handed to the parsing side, which raises it
                pages.put(e)
                return
            pages.put(None)

        threading.Thread(target=fetch, name=f"list-{self.name}", daemon=True).start()
        transform = self.transform
        while True:
            data = pages.get()
            if data is None:
                break
            if isinstance(data, BaseException):
                raise data
            self._list_bytes += len(data)
            page: dict[str, Any] = {}
            if self.table:
                body = orjson.loads(data)
                self._table_rows(body, page)
                meta = body.get("metadata") or {}
            else:
                objs, meta = self._parse_list(data)
                for obj in objs:
                    page[object_key(obj)] = transform(obj)
                del objs
            del data
            items.update(page)
            if not meta.get("continue"):
                self.resource_version = meta.get("resourceVersion", "")
                break
            # Rows show as pages arrive, not when the last of 10,000 pods is in.
            remaining = meta.get("remainingItemCount")
            total = len(items) + int(remaining) if isinstance(remaining, int) else None
            self.sink.page(page, len(items), total)
        self._hand_over(items)

    def _hand_over(self, items: dict[str, Any]) -> None:
        """The whole list, to the sink; a big one's parsing memory back to the system."""
        self.sink.reset(items)
        if len(items) >= self.TRIM_AFTER or self._list_bytes >= self.TRIM_BYTES:
            release_free_memory()
        self._list_bytes = 0

    def _watch(self, initial: bool = False) -> None:
        """The watch from the last resourceVersion; with `initial`, a streaming list first: every
        existing object as an ADDED event, then a bookmark marking their end, then the watch.
        Returns when the server ends the stream (its timeout)."""
        if initial:
            query = self._stream_query()
            self._initial, self._initial_page, self._estimate = {}, {}, None
            self._list_bytes = 0
            threading.Thread(target=self._count, name=f"count-{self.name}", daemon=True).start()
        else:
            query = self._query(watch="true", resourceVersion=self.resource_version, allowWatchBookmarks="true",
                                timeoutSeconds=self.WATCH_SECONDS)
        # Kinds with a protobuf schema ask for it (the server encodes it at a fraction of JSON's
        # cost, cockpit/kube/proto.py); the answer's Content-Type says which one came.
        accept = self.stream_accept()
        proto = accept == ACCEPT_WATCH
        resp = self._get(query, (10, self.WATCH_SECONDS + 30), accept)
        self._response = resp
        if not initial:
            # The server answers again: resuming from the last resourceVersion misses nothing, so
            # the rows are current once more (without this a reconnect kept the pane marked stale).
            self.sink.state(LIVE)
        try:
            if proto and str(resp.headers.get("Content-Type") or "").startswith(PROTOBUF_WATCH):
                self.encoding = "protobuf"
                self._read_frames(resp)
                return
            self.encoding = "json"
            rest = b""
            for chunk in resp.stream(262144, decode_content=True):
                if self._stop.is_set():
                    return
                if self._initial is not None:
                    self._list_bytes += len(chunk)
                lines = (rest + chunk if rest else chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line:
                        self._line(line)
        finally:
            self._response = None
            self._initial = None
            resp.release_conn()

    def stream_accept(self) -> str:
        """What a watch of this informer asks for: protobuf (or JSON) where its kind has a
        protobuf schema, JSON otherwise ("")."""
        wants = self.proto and not self.table and self._decoders is not None and bool(self._decoders.proto_kind)
        return ACCEPT_WATCH if wants else ""

    def _read_frames(self, resp) -> None:
        """A protobuf watch stream: length-prefixed frames, each one event."""
        from cockpit.kube.proto import ProtoError, frames

        decode = self._decoders.proto_events().decode
        initial_event = self._initial_event
        buffer = bytearray()
        for chunk in resp.stream(262144, decode_content=True):
            if self._stop.is_set():
                return
            if self._initial is not None:
                self._list_bytes += len(chunk)
            buffer += chunk
            for frame in frames(buffer):
                try:
                    kind, obj = decode(frame)
                except ProtoError:
                    # Not what the schema expects: JSON from now on, and a list again, so that
                    # nothing is missed.
                    self.proto = False
                    raise Gone() from None
                if kind == "ADDED" and self._initial is not None:
                    # Most of a streaming list: straight to it (its end's bookmark sets the
                    # resourceVersion; a list cut short is asked for again whole).
                    initial_event(kind, obj)
                else:
                    self._dispatch(kind, obj)

    def _stream_query(self) -> list[tuple[str, Any]]:
        # No resourceVersion: the initial events are a consistent read, as a list's are.
        return self._query(watch="true", sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                           allowWatchBookmarks="true", timeoutSeconds=self.WATCH_SECONDS)

    def _count(self) -> None:
        """The server's estimate of a streaming list's whole (a list of one says how many remain),
        for the title's "loading 4,000 of ~10,057"; nothing when it gives none."""
        try:
            resp = self._get(self._query(limit=1), (10, 30))
            try:
                meta = orjson.loads(resp.data).get("metadata") or {}
            finally:
                resp.release_conn()
        except Exception:
            return
        remaining = meta.get("remainingItemCount")
        if isinstance(remaining, int):
            self._estimate = remaining + 1

    def _initial_event(self, kind: str | None, obj: Any) -> None:
        """One event of a streaming list before its end: kept, and handed on a page at a time."""
        key = object_key(obj)
        items, page = self._initial, self._initial_page
        if kind == "DELETED":
            items.pop(key, None)
            page.pop(key, None)
            return
        items[key] = page[key] = self.transform(obj)
        if len(page) >= (self.PAGE if len(items) > len(page) else min(self.PAGE, self.FIRST_PAGE)):
            estimate = self._estimate
            self.sink.page(page, len(items), max(estimate, len(items)) if estimate else None)
            self._initial_page = {}

    def _initial_end(self, rv: str) -> None:
        items = self._initial
        self._initial, self._listed = None, True
        self.resource_version = rv
        self._hand_over(items)
        self.sink.state(LIVE)

    def _parse_list(self, data: bytes) -> tuple[list, dict]:
        """(items, list metadata) of one page: typed where the kind has a schema."""
        if self._decoders is not None:
            import msgspec

            try:
                lst = self._decoders.list.decode(data)
                return lst.items or [], lst.metadata
            except msgspec.DecodeError:
                pass  # not the shape the schema expects: read it whole, lose nothing
        body = orjson.loads(data)
        return body.get("items") or [], body.get("metadata") or {}

    def _line(self, line: bytes) -> None:
        if self._decoders is not None:
            import msgspec

            try:
                ev = self._decoders.event.decode(line)
            except msgspec.DecodeError:
                pass  # an ERROR's Status, or something odd: read it whole below
            else:
                # A bookmark ending a streaming list's initial events says so in an annotation
                # the schema does not keep: read it whole (it is small).
                if ev.type != "ERROR" and not (ev.type == "BOOKMARK" and self._initial is not None):
                    self._dispatch(ev.type, ev.object or {})
                    return
        self._event(orjson.loads(line))

    def _event(self, ev: dict) -> None:
        self._dispatch(ev.get("type"), ev.get("object") or {})

    def _dispatch(self, kind: str | None, obj: Any) -> None:
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise RuntimeError(obj.get("message") or "watch error")
        if self.table:
            self._table_event(kind, obj)
            return
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = rv
        if kind == "BOOKMARK":
            if self._initial is not None and ((obj.get("metadata") or {}).get("annotations") or {}).get(
                    INITIAL_EVENTS_END) == "true":
                self._initial_end(rv or "")
            return
        if self._initial is not None:
            self._initial_event(kind, obj)
            return
        key = object_key(obj)
        if kind == "DELETED":
            self.sink.delete(key)
        else:
            self.sink.upsert(key, self.transform(obj))

    # -- table mode --------------------------------------------------------------------------
    def _table_columns(self, table: dict) -> tuple[dict, ...]:
        """The definitions this Table carries, or the last ones seen: a watch sends them with its
        first event only."""
        defs = table.get("columnDefinitions")
        if defs:
            defs = tuple(d for d in defs if isinstance(d, dict))
            if defs != self.table_columns:
                self.table_columns = defs
                self.sink.columns(defs)
        return self.table_columns

    def _table_rows(self, table: dict, items: dict[str, Any]) -> None:
        if table.get("kind") != "Table":
            raise RuntimeError("the API server did not answer in the Table format")
        columns = self._table_columns(table)
        transform = self.transform
        now = time.time()
        for row in table.get("rows") or ():
            trow = _table_row(columns, row, now)
            items[object_key(trow.object)] = transform(trow)

    def _table_event(self, kind: str | None, table: dict) -> None:
        rows = table.get("rows") or ()
        meta = (rows[0].get("object") or {}).get("metadata") or {} if rows else {}
        rv = meta.get("resourceVersion") or (table.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = rv
        if kind == "BOOKMARK":
            return
        defs = table.get("columnDefinitions")
        if defs and self.table_columns and tuple(defs) != self.table_columns:
            # The columns changed under a running watch (a CRD's printer columns were edited):
            # relist, so every row is rendered with the new ones, not just those that change.
            raise Gone()
        columns = self._table_columns(table)
        now = time.time()
        for row in rows:
            trow = _table_row(columns, row, now)
            key = object_key(trow.object)
            if kind == "DELETED":
                self.sink.delete(key)
            else:
                self.sink.upsert(key, self.transform(trow))

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        from cockpit.kube.rest import api_errors

        backoff = 0.5
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list and self.streaming:
                    self.sink.state(CONNECTING)
                    self._listed = False
                    try:
                        self._watch(initial=True)
                    except api_errors() as e:
                        if self._listed or e.status not in (400, 422, 501):
                            raise
                        # The server does not stream lists (too old, or the feature is off): page.
                        self.streaming = False
                        continue
                    finally:
                        if self._listed:  # the watch that followed may have failed; the list stands
                            need_list = False
                    if not self._listed and not self._stop.is_set():
                        # The stream ended with no bookmark ending its initial events: the server
                        # took the request as a plain watch. Page from now on.
                        self.streaming = False
                        continue
                else:
                    if need_list:
                        self.sink.state(CONNECTING)
                        self._list()
                        need_list = False
                        self.sink.state(LIVE)
                    self._watch()
                backoff = 0.5  # a watch that ended normally (timeout) is healthy
            except Gone:
                need_list = True
                continue
            except api_errors() as e:
                if self._stop.is_set():
                    break
                if e.status in (401, 403):
                    self.sink.state(FORBIDDEN, _reason(e))
                    self._stop.wait(30)  # permissions change rarely; look again later
                    need_list = True
                    continue
                if e.status == 404:
                    self.sink.state(ERROR, NOT_SERVED)
                    self._stop.wait(60)
                    need_list = True
                    continue
                if e.status == 410:
                    need_list = True
                    continue
                self.sink.state(ERROR, _reason(e))
            except Exception as e:  # network errors of every flavour: reconnect
                if self._stop.is_set():
                    break
                from cockpit.kube.connection import network_error_text

                delay = backoff * (1 + random.random() * 0.2)
                self.sink.state(ERROR, network_error_text(e), retry_in=delay)
                self._stop.wait(delay)
                backoff = min(backoff * 2, 30)
                if not self.resource_version:
                    need_list = True
                continue
            self._stop.wait(backoff * (1 + random.random() * 0.2))
            backoff = min(backoff * 2, 30)
            if not self.resource_version:
                need_list = True
        self.sink.state(STOPPED)


def release_free_memory() -> None:
    """Returns the C heap's free pages to the system (glibc's malloc_trim). A big list's response
    bodies and decoded pages are freed once parsed, but glibc keeps the pages, in the arenas of
    the threads that read them, unless asked; elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _table_row(columns: tuple[dict, ...], row: dict, received: float) -> TableRow:
    cells = tuple(row.get("cells") or ())
    obj = row.get("object") or {}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:  # most of a metadata's bytes
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    if not isinstance(meta, dict) or not meta.get("name"):
        # A server that ignored includeObject (some aggregated API servers): key the row by its
        # name cell rather than let every row collapse into one.
        for i, d in enumerate(columns):
            if d.get("format") == "name" and i < len(cells) and cells[i]:
                obj = {**obj, "metadata": {**(meta if isinstance(meta, dict) else {}), "name": str(cells[i])}}
                break
    return TableRow(columns, cells, obj, received)


def _reason(e) -> str:
    try:
        body = orjson.loads(e.body or b"{}")
        return str(body.get("message") or e.reason)
    except Exception:
        return str(e.reason or e.status)

