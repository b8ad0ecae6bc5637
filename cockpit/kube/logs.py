"""Container logs: which containers an object's logs come from, and a follower thread per
container that streams them.

A follower asks for `timestamps=true` so that a broken stream can be resumed exactly: it
reconnects with `sinceTime=<last timestamp seen>` and drops the replayed lines it already
delivered (same timestamp counted, as several lines may share one). Every line is neutralised
with `clean_log_line` here, in the reader thread, and lines reach the consumer in batches (one
list per chunk read), never one by one. Blocking: nothing here may run on the UI thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson

from cockpit.kube.text import clean, clean_log_line
from cockpit.kube.connection import request, request_json

__all__ = [
    "CONNECTING",
    "DEFAULT_CONTAINER_ANNOTATION",
    "ENDED",
    "ERROR",
    "KATIB_DEFAULT_CONTAINER",
    "STOPPED",
    "STREAMING",
    "WAITING",
    "LogFollower",
    "LogLine",
    "LogSelection",
    "LogTarget",
    "ResumePoint",
    "containers_of",
    "merge_by_time",
    "no_previous_run",
    "parse_log_chunk",
    "pod_not_started",
    "read_whole_log",
    "resolve",
    "short_timestamp",
    "targets_for",
    "timestamp_key",
]

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
KATIB_TRIAL_LABEL = "katib.kubeflow.org/trial"
KATIB_DEFAULT_CONTAINER = "training-container"

# Follower states, reported through `on_state(target, state, detail)`.
CONNECTING, STREAMING, WAITING, ERROR, ENDED, STOPPED = (
    "connecting", "streaming", "waiting", "error", "ended", "stopped")


@dataclass(frozen=True)
class LogTarget:
    """One container's log: where it lives, and the prefix its lines carry on screen."""

    namespace: str
    pod: str
    container: str
    prefix: str = ""


class LogLine(NamedTuple):
    """One neutralised log line; `timestamp` is the RFC 3339 time the API gave it ("" if none)."""

    text: str
    timestamp: str = ""
    prefix: str = ""


@dataclass
class LogSelection:
    """What the logs of one object are: the targets, and the containers a picker may offer."""

    targets: list[LogTarget]
    containers: list[str] = field(default_factory=list)
    default_container: str | None = None
    problem: str = ""  # why there is nothing to show, when targets is empty


# -- containers and targets ------------------------------------------------------------------

def containers_of(pod: dict) -> tuple[list[str], str | None]:
    """(container names, default container) of a raw Pod object: the regular containers, then
    init containers, then ephemeral ones. The default is the one the
    `kubectl.kubernetes.io/default-container` annotation names (when it exists), else the
    first regular container."""
    spec = pod.get("spec") or {}
    names: list[str] = []
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            name = c.get("name") if isinstance(c, dict) else None
            if name and name not in names:
                names.append(str(name))
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    wanted = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if wanted in names:
        return names, wanted
    regular = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict) and c.get("name")]
    if _is_argo_step(pod) and "main" in regular:
        return names, "main"
    if regular:
        return names, regular[0]
    return names, names[0] if names else None


def _is_argo_step(pod: dict) -> bool:
    return ARGO_WORKFLOW_LABEL in ((pod.get("metadata") or {}).get("labels") or {})


def _kind_name(kind: str) -> str:
    k = kind.strip().lower()
    return {"po": "pod", "pods": "pod", "jobs": "job", "wf": "workflow", "workflows": "workflow",
            "trials": "trial"}.get(k, k)


def _short_pod_name(pod: str, owner: str) -> str:
    if owner and pod.startswith(owner + "-") and len(pod) > len(owner) + 1:
        return pod[len(owner) + 1:]
    return pod


def _get_json(api, path: str, query: list[tuple[str, Any]] | None = None) -> dict:
    return request_json(api, "GET", path, query=query, timeout=(5, 20))


