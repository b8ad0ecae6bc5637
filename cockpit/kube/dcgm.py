"""dcgm-exporter metrics: parsing the Prometheus text it serves, finding its pods, and reading
one node's metrics through the API server (see DOMAIN.md section 3).

Reading goes through the API server only, so no route to the pod network is needed:

1. the pod proxy, `GET /api/v1/namespaces/<ns>/pods/<pod>:9400/proxy/metrics` (RBAC: `get
   pods/proxy`), the way real clusters are reached;
2. when the proxy answers an error (some API servers refuse to proxy to certain addresses, the
   demo's among them), a port-forward to the pod's port 9400 (`create pods/portforward`) and
   a plain HTTP/1.1 `GET /metrics` over that stream.

Every label value comes from the node and may be anything: each one goes through `text.clean`.
Nothing here imports the UI; nothing here blocks without a timeout.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cockpit.kube.text import clean
from cockpit.kube.connection import request

__all__ = [
    "DEFAULT_PORT",
    "EXPORTER_SELECTORS",
    "Exporter",
    "GpuSample",
    "MetricsError",
    "MetricsFetcher",
    "fetch_node_metrics",
    "find_exporters",
    "list_exporters",
    "parse_http_response",
    "parse_metrics",
    "parse_prometheus",
]

DEFAULT_PORT = 9400
# The GPU operator labels its exporter pods app=nvidia-dcgm-exporter; the standalone Helm chart
# uses the recommended app.kubernetes.io/name label.
EXPORTER_SELECTORS: tuple[tuple[str, str], ...] = (
    ("app", "nvidia-dcgm-exporter"),
    ("app.kubernetes.io/name", "dcgm-exporter"),
)
# An exporter on a big node serves some hundred kilobytes; anything far larger is not one.
MAX_BODY_BYTES = 32 * 1024 * 1024

GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
GPU_TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
GR_ENGINE_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
_WANTED = frozenset({GPU_UTIL, FB_USED, FB_FREE, GPU_TEMP, POWER, GR_ENGINE_ACTIVE})


class MetricsError(Exception):
    """An exporter could not be read; the message is clean and says what was tried."""


# --- Prometheus text format -------------------------------------------------------------------
# Hand-written on purpose: prometheus_client's parser is 3-20x slower on exporter pages and drops
# the whole page on one malformed line, where this one skips the line (bench/RESULTS.md).

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def _parse_labels(line: str, i: int) -> tuple[dict[str, str], int] | None:
    """Labels from `{` at line[i]; (labels, index after `}`), or None when malformed."""
    labels: dict[str, str] = {}
    i += 1
    n = len(line)
    while True:
        while i < n and line[i] in " \t,":
            i += 1
        if i >= n:
            return None
        if line[i] == "}":
            return labels, i + 1
        m = _LABEL_NAME.match(line, i)
        if not m:
            return None
        name = m.group(0)
        i = m.end()
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] != "=":
            return None
        i += 1
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] != '"':
            return None
        i += 1
        out: list[str] = []
        while True:
            j = line.find('"', i)
            k = line.find("\\", i)
            if j < 0:
                return None
            if 0 <= k < j:
                out.append(line[i:k])
                if k + 1 >= n:
                    return None
                out.append(_UNESCAPE.get(line[k + 1], "\\" + line[k + 1]))
                i = k + 2
                continue
            out.append(line[i:j])
            i = j + 1
            break
        labels[name] = "".join(out)


def _parse_value(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v


def parse_prometheus(text: str, wanted: Iterable[str] | None = None) -> list[tuple[str, dict[str, str], float]]:
    """(metric, labels, value) of every sample line; comments and malformed lines are skipped.
    With `wanted`, only those metric names are kept (the others are not even split up)."""
    want = frozenset(wanted) if wanted is not None else None
    out: list[tuple[str, dict[str, str], float]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        m = _NAME.match(line)
        if not m:
            continue
        name = m.group(0)
        if want is not None and name not in want:
            continue
        i = m.end()
        labels: dict[str, str] = {}
        if i < len(line) and line[i] == "{":
            parsed = _parse_labels(line, i)
            if parsed is None:
                continue
            labels, i = parsed
        rest = line[i:].split()
        if not rest:
            continue
        value = _parse_value(rest[0])
        if value is None:
            continue
        out.append((name, labels, value))
    return out


# --- samples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One GPU (or MIG instance) as seen at one moment, attributed to at most one pod.

    A GPU shared by several pods (time-slicing) gives one sample per pod, each with the GPU's
    values. Numbers are None where the source did not report them."""

    node: str
    gpu: str  # the physical GPU's index on its node, as a string ("0")
    uuid: str
    model: str
    mig_profile: str  # "" unless a MIG instance ("1g.10gb")
    mig_id: str  # GPU instance id, "" unless a MIG instance
    pod_key: str | None  # "namespace/name" of the pod holding it, None when unallocated
    util_pct: float | None
    fb_used_mib: float | None
    fb_free_mib: float | None
    temp_c: float | None
    power_w: float | None
    pod_uid: str = ""  # NVML only: the pod's UID, when the pod's name is not known

    @property
    def device(self) -> str:
        """The device's id on its node: "3" for a GPU, "3/1g.10gb#9" for a MIG instance."""
        if self.mig_id or self.mig_profile:
            return f"{self.gpu}/{self.mig_profile}#{self.mig_id}"
        return self.gpu

    @property
    def fb_total_mib(self) -> float | None:
        if self.fb_used_mib is None or self.fb_free_mib is None:
            return None
        return self.fb_used_mib + self.fb_free_mib


