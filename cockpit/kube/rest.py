"""A small API client for what the cockpit sends: raw requests over urllib3, credentials from
the kubeconfig.

The official client's package imports 700 generated models and every API class with it: about
35 MB and most of a second of CPU, under the GIL, while the first rows are being parsed. The
cockpit reads raw JSON and never needs a model, so the UI connects with this client instead.
It reads the same kubeconfig fields the official loader does for the common credentials: client
certificates, bearer tokens (and token files), basic auth, CA data or files,
insecure-skip-tls-verify, tls-server-name, and exec credential plugins (ExecCredential v1 and
v1beta1, re-run when the credential expires or the server answers 401). Anything else (a
legacy auth-provider, a proxy-url, an interactive-only plugin, in-cluster) is left to the
official client (`connection.make_api_client` decides).

`call_api` has the official client's signature and returns the unread urllib3 response, so the
read-only guard, `connection.request` and everything above work with either client;
`official()` builds the official one on the same kubeconfig for `kubernetes.stream` (exec,
port-forward), on first use.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson


class ApiError(Exception):
    """An error status from the API server (the official client's ApiException has the same
    attributes: status, reason, body, headers)."""

    def __init__(self, status: int = 0, reason: str = "", body: bytes | str | None = None,
                 headers: Any = None) -> None:
        super().__init__(f"({status}) {reason}")
        self.status, self.reason, self.body, self.headers = status, reason, body, headers


def api_errors() -> tuple[type[BaseException], ...]:
    """What an API call raises for an error status: this client's ApiError, and the official
    client's ApiException once that package is loaded (streams, tests' own clients). For
    `except api_errors() as e:` without importing the official package to ask."""
    rest = sys.modules.get("kubernetes.client.rest")
    return (ApiError, rest.ApiException) if rest is not None else (ApiError,)


class Unsupported(Exception):
    """The kubeconfig asks for something only the official client does."""


class CredentialError(Exception):
    """The credentials could not be read (the message says why)."""


class PluginError(CredentialError):
    """A credential plugin failed or gave nothing usable (the message carries its stderr)."""


@dataclass
class _Plugin:
    api_version: str
    command: str
    args: list[str]
    env: list[dict]
    cluster: dict | None  # provideClusterInfo: the cluster entry, as the plugin expects it
    base: Path  # relative commands are relative to the kubeconfig file


class Credentials:
    """Headers and client certificate for one kubeconfig user, refreshed from a plugin."""

    def __init__(self, user: dict, base: Path, cluster: dict) -> None:
        self.lock = threading.Lock()
        self._refresh = threading.Lock()  # one plugin run at a time, however many threads ask
        self.token = _text(user.get("token"))
        self.token_file = _path(user.get("tokenFile"), base)
        self.basic = None
        if user.get("username") and user.get("password"):
            pair = f"{user['username']}:{user['password']}".encode()
            self.basic = "Basic " + base64.b64encode(pair).decode()
        self.cert = _pem(user, "client-certificate", base)
        self.key = _pem(user, "client-key", base)
        self.plugin = None
        self.expires = 0.0
        ex = user.get("exec")
        if ex:
            if not isinstance(ex, dict) or not ex.get("command"):
                raise PluginError("exec: a credential plugin needs a command")
            if ex.get("interactiveMode") == "Always":
                raise Unsupported("an interactive credential plugin")
            self.plugin = _Plugin(str(ex.get("apiVersion") or "client.authentication.k8s.io/v1"),
                                  str(ex["command"]), [str(a) for a in ex.get("args") or ()],
                                  [e for e in ex.get("env") or () if isinstance(e, dict)],
                                  cluster if ex.get("provideClusterInfo") else None, base)
            self.run_plugin()

    def run_plugin(self) -> None:
        p = self.plugin
        if p is None:
            return
        info: dict[str, Any] = {"apiVersion": p.api_version, "kind": "ExecCredential",
                                "spec": {"interactive": False}}
        if p.cluster is not None:
            info["spec"]["cluster"] = _cluster_info(p.cluster)
        env = {**os.environ, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        env.update({str(e.get("name")): str(e.get("value", "")) for e in p.env if e.get("name")})
        command = p.command
        if "/" in command and not os.path.isabs(command):
            command = str(p.base / command)
        try:
            done = subprocess.run([command, *p.args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=120, check=False)
        except OSError as e:
            raise PluginError(f"exec: {e.strerror or e}: {command}") from None
        except subprocess.TimeoutExpired:
            raise PluginError(f"exec: {command} gave no credential within 120 s") from None
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip()
            raise PluginError(f"exec: process returned {done.returncode}. {err}")
        try:
            cred = orjson.loads(done.stdout)
            status = cred.get("status") or {}
        except (orjson.JSONDecodeError, AttributeError):
            raise PluginError(f"exec: {command} did not print an ExecCredential") from None
        if status.get("clientCertificateData"):
            # A certificate from a plugin would need the TLS context rebuilt on every refresh.
            raise Unsupported("a credential plugin that gives client certificates")
        with self.lock:
            self.token = _text(status.get("token"))
            from cockpit.kube.rows import parse_time

            self.expires = parse_time(status.get("expirationTimestamp")) or 0.0

    def refresh(self, stale: str | None) -> None:
        """Ask the plugin again, unless another thread already replaced the `stale` credential."""
        with self._refresh:
            if self.authorization(refresh=False) == stale:
                self.run_plugin()

    def authorization(self, refresh: bool = True) -> str | None:
        if refresh and self.plugin is not None and self.expires and time.time() > self.expires - 10:
            self.refresh(self.authorization(refresh=False))
        with self.lock:
            token = self.token
        if self.token_file is not None:
            try:  # re-read: projected service-account tokens rotate
                token = self.token_file.read_text().strip() or token
            except OSError:
                pass
        if token:
            return f"Bearer {token}"
        return self.basic


class RestClient:
    """The client for one kubeconfig context (see the module's doc). Thread-safe."""

    def __init__(self, kubeconfig_path: str, context: str, host: str, pool, credentials: Credentials) -> None:
        self.kubeconfig_path, self.context = kubeconfig_path, context
        self.configuration = _Config(host)
        self.pool = pool
        self.credentials = credentials
        self.user_agent = ""
        self.read_only = False
        self._official_lock = threading.Lock()
        self._official_cfg = None

    def call_api(self, resource_path: str, method: str, path_params=None, query_params=None, header_params=None,
                 body=None, post_params=None, files=None, response_type=None, auth_settings=None,
                 async_req=None, _return_http_data_only=None, collection_formats=None, _preload_content=True,
                 _request_timeout=None, _host=None, **_kw):
        url = self.configuration.host.rstrip("/") + resource_path
        if query_params:
            url += "?" + urlencode([(k, _query_value(v)) for k, v in query_params])
        headers = dict(header_params or {})
        if self.user_agent:
            headers.setdefault("User-Agent", self.user_agent)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        import urllib3

        timeout = None
        if isinstance(_request_timeout, (int, float)):
            timeout = urllib3.Timeout(total=_request_timeout)
        elif isinstance(_request_timeout, tuple) and len(_request_timeout) == 2:
            timeout = urllib3.Timeout(connect=_request_timeout[0], read=_request_timeout[1])
        for attempt in (0, 1):
            auth = self.credentials.authorization()
            if auth:
                headers["Authorization"] = auth
            resp = self.pool.request(method, url, body=data, headers=headers, timeout=timeout,
                                     preload_content=False, retries=False, redirect=False)
            if resp.status == 401 and attempt == 0 and self.credentials.plugin is not None:
                resp.drain_conn()  # an unread body would spoil the pooled connection's next request
                resp.release_conn()
                self.credentials.refresh(auth)  # an expired credential: ask the plugin again, once
                continue
            break
        if not 200 <= resp.status <= 299:  # as the official client: anything else raises
            try:
                payload = resp.data
            finally:
                resp.release_conn()
            raise ApiError(resp.status, resp.reason or "", payload, resp.headers)
        return resp

    def close(self) -> None:
        self.pool.clear()

    def official(self):
        """The official ApiClient on the same kubeconfig context (for `kubernetes.stream`)."""
        from kubernetes import client, config

        from cockpit.kube.connection import _keep_plugins_off_a_stand_in_terminal

        with self._official_lock:
            if self._official_cfg is None:
                _keep_plugins_off_a_stand_in_terminal()
                cfg = client.Configuration()
                config.load_kube_config(config_file=self.kubeconfig_path or None, context=self.context,
                                        client_configuration=cfg, persist_config=False)
                cfg.connection_pool_maxsize = 16
                self._official_cfg = cfg
            return client.ApiClient(self._official_cfg)


@dataclass
class _Config:
    host: str


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def _path(v: Any, base: Path) -> Path | None:
    if not isinstance(v, str) or not v:
        return None
    p = Path(v).expanduser()
    return p if p.is_absolute() else base / p


def _pem(entry: dict, field: str, base: Path) -> bytes | None:
    """`field-data` (base64) or the file `field` names, as PEM bytes."""
    data = entry.get(f"{field}-data")
    if data:
        try:
            raw = base64.b64decode("".join(str(data).split()), validate=True)
        except (ValueError, TypeError):
            raw = b""
        if not raw:
            raise CredentialError(f"{field}-data: not base64-encoded PEM")
        return raw
    p = _path(entry.get(field), base)
    if p is None:
        return None
    try:
        return p.read_bytes()
    except OSError as e:
        raise CredentialError(f"{field}: cannot read {p}: {e.strerror or e}") from None


def _cluster_info(cluster: dict) -> dict:
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for src, dst in (("tls-server-name", "tls-server-name"), ("insecure-skip-tls-verify", "insecure-skip-tls-verify"),
                     ("certificate-authority-data", "certificate-authority-data"), ("proxy-url", "proxy-url")):
        if cluster.get(src) is not None:
            info[dst] = cluster[src]
    return info


def _named(doc_entries: list[tuple[dict, Path]], section: str, name: str) -> tuple[dict, Path] | None:
    """The first entry named `name` in `section` across the merged files (kubectl's rule)."""
    for doc, base in doc_entries:
        entries = doc.get(section) or ()
        if not isinstance(entries, list):
            raise CredentialError(f"{section}: expected a list")
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry, base
    return None


def connect(files: list[Path], context: str, *, socket_options=None) -> RestClient:
    """A RestClient for `context` of the merged kubeconfig `files`. Raises Unsupported for what
    only the official client does, CredentialError (and OSError, ValueError) for bad credentials."""
    import yaml

    docs = []
    for f in files:
        try:
            data = yaml.load(f.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        except FileNotFoundError:
            continue
        if isinstance(data, dict):
            docs.append((data, f.parent))
    found = _named(docs, "contexts", context)
    if found is None:
        raise CredentialError(f"context {context!r} is not defined")
    ctx = found[0].get("context") or {}
    if not isinstance(ctx, dict):
        raise CredentialError("context: expected a mapping")
    c = _named(docs, "clusters", str(ctx.get("cluster") or ""))
    if c is None or not isinstance(c[0].get("cluster"), dict):
        raise CredentialError(f"cluster {ctx.get('cluster')!r} is not defined")
    cluster, cbase = c[0]["cluster"], c[1]
    u = _named(docs, "users", str(ctx.get("user") or ""))
    user, ubase = ({}, cbase) if u is None else (u[0].get("user"), u[1])
    if user is None:
        user = {}
    if not isinstance(user, dict):
        raise CredentialError("user: expected a mapping")
    if user.get("auth-provider") or cluster.get("proxy-url"):
        raise Unsupported("auth-provider or proxy-url")
    host = str(cluster.get("server") or "")
    if not host.startswith(("https://", "http://")):
        raise CredentialError(f"server: expected an https:// URL, got {host!r}")
    creds = Credentials(user, ubase, cluster)
    # The system's CA bundle is read only when the kubeconfig names no CA of its own (reading it
    # is 20 ms of a start that connects before the first frame is drawn).
    ca = None if cluster.get("insecure-skip-tls-verify") else _pem(cluster, "certificate-authority", cbase)
    if ca is not None:
        ctx_ssl = ssl.create_default_context(cadata=ca.decode("ascii", "replace"))
    else:
        ctx_ssl = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        ctx_ssl.check_hostname = False
        ctx_ssl.verify_mode = ssl.CERT_NONE
    if bool(creds.cert) != bool(creds.key):
        raise CredentialError("a client certificate needs its key (client-certificate and client-key)")
    if creds.cert and creds.key:
        _load_cert(ctx_ssl, creds.cert, creds.key)
    import urllib3

    kw: dict[str, Any] = {"maxsize": 16, "ssl_context": ctx_ssl}
    if cluster.get("tls-server-name"):
        kw["server_hostname"] = str(cluster["tls-server-name"])
    if socket_options is not None:
        kw["socket_options"] = socket_options
    pool = urllib3.PoolManager(num_pools=4, **kw)
    return RestClient(os.pathsep.join(str(f) for f in files), context, host, pool, creds)


def _load_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """`load_cert_chain` reads files only: a private temporary file, removed at once."""
    fd, name = tempfile.mkstemp(prefix="cockpit-cred-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert.rstrip(b"\n") + b"\n" + key)
        ctx.load_cert_chain(name)
    except ssl.SSLError as e:
        raise CredentialError(f"client certificate or key unusable: {e.reason or e}") from None
    finally:
        os.unlink(name)
