"""Kubeconfig handling and API clients, the way kubectl finds its configuration.

KUBECONFIG (a list of files, merged), else ~/.kube/config, else the in-cluster service
account. The cockpit's own small client (cockpit.kube.rest) reads the common credentials,
exec credential plugins included; the official client loads the rest (OIDC auth-providers,
proxies, in-cluster).
Every problem is reported as a `ConnectionProblem` naming the file and the context; nothing
here raises into the UI.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from cockpit import USER_AGENT
from cockpit.kube.text import clean

IN_CLUSTER = "in-cluster"


@dataclass(frozen=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str


@dataclass(frozen=True)
class ConnectionProblem:
    message: str
    file: str = ""
    context: str = ""

    def __str__(self) -> str:
        # Shown in the top bar, the placeholder and toasts; the message may carry a credential
        # plugin's stderr or a server's text, and file and context names come from files.
        where = ", ".join(p for p in (self.file and f"file {self.file}", self.context and f"context {self.context}") if p)
        return clean(f"{self.message} ({where})" if where else self.message, 1000)


def kubeconfig_files(explicit: Path | str | None = None, env: dict | None = None) -> list[Path]:
    env = os.environ if env is None else env
    if explicit:
        return [Path(explicit).expanduser()]
    if env.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in env["KUBECONFIG"].split(os.pathsep) if p]
    default = Path.home() / ".kube" / "config"
    return [default] if default.exists() else []


def in_cluster_available(env: dict | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token").exists()


@dataclass
class Kubeconfig:
    """The merged view of the kubeconfig files: contexts, the current one, problems found."""

    files: list[Path]
    contexts: dict[str, ContextInfo]
    current: str
    problems: list[ConnectionProblem]

    @classmethod
    def load(cls, explicit: Path | str | None = None, env: dict | None = None) -> Kubeconfig:
        files = kubeconfig_files(explicit, env)
        contexts: dict[str, ContextInfo] = {}
        current = ""
        problems: list[ConnectionProblem] = []
        for f in files:
            doc = _read_file(f, explicit is not None or len(files) == 1, problems)
            if doc is None:
                continue
            # Merge rule of kubectl: the first file to define a name wins.
            for info in _contexts_in(doc, str(f), problems):
                contexts.setdefault(info.name, info)
            chosen = doc.data.get("current-context")
            if not current and chosen:
                if isinstance(chosen, str):
                    current = chosen
                else:
                    problems.append(ConnectionProblem(
                        f"current-context: expected a context name, got {_kind(chosen)}{_at(doc, 'current-context')}",
                        str(f)))
        if not files and in_cluster_available(env):
            contexts[IN_CLUSTER] = ContextInfo(IN_CLUSTER, IN_CLUSTER, "serviceaccount", _in_cluster_namespace())
            current = IN_CLUSTER
        if not files and not contexts:
            problems.append(ConnectionProblem(
                "no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run inside a pod"))
        if current and current not in contexts:
            problems.append(ConnectionProblem(f"current-context {current!r} is not defined",
                                              os.pathsep.join(map(str, files)), current))
            current = ""
        if not current and contexts:
            current = next(iter(contexts))
        return cls(files, contexts, current, problems)

    @property
    def path_string(self) -> str:
        return os.pathsep.join(str(f) for f in self.files)

    def unknown_context(self, name: str) -> str | None:
        """Why `name` cannot be used (it is not defined), listing the contexts that are; None
        when it is defined. A mistyped context must never fall back to another one."""
        if name in self.contexts:
            return None
        known = ", ".join(sorted(self.contexts)) or "none"
        where = self.path_string or "no kubeconfig file found"
        return f"no context named {name!r} in {where}; known contexts: {known}"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), "nothing" if value is None else type(value).__name__)


def _at(doc, *path: str) -> str:
    line = doc.line(path)
    return f" (line {line})" if line else ""


def _read_file(f: Path, must_exist: bool, problems: list[ConnectionProblem]):
    """The file's YAML with key lines (a LocatedYaml), or None with the reason in `problems`.
    Never raises: a kubeconfig is edited by other tools while the cockpit runs."""
    from cockpit.config import YamlSyntaxError, read_located_yaml

    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        if must_exist:
            problems.append(ConnectionProblem("kubeconfig file not found", str(f)))
        return None
    except OSError as e:
        problems.append(ConnectionProblem(f"cannot read kubeconfig: {e.strerror or _first_line(e)}", str(f)))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.append(ConnectionProblem(f"cannot read kubeconfig, line {line}: not UTF-8 text "
                                          f"(byte {raw[e.start]:#04x})", str(f)))
        return None
    try:
        doc = read_located_yaml(text)  # also refuses alias loops and alias bombs
    except YamlSyntaxError as e:
        line = f", line {e.line}" if e.line else ""
        problems.append(ConnectionProblem(f"cannot read kubeconfig{line}: {e.message}", str(f)))
        return None
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        problems.append(ConnectionProblem(f"kubeconfig is not a mapping (it is {_kind(doc.data)})", str(f)))
        return None
    for section in ("clusters", "users"):
        if doc.data.get(section) is not None and not isinstance(doc.data[section], list):
            problems.append(ConnectionProblem(
                f"{section}: expected a list, got {_kind(doc.data[section])}{_at(doc, section)}", str(f)))
    return doc


def _contexts_in(doc, file: str, problems: list[ConnectionProblem]) -> list[ContextInfo]:
    """The well-formed context entries; each malformed one is a problem naming the file, the
    context where it has a name, and the line."""
    entries = doc.data.get("contexts")
    if entries is None:
        return []
    if not isinstance(entries, list):
        problems.append(ConnectionProblem(
            f"contexts: expected a list of contexts, got {_kind(entries)}{_at(doc, 'contexts')}", file))
        return []
    out = []
    line = doc.line(("contexts",))
    where = f" (the contexts at line {line})" if line else ""
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(ConnectionProblem(f"contexts[{i}]: expected a mapping, got {_kind(entry)}{where}", file))
            continue
        name = entry.get("name")
        if not name:
            problems.append(ConnectionProblem(f"contexts[{i}]: a context entry has no name{where}", file))
            continue
        if not isinstance(name, str):
            problems.append(ConnectionProblem(
                f"contexts[{i}].name: expected a string, got {_kind(name)}{where}", file))
            continue
        ctx = entry.get("context")
        if ctx is None:
            ctx = {}
        if not isinstance(ctx, dict):
            problems.append(ConnectionProblem(
                f"context: expected a mapping of cluster, user and namespace, got {_kind(ctx)}{where}", file, name))
            continue
        fields = {}
        for key in ("cluster", "user", "namespace"):
            value = ctx.get(key)
            if value is not None and not isinstance(value, str):
                problems.append(ConnectionProblem(
                    f"context.{key}: expected a string, got {_kind(value)}{where}", file, name))
                value = None
            fields[key] = value or ""
        out.append(ContextInfo(name, fields["cluster"], fields["user"], fields["namespace"] or "default"))
    return out


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _in_cluster_namespace() -> str:
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return "default"


def network_error_text(e: BaseException) -> str:
    """A failed connection to the API server in words a user reads in the top bar, not
    urllib3's: what went wrong, not the retry machinery's repr of it."""
    chain: list[BaseException] = []
    seen = e
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = getattr(seen, "reason", None) if isinstance(getattr(seen, "reason", None), BaseException) \
            else (seen.__cause__ or seen.__context__)
    names = {type(x).__name__ for x in chain}
    if "PluginError" in names:  # the credential expired and its plugin failed to renew it
        return clean(f"credential plugin failed: {e}", 300)
    text = " ".join(str(x) for x in chain).lower()
    if names & {"SSLError", "SSLCertVerificationError"} or "certificate" in text:
        return "TLS problem with the API server (certificate not trusted?)"
    if "NameResolutionError" in names or "name or service not known" in text or "nodename nor servname" in text:
        return "API server address not found (DNS)"
    if names & {"ConnectTimeoutError", "ReadTimeoutError", "TimeoutError", "socket.timeout"} or "timed out" in text:
        return "API server not answering (timed out)"
    if names & {"ConnectionRefusedError", "NewConnectionError"} or "refused" in text:
        return "API server unreachable (connection refused)"
    if names & {"ProtocolError", "ConnectionResetError", "RemoteDisconnected", "IncompleteRead",
                "ChunkedEncodingError", "BrokenPipeError"}:
        return "connection to the API server lost"
    if names & {"MaxRetryError", "OSError", "ConnectionError"}:
        return "API server unreachable"
    return f"watch failed: {type(e).__name__}"


class ReadOnlyRefused(Exception):
    """A request that would change the cluster (or open exec, attach, port-forward) was refused
    because the cockpit runs read-only. Raised before anything leaves the process."""


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The only writes a read-only client sends: questions about the user's own access, which change
# nothing on the server (the API server answers them without storing anything).
REVIEW_PATHS = frozenset({
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
})
INTERACTIVE_SUBRESOURCES = ("/exec", "/attach", "/portforward")
# A proxied GET reaches whatever the pod or service serves, which may change things; the one
# proxy read the cockpit makes is dcgm-exporter's metrics text.
_METRICS_PROXY = re.compile(r"^/api/v1/namespaces/[^/]+/(pods|services)/[^/]+/proxy/metrics$")


def read_only_refusal(method: str, resource_path: str) -> str | None:
    """Why a read-only client must not send this request, or None when it may: an allow-list of
    reads, the self-access reviews, and the metrics read through the proxy."""
    verb = str(method).upper()
    path = str(resource_path).split("?", 1)[0].rstrip("/") or "/"
    if path.endswith(INTERACTIVE_SUBRESOURCES) or re.search(r"/(exec|attach|portforward)(/|$)", path):
        return f"read-only: refused {verb} {path} (exec, attach and port-forward change what runs)"
    if "/proxy" in path.split("?")[0] and not _METRICS_PROXY.match(path):
        return f"read-only: refused {verb} {path} (a proxied request may change the target)"
    if verb in READ_METHODS:
        return None
    if verb == "POST" and path in REVIEW_PATHS:
        return None
    return f"read-only: refused {verb} {path}"


def guard_read_only(api, read_only: bool) -> None:
    """Refuse, inside the API client itself, every request but reads (and the self-access
    reviews) when `read_only`. All calls of the generated client, raw calls, watches and
    `kubernetes.stream` go through `call_api`, so no code path above can get around it."""
    api.read_only = read_only
    if getattr(api, "_guarded", False):
        return
    original = api.call_api

    def call_api(resource_path, method, *args, **kwargs):
        if api.read_only:
            why = read_only_refusal(method, resource_path)
            if why:
                raise ReadOnlyRefused(why)
        return original(resource_path, method, *args, **kwargs)

    api.call_api = call_api
    api._guarded = True


def request(api, method: str, path: str, *, query=None, body=None, accept: str = "application/json",
            content_type: str | None = None, timeout: float | tuple = (5, 30), headers: dict | None = None):
    """The one way the cockpit sends a request: the raw response, unread (`.data` or
    `.stream()`; release it). Through `api.call_api`, so the read-only guard sees it."""
    headers = {**(headers or {}), "Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    elif body is not None:
        headers["Content-Type"] = "application/json"
    return api.call_api(path, method, query_params=list(query or ()), body=body, header_params=headers,
                        auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout,
                        _return_http_data_only=True)


def request_json(api, method: str, path: str, **kw) -> dict:
    """`request`, read and parsed; {} for an empty body."""
    resp = request(api, method, path, **kw)
    try:
        data = resp.data
        return orjson.loads(data) if data else {}
    finally:
        resp.release_conn()


def object_path(resource, namespace: str, name: str) -> str:
    """The path of one object of `resource` (an informer.Resource); cluster-scoped kinds ignore
    the namespace."""
    from urllib.parse import quote

    return resource.path(namespace if resource.namespaced else None) + f"/{quote(name, safe='')}"


def make_api_client(kubeconfig: Kubeconfig, context: str, read_only: bool = False):
    """An API client for `context`, or a ConnectionProblem. Blocking (exec plugins may run):
    call from a worker thread. With `read_only`, the client refuses every change.

    The cockpit's own small client (cockpit.kube.rest) where the kubeconfig asks for nothing it
    does not read; the official one otherwise (legacy auth-providers, proxies, in-cluster)."""
    if kubeconfig.files:  # no files: the in-cluster service account, read by the official loader
        from cockpit.kube import rest

        where = kubeconfig.path_string, context
        try:
            api = rest.connect(kubeconfig.files, context, socket_options=keepalive_options())
        except rest.Unsupported:
            pass
        except rest.PluginError as e:
            return ConnectionProblem(f"credential plugin failed: {e}", *where)
        except (rest.CredentialError, OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as e:
            return ConnectionProblem(f"cannot load credentials: {_first_line(e)}", *where)
        else:
            api.user_agent = USER_AGENT
            guard_read_only(api, read_only)
            return api
    return _official_client(kubeconfig, context, read_only)


def _official_client(kubeconfig: Kubeconfig, context: str, read_only: bool):
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    _keep_plugins_off_a_stand_in_terminal()
    cfg = client.Configuration()
    plugin = _PluginFailures()
    try:
        with plugin:
            if context == IN_CLUSTER and not kubeconfig.files:
                config.load_incluster_config(client_configuration=cfg)
            else:
                config.load_kube_config(config_file=kubeconfig.path_string, context=context,
                                        client_configuration=cfg, persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as e:
        return ConnectionProblem(f"cannot load credentials: {_first_line(e)}", kubeconfig.path_string, context)
    except Exception as e:  # exec credential plugins fail in many ways; none may crash the app
        return ConnectionProblem(f"credential plugin failed: {_first_line(e)}", kubeconfig.path_string, context)
    if plugin.messages:
        # Without this, the client would go on without credentials and the user would read
        # "401 Unauthorized" instead of what the plugin said.
        return ConnectionProblem(f"credential plugin failed: {plugin.messages[0]}", kubeconfig.path_string, context)
    cfg.connection_pool_maxsize = 16
    api = client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    _keep_alive(api)
    guard_read_only(api, read_only)
    return api


def keepalive_options() -> list[tuple[int, int, int]]:
    """TCP keepalive on every connection: a watch idles for minutes, and a network that drops
    silently (no FIN, no RST: a suspended laptop, a NAT timeout) would otherwise go unnoticed
    until the watch's read time-out; with it the top bar says unreachable in ~30 s."""
    import socket

    from urllib3.connection import HTTPConnection

    options = list(HTTPConnection.default_socket_options) + [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def _keep_alive(api) -> None:
    """`keepalive_options` on an official client's connections."""
    pool = getattr(getattr(api, "rest_client", None), "pool_manager", None)
    if pool is not None and hasattr(pool, "connection_pool_kw"):
        pool.connection_pool_kw["socket_options"] = keepalive_options()


class _PluginFailures:
    """The official client does not raise when an exec credential plugin fails: it logs
    `exec: process returned N. <stderr>` on the root logger and carries on without credentials.
    While loading, catch those records of this thread (and keep them off stderr, which is the
    cockpit's screen)."""

    def __init__(self) -> None:
        import logging
        import threading

        self.messages: list[str] = []
        self._thread = threading.get_ident()
        outer = self

        class Catch(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.thread == outer._thread and record.levelno >= logging.ERROR:
                    outer.messages.append(record.getMessage())

        self._handler = Catch(logging.ERROR)

    def __enter__(self) -> _PluginFailures:
        import logging

        logging.getLogger().addHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        import logging

        logging.getLogger().removeHandler(self._handler)


class _ExecPluginSys:
    """`sys` as the official client's exec provider sees it. That provider runs a credential
    plugin on the terminal (stdin and stderr inherited) whenever `sys.stdout.isatty()`. Inside
    the TUI, sys.stdout is Textual's stand-in, which claims to be a tty without being a file:
    the plugin would write over the screen, read the user's keys, and its stderr would be lost.
    Only a real terminal counts; otherwise the plugin gets pipes and its stderr comes back in
    the error. `cockpit launch` on a terminal keeps interactive plugins working."""

    def __getattr__(self, name: str):
        import sys

        return getattr(sys, name)

    @property
    def stdout(self):
        import sys

        out = sys.stdout
        try:
            return out if out is not None and out.fileno() >= 0 else None
        except (AttributeError, OSError, ValueError):
            return None


def _keep_plugins_off_a_stand_in_terminal() -> None:
    from kubernetes.config import exec_provider

    if not isinstance(exec_provider.sys, _ExecPluginSys):
        exec_provider.sys = _ExecPluginSys()


def clone_api(api):
    """A client of its own for `kubernetes.stream` (exec, port-forward): that module swaps the
    client's transport for the length of a call, which other threads sharing it would see."""
    from cockpit.kube.rest import RestClient

    if isinstance(api, RestClient):
        twin = api.official()
    else:
        from kubernetes import client

        twin = client.ApiClient(api.configuration)
    twin.user_agent = api.user_agent
    _keep_alive(twin)
    guard_read_only(twin, getattr(api, "read_only", False))
    return twin


def can_i(api, verb: str, resource: str, group: str = "", namespace: str = "", subresource: str = "") -> bool | None:
    """SelfSubjectAccessReview; None when the question itself failed or was not asked (a
    review changes nothing, so a read-only client asks too)."""
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                            "namespace": namespace, "subresource": subresource}}}
    try:
        review = request_json(api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body,
                              timeout=10)
    except Exception:  # an error status, the network, a refusal: the question failed
        return None
    status = review.get("status") if isinstance(review, dict) else None
    return bool(status.get("allowed")) if isinstance(status, dict) else None