def _label(labels: Mapping[str, str], *names: str, limit: int = 253) -> str:
    for n in names:
        v = labels.get(n)
        if v:
            return clean(v, limit)
    return ""


def _pod_key(labels: Mapping[str, str]) -> str | None:
    # Read through Prometheus, the exporter's own pod/namespace take the plain names and the
    # GPU's pod moves to exported_pod/exported_namespace: those win when present.
    if labels.get("exported_pod"):
        pod, ns = labels["exported_pod"], labels.get("exported_namespace", "")
    else:
        pod, ns = labels.get("pod", ""), labels.get("namespace", "")
    if not pod:
        return None
    pod, ns = clean(pod, 253), clean(ns, 63)
    return f"{ns}/{pod}" if ns else pod


def _finite(v: float | None) -> float | None:
    if v is None or math.isnan(v) or math.isinf(v):
        return None
    return v


def parse_metrics(text: str, node: str | None = None) -> list[GpuSample]:
    """The GPU samples in one exporter's /metrics text.

    The node is the `Hostname` label (older exporters) or `hostname` (newer ones); `node`, when
    given, wins: an exporter pod is on one known node, while its hostname label may be the pod's
    own name where NODE_NAME is not passed to it. Utilisation is GR_ENGINE_ACTIVE x 100 when
    the exporter reports profiling metrics (the only utilisation of a MIG instance), else
    GPU_UTIL. Samples come in the order their series first appear.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for name, labels, value in parse_prometheus(text, _WANTED):
        host = node if node is not None else _label(labels, "Hostname", "hostname")
        gpu = _label(labels, "gpu", limit=16)
        uuid = _label(labels, "UUID", "uuid", limit=96)
        mig_profile = _label(labels, "GPU_I_PROFILE", limit=32)
        mig_id = _label(labels, "GPU_I_ID", limit=16)
        pod = _pod_key(labels)
        key = (host, gpu, uuid, mig_profile, mig_id, pod)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"model": _label(labels, "modelName", limit=96)}
        g[name] = _finite(value)
    out: list[GpuSample] = []
    for (host, gpu, uuid, mig_profile, mig_id, pod), g in groups.items():
        ratio = g.get(GR_ENGINE_ACTIVE)
        util = ratio * 100.0 if ratio is not None else g.get(GPU_UTIL)
        if util is not None:
            util = min(max(util, 0.0), 100.0)
        out.append(GpuSample(
            node=host, gpu=gpu, uuid=uuid, model=g["model"], mig_profile=mig_profile, mig_id=mig_id,
            pod_key=pod, util_pct=util, fb_used_mib=g.get(FB_USED), fb_free_mib=g.get(FB_FREE),
            temp_c=g.get(GPU_TEMP), power_w=g.get(POWER),
        ))
    return out


# --- exporter pods ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exporter:
    namespace: str
    pod: str
    node: str
    port: int = DEFAULT_PORT

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pod}"


def _as_json(pod: Any) -> Mapping[str, Any]:
    if isinstance(pod, Mapping):
        return pod
    from kubernetes.client import ApiClient  # a generated V1Pod: its JSON form

    return ApiClient().sanitize_for_serialization(pod) or {}


def _is_exporter(labels: Mapping[str, str]) -> bool:
    return any(labels.get(k) == v for k, v in EXPORTER_SELECTORS)


def _metrics_port(spec: Mapping[str, Any]) -> int:
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    for p in ports:
        if p.get("name") in ("gpu-metrics", "metrics") and isinstance(p.get("containerPort"), int):
            return p["containerPort"]
    return DEFAULT_PORT


def find_exporters(pods: Iterable[Any]) -> list[Exporter]:
    """The running dcgm-exporter pods among `pods`, one per node (the newest name wins ties).

    Takes raw pod JSON, generated V1Pods, or pod table rows (`cockpit.kube.model.Row` of the
    pods view: labels, namespace, name; node and status from its cells)."""
    by_node: dict[str, Exporter] = {}
    for p in pods:
        if hasattr(p, "cells") and hasattr(p, "labels"):  # a pod Row
            if not _is_exporter(p.labels or {}):
                continue
            cells = p.cells
            node = cells[6] if len(cells) > 6 else ""
            status = cells[3] if len(cells) > 3 else ""
            if status != "Running" or not node:
                continue
            exp = Exporter(p.namespace, p.name, node)
        else:
            obj = _as_json(p)
            meta = obj.get("metadata") or {}
            if not _is_exporter(meta.get("labels") or {}) or meta.get("deletionTimestamp"):
                continue
            spec = obj.get("spec") or {}
            phase = (obj.get("status") or {}).get("phase")
            node = spec.get("nodeName") or ""
            if phase != "Running" or not node:
                continue
            exp = Exporter(clean(meta.get("namespace", ""), 63), clean(meta.get("name", ""), 253),
                           clean(node, 253), _metrics_port(spec))
        old = by_node.get(exp.node)
        if old is None or exp.pod > old.pod:
            by_node[exp.node] = exp
    return [by_node[n] for n in sorted(by_node)]


def list_exporters(api, timeout: float = 10.0) -> list[Exporter]:
    """Exporter pods in every namespace (raises ApiException, e.g. 403 without `list pods`)."""
    for key, value in EXPORTER_SELECTORS:
        resp = request(api, "GET", "/api/v1/pods", query=[("labelSelector", f"{key}={value}")],
                       timeout=(5, timeout))
        try:
            items = orjson.loads(resp.data).get("items") or []
        finally:
            with contextlib.suppress(Exception):
                resp.release_conn()
        found = find_exporters(items)
        if found:
            return found
    return []


# --- reading one exporter ---------------------------------------------------------------------


def _error_text(e: BaseException) -> str:
    status = getattr(e, "status", None)
    reason = getattr(e, "reason", None)
    body = getattr(e, "body", None)
    message = ""
    if body:
        raw = body if isinstance(body, bytes) else str(body).encode()
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            message = str(orjson.loads(raw).get("message") or "")
        if not message:
            message = raw[:200].decode(errors="replace")
    text = f"{status} {message or reason or ''}".strip() if status else (str(e) or type(e).__name__)
    return clean(text, 300)


def _read_proxy(api, namespace: str, pod: str, port: int, path: str, timeout: float) -> str:
    resp = request(api, "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}",
                   accept="text/plain", timeout=(min(5.0, timeout), timeout))
    try:
        data = resp.read(MAX_BODY_BYTES + 1) if hasattr(resp, "read") else resp.data
    finally:
        with contextlib.suppress(Exception):
            resp.release_conn()
    if len(data) > MAX_BODY_BYTES:
        raise MetricsError("the answer is too large to be an exporter's")
    return data.decode("utf-8", errors="replace")


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            raise MetricsError("malformed chunked answer")
        size_text = body[i:j].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise MetricsError("malformed chunked answer") from None
        if size == 0:
            return bytes(out)
        out += body[j + 2:j + 2 + size]
        if j + 2 + size > len(body):
            raise MetricsError("the answer ended inside a chunk")
        i = j + 2 + size + 2


def parse_http_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of one HTTP/1.x response read to its end."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise MetricsError("no complete HTTP answer came back")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise MetricsError(f"not an HTTP answer: {clean(lines[0], 80)!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[:int(headers["content-length"])]
    return int(parts[1]), headers, body


def _response_complete(buf: bytes | bytearray, head_end: int) -> bool:
    """Whether `buf`, whose header ends at `head_end`, holds a whole response (Content-Length
    met, or the last chunk seen); without either the answer ends when the stream closes."""
    head = buf[:head_end].decode("latin-1").lower()
    m = re.search(r"\r\ncontent-length:\s*(\d+)", head)
    if m:
        return len(buf) - head_end - 4 >= int(m.group(1))
    if re.search(r"\r\ntransfer-encoding:[^\r]*chunked", head):
        body_start = head_end + 4
        return buf.endswith(b"\r\n0\r\n\r\n") or buf[body_start:] == b"0\r\n\r\n"
    return False


def _handshake_client(api):
    """A client of its own for one port-forward handshake, read-only guarded like `api`.

    `kubernetes.stream` swaps the client's `request` method for the length of the call and puts
    the old one back afterwards; two threads doing so on one client can leave the websocket one
    in place for good, and every later plain request of that client then fails. The scraper
    opens several forwards at once, beside the app's own use of `api`: each gets a fresh client
    sharing `api`'s configuration (credentials, TLS, token refresh)."""
    from cockpit.kube.connection import clone_api

    return clone_api(api)


