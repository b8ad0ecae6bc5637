"""Port-forwards to pods through the API server, kept alive for the life of the app.

Each forward owns a listening socket on the user's machine. Every accepted connection gets a
websocket of its own to the pod (`kubernetes.stream.portforward`) and a thread that pumps bytes
both ways. Idle listeners and idle connections are left alone: a Jupyter tab may sit for hours.

A pod watch per forward keeps its status true: the pod's deletion marks it "broken: pod gone";
with an `owner` (a Job, ReplicaSet, Workflow... given as a label selector), a Running pod that
replaced the old one becomes the new target, so a restarted notebook is reachable again on the
same local port. A failed connection attempt is a second signal (404: pod gone).

Threads: one acceptor per forward (blocked in select, woken through a pipe on stop), one per
live connection, one pod informer per forward. `start`/`stop` do no network I/O and may be
called from the UI thread.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


from cockpit.kube.exec import websocket_failure
from cockpit.kube.informer import FORBIDDEN, Informer, Resource, Sink
from cockpit.kube.rows import parse_time
from cockpit.kube.selector import labels_text
from cockpit.kube.text import clean
from cockpit.kube.connection import request_json

QUICK_PORTS = {"jupyter": 8888, "tensorboard": 6006, "argo-server": 2746}

ACTIVE = "active"
CONNECTING = "connecting"
STOPPED = "stopped"
POD_GONE = "broken: pod gone"

# After the local client stops sending (EOF, which may be a half-close), the answer from the
# pod is still passed on until the pod has been silent this long.
HALF_CLOSE_LINGER_SECONDS = 5.0

PODS = Resource("", "v1", "pods")


class ForwardError(Exception):
    """A forward could not start (local port taken, read-only client, no connection)."""


# --- pure helpers -----------------------------------------------------------------------------


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def port_is_free(port: int, address: str = "127.0.0.1") -> bool:
    """Whether a listener could bind `address:port` now (the same options as a forward's)."""
    with socket.socket(_family(address), socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket(_family(address), socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def suggest_local_port(remote_port: int, address: str = "127.0.0.1") -> int:
    """The remote port itself when it is free here (so URLs look the same), else a free one."""
    if 0 < remote_port < 65536 and port_is_free(remote_port, address):
        return remote_port
    return free_port(address)


def as_json(pod: Any) -> Mapping[str, Any]:
    """A pod as raw JSON: as it is, or a generated V1Pod's serialised form."""
    if isinstance(pod, Mapping):
        return pod
    from kubernetes.client import ApiClient  # a generated V1Pod: its JSON form

    return ApiClient().sanitize_for_serialization(pod) or {}


def ports_of(pod: Any) -> list[tuple[str, str, int]]:
    """[(container, port name, port)] of the TCP ports a pod's containers declare (raw JSON
    or a generated V1Pod), in declaration order, sidecars (restartable init containers) last."""
    spec = as_json(pod).get("spec") or {}
    out: list[tuple[str, str, int]] = []
    seen: set[int] = set()
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or []:
            port = p.get("containerPort")
            if not isinstance(port, int) or (p.get("protocol") or "TCP") != "TCP" or port in seen:
                continue
            seen.add(port)
            out.append((clean(c.get("name", ""), 63), clean(p.get("name", ""), 15), port))
    return out


# Labels that differ between a pod and its replacement.
_PER_POD_LABELS = ("statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
                   "batch.kubernetes.io/job-completion-index")


def owner_of(pod: Any) -> dict[str, str] | None:
    """{"kind", "name", "selector"} for a pod whose controller replaces it, else None.

    The selector finds the replacement: the job's name for a Job, the workflow's for an Argo
    step, and for ReplicaSets/StatefulSets the pod's own labels (the replacement carries the
    same template labels)."""
    obj = as_json(pod)
    meta = obj.get("metadata") or {}
    labels: dict[str, str] = dict(meta.get("labels") or {})
    ref = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
    if ref is None:
        return None
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    if kind == "Job":
        key = next((k for k in ("batch.kubernetes.io/job-name", "job-name") if k in labels), "")
        return {"kind": kind, "name": name, "selector": f"{key}={labels[key]}"} if key else None
    wf = labels.get("workflows.argoproj.io/workflow")
    if kind == "Workflow" or wf:
        return {"kind": "Workflow", "name": wf or name, "selector": f"workflows.argoproj.io/workflow={wf or name}"}
    stable = {k: v for k, v in labels.items() if k not in _PER_POD_LABELS}
    if not stable:
        return None
    return {"kind": kind, "name": name, "selector": labels_text(stable)}


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    phase: str
    deleting: bool
    created: float


def _pod_state(obj: Mapping[str, Any]) -> PodState:
    meta = obj.get("metadata") or {}
    return PodState(str(meta.get("name", "")), str((obj.get("status") or {}).get("phase", "")),
                     bool(meta.get("deletionTimestamp")), parse_time(meta.get("creationTimestamp")) or 0.0)


def service_ports(svc: Mapping[str, Any], pod: Any) -> list[tuple[str, int, int]]:
    """[(port name, service port, pod port)] of a Service's TCP ports on one of its pods. A named
    targetPort is the pod's container port of that name, as the endpoints controller reads it; a
    port whose name the pod does not declare is left out."""
    named = {n: p for _, n, p in ports_of(pod) if n}
    out = []
    for p in (svc.get("spec") or {}).get("ports") or ():
        if not isinstance(p, Mapping) or (p.get("protocol") or "TCP") != "TCP":
            continue
        port = p.get("port")
        target = p.get("targetPort", port)
        if isinstance(target, str):
            target = int(target) if target.isdigit() else named.get(target)
        if isinstance(port, int) and isinstance(target, int) and 0 < target < 65536:
            out.append((clean(p.get("name", ""), 15), port, target))
    return out


def endpoint_pod(pods: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The pod a forward to a Service goes to: a Running one not being deleted, Ready first, then
    the newest (kubectl picks one pod the same way, and stays on it; a forward here follows the
    Service's selector to the next pod when that one goes)."""
    def ready(pod: Mapping[str, Any]) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or ())

    live = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
            and not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not live:
        return None
    return max(live, key=lambda p: (ready(p), parse_time((p.get("metadata") or {}).get("creationTimestamp")) or 0.0,
                                    (p.get("metadata") or {}).get("name", "")))


def pick_replacement(pods: Iterable[PodState], exclude: str = "") -> str | None:
    """The newest Running pod that is not being deleted (and is not `exclude`)."""
    live = [p for p in pods if p.phase == "Running" and not p.deleting and p.name != exclude]
    return max(live, key=lambda p: (p.created, p.name)).name if live else None


# --- forwards ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Forward:
    """One forward: what the `:pf` pane shows. Counters are updated by the connection threads;
    read them as they are (a row is a snapshot)."""

    id: str
    namespace: str
    pod: str  # the current target; changes when an owner's replacement pod is picked up
    remote_port: int
    local_address: str
    local_port: int
    owner: dict | None = None
    created: float = field(default_factory=time.time)
    status: str = CONNECTING
    open_connections: int = 0
    total_connections: int = 0
    bytes_in: int = 0  # from the pod to the local client
    bytes_out: int = 0  # from the local client to the pod
    last_error: str = ""
    retargets: int = 0

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)
    _listener: socket.socket | None = field(default=None, repr=False)
    _wake: tuple[int, int] | None = field(default=None, repr=False)
    _acceptor: threading.Thread | None = field(default=None, repr=False)
    _informer: Informer | None = field(default=None, repr=False)
    _live: set = field(default_factory=set, repr=False)
    _api: Any = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.pod}:{self.remote_port}"

    @property
    def local(self) -> str:
        host = f"[{self.local_address}]" if ":" in self.local_address else self.local_address
        return f"{host}:{self.local_port}"

    @property
    def url(self) -> str:
        return f"http://{self.local}"

    @property
    def connections(self) -> str:
        return f"{self.open_connections}/{self.total_connections}"

    @property
    def broken(self) -> bool:
        return self.status.startswith("broken")

    def _set(self, **changes) -> None:
        with self._lock:
            if not self._stopped.is_set() or changes.get("status") == STOPPED:
                for k, v in changes.items():
                    setattr(self, k, v)

    # -- pod state, from the watch -------------------------------------------------------------
    def _pods_changed(self, pods: Mapping[str, PodState]) -> None:
        with self._lock:
            pod = self.pod
        current = pods.get(f"{self.namespace}/{pod}")
        if current is not None and current.phase == "Running" and not current.deleting:
            self._set(status=ACTIVE)
            return
        if self.owner:
            repl = pick_replacement(pods.values(), exclude=pod)
            if repl:
                self._retarget_to(repl)
                return
        if current is None:
            self._set(status=POD_GONE)
        elif current.phase in ("Succeeded", "Failed"):
            self._set(status=f"broken: pod {current.phase.lower()}")
        elif current.phase == "Pending":
            self._set(status=CONNECTING)
        # A pod being deleted still serves until it is gone: the status stays.

    def _retarget_to(self, pod: str) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            if pod != self.pod:
                self.pod = pod
                self.retargets += 1
            self.status = ACTIVE

    def _find_replacement(self) -> str | None:
        """Ask the API server directly (the watch may be forbidden or not caught up yet)."""
        if not self.owner or not self.owner.get("selector"):
            return None
        try:
            items = request_json(self._api, "GET", PODS.path(self.namespace),
                                 query=[("labelSelector", self.owner["selector"])], timeout=(10, 30)).get("items") or []
        except Exception:  # noqa: BLE001 - no answer is no replacement; the caller reports the 404
            return None
        return pick_replacement((_pod_state(o) for o in items), exclude=self.pod)

    # -- connections ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake is not None
        listener, wake_r = self._listener, self._wake[0]
        while not self._stopped.is_set():
            try:
                ready, _, _ = select.select([listener, wake_r], [], [])
            except (OSError, ValueError):
                return
            if wake_r in ready or self._stopped.is_set():
                return
            try:
                conn, _peer = listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), name=f"pf-{self.id}-conn", daemon=True).start()

    def _open_tunnel(self):
        """A port-forward websocket to the current pod, re-targeting once when the pod is gone."""
        from kubernetes import client
        from kubernetes.stream import portforward

        from cockpit.kube.connection import clone_api

        for _attempt in range(2):
            # A client per handshake: kubernetes.stream swaps the client's transport while it
            # connects, which the pod watch and other connections sharing it would see.
            core = client.CoreV1Api(clone_api(self._api))
            with self._lock:
                pod = self.pod
            try:
                pf = portforward(core.connect_get_namespaced_pod_portforward, pod, self.namespace,
                                 ports=str(self.remote_port))
            except Exception as e:  # noqa: BLE001 - ApiException, read-only guard, network: all reported
                code, message = websocket_failure(e)
                if code == 404:
                    repl = self._find_replacement()
                    if repl:
                        self._retarget_to(repl)
                        continue
                    self._set(status=POD_GONE, last_error=message)
                else:
                    self._set(status=f"broken: {message}", last_error=message)
                return None
            self._set(status=ACTIVE)
            return pf
        return None

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            if self._stopped.is_set():
                conn.close()
                return
            self.open_connections += 1
            self.total_connections += 1
            self._live.add(conn)
        pf = remote = None
        try:
            pf = self._open_tunnel()
            if pf is None:
                return
            remote = pf.socket(self.remote_port)
            with self._lock:
                self._live.add(remote)
            self._pump(conn, remote)
            error = pf.error(self.remote_port)
            if error:
                self._set(last_error=clean(error, 300))
        except Exception as e:  # noqa: BLE001 - a connection thread never takes the forward down
            self._set(last_error=clean(f"{type(e).__name__}: {e}", 300))
        finally:
            with self._lock:
                self._live.discard(conn)
                self._live.discard(remote)
                self.open_connections -= 1
            for s in (conn, remote):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()
            if pf is not None:
                with contextlib.suppress(Exception):
                    pf.close()

    def _count(self, attr: str, n: int) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + n)

    def _pump(self, conn: socket.socket, remote) -> None:
        conn.setblocking(True)
        remote.setblocking(True)
        client_sending = True
        while True:
            watch = [remote, conn] if client_sending else [remote]
            try:
                ready, _, _ = select.select(watch, [], [], None if client_sending else HALF_CLOSE_LINGER_SECONDS)
            except (OSError, ValueError):
                return
            if not ready:
                return  # the client finished and the pod went quiet
            if remote in ready:
                try:
                    data = remote.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    conn.sendall(data)
                except OSError:
                    return
                self._count("bytes_in", len(data))
            if conn in ready:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    client_sending = False
                    continue
                try:
                    remote.sendall(data)
                except OSError:
                    return
                self._count("bytes_out", len(data))

    # -- life ----------------------------------------------------------------------------------
    def _close(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
            self.status = STOPPED
            live = list(self._live)
        if self._wake is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake[1], b"x")
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join(2)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        if self._wake is not None:
            for fd in self._wake:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self._informer is not None:
            self._informer.stop()
        # shutdown() (unlike close()) wakes a thread blocked in select/recv/send on the socket.
        for s in live:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class _PodWatch(Sink):
    """The pods a forward depends on, as its informer reports them."""

    def __init__(self, forward: Forward):
        self.forward = forward
        self.pods: dict[str, PodState] = {}
        self.lock = threading.Lock()

    def _changed(self) -> None:
        with self.lock:
            pods = dict(self.pods)
        self.forward._pods_changed(pods)

    def upsert(self, key: str, item: PodState) -> None:
        with self.lock:
            self.pods[key] = item
        self._changed()

    def delete(self, key: str) -> None:
        with self.lock:
            self.pods.pop(key, None)
        self._changed()

    def reset(self, items: dict[str, PodState]) -> None:
        with self.lock:
            self.pods = dict(items)
        self._changed()

    def state(self, state: str, detail: str = "", retry_in: float = 0.0) -> None:
        if state == FORBIDDEN:  # no watch: connection attempts still tell pod-gone
            self.forward._set(last_error=clean(f"cannot watch pods: {detail}", 300))