def _list_pods(api, namespace: str, selector: str) -> list[dict]:
    body = _get_json(api, f"/api/v1/namespaces/{quote(namespace)}/pods", [("labelSelector", selector)])
    pods = [p for p in body.get("items") or [] if isinstance(p, dict)]
    return sorted(pods, key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "",
                                       (p.get("metadata") or {}).get("name") or ""))


def resolve(kind: str, obj: dict, api) -> LogSelection:
    """The log targets of `obj` (a raw object of `kind`: pod, job, workflow, trial) and the
    containers to offer. Lists pods for the kinds that own several: blocking."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    k = _kind_name(kind)
    if k == "pod":
        names, default = containers_of(obj)
        if not default:
            return LogSelection([], problem=f"pod {name} has no containers")
        return LogSelection([LogTarget(namespace, name, default)], names, default)
    if k == "job":
        pods, wanted = _list_pods(api, namespace, f"job-name={name}"), None
    elif k == "workflow":
        pods, wanted = _list_pods(api, namespace, f"{ARGO_WORKFLOW_LABEL}={name}"), "main"
    elif k == "trial":
        pods = _list_pods(api, namespace, f"{KATIB_TRIAL_LABEL}={name}")
        wanted = str((obj.get("spec") or {}).get("primaryContainerName") or KATIB_DEFAULT_CONTAINER)
    else:
        return LogSelection([], problem=f"{clean(kind)} has no logs")
    if not pods:
        return LogSelection([], problem=f"no pods of {k} {namespace}/{name} yet")
    containers, default = containers_of(pods[0])
    container = wanted if wanted and (wanted in containers or k == "trial") else default
    if container is None:
        return LogSelection([], problem=f"the pods of {k} {name} have no containers")
    targets = []
    for p in pods:
        pod_name = str((p.get("metadata") or {}).get("name") or "")
        targets.append(LogTarget(namespace, pod_name, container, _short_pod_name(pod_name, name)))
    return LogSelection(targets, containers, container)


def targets_for(kind: str, obj: dict, api) -> list[LogTarget]:
    """pod: its default container; Job: all its pods (label job-name), each prefixed with its
    short name; Workflow: its step pods' `main`; Katib Trial: its pods' primary container."""
    return resolve(kind, obj, api).targets


# -- timestamps and chunks -------------------------------------------------------------------

def timestamp_key(ts: str) -> str:
    """A string that sorts like the instant `ts` (RFC 3339, any fraction, any offset) does:
    UTC, nanoseconds, fixed width. "" for anything that is not a timestamp."""
    if len(ts) < 20 or ts[10] != "T":
        return ""
    if ts[-1] in "Zz":
        head, _, frac = ts[:-1].partition(".")
        if len(head) == 19 and (not frac or frac.isdigit()):
            return f"{head}.{frac[:9]:0<9}"
        return ""
    # An offset: convert to UTC (rare; the kubelet writes UTC).
    body, offset = ts[:-6], ts[-6:]
    head, _, frac = body.partition(".")
    try:
        when = dt.datetime.fromisoformat(head + offset).astimezone(dt.UTC)
    except ValueError:
        return ""
    if frac and not frac.isdigit():
        return ""
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{frac[:9]:0<9}"


def short_timestamp(ts: str) -> str:
    """`ts` to the millisecond, UTC, as shown next to a line: 2025-01-31T12:00:00.123Z."""
    key = timestamp_key(ts)
    return key[:23] + "Z" if key else ts


def _looks_like_timestamp(word: str) -> bool:
    return len(word) >= 20 and word[4:5] == "-" and word[10:11] == "T" and word[:4].isdigit()


def parse_log_chunk(data: bytes, prefix: str = "", *, timestamps: bool = True) -> tuple[list[LogLine], bytes]:
    """Split the complete lines off `data` (the rest is returned, to be completed by the next
    chunk), take off the timestamp the API put in front of each, neutralise the text."""
    complete, sep, rest = data.rpartition(b"\n")
    if not sep:
        return [], data
    out: list[LogLine] = []
    append = out.append
    for raw in complete.decode("utf-8", "replace").split("\n"):
        ts = ""
        if timestamps:
            word, space, text = raw.partition(" ")
            if _looks_like_timestamp(word):
                ts, raw = word, (text if space else "")
        if "\r" in raw:
            # What a terminal would show of a progress bar redrawn with carriage returns.
            raw = raw.rstrip("\r").rpartition("\r")[2]
        append(LogLine(clean_log_line(raw), ts, prefix))
    return out, rest


class ResumePoint:
    """Where a stream got to: the last timestamp delivered and how many delivered lines carry
    it. After `resume()`, `admit` drops the lines a `sinceTime` request replays."""

    def __init__(self) -> None:
        self.key = ""
        self.timestamp = ""
        self.count = 0
        self._replay_key = ""
        self._replay_left = 0

    def resume(self) -> None:
        if self.key:
            self._replay_key, self._replay_left = self.key, self.count

    def admit(self, line: LogLine) -> bool:
        key = timestamp_key(line.timestamp) if line.timestamp else ""
        if not key:
            return True  # nothing to compare with: never drop
        if self._replay_key:
            if key < self._replay_key:
                return False
            if key == self._replay_key and self._replay_left > 0:
                self._replay_left -= 1
                return False
            self._replay_key = ""
        if key == self.key:
            self.count += 1
        else:
            self.key, self.timestamp, self.count = key, line.timestamp, 1
        return True


# -- the follower ----------------------------------------------------------------------------

LinesCallback = Callable[[LogTarget, Sequence[LogLine]], None]
StateCallback = Callable[[LogTarget, str, str], None]


class LogFollower:
    """Streams one container's log in a thread of its own and hands lines to `on_lines` in
    batches. Follows (and reconnects while the pod runs) unless `previous` is set, in which case
    it reads the previous container instance's log once."""

    CHUNK = 65536
    READ_TIMEOUT = 300  # an idle stream is re-opened (and resumed) after this many seconds
    BACKOFF_MIN, BACKOFF_MAX = 0.5, 10.0
    PENDING_POLL = 2.0  # seconds between looks at a Pending pod

    def __init__(self, api, target: LogTarget, on_lines: LinesCallback, on_state: StateCallback, *,
                 previous: bool = False, tail_lines: int | None = 500):
        self.api = api
        self.target = target
        self.on_lines = on_lines
        self.on_state = on_state
        self.previous = previous
        self.tail_lines = tail_lines
        self.resume_point = ResumePoint()
        self.delivered = 0
        self.replayed = 0  # lines a resumed request sent again and this follower dropped
        self.connections = 0
        self.state = CONNECTING
        self._stop = threading.Event()
        self._response = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"logs-{target.namespace}/{target.pod}/{target.container}")

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop following; the thread leaves within a second (the open response is closed)."""
        self._stop.set()
        self.reconnect()

    def reconnect(self) -> None:
        """Drop the current connection; the follower resumes where it was (unless stopped)."""
        resp = self._response
        if resp is None:
            return
        for close in (resp.shutdown, resp.close):
            with contextlib.suppress(Exception):  # already closed, or released to the pool
                close()  # shutdown unblocks a read in progress (urllib3 >= 2.3)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        if state == STOPPED or not self._stop.is_set():
            self.on_state(self.target, state, detail)

    # -- HTTP --------------------------------------------------------------------------------
    def _path(self) -> str:
        t = self.target
        return f"/api/v1/namespaces/{quote(t.namespace)}/pods/{quote(t.pod)}/log"

    def _query(self, follow: bool) -> list[tuple[str, Any]]:
        q: list[tuple[str, Any]] = [("container", self.target.container), ("timestamps", "true")]
        if follow:
            q.append(("follow", "true"))
        if self.previous:
            q.append(("previous", "true"))
        if self.resume_point.key:
            q.append(("sinceTime", self.resume_point.timestamp))
        elif self.tail_lines is not None:
            q.append(("tailLines", str(self.tail_lines)))
        return q

    def _stream(self, follow: bool) -> bool:
        """One request, read to its end. True when the server ended it cleanly."""
        resp = request(self.api, "GET", self._path(), query=self._query(follow), accept="*/*",
                       timeout=(10, self.READ_TIMEOUT if follow else 60))
        self._response = resp
        self.connections += 1
        if self._stop.is_set():  # stop() came while connecting: it could not close this one
            self.reconnect()
        self._set_state(STREAMING)
        clean_end = False
        try:
            rest = b""
            for chunk in resp.stream(self.CHUNK, decode_content=True):
                if self._stop.is_set():
                    return False
                lines, rest = parse_log_chunk(rest + chunk if rest else chunk, self.target.prefix)
                self._deliver(lines)
            if rest and not follow and not self._stop.is_set():
                lines, _ = parse_log_chunk(rest + b"\n", self.target.prefix)
                self._deliver(lines)
            clean_end = True
        finally:
            self._response = None
            if not clean_end:
                _discard_connection(resp)
            with contextlib.suppress(Exception):
                resp.release_conn()
        return clean_end

    def _deliver(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        admit = self.resume_point.admit
        batch = [line for line in lines if admit(line)]
        self.replayed += len(lines) - len(batch)
        if batch and not self._stop.is_set():
            self.delivered += len(batch)
            self.on_lines(self.target, batch)

    def _pod(self) -> dict | None:
        """The pod, {} when it is gone, None when the question failed."""
        from cockpit.kube.rest import api_errors

        t = self.target
        try:
            return _get_json(self.api, f"/api/v1/namespaces/{quote(t.namespace)}/pods/{quote(t.pod)}")
        except api_errors() as e:
            return {} if e.status == 404 else None
        except Exception:  # noqa: BLE001 - unknown: the caller keeps following
            return None

    def _pod_phase(self) -> str | None:
        """The pod's phase, "" when it is gone, None when the question failed."""
        pod = self._pod()
        if pod is None:
            return None
        return str((pod.get("status") or {}).get("phase") or "Unknown") if pod else ""

    def _not_readable(self) -> tuple[str, str] | None:
        """(WAITING, why) while the pod is Pending: there is no log yet, and the view says so
        instead of "streaming" an empty one."""
        if self.previous:
            return None
        pod = self._pod()
        if not pod:
            return None  # gone or unknown: the request itself says what it can
        why = pod_not_started(pod, self.target.container)
        return (WAITING, f"waiting: {why}") if why else None

    def _why_no_previous(self) -> str:
        """After a previous-log read that gave nothing: why, when the pod says (no restart)."""
        pod = self._pod()
        return no_previous_run(pod, self.target.container) if pod else ""

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        from cockpit.kube.rest import api_errors

        backoff = self.BACKOFF_MIN
        last_try = False  # the pod finished: one last read without follow picks up the rest
        while not self._stop.is_set():
            follow = not self.previous and not last_try
            blocked = self._not_readable() if not last_try else None
            if blocked is not None:
                self._set_state(*blocked)
                if blocked[0] == ENDED:
                    break
                self._stop.wait(self.PENDING_POLL)  # a pod starting is seen within this
                continue
            self._set_state(CONNECTING, "resuming" if self.resume_point.key else "")
            self.resume_point.resume()
            delivered_before = self.delivered
            clean_end = False
            try:
                clean_end = self._stream(follow)
            except api_errors() as e:
                if self._stop.is_set():
                    break
                reason = _reason(e)
                if self.previous and e.status == 400 and self._why_no_previous():
                    self._set_state(ENDED, self._why_no_previous())  # not an error: nothing to show
                    break
                if e.status in (401, 403, 404) or self.previous or last_try:
                    self._set_state(ERROR, reason)
                    break
                # 400: the container is not running yet (ContainerCreating, PodInitializing)
                self._set_state(WAITING, reason)
                self._stop.wait(backoff * (1 + random.random() * 0.2))
                backoff = min(backoff * 2, self.BACKOFF_MAX)
                continue
            except Exception as e:  # noqa: BLE001 - network trouble of every flavour: resume below
                if self._stop.is_set():
                    break
                self._set_state(WAITING, f"{type(e).__name__}: {str(e)[:200]}")
            if self._stop.is_set():
                break
            if not follow:
                if clean_end:
                    # An empty previous log of a container that never restarted: say why.
                    empty = self.previous and self.delivered == 0
                    self._set_state(ENDED, self._why_no_previous() if empty else "")
                    break
            else:
                phase = self._pod_phase()
                if phase in ("", "Succeeded", "Failed"):
                    if clean_end or phase == "":
                        self._set_state(ENDED, "pod deleted" if phase == "" else f"pod {phase.lower()}")
                        break
                    last_try = True
                    continue
            if self.delivered > delivered_before:
                backoff = self.BACKOFF_MIN  # it was a healthy stream: come back at once
                continue
            self._stop.wait(backoff * (1 + random.random() * 0.2))
            backoff = min(backoff * 2, self.BACKOFF_MAX)
        self._set_state(STOPPED)


