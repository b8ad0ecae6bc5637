"""Kubeconfig handling and API clients, the way kubectl finds its configuration.

KUBECONFIG (a list of files, merged), else ~/.kube/config, else the in-cluster service
account. The official client does the loading, so exec credential plugins and OIDC work.
Every problem is reported as a `ConnectionProblem` naming the file and the context; nothing
here raises into the UI.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from cockpit import USER_AGENT

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
        where = ", ".join(p for p in (self.file and f"file {self.file}", self.context and f"context {self.context}") if p)
        return f"{self.message} ({where})" if where else self.message


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
            try:
                doc = yaml.safe_load(f.read_text()) or {}
            except FileNotFoundError:
                if explicit or len(files) == 1:
                    problems.append(ConnectionProblem("kubeconfig file not found", str(f)))
                continue
            except (OSError, yaml.YAMLError) as e:
                mark = getattr(e, "problem_mark", None)
                line = f", line {mark.line + 1}" if mark else ""
                problems.append(ConnectionProblem(f"cannot read kubeconfig{line}: {_first_line(e)}", str(f)))
                continue
            if not isinstance(doc, dict):
                problems.append(ConnectionProblem("kubeconfig is not a mapping", str(f)))
                continue
            # Merge rule of kubectl: the first file to define a name wins.
            for entry in doc.get("contexts") or []:
                if not isinstance(entry, dict) or not entry.get("name"):
                    problems.append(ConnectionProblem("a context entry has no name", str(f)))
                    continue
                ctx = entry.get("context") or {}
                contexts.setdefault(entry["name"], ContextInfo(
                    str(entry["name"]), str(ctx.get("cluster", "")), str(ctx.get("user", "")),
                    str(ctx.get("namespace") or "default")))
            if not current and doc.get("current-context"):
                current = str(doc["current-context"])
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


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _in_cluster_namespace() -> str:
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return "default"


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


def make_api_client(kubeconfig: Kubeconfig, context: str, read_only: bool = False):
    """An ApiClient for `context`, or a ConnectionProblem. Blocking (exec plugins may run):
    call from a worker thread. With `read_only`, the client refuses every change."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        if context == IN_CLUSTER and not kubeconfig.files:
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(config_file=kubeconfig.path_string, context=context,
                                    client_configuration=cfg, persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as e:
        return ConnectionProblem(f"cannot load credentials: {_first_line(e)}", kubeconfig.path_string, context)
    except Exception as e:  # exec credential plugins fail in many ways; none may crash the app
        return ConnectionProblem(f"credential plugin failed: {_first_line(e)}", kubeconfig.path_string, context)
    cfg.connection_pool_maxsize = 16
    api = client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    guard_read_only(api, read_only)
    return api


def clone_api(api):
    """A client of its own for `kubernetes.stream` (exec, port-forward): that module swaps the
    client's transport for the length of a call, which other threads sharing it would see."""
    from kubernetes import client

    twin = client.ApiClient(api.configuration)
    twin.user_agent = api.user_agent
    guard_read_only(twin, getattr(api, "read_only", False))
    return twin


def can_i(api, verb: str, resource: str, group: str = "", namespace: str = "", subresource: str = "") -> bool | None:
    """SelfSubjectAccessReview; None when the question itself failed or was not asked (a
    review changes nothing, so a read-only client asks too)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                            "namespace": namespace, "subresource": subresource}}}
    try:
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(body, _request_timeout=10)
    except (ApiException, OSError, Exception):
        return None
    return bool(review.status.allowed)