def _open_portforward(api, namespace: str, pod: str, port: int, timeout: float):
    """A port-forward stream to the pod, or an exception; the websocket handshake has no timeout
    of its own, so it runs in a helper thread that closes a late stream itself."""
    from kubernetes import client
    from kubernetes.stream import portforward

    box: dict[str, Any] = {}
    done = threading.Event()
    abandoned = threading.Event()

    def connect() -> None:
        try:
            core = client.CoreV1Api(_handshake_client(api))
            pf = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        else:
            box["pf"] = pf
            if abandoned.is_set():
                with contextlib.suppress(Exception):
                    pf.close()
        done.set()

    threading.Thread(target=connect, name="dcgm-portforward-connect", daemon=True).start()
    if not done.wait(timeout):
        abandoned.set()
        if "pf" in box:  # finished between the wait and the flag
            with contextlib.suppress(Exception):
                box["pf"].close()
        raise MetricsError(f"port-forward: no connection within {timeout:.0f}s")
    if "error" in box:
        e = box["error"]
        from cockpit.kube.exec import websocket_failure

        code, message = websocket_failure(e)
        raise MetricsError(f"port-forward: {f'{code} ' if code else ''}{message}")
    return box["pf"]


def _read_portforward(api, namespace: str, pod: str, port: int, path: str, timeout: float) -> str:
    if hasattr(api, "credentials") and hasattr(api, "pool"):  # the cockpit's own client (kube/rest.py)
        return _read_portforward_ws(api, namespace, pod, port, path, timeout)
    deadline = time.monotonic() + timeout
    pf = _open_portforward(api, namespace, pod, port, timeout)
    sock = pf.socket(port)

    def recv(left: float) -> bytes | None:
        sock.settimeout(left)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return None

    try:
        sock.setblocking(True)
        sock.sendall(_metrics_request(path, port))
        buf = _read_answer(recv, deadline, timeout)
    finally:
        with contextlib.suppress(Exception):
            sock.close()
        with contextlib.suppress(Exception):
            pf.close()
    return _metrics_answer(buf, pf.error(port))