def read_whole_log(api, target: LogTarget, *, previous: bool = False, stop: threading.Event | None = None,
                   chunk: int = 65536) -> list[LogLine]:
    """Every line the API server keeps for the container (no tail, no follow), for saving: the
    view holds only the tail it started with and what came since. Blocking."""
    query: list[tuple[str, Any]] = [("container", target.container), ("timestamps", "true")]
    if previous:
        query.append(("previous", "true"))
    resp = request(api, "GET", f"/api/v1/namespaces/{quote(target.namespace)}/pods/{quote(target.pod)}/log",
                   query=query, accept="*/*", timeout=(10, 120))
    out: list[LogLine] = []
    rest = b""
    try:
        for data in resp.stream(chunk, decode_content=True):
            if stop is not None and stop.is_set():
                break
            lines, rest = parse_log_chunk(rest + data if rest else data, target.prefix)
            out.extend(lines)
        if rest:
            out.extend(parse_log_chunk(rest + b"\n", target.prefix)[0])
    finally:
        with contextlib.suppress(Exception):
            resp.release_conn()
    return out


def merge_by_time(logs: list[list[LogLine]]) -> list[LogLine]:
    """Lines of several containers in one list, in time order (each list's own order kept)."""
    if len(logs) == 1:
        return logs[0]
    return sorted(chain.from_iterable(logs), key=lambda line: timestamp_key(line.timestamp))


