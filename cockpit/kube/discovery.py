"""What the API server serves: every resource kind, with the names `:` may use for it.

Read from the server's aggregated discovery (one request for /api and one for /apis, the
`apidiscovery.k8s.io/v2` format); a server that answers in the old format is read the legacy
way, one request per group version. Each resource becomes an immutable `ApiResource`, the
preferred version of a group first, subresources (pods/log, deployments/scale) left out.

Reading is blocking: call `refresh()` (or `resolve_or_refresh()`) from a worker thread, never
from the UI thread. `resolve()` only looks at what was read last and may be called anywhere.

When CRDs change, `CrdWatch` re-reads: it watches apiextensions.k8s.io/v1
customresourcedefinitions through the ordinary `Informer` (the same list+watch, reconnect and
backoff as every pane) and re-reads discovery after each change, until every Established CRD
is served. A user who may not list CRDs gets a cheap re-read instead: every 30 s the
aggregated document is asked for with its ETag, which costs a 304 when nothing changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from cockpit.kube.informer import FORBIDDEN, Informer, Resource, Sink

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
# Groups an ambiguous name goes to first, as kubectl does (`events` is core/v1 events, not
# events.k8s.io); after these, the server's own order.
PREFERRED_GROUPS = ("", "apps", "batch")


@dataclass(frozen=True, slots=True)
class ApiResource:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    verbs: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    preferred: bool = True  # the group's preferred version

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> Resource:
        """Where the informer lists and watches it."""
        return Resource(self.group, self.version, self.plural, self.namespaced)

    @property
    def full_name(self) -> str:
        """`plural.group` (kubectl's fully qualified name), the plural alone for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def can(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)

    @property
    def listable(self) -> bool:
        """Whether a pane can show it: list and watch."""
        return self.can("list", "watch")


class DiscoveryError(Exception):
    """Discovery could not be read (the message says why, in words)."""


class Discovery:
    """The resources one API server serves, read on `refresh()`."""

    # A name not found triggers a re-read at most this often (a typo must not hammer the server).
    MISS_REFRESH_SECONDS = 2.0

    def __init__(self, api, resources: Iterable[ApiResource] = (), *, aggregated: bool = True):
        self.api = api
        self.use_aggregated = aggregated  # False: always the legacy per-group requests
        self._lock = threading.Lock()
        self._resources: tuple[ApiResource, ...] = ()
        self._index: dict[str, list[ApiResource]] = {}
        self._etags: dict[str, str] = {}
        self._last_refresh = 0.0
        self.aggregated = False  # whether the last read used aggregated discovery
        self.read_at = 0.0  # wall time of the last successful read
        if resources:
            self._install(tuple(resources))

    # -- reading (blocking) ---------------------------------------------------------------------
    def refresh(self, *, if_changed: bool = False) -> bool:
        """Read discovery again. Returns whether what is served changed. With `if_changed` the
        aggregated documents are asked for with their ETags (a 304 costs next to nothing)."""
        from cockpit.kube.rest import api_errors

        self._last_refresh = time.monotonic()
        try:
            groups = self._read_aggregated(if_changed) if self.use_aggregated else None
        except api_errors() as e:
            if e.status == 304:
                return False
            raise DiscoveryError(_api_error("discovery", e)) from e
        except Exception as e:
            raise DiscoveryError(_network_error("discovery", e)) from e
        if groups is None:  # the server does not speak aggregated discovery
            try:
                found = self._read_legacy()
            except api_errors() as e:
                raise DiscoveryError(_api_error("discovery", e)) from e
            except Exception as e:
                raise DiscoveryError(_network_error("discovery", e)) from e
            self.aggregated = False
        else:
            found = resources_from_aggregated(groups)
            self.aggregated = True
        self.read_at = time.time()
        return self._install(found)

    def _get(self, path: str, accept: str, etag: str = ""):
        from cockpit.kube.connection import request

        return request(self.api, "GET", path, accept=accept, timeout=(10, 30),
                       headers={"If-None-Match": etag} if etag else None)

    def _read_aggregated(self, if_changed: bool) -> list[dict] | None:
        """The APIGroupDiscovery items of /api then /apis, or None when the server answered in
        the legacy format. With `if_changed`, raises the 304 when neither document changed."""
        from cockpit.kube.rest import ApiError, api_errors

        bodies, etags, unchanged = [], {}, 0
        for path in ("/api", "/apis"):
            try:
                resp = self._get(path, AGGREGATED, self._etags.get(path, "") if if_changed else "")
            except api_errors() as e:
                if e.status != 304:
                    raise
                unchanged += 1
                bodies.append(None)
                continue
            try:
                data, ctype = resp.data, resp.headers.get("Content-Type", "")
                etags[path] = resp.headers.get("ETag", "")
            finally:
                resp.release_conn()
            if "apidiscovery.k8s.io" not in ctype:
                return None
            bodies.append(orjson.loads(data))
        if unchanged == 2:
            raise ApiError(304, "Not Modified")
        if unchanged:  # one changed: read both afresh so the result is one consistent picture
            return self._read_aggregated(False)
        self._etags = etags
        groups: list[dict] = []
        for body in bodies:
            if not isinstance(body, dict) or body.get("kind") != "APIGroupDiscoveryList":
                return None
            groups.extend(g for g in body.get("items") or () if isinstance(g, dict))
        return groups

    def _read_legacy(self) -> tuple[ApiResource, ...]:
        """The old way: /api and /apis name the group versions, then one request each."""
        def get_json(path: str) -> dict:
            resp = self._get(path, "application/json")
            try:
                return orjson.loads(resp.data)
            finally:
                resp.release_conn()

        out: list[ApiResource] = []
        for version in get_json("/api").get("versions") or ():
            out.extend(resources_from_list(get_json(f"/api/{version}"), "", version, preferred=True))
        for group in get_json("/apis").get("groups") or ():
            name = group.get("name") or ""
            preferred = (group.get("preferredVersion") or {}).get("version", "")
            versions = [v.get("version", "") for v in group.get("versions") or ()]
            versions.sort(key=lambda v: v != preferred)  # stable: the server's order after it
            for v in versions:
                try:
                    body = get_json(f"/apis/{name}/{v}")
                except Exception:  # an aggregated API server that is down: skip its group
                    continue
                out.extend(resources_from_list(body, name, v, preferred=v == preferred))
        return tuple(out)

    def resolve_or_refresh(self, name: str) -> ApiResource | None:
        """`resolve`, re-reading discovery first when the name is unknown (a CRD installed a
        moment ago). Blocking: call from a worker."""
        found = self.resolve(name)
        if found is None and time.monotonic() - self._last_refresh >= self.MISS_REFRESH_SECONDS:
            self.refresh()
            found = self.resolve(name)
        return found

    # -- looking up (any thread) ------------------------------------------------------------------
    @property
    def resources(self) -> tuple[ApiResource, ...]:
        """Every resource, the preferred version of each group first."""
        return self._resources

    def preferred(self) -> list[ApiResource]:
        """One entry per group and plural: the preferred version's (what api-resources lists)."""
        return [r for r in self._resources if r.preferred]

    def _install(self, found: tuple[ApiResource, ...]) -> bool:
        found = _ordered(found)
        index: dict[str, list[ApiResource]] = {}

        def add(key: str, r: ApiResource) -> None:
            if key:
                lst = index.setdefault(key.lower(), [])
                if r not in lst:
                    lst.append(r)

        for r in found:
            if r.preferred:
                for key in (r.plural, r.singular, r.kind, *r.short_names):
                    add(key, r)
        with self._lock:
            changed = found != self._resources
            self._resources, self._index = found, index
        return changed

    def resolve(self, name: str) -> ApiResource | None:
        """The resource `name` means: a plural, singular, short name or Kind (any case), a
        `plural.group` (or `plural.version.group`), or `group/version/plural` (`v1/pods` for
        the core group). Plural and singular win over short names, short names over kinds; among
        groups, core, apps and batch win, then the server's order. None when nothing matches."""
        name = name.strip()
        if not name:
            return None
        with self._lock:
            resources, index = self._resources, self._index
        if "/" in name:
            return _by_path(resources, name)
        lowered = name.lower()
        hits = index.get(lowered, ())
        if hits:
            return _best(hits, lowered)
        if "." in lowered:
            return _by_qualified(resources, lowered)
        return None


def _best(hits: list[ApiResource], name: str) -> ApiResource:
    """Among resources sharing a name, the one it most likely means: by how the name matched
    (plural, singular, short name, kind), then by group order (hits keep the install order)."""
    def rank(r: ApiResource) -> int:
        if name == r.plural:
            return 0
        if name == r.singular:
            return 1
        if name in (s.lower() for s in r.short_names):
            return 2
        return 3

    return min(hits, key=rank)  # min keeps the first of equals: the group order


def _by_path(resources: tuple[ApiResource, ...], name: str) -> ApiResource | None:
    parts = [p for p in name.strip("/").split("/")]
    if len(parts) == 2:  # v1/pods
        group, version, plural = "", parts[0], parts[1]
    elif len(parts) == 3:
        group, version, plural = parts
        if group.lower() in ("core", "api"):
            group = ""
    else:
        return None
    plural = plural.lower()
    for r in resources:
        if r.group == group and r.version == version and plural in (r.plural, r.singular, r.kind.lower()):
            return r
    return None


def _by_qualified(resources: tuple[ApiResource, ...], name: str) -> ApiResource | None:
    """`deployments.apps`, `deploy.apps`, `deployments.v1.apps`, `Workflow.argoproj.io`."""
    head, _, rest = name.partition(".")
    version = ""
    first, _, after = rest.partition(".")
    candidates = [(rest, "")]
    if after and first[:1] == "v" and first[1:2].isdigit():
        candidates.insert(0, (after, first))
    for group, version in candidates:
        matches = [r for r in resources if r.group == group and (not version or r.version == version)
                   and head in (r.plural, r.singular, r.kind.lower(), *(s.lower() for s in r.short_names))]
        if matches:
            if not version:
                matches.sort(key=lambda r: not r.preferred)
            return _best(matches, head)
    return None


def _ordered(found: Iterable[ApiResource]) -> tuple[ApiResource, ...]:
    """Core, apps and batch first, then the server's group order; within a group the preferred
    version first (the server lists versions in preference order)."""
    found = list(found)
    groups: list[str] = []
    for r in found:
        if r.group not in groups:
            groups.append(r.group)

    def group_rank(g: str) -> tuple[int, int]:
        if g in PREFERRED_GROUPS:
            return (0, PREFERRED_GROUPS.index(g))
        return (1, groups.index(g))

    return tuple(sorted(found, key=lambda r: (group_rank(r.group), not r.preferred)))


# -- the two wire formats (pure) ----------------------------------------------------------------
def resources_from_aggregated(groups: Iterable[dict]) -> tuple[ApiResource, ...]:
    """ApiResources from APIGroupDiscovery items (apidiscovery.k8s.io/v2), in the server's order.
    A group's versions come in preference order; a Stale version (an aggregated API server that
    is down) is still listed, as kubectl does."""
    out: list[ApiResource] = []
    for g in groups:
        group = ((g.get("metadata") or {}).get("name")) or ""
        for i, v in enumerate(g.get("versions") or ()):
            version = v.get("version") or ""
            for res in v.get("resources") or ():
                plural = res.get("resource") or ""
                if not plural or "/" in plural:
                    continue
                kind = ((res.get("responseKind") or {}).get("kind")) or ""
                out.append(ApiResource(
                    group=group, version=version, plural=plural,
                    singular=res.get("singularResource") or kind.lower(),
                    kind=kind,
                    short_names=tuple(res.get("shortNames") or ()),
                    namespaced=res.get("scope") == "Namespaced",
                    verbs=tuple(res.get("verbs") or ()),
                    categories=tuple(res.get("categories") or ()),
                    preferred=i == 0,
                ))
    return tuple(out)


def resources_from_list(body: dict, group: str, version: str, *, preferred: bool) -> list[ApiResource]:
    """ApiResources from one legacy APIResourceList (GET /apis/<group>/<version>)."""
    out = []
    for res in body.get("resources") or ():
        plural = res.get("name") or ""
        if not plural or "/" in plural:  # subresources: pods/log, deployments/scale
            continue
        kind = res.get("kind") or ""
        out.append(ApiResource(
            group=group, version=version, plural=plural,
            singular=res.get("singularName") or kind.lower(),
            kind=kind,
            short_names=tuple(res.get("shortNames") or ()),
            namespaced=bool(res.get("namespaced")),
            verbs=tuple(res.get("verbs") or ()),
            categories=tuple(res.get("categories") or ()),
            preferred=preferred,
        ))
    return out


def _api_error(what: str, e) -> str:
    try:
        message = orjson.loads(e.body or b"{}").get("message")
    except Exception:
        message = None
    return f"{what} failed: {message or e.reason or e.status}"


def _network_error(what: str, e: BaseException) -> str:
    from cockpit.kube.connection import network_error_text

    return f"{what} failed: {network_error_text(e)}"


# -- following CRD changes -------------------------------------------------------------------------
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)