def _read_answer(recv: Callable[[float], bytes | None], deadline: float, timeout: float) -> bytearray:
    """An HTTP answer read with `recv(seconds left)` (None: nothing yet, b"": the other side is
    done) until it is whole, the other side is done, or the deadline passes."""
    buf = bytearray()
    head_end = -1
    while head_end < 0 or not _response_complete(buf, head_end):
        left = deadline - time.monotonic()
        if left <= 0:
            raise MetricsError(f"port-forward: no complete answer within {timeout:.0f}s")
        part = recv(left)
        if part is None:
            continue
        if not part:
            break
        buf += part
        if len(buf) > MAX_BODY_BYTES:
            raise MetricsError("the answer is too large to be an exporter's")
        if head_end < 0:
            head_end = buf.find(b"\r\n\r\n")
    return buf


def _metrics_request(path: str, port: int) -> bytes:
    """The HTTP request sent to the exporter through a port-forward."""
    return (f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: gpu-cockpit\r\n"
            f"Accept: text/plain\r\nConnection: close\r\n\r\n").encode()


def _metrics_answer(buf: bytes | bytearray, error: str) -> str:
    """The metrics text of the exporter's HTTP answer read through a port-forward (`error`: what
    the forward's error channel said)."""
    if not buf:
        raise MetricsError(f"port-forward: {clean(error, 200) if error else 'the pod closed the connection'}")
    status, _headers, body = parse_http_response(bytes(buf))
    if status != 200:
        raise MetricsError(f"port-forward: the exporter answered HTTP {status}")
    return body.decode("utf-8", errors="replace")