def pod_not_started(pod: dict, container: str) -> str:
    """Why `container` of a Pending pod has no log yet ("" when it may have one): the log view
    says this instead of "streaming" an empty log."""
    from cockpit.kube.rows import pod_status, pod_status_message

    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return ""
    for cs in status.get("containerStatuses") or ():
        if cs.get("name") == container and (cs.get("state") or {}).get("running") is not None:
            return ""
    reason = pod_status(pod)[0]
    message = pod_status_message(pod)
    return f"pod Pending ({reason})" + (f": {message}" if message else "")


def no_previous_run(pod: dict, container: str) -> str:
    """Why `container` has no previous log ("" when it has one): it never restarted."""
    for cs in [*((pod.get("status") or {}).get("containerStatuses") or ()),
               *((pod.get("status") or {}).get("initContainerStatuses") or ())]:
        if cs.get("name") != container:
            continue
        if int(cs.get("restartCount") or 0) > 0 or (cs.get("lastState") or {}).get("terminated"):
            return ""
        return f"container {container} has not restarted: no previous log"
    return ""


def _discard_connection(resp) -> None:
    # A connection left mid-stream must not go back to the pool.
    with contextlib.suppress(Exception):
        resp.close()


def _reason(e) -> str:
    try:
        body = orjson.loads(e.body or b"{}")
        return clean(str(body.get("message") or e.reason), 300)
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return clean(str(e.reason or e.status), 300)