class PortForwardManager:
    """Every forward of the app. `api_factory()` gives the API client of the current context;
    a forward keeps the client it started with, so switching context leaves it working."""

    def __init__(self, api_factory: Callable[[], Any]):
        self.api_factory = api_factory
        self._forwards: dict[str, Forward] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(self, namespace: str, pod: str, remote_port: int, local_port: int | None = None,
              address: str = "127.0.0.1", owner: dict | None = None) -> Forward:
        """Listen on `address:local_port` (default: the remote port if free, else a free one) and
        forward each connection to `pod:remote_port`. Raises ForwardError."""
        api = self.api_factory()
        if api is None or not hasattr(api, "call_api"):
            raise ForwardError(f"not connected to a cluster{f': {api}' if api else ''}")
        if getattr(api, "read_only", False):
            raise ForwardError("read-only: port-forward is switched off")
        if not 0 < int(remote_port) < 65536:
            raise ForwardError(f"no such port: {remote_port}")
        listener = self._listen(address, local_port, int(remote_port))
        fwd = Forward(id=f"pf{next(self._ids)}", namespace=namespace, pod=pod, remote_port=int(remote_port),
                      local_address=address, local_port=listener.getsockname()[1],
                      owner=dict(owner) if owner else None)
        fwd._api = api
        fwd._listener = listener
        fwd._wake = os.pipe()
        watch = _PodWatch(fwd)
        selector = (owner or {}).get("selector") or ""
        fwd._informer = Informer(api, PODS, watch, lambda obj: _pod_state(obj), namespace=namespace,
                                 label_selector=selector,
                                 field_selector="" if selector else f"metadata.name={pod}",
                                 name=f"pf-{fwd.id}")
        fwd._acceptor = threading.Thread(target=fwd._accept_loop, name=f"pf-{fwd.id}-accept", daemon=True)
        with self._lock:
            self._forwards[fwd.id] = fwd
        fwd._acceptor.start()
        fwd._informer.start()
        return fwd

    @staticmethod
    def _listen(address: str, local_port: int | None, remote_port: int) -> socket.socket:
        candidates = [local_port] if local_port else [remote_port, 0]
        last: OSError | None = None
        for port in candidates:
            s = socket.socket(_family(address), socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((address, port))
                s.listen(64)
                return s
            except OSError as e:
                s.close()
                last = e
        raise ForwardError(f"cannot listen on {address}:{local_port or remote_port}: "
                           f"{getattr(last, 'strerror', None) or last}")

    def get(self, forward_id: str) -> Forward | None:
        with self._lock:
            return self._forwards.get(forward_id)

    def list(self) -> list[Forward]:
        with self._lock:
            return sorted(self._forwards.values(), key=lambda f: (f.created, f.id))

    def stop(self, forward_id: str) -> bool:
        """Close the listener and every live connection of one forward; False if unknown."""
        with self._lock:
            fwd = self._forwards.pop(forward_id, None)
        if fwd is None:
            return False
        fwd._close()
        return True

    def stop_all(self) -> None:
        """Close every forward (on app exit, and on a context switch if the app wants that)."""
        with self._lock:
            forwards = list(self._forwards.values())
            self._forwards.clear()
        for fwd in forwards:
            fwd._close()
