"""Fetch what the checks look at, with reads only.

Every request is a GET (lists, discovery, one ConfigMap, one exporter's metrics through the pod
proxy) except the SelfSubjectRulesReview, a question the API server answers without storing
anything. The client is made read-only, so the guard in `cockpit.kube.connection` refuses
anything else before it leaves the process. A kind the user may not list is recorded as
`Unreadable` and the checks that need it say so; only an unreachable cluster stops the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cockpit.doctor.checks import AccessReview, MetricsProbe, Unreadable
from cockpit.kube.text import clean
from cockpit.kube.connection import request

PAGE = 500
TIMEOUT = (5, 20)


class Unreachable(Exception):
    """The API server did not answer, or refused the credentials: nothing can be checked."""


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _message(e: Exception) -> str:
    body = getattr(e, "body", None)
    if body:
        with contextlib.suppress(Exception):
            return str(orjson.loads(body).get("message") or "")
    return str(getattr(e, "reason", "") or e)


def _call(api, path: str, method: str = "GET", query: list | None = None, body: Any = None) -> Any:
    from cockpit.kube.rest import api_errors
    from urllib3.exceptions import HTTPError

    try:
        resp = request(api, method, path, query=query, body=body, content_type="application/json",
                       timeout=TIMEOUT)
    except api_errors() as e:
        if e.status == 401:
            raise Unreachable("the API server refused the credentials (401 Unauthorized)") from None
        if e.status in (0, None):
            raise Unreachable(clean(_message(e), 300)) from None
        raise _Refused(int(e.status), clean(_message(e), 300)) from None
    except (HTTPError, OSError) as e:
        raise Unreachable(clean(str(getattr(e, "reason", None) or e), 300)) from None
    try:
        return orjson.loads(resp.data)
    finally:
        with contextlib.suppress(Exception):
            resp.release_conn()


def list_all(api, path: str, query: list | None = None) -> list[dict]:
    items: list[dict] = []
    token = ""
    while True:
        q = [*(query or []), ("limit", PAGE)] + ([("continue", token)] if token else [])
        page = _call(api, path, query=q)
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


@dataclass
class ClusterFacts:
    context: str
    namespace: str
    server: str = ""
    version: str = ""
    groups: set[str] = field(default_factory=set)
    nodes: list[dict] = field(default_factory=list)
    pods: list[dict] = field(default_factory=list)
    daemonsets: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    storageclasses: list[dict] | None = None
    pvcs: list[dict] = field(default_factory=list)
    pvc_events: dict[str, list[dict]] = field(default_factory=dict)
    workflows: list[dict] | None = None
    argo_namespace: str = "argo"
    argo_configmap_name: str = "workflow-controller-configmap"
    argo_configmap: dict | None = None
    katib_resources: set[str] = field(default_factory=set)
    cluster_queues: list[dict] | None = None
    access: AccessReview | None = None
    metrics: MetricsProbe | None = None
    unreadable: dict[str, Unreadable] = field(default_factory=dict)  # kind -> why
    notes: list[str] = field(default_factory=list)


def _kind_list(api, facts: ClusterFacts, kind: str, cluster_path: str, ns_path: str | None = None) -> list[dict] | None:
    """A cluster-wide list; when that is forbidden, the current namespace's (noted); None when
    neither can be read."""
    try:
        return list_all(api, cluster_path)
    except _Refused as e:
        if ns_path and e.status == 403:
            try:
                items = list_all(api, ns_path.format(ns=facts.namespace))
                facts.notes.append(f"{kind}: only namespace {facts.namespace} readable")
                return items
            except _Refused as e2:
                e = e2
        facts.unreadable[kind] = Unreadable(kind, f"{e.status} {e}")
        return None


def gather(api, context: str, namespace: str) -> ClusterFacts:
    facts = ClusterFacts(context, namespace)
    facts.server = clean(getattr(api.configuration, "host", ""), 200)
    try:
        facts.version = clean(_call(api, "/version").get("gitVersion", ""), 64)
    except _Refused as e:  # some clusters hide /version; the next reads tell whether it answers
        facts.notes.append(f"/version: {e.status}")
    preferred: dict[str, str] = {}
    try:
        for g in _call(api, "/apis").get("groups") or []:
            facts.groups.add(clean(g.get("name", ""), 253))
            preferred[g.get("name", "")] = (g.get("preferredVersion") or {}).get("groupVersion", "")
    except _Refused as e:
        facts.unreadable["API groups"] = Unreadable("API groups", f"{e.status} {e}")
    facts.nodes = _kind_list(api, facts, "nodes", "/api/v1/nodes") or []
    facts.pods = _kind_list(api, facts, "pods", "/api/v1/pods", "/api/v1/namespaces/{ns}/pods") or []
    facts.daemonsets = _kind_list(api, facts, "daemonsets", "/apis/apps/v1/daemonsets",
                                  "/apis/apps/v1/namespaces/{ns}/daemonsets") or []
    facts.deployments = _kind_list(api, facts, "deployments", "/apis/apps/v1/deployments",
                                   "/apis/apps/v1/namespaces/{ns}/deployments") or []
    facts.storageclasses = _kind_list(api, facts, "storageclasses", "/apis/storage.k8s.io/v1/storageclasses")
    facts.pvcs = _kind_list(api, facts, "persistentvolumeclaims", "/api/v1/persistentvolumeclaims",
                            "/api/v1/namespaces/{ns}/persistentvolumeclaims") or []
    for claim in facts.pvcs:
        if (claim.get("status") or {}).get("phase") != "Pending":
            continue
        meta = claim.get("metadata") or {}
        selector = f"involvedObject.kind=PersistentVolumeClaim,involvedObject.name={meta.get('name', '')}"
        with contextlib.suppress(_Refused):
            facts.pvc_events[f"{meta.get('namespace')}/{meta.get('name')}"] = list_all(
                api, f"/api/v1/namespaces/{meta.get('namespace')}/events", [("fieldSelector", selector)])
    _argo(api, facts)
    if "kubeflow.org" in facts.groups:
        with contextlib.suppress(_Refused):
            facts.katib_resources = {clean(r.get("name", ""), 253) for r in
                                     _call(api, "/apis/kubeflow.org/v1beta1").get("resources") or []}
    if preferred.get("kueue.x-k8s.io"):
        facts.cluster_queues = _kind_list(api, facts, "clusterqueues", f"/apis/{preferred['kueue.x-k8s.io']}/clusterqueues")
    facts.access = _rules_review(api, namespace)
    facts.metrics = _metrics(api, facts.pods)
    return facts


def _argo(api, facts: ClusterFacts) -> None:
    from cockpit.doctor.checks import argo_configmap_name, find_deployments

    if "argoproj.io" not in facts.groups:
        return
    facts.workflows = _kind_list(api, facts, "workflows", "/apis/argoproj.io/v1alpha1/workflows",
                                 "/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows")
    controllers = find_deployments(facts.deployments, "workflow-controller")
    if controllers:
        facts.argo_namespace = controllers[0]["metadata"]["namespace"]
        facts.argo_configmap_name = argo_configmap_name(controllers[0])
    try:
        facts.argo_configmap = _call(
            api, f"/api/v1/namespaces/{facts.argo_namespace}/configmaps/{facts.argo_configmap_name}")
    except _Refused as e:
        if e.status != 404:
            facts.unreadable["configmaps"] = Unreadable(f"configmaps in {facts.argo_namespace}", f"{e.status} {e}")


def _rules_review(api, namespace: str) -> AccessReview:
    from cockpit.kube.connection import ReadOnlyRefused

    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace}}
    try:
        review = _call(api, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "POST", body=body)
    except _Refused as e:
        return AccessReview(namespace, error=f"{e.status} {e}")
    except ReadOnlyRefused as e:
        return AccessReview(namespace, error=str(e))
    status: Mapping[str, Any] = review.get("status") or {}
    return AccessReview(namespace, tuple(status.get("resourceRules") or ()), bool(status.get("incomplete")),
                        clean(status.get("evaluationError", ""), 200) if not status.get("resourceRules") else "")


def _metrics(api, pods: list[dict]) -> MetricsProbe | None:
    """Ask one exporter through the pod proxy, the way the cockpit reads utilisation (the
    port-forward it falls back to is not a read, so doctor does not try it)."""
    from cockpit.kube.dcgm import MetricsError, fetch_node_metrics, find_exporters, parse_metrics

    exporters = find_exporters(pods)
    if not exporters:
        return None
    exp = exporters[0]
    try:
        text = fetch_node_metrics(api, exp.namespace, exp.pod, exp.port, via="proxy", timeout=10)
    except MetricsError as e:
        return MetricsProbe(exp.key, exp.node, error=str(e).removeprefix("proxy: "))
    samples = parse_metrics(text, exp.node)
    return MetricsProbe(exp.key, exp.node, samples=len({s.device for s in samples}))