class CrdWatch(Sink):
    """Keeps a `Discovery` current while CRDs come and go; `start()` alone also makes the first
    read (in its own thread), so nothing blocks the caller.

    The CRD informer's thread only notes that something changed; a refresher thread of its own
    waits a moment (one re-read for a burst of events), re-reads discovery, and tries again
    shortly while an Established CRD is not served yet (the server publishes it a little after
    marking it Established). `on_change()` is called from that thread whenever what is served
    changed: post a message to the UI from it, do not touch widgets."""

    SETTLE = 0.3  # seconds to gather a burst of CRD events into one re-read
    POLL = 30.0  # the ETag re-read's period when CRDs cannot be watched
    RETRIES = 8

    def __init__(self, api, discovery: Discovery, on_change: Callable[[], None] = lambda: None):
        self.discovery = discovery
        self.on_change = on_change
        self._expected: dict[str, tuple[str, str, bool]] = {}  # CRD name -> (group, plural, established)
        self._deleted: set[tuple[str, str]] = set()  # (group, plural) of CRDs deleted, until unserved
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._polling = False
        self._listed = False  # the first list reads discovery whatever it holds
        self.error = ""  # the last re-read's failure, in words; "" after a good one
        self.informer = Informer(api, CRDS, self, _crd_summary, name="discovery-crds")
        self._thread = threading.Thread(target=self._run, name="discovery-refresh", daemon=True)

    def start(self) -> CrdWatch:
        self._thread.start()
        self.informer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.informer.stop()

    def join(self, timeout: float | None = None) -> None:
        self.informer.join(timeout)
        self._thread.join(timeout)

    # Sink (the informer's thread)
    def upsert(self, key: str, item) -> None:
        with self._lock:
            self._expected[key] = item
            self._deleted.discard(item[:2])
        self._wake.set()

    def delete(self, key: str) -> None:
        with self._lock:
            gone = self._expected.pop(key, None)
            if gone:
                self._deleted.add(gone[:2])
        self._wake.set()

    def reset(self, items: dict) -> None:
        with self._lock:
            changed = items != self._expected or not self._listed
            self._listed = True
            kept = {v[:2] for v in items.values()}
            self._deleted |= {v[:2] for v in self._expected.values()} - kept
            self._expected = dict(items)
        if changed:
            self._wake.set()

    def state(self, state: str, detail: str = "", retry_in: float = 0.0) -> None:
        if state == FORBIDDEN and not self._polling:
            self._polling = True  # may not list CRDs: the ETag re-read takes over
            self.informer.stop()
            self._wake.set()

    # the refresher thread
    def missing(self) -> list[str]:
        """What discovery does not show yet: Established CRDs it does not serve, and deleted
        ones it still serves (`plural.group` for those)."""
        served = {(r.group, r.plural) for r in self.discovery.resources}
        with self._lock:
            expected = list(self._expected.items())
            self._deleted &= served
            deleted = sorted(self._deleted)
        out = [name for name, (group, plural, established) in expected
               if established and (group, plural) not in served]
        return out + [f"{plural}.{group}" for group, plural in deleted]

    def _run(self) -> None:
        retry = 0.0  # after a failed read: try again this soon (doubling to 30 s)
        while not self._stop.is_set():
            woke = self._wake.wait(retry or (self.POLL if self._polling else None))
            if self._stop.is_set():
                return
            self._wake.clear()
            if woke:
                self._stop.wait(self.SETTLE)
            changed = self._reread(if_changed=self._polling and not woke and not retry)
            retry = min(max(retry * 2, 1.0), 30.0) if self.error else 0.0
            delay = 0.25
            for _ in range(self.RETRIES):
                if self._stop.is_set() or self._polling or not self.missing():
                    break
                self._stop.wait(delay)
                changed = self._reread(if_changed=False) or changed
                delay = min(delay * 2, 4.0)
            if changed:
                self.on_change()

    def _reread(self, *, if_changed: bool) -> bool:
        try:
            changed = self.discovery.refresh(if_changed=if_changed)
        except DiscoveryError as e:
            self.error = str(e)
            return False
        self.error = ""
        return changed


def _crd_summary(crd: dict) -> tuple[str, str, bool]:
    spec = crd.get("spec") or {}
    conditions = (crd.get("status") or {}).get("conditions") or ()
    established = any(c.get("type") == "Established" and c.get("status") == "True"
                      for c in conditions if isinstance(c, dict))
    return (spec.get("group") or "", (spec.get("names") or {}).get("plural") or "", established)