# The port-forward subprotocol: binary frames whose first byte is the channel (0 data, 1 errors
# for the first port); the first frame of each channel from the server carries the port number.
_PORTFORWARD_PROTOCOL = "v4.channel.k8s.io"


def _read_portforward_ws(api, namespace: str, pod: str, port: int, path: str, timeout: float) -> str:
    """The exporter's answer through a port-forward websocket of our own, on the cockpit's own
    client's TLS context and credentials: `kubernetes.stream` would import the official client
    (35 MB) into a process that otherwise never loads it."""
    import websocket  # websocket-client, which the official client uses for the same

    from cockpit.kube.connection import ReadOnlyRefused, read_only_refusal

    resource = f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward"
    if getattr(api, "read_only", False):
        why = read_only_refusal("GET", resource)
        if why:
            raise ReadOnlyRefused(why)
    host = api.configuration.host.rstrip("/")
    url = ("wss://" + host[8:] if host.startswith("https://") else "ws://" + host.removeprefix("http://"))
    url += f"{resource}?ports={int(port)}"
    headers = [f"User-Agent: {api.user_agent or 'gpu-cockpit'}"]
    auth = api.credentials.authorization()
    if auth:
        headers.append(f"Authorization: {auth}")
    pool_kw = getattr(api.pool, "connection_pool_kw", {})
    sslopt: dict[str, Any] = {}
    if pool_kw.get("ssl_context") is not None:
        sslopt["context"] = pool_kw["ssl_context"]
    if pool_kw.get("server_hostname"):
        sslopt["server_hostname"] = pool_kw["server_hostname"]
    deadline = time.monotonic() + timeout
    try:
        ws = websocket.create_connection(url, header=headers, subprotocols=[_PORTFORWARD_PROTOCOL],
                                         sslopt=sslopt, timeout=timeout, enable_multithread=False)
    except websocket.WebSocketBadStatusException as e:
        raise MetricsError(f"port-forward: the API server answered HTTP {e.status_code}") from None
    except (OSError, websocket.WebSocketException) as e:
        raise MetricsError(f"port-forward: {clean(str(e) or type(e).__name__, 200)}") from None
    error = bytearray()
    started = {0: False, 1: False}

    def recv(left: float) -> bytes | None:
        ws.settimeout(left)
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException:
            return b""
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return b""
        if not data or data[0] not in started:
            return None
        channel, payload = data[0], data[1:]
        if not started[channel]:  # the port number, then what the pod sends
            started[channel], payload = True, payload[2:]
        if channel == 1:
            error.extend(payload)
            return None
        return payload or None

    try:
        ws.send_binary(b"\x00" + _metrics_request(path, port))  # on the data channel
        buf = _read_answer(recv, deadline, timeout)
    finally:
        with contextlib.suppress(Exception):
            ws.close(timeout=0.5)
    return _metrics_answer(buf, error.decode("utf-8", "replace"))


def fetch_node_metrics(api, namespace: str, pod: str, port: int = DEFAULT_PORT, *, path: str = "/metrics",
                       timeout: float = 10.0, via: str = "auto") -> str:
    """One exporter's /metrics text, read through the API server.

    `via`: "auto" (the pod proxy, then a port-forward when the proxy answers an error),
    "proxy" or "portforward" (that path only). Raises MetricsError with what each try said."""
    errors: list[str] = []
    if via in ("auto", "proxy"):
        try:
            return _read_proxy(api, namespace, pod, port, path, timeout)
        except MetricsError as e:
            errors.append(f"proxy: {e}")
        except Exception as e:  # noqa: BLE001 - ApiException, read-only guard, network
            errors.append(f"proxy: {_error_text(e)}")
    if via in ("auto", "portforward"):
        try:
            return _read_portforward(api, namespace, pod, port, path, timeout)
        except MetricsError as e:
            errors.append(str(e))
        except Exception as e:  # noqa: BLE001 - ApiException, read-only guard, network
            errors.append(f"port-forward: {_error_text(e)}")
    raise MetricsError(clean("; ".join(errors) or f"unknown way {via!r}", 600))


class MetricsFetcher:
    """`fetch_node_metrics` that remembers which way reached each exporter: once the proxy has
    failed and the port-forward worked, the port-forward goes first for that pod, and the
    proxy is tried again now and then (`retry_proxy_seconds`). Thread-safe."""

    def __init__(self, api, timeout: float = 10.0, retry_proxy_seconds: float = 600.0, clock=time.monotonic):
        self.api = api
        self.timeout = timeout
        self.retry_proxy_seconds = retry_proxy_seconds
        self._clock = clock
        self._forward_since: dict[str, float] = {}
        self._lock = threading.Lock()

    def via(self, exporter: Exporter) -> str:
        with self._lock:
            since = self._forward_since.get(exporter.key)
        if since is not None and self._clock() - since < self.retry_proxy_seconds:
            return "portforward"
        return "proxy"

    def fetch(self, exporter: Exporter) -> str:
        first = self.via(exporter)
        second = "proxy" if first == "portforward" else "portforward"
        errors = []
        for way in (first, second):
            try:
                text = fetch_node_metrics(self.api, exporter.namespace, exporter.pod, exporter.port,
                                          timeout=self.timeout, via=way)
            except MetricsError as e:
                errors.append(str(e))
                continue
            with self._lock:
                if way == "proxy":
                    self._forward_since.pop(exporter.key, None)
                elif first == "proxy" or exporter.key not in self._forward_since:
                    self._forward_since[exporter.key] = self._clock()  # the proxy failed just now
            return text
        raise MetricsError(clean("; ".join(errors), 600))
