"""Putting a rendered preset into a cluster: plan, server-side dry run, create (all or nothing),
and following the launched workload to its end.

All calls block; run them in a worker thread. Nothing here keeps state between calls except
a per-ApiClient cache of API discovery.

    p = plan(preset, values, "team-vision", api_client)     # GETs only
    dry_run(p)                                              # POST ?dryRun=All, nothing stored
    result = create(p)                                      # LaunchError: nothing is left behind
    outcome = follow(result, on_status=print)               # watch until done

Namespaces and PersistentVolumeClaims are created only when missing; an existing one is never
modified (it is read with GET first, and never written). Every other object must be new.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cockpit.kube.kueue import GROUP, QUEUE_LABEL, VERSION
from cockpit.launch.errors import LaunchCancelled, LaunchError
from cockpit.launch.preset import Preset

__all__ = ["CREATE", "ENSURE", "KEEP", "CreatedObject", "FollowOutcome", "LaunchPlan", "LaunchResult",
           "PlannedObject", "create", "dry_run", "follow", "plan"]

CREATE = "create"  # a new object; it must not exist
ENSURE = "create-if-missing"  # namespace / PVC found missing by plan(): created
KEEP = "keep"  # namespace / PVC that exists: left exactly as it is
_ENSURED_KINDS = ("Namespace", "PersistentVolumeClaim")
_TIMEOUT = 30  # seconds for one ordinary API request
# Every object a launch creates carries its launch's id, so a rollback also finds the objects
# whose create request reached the server but whose answer never came back (a time-out, an
# interruption between the request and the answer).
LAUNCH_ID_LABEL = "gpu-cockpit.io/launch-id"
_WORKLOAD_KINDS = ("Job", "Workflow", "Experiment", "Pod", "Deployment", "StatefulSet")


# -- talking to the API server -------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def collection(self, namespace: str | None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


_discovery: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_discovery_lock = threading.Lock()


def _api_error_text(e: Exception) -> str:
    """The server's message for an ApiException (its Status body), else the exception text."""
    body = getattr(e, "body", None)
    if body:
        try:
            status = json.loads(body)
        except (ValueError, TypeError):
            status = None
        if isinstance(status, dict) and status.get("message"):
            text = status["message"]
            causes = (status.get("details") or {}).get("causes") or []
            extra = [f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in causes
                     if c.get("message") and c.get("message") not in text]
            return text + ("; " + "; ".join(extra) if extra else "")
    reason = getattr(e, "reason", None)
    status_code = getattr(e, "status", None)
    if status_code:
        return f"HTTP {status_code} {reason or ''}".strip()
    return str(e) or type(e).__name__


def _status(e: Exception) -> int | None:
    return getattr(e, "status", None)


def _call(api_client: Any, method: str, path: str, *, body: Any = None, query: list | None = None,
          timeout: float | tuple = _TIMEOUT, preload: bool = True) -> Any:
    from cockpit.kube.connection import request, request_json

    if preload:
        return request_json(api_client, method, path, query=query, body=body, content_type="application/json",
                            timeout=timeout)
    return request(api_client, method, path, query=query, body=body, content_type="application/json",
                   timeout=timeout)


def _is_api_exception(e: BaseException) -> bool:
    from cockpit.kube.rest import api_errors

    return isinstance(e, api_errors())


def _refused_read_only(e: BaseException) -> bool:
    """The API client's own read-only guard (cockpit.kube.connection.guard_read_only) refused."""
    try:
        from cockpit.kube.connection import ReadOnlyRefused
    except ImportError:  # pragma: no cover - the guard is optional
        return False
    return isinstance(e, ReadOnlyRefused)


def _unreachable(e: BaseException) -> LaunchError:
    if _refused_read_only(e):
        return LaunchError(f"read-only mode: {e}")
    return LaunchError(f"cannot reach the cluster: {e}")


def discover(api_client: Any, api_version: str, kind: str) -> ResourceInfo:
    """The REST resource serving `kind` (API discovery, cached per client)."""
    with _discovery_lock:
        cache = _discovery.setdefault(api_client, {})
    if api_version not in cache:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = _call(api_client, "GET", path)
        except Exception as e:  # noqa: BLE001
            if _is_api_exception(e) and _status(e) == 404:
                listing = {"resources": []}
            elif _is_api_exception(e):
                raise LaunchError(f"API discovery of {api_version} failed: {_api_error_text(e)}") from None
            else:
                raise _unreachable(e) from None
        cache[api_version] = {r["kind"]: ResourceInfo(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                              for r in listing.get("resources", []) if "/" not in r.get("name", "")}
    info = cache[api_version].get(kind)
    if info is None:
        hint = {"argoproj.io": " (is Argo Workflows installed?)", "kubeflow.org": " (is Katib installed?)"}.get(
            api_version.split("/")[0], "")
        raise LaunchError(f"the cluster does not serve {kind} in {api_version}{hint}")
    return info


# -- the plan ------------------------------------------------------------------------------------

@dataclass
class PlannedObject:
    manifest: dict
    info: ResourceInfo
    action: str  # CREATE, ENSURE or KEEP
    existing_resource_version: str | None = None  # for KEEP

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def name(self) -> str:
        meta = self.manifest["metadata"]
        return meta.get("name") or meta.get("generateName", "") + "*"

    @property
    def namespace(self) -> str | None:
        return self.manifest["metadata"].get("namespace") if self.info.namespaced else None

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"

    def describe(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        verb = {CREATE: "create", ENSURE: "create (missing)", KEEP: "keep (exists, left unchanged)"}[self.action]
        return f"{verb:<30} {self.ref}{where}"


@dataclass
class LaunchPlan:
    preset: str
    namespace: str
    values: dict[str, Any]
    objects: list[PlannedObject]
    api_client: Any = field(repr=False)
    read_only: bool = False
    notes: list[str] = field(default_factory=list)
    launch_id: str = ""

    @property
    def to_create(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.action in (CREATE, ENSURE)]

    @property
    def kept(self) -> list[PlannedObject]:
        return [o for o in self.objects if o.action == KEEP]

    @property
    def workload(self) -> PlannedObject | None:
        """The object to follow: the first Job, Workflow, Experiment, Pod or Deployment."""
        for kind in _WORKLOAD_KINDS:
            for o in self.objects:
                if o.kind == kind and o.action == CREATE:
                    return o
        return None

    def lines(self) -> list[str]:
        return [o.describe() for o in self.objects] + [f"note: {n}" for n in self.notes]


def _get(api_client: Any, info: ResourceInfo, namespace: str | None, name: str) -> dict | None:
    try:
        return _call(api_client, "GET", f"{info.collection(namespace)}/{name}")
    except Exception as e:
        if _is_api_exception(e):
            if _status(e) == 404:
                return None
            raise
        raise _unreachable(e) from None


PRODUCT_LABEL = "nvidia.com/gpu.product"


def _pod_specs_with_product(obj: Any) -> Iterator[tuple[str, list[str]]]:
    """(GPU product asked for by a nodeSelector, that pod spec's tolerations as "key=value:Effect")
    for every pod spec or template anywhere in a manifest (Job, Workflow, Experiment, ...)."""
    if isinstance(obj, Mapping):
        selector = obj.get("nodeSelector")
        if isinstance(selector, Mapping) and selector.get(PRODUCT_LABEL) not in (None, ""):
            tolerations = []
            for t in obj.get("tolerations") or ():
                if isinstance(t, Mapping) and t.get("key"):
                    text = str(t["key"]) + (f"={t['value']}" if t.get("value") else "")
                    tolerations.append(text + (f":{t['effect']}" if t.get("effect") else ""))
            yield str(selector[PRODUCT_LABEL]), tolerations
        for value in obj.values():
            yield from _pod_specs_with_product(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _pod_specs_with_product(value)


def _list_nodes(api_client: Any, selector: str) -> list[dict] | None:
    """Nodes matching a label selector; None when not allowed to list nodes."""
    try:
        found = _call(api_client, "GET", "/api/v1/nodes", query=[("labelSelector", selector)])
    except Exception as e:  # noqa: BLE001
        if not _is_api_exception(e):
            raise _unreachable(e) from None
        if _status(e) == 403:
            return None
        raise LaunchError(f"cannot list nodes ({selector}): {_api_error_text(e)}") from None
    return list((found or {}).get("items") or [])


def check_gpu_products(manifests: list[dict], api_client: Any, notes: list[str]) -> None:
    """A GPU product no node has makes a pod that never schedules, and the server's dry run
    accepts it: refuse it here. When every node of the product is cordoned, NotReady or tainted
    against the pod, say so (the pod would wait). Same `node_schedulable` as the GPU pane."""
    from cockpit.kube.gpu import node_gpu_info, node_schedulable

    wanted: dict[str, list[str]] = {}
    for manifest in manifests:
        for product, tolerations in _pod_specs_with_product(manifest):
            wanted.setdefault(product, tolerations)
    for product, tolerations in sorted(wanted.items()):
        nodes = _list_nodes(api_client, f"{PRODUCT_LABEL}={product}")
        if nodes is None:
            notes.append(f"not allowed to list nodes; GPU product {product} not checked")
            continue
        if not nodes:
            offered = sorted({str(((n.get("metadata") or {}).get("labels") or {}).get(PRODUCT_LABEL, ""))
                              for n in _list_nodes(api_client, PRODUCT_LABEL) or ()} - {""})
            raise LaunchError(f"gpu_product: no node has GPU product {product!r} ({PRODUCT_LABEL}); "
                              f"the cluster has: {', '.join(offered) or 'none'}")
        if not any(node_schedulable(node_gpu_info(n), tolerations) for n in nodes):
            notes.append(f"every node with {product} is cordoned, NotReady or tainted against this pod: "
                         "it waits until one takes pods")


USER_LABEL = "gpu-cockpit.io/user"  # who launched it: GPU-hours per user read it off the pods


def launching_user() -> str:
    """The local login as a label value ([a-z0-9._-], at most 63), or "" when there is none."""
    import getpass
    import re

    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without passwd entry)
        return ""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", name)[:63].strip("-._")
    return value


def _label_pods(manifest: dict, key: str, value: str) -> None:
    """The label on the workload and on the pods it makes (Job/Deployment templates, a Pod,
    a Workflow's podMetadata)."""
    manifest.setdefault("metadata", {}).setdefault("labels", {})[key] = value
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return
    template = spec.get("template")
    if isinstance(template, dict):
        meta = template.setdefault("metadata", {}) or {}
        template["metadata"] = meta
        (meta.setdefault("labels", {}) or {})[key] = value
    if manifest.get("kind") == "Workflow":
        pod_meta = spec.setdefault("podMetadata", {}) or {}
        spec["podMetadata"] = pod_meta
        (pod_meta.setdefault("labels", {}) or {})[key] = value


KUEUE_API = f"{GROUP}/{VERSION}"


def check_queue(api_client: Any, namespace: str, queue: str, manifests: list[dict]) -> None:
    """`--queue`: the namespace's LocalQueue must exist, and the preset must make a Job (what
    Kueue's batch/job integration manages). GETs only."""
    if not any(m.get("kind") == "Job" for m in manifests):
        kinds = ", ".join(sorted({m.get("kind", "?") for m in manifests if m.get("kind") in _WORKLOAD_KINDS}))
        raise LaunchError(f"--queue: Kueue queues Jobs; this preset makes {kinds or 'no workload'}")
    try:
        info = discover(api_client, KUEUE_API, "LocalQueue")
    except LaunchError:
        raise LaunchError("--queue: Kueue is not installed on this cluster (no LocalQueue kind)") from None
    try:
        found = _get(api_client, info, namespace, queue)
    except LaunchError:
        raise
    except Exception as e:  # noqa: BLE001
        raise LaunchError(f"cannot read LocalQueue {namespace}/{queue}: {_api_error_text(e)}") from None
    if found is None:
        listing = _call(api_client, "GET", info.collection(namespace)).get("items") or []
        names = ", ".join(sorted((q.get("metadata") or {}).get("name", "") for q in listing)) or "none"
        raise LaunchError(f"--queue: no LocalQueue {queue} in namespace {namespace} (queues there: {names})")


def plan(preset: Preset, values: Mapping[str, Any], namespace: str, api_client: Any, *,
         read_only: bool = False, now: dt.datetime | None = None, queue: str = "") -> LaunchPlan:
    """Render `preset` and find out, with GETs only, what must be created.

    Raises ParameterError (bad values), PresetError (broken template) or LaunchError (a kind the
    cluster does not serve, an object that already exists, an unreachable cluster)."""
    context = preset.resolve(values, now=now)
    context["namespace"] = namespace
    manifests = preset.render_context(context)
    objects: list[PlannedObject] = []
    notes: list[str] = []
    check_gpu_products(manifests, api_client, notes)
    if queue:
        check_queue(api_client, namespace, queue, manifests)
        for m in manifests:
            if m.get("kind") == "Job":  # Kueue's webhook suspends it until the queue admits it
                m.setdefault("metadata", {}).setdefault("labels", {})[QUEUE_LABEL] = queue
                notes.append(f"submitted through Kueue queue {queue}: it runs when the queue admits it")
    ns_info = discover(api_client, "v1", "Namespace")
    try:
        ns_obj = _get(api_client, ns_info, None, namespace)
        ns_exists: bool | None = ns_obj is not None
    except LaunchError:
        raise
    except Exception as e:  # noqa: BLE001
        if _status(e) != 403:
            raise LaunchError(f"cannot read namespace {namespace}: {_api_error_text(e)}") from None
        ns_obj, ns_exists = None, None
        notes.append(f"not allowed to read namespace {namespace}; assuming it exists")
    ns_manifest = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "gpu-cockpit"}}}
    if ns_exists is False:
        objects.append(PlannedObject(ns_manifest, ns_info, ENSURE))
    elif ns_exists:
        objects.append(PlannedObject({**ns_manifest, "metadata": {"name": namespace}}, ns_info, KEEP,
                                     ns_obj["metadata"].get("resourceVersion")))
    ordered = sorted(manifests, key=lambda m: (0 if m["kind"] == "PersistentVolumeClaim" else 1))
    for manifest in ordered:
        if manifest["kind"] == "Namespace":
            raise LaunchError("a preset may not create a Namespace itself; it is created from -n when missing")
        info = discover(api_client, manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        if info.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        obj = PlannedObject(manifest, info, CREATE)
        if not meta.get("name") or ns_exists is False:
            objects.append(obj)
            if manifest["kind"] in _ENSURED_KINDS:
                obj.action = ENSURE
            continue
        try:
            existing = _get(api_client, info, obj.namespace, meta["name"])
        except LaunchError:
            raise
        except Exception as e:  # noqa: BLE001
            if _status(e) == 403:
                notes.append(f"not allowed to read {obj.ref}: {_api_error_text(e)}")
                existing = None
            else:
                raise LaunchError(f"cannot read {obj.ref}: {_api_error_text(e)}") from None
        if manifest["kind"] in _ENSURED_KINDS:
            if existing is not None:
                obj.action = KEEP
                obj.existing_resource_version = existing["metadata"].get("resourceVersion")
                want = (((manifest.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
                have = (((existing.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
                if want and have and want != have:
                    notes.append(f"{obj.ref} exists with {have}; it is used as it is (asked for {want})")
            else:
                obj.action = ENSURE
        elif existing is not None:
            raise LaunchError(f"{obj.ref} already exists in {obj.namespace or 'the cluster'}; choose another name")
        objects.append(obj)
    read_only = read_only or bool(getattr(api_client, "read_only", False))
    launch_id = uuid.uuid4().hex[:16]
    user = launching_user()
    for obj in objects:
        if obj.action in (CREATE, ENSURE):
            labels = obj.manifest.setdefault("metadata", {}).setdefault("labels", {}) or {}
            labels[LAUNCH_ID_LABEL] = launch_id
            obj.manifest["metadata"]["labels"] = labels
        if obj.action == CREATE and user and obj.manifest.get("kind") in _WORKLOAD_KINDS:
            _label_pods(obj.manifest, USER_LABEL, user)
    return LaunchPlan(preset.name, namespace, context, objects, api_client, read_only, notes, launch_id)


# -- dry run and create --------------------------------------------------------------------------

def _refuse_if_read_only(p: LaunchPlan, read_only: bool, what: str) -> None:
    if p.read_only or read_only or getattr(p.api_client, "read_only", False):
        raise LaunchError(f"read-only mode: refusing to {what} (nothing was sent to the cluster)")


def dry_run(p: LaunchPlan, *, read_only: bool = False) -> list[dict]:
    """Server-side dry run (dryRun=All) of every object the plan creates; returns the objects as
    the server would store them. LaunchError lists every object the server rejects. When the
    namespace does not exist yet its objects are checked in `default`."""
    _refuse_if_read_only(p, read_only, "send dry-run requests")
    ns_missing = any(o.kind == "Namespace" and o.action == ENSURE for o in p.objects)
    results: list[dict] = []
    failures: list[tuple[str, str]] = []
    for obj in p.to_create:
        body = json.loads(json.dumps(obj.manifest, default=str))
        namespace = obj.namespace
        if ns_missing and obj.info.namespaced:
            namespace = "default"
            body["metadata"]["namespace"] = namespace
        try:
            results.append(_call(p.api_client, "POST", obj.info.collection(namespace), body=body,
                                 query=[("dryRun", "All"), ("fieldValidation", "Strict")]))
        except Exception as e:  # noqa: BLE001
            if not _is_api_exception(e):
                raise _unreachable(e) from None
            failures.append((obj.ref, _api_error_text(e)))
    if failures:
        lines = "; ".join(f"{ref}: {msg}" for ref, msg in failures)
        raise LaunchError(f"the cluster rejects {len(failures)} object(s): {lines}", failures)
    return results


@dataclass
class CreatedObject:
    kind: str
    name: str
    namespace: str | None
    uid: str
    info: ResourceInfo = field(repr=False)
    stored: dict = field(repr=False, default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass
class LaunchResult:
    plan: LaunchPlan
    created: list[CreatedObject]
    kept: list[PlannedObject]

    @property
    def workload(self) -> CreatedObject | None:
        for kind in _WORKLOAD_KINDS:
            for c in self.created:
                if c.kind == kind:
                    return c
        return None

    def lines(self) -> list[str]:
        out = [f"{c.ref} created" + (f" in {c.namespace}" if c.namespace else "") for c in self.created]
        out += [f"{o.ref} unchanged (exists)" + (f" in {o.namespace}" if o.namespace else "") for o in self.kept
                if o.kind != "Namespace"]
        return out


def _delete(api_client: Any, c: CreatedObject) -> None:
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
            "preconditions": {"uid": c.uid}}
    try:
        _call(api_client, "DELETE", f"{c.info.collection(c.namespace)}/{c.name}", body=body)
    except Exception as e:
        if _is_api_exception(e) and _status(e) in (404, 409):
            return  # gone already, or replaced by someone else's object of that name
        raise


def create(p: LaunchPlan, *, read_only: bool = False, cancel: threading.Event | None = None) -> LaunchResult:
    """Create the plan's objects in order. If one fails, or the launch is cancelled (`cancel`
    set) or interrupted (KeyboardInterrupt, which `cockpit launch` also raises on SIGTERM), delete
    what this call created and raise: a launch either happens completely or leaves nothing behind."""
    _refuse_if_read_only(p, read_only, "create anything")
    created: list[CreatedObject] = []
    sent: list[PlannedObject] = []  # create requests sent, answered or not
    kept = list(p.kept)
    try:
        for obj in p.to_create:
            if cancel is not None and cancel.is_set():
                raise LaunchCancelled("launch cancelled")
            body = json.loads(json.dumps(obj.manifest, default=str))
            sent.append(obj)
            try:
                stored = _call(p.api_client, "POST", obj.info.collection(obj.namespace), body=body,
                               query=[("fieldValidation", "Strict")])
            except Exception as e:  # noqa: BLE001
                if _is_api_exception(e) and _status(e) == 409 and obj.action == ENSURE:
                    sent.remove(obj)
                    kept.append(PlannedObject(obj.manifest, obj.info, KEEP))  # appeared meanwhile: leave it be
                    continue
                if _is_api_exception(e):
                    sent.remove(obj)  # the server answered: it did not create it
                reason = _api_error_text(e) if _is_api_exception(e) else _unreachable(e).message
                rollback = _rollback(p, created, sent)
                raise LaunchError(f"creating {obj.ref} failed: {reason}. {rollback}", [(obj.ref, reason)]) from None
            meta = stored.get("metadata", {})
            created.append(CreatedObject(obj.kind, meta.get("name", obj.name), meta.get("namespace"),
                                         meta.get("uid", ""), obj.info, stored))
            sent.remove(obj)
        if cancel is not None and cancel.is_set():
            raise LaunchCancelled("launch cancelled")
    except LaunchCancelled:
        raise LaunchCancelled(f"launch cancelled. {_rollback(p, created, sent)}") from None
    except KeyboardInterrupt:
        raise LaunchCancelled(f"launch interrupted. {_rollback(p, created, sent)}") from None
    return LaunchResult(p, created, kept)


def _rollback(p: LaunchPlan, created: list[CreatedObject], unanswered: list[PlannedObject] = ()) -> str:
    """Delete what the launch created: the objects the server confirmed, and those of requests
    that got no answer, found by the launch id label. Never raises."""
    api_client = p.api_client
    found: list[CreatedObject] = []
    problems = []
    seen = {c.uid for c in created}
    for obj in unanswered:
        if not p.launch_id:
            break
        try:
            items = _call(api_client, "GET", obj.info.collection(obj.namespace),
                          query=[("labelSelector", f"{LAUNCH_ID_LABEL}={p.launch_id}")], timeout=10).get("items") or []
        except Exception as e:  # noqa: BLE001
            problems.append(f"{obj.ref} (request unanswered; find it by label {LAUNCH_ID_LABEL}={p.launch_id}): "
                            f"{_api_error_text(e) if _is_api_exception(e) else e}")
            continue
        for item in items:
            meta = item.get("metadata") or {}
            if meta.get("uid") and meta["uid"] not in seen:
                seen.add(meta["uid"])
                found.append(CreatedObject(obj.kind, meta.get("name", ""), meta.get("namespace"), meta["uid"],
                                           obj.info, item))
    every = [*created, *found]
    if not every and not problems:
        return "Nothing had been created."
    for c in [*reversed(found), *reversed(created)]:  # the namespace, when created, goes last
        try:
            _delete(api_client, c)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{c.ref}: {_api_error_text(e) if _is_api_exception(e) else e}")
    names = ", ".join(c.ref for c in every) or "nothing"
    if problems:
        return f"Rolling back {names} failed for: {'; '.join(problems)} - delete these by hand."
    return f"Rolled back: deleted {names}."


# -- following the workload ----------------------------------------------------------------------

@dataclass
class FollowOutcome:
    ok: bool
    state: str  # Succeeded, Failed, Running (pods/deployments that are up), Timeout, Deleted
    message: str = ""


def _conditions(obj: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}


def judge(kind: str, obj: dict) -> tuple[str | None, bool, str]:
    """(terminal state or None, ok, one-line status) of a workload object."""
    status = obj.get("status") or {}
    conds = _conditions(obj)

    def true(t: str) -> dict | None:
        c = conds.get(t)
        return c if c and c.get("status") == "True" else None

    if kind == "Job":
        line = (f"active={status.get('active', 0)} succeeded={status.get('succeeded', 0)} "
                f"failed={status.get('failed', 0)}")
        if true("Complete"):
            return "Succeeded", True, line
        if (c := true("Failed")) is not None:
            return "Failed", False, f"{c.get('reason', '')}: {c.get('message', '')}".strip(": ")
        return None, False, line
    if kind == "Workflow":
        phase = status.get("phase") or "Pending"
        msg = status.get("message") or ""
        line = f"phase={phase}" + (f" progress={status['progress']}" if status.get("progress") else "")
        if phase == "Succeeded":
            return "Succeeded", True, line
        if phase in ("Failed", "Error"):
            return "Failed", False, msg or f"workflow {phase}"
        return None, False, line + (f" ({msg})" if msg else "")
    if kind == "Experiment":
        line = (f"trials={status.get('trials', 0)} succeeded={status.get('trialsSucceeded', 0)} "
                f"running={status.get('trialsRunning', 0)} failed={status.get('trialsFailed', 0)}")
        if true("Succeeded"):
            return "Succeeded", True, line
        if (c := true("Failed")) is not None:
            return "Failed", False, c.get("message") or "experiment failed"
        return None, False, line
    if kind == "Pod":
        phase = status.get("phase") or "Pending"
        if phase == "Succeeded":
            return "Succeeded", True, phase
        if phase == "Failed":
            return "Failed", False, status.get("message") or status.get("reason") or "pod failed"
        restart = (obj.get("spec") or {}).get("restartPolicy", "Always")
        if phase == "Running" and restart == "Always" and true("Ready"):
            return "Running", True, "Running and ready"
        sched = conds.get("PodScheduled")
        if sched and sched.get("status") == "False":
            return None, False, f"{phase}: {sched.get('reason', '')} {sched.get('message', '')}".strip()
        return None, False, phase
    if kind in ("Deployment", "StatefulSet"):
        want = (obj.get("spec") or {}).get("replicas", 1)
        ready = status.get("readyReplicas", 0)
        line = f"ready={ready}/{want}"
        if (c := conds.get("Progressing")) and c.get("reason") == "ProgressDeadlineExceeded":
            return "Failed", False, c.get("message", "progress deadline exceeded")
        if ready >= want and status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0):
            return "Running", True, line
        return None, False, line
    return "Succeeded", True, "created"


def _lines(resp: Any) -> Iterator[bytes]:
    pending = b""
    for chunk in resp.stream(65536, decode_content=False):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def watch_object(api_client: Any, info: ResourceInfo, namespace: str | None, name: str,
                 deadline: float | None, stop: threading.Event | None = None) -> Iterator[dict | None]:
    """Yield the object now and on every change (a watch, resumed after expiry); None when it
    is deleted. Ends at `deadline` (time.monotonic) or when `stop` is set."""
    path = info.collection(namespace)
    selector = f"metadata.name={name}"
    resource_version = None
    while True:
        if resource_version is None:
            listing = _call(api_client, "GET", path, query=[("fieldSelector", selector)])
            items = listing.get("items") or []
            resource_version = (listing.get("metadata") or {}).get("resourceVersion")
            yield items[0] if items else None
        remaining = None if deadline is None else deadline - time.monotonic()
        if (remaining is not None and remaining <= 0) or (stop is not None and stop.is_set()):
            return
        window = int(max(1, min(remaining if remaining is not None else 240, 240)))
        if stop is not None:
            window = min(window, 5)
        query = [("watch", "true"), ("fieldSelector", selector), ("resourceVersion", resource_version),
                 ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(window))]
        resp = _call(api_client, "GET", path, query=query, preload=False, timeout=(_TIMEOUT, window + 30))
        try:
            for raw in _lines(resp):
                event = json.loads(raw)
                etype, obj = event.get("type"), event.get("object") or {}
                if etype == "ERROR":
                    if obj.get("code") == 410:  # our resourceVersion is too old: list again
                        resource_version = None
                        break
                    raise LaunchError(f"watching {info.kind.lower()}/{name} failed: {obj.get('message', obj)}")
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:
                    resource_version = rv
                if etype == "BOOKMARK":
                    continue
                yield None if etype == "DELETED" else obj
        finally:
            resp.release_conn()


def follow(result: LaunchResult, on_status: Callable[[str], Any] | None = None, *, timeout: float | None = None,
           stop: threading.Event | None = None) -> FollowOutcome:
    """Watch the launched workload until it succeeds, fails, is up (pods and deployments that
    run until stopped), is deleted, `timeout` seconds pass or `stop` is set. `on_status(line)`
    gets each new status line."""
    target = result.workload
    if target is None:
        return FollowOutcome(True, "Succeeded", "nothing to follow")
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    try:
        for obj in watch_object(result.plan.api_client, target.info, target.namespace, target.name, deadline, stop):
            if obj is None:
                return FollowOutcome(False, "Deleted", f"{target.ref} was deleted")
            state, ok, line = judge(target.kind, obj)
            if line != last and on_status is not None:
                on_status(f"{target.ref}: {line}")
            last = line
            if state is not None:
                return FollowOutcome(ok, state, line)
    except LaunchError:
        raise
    except Exception as e:  # noqa: BLE001
        if _is_api_exception(e):
            raise LaunchError(f"following {target.ref} failed: {_api_error_text(e)}") from None
        raise LaunchError(f"following {target.ref} failed: {e}") from None
    if stop is not None and stop.is_set():
        return FollowOutcome(False, "Stopped", "stopped following")
    why = _pod_trouble(result.plan.api_client, target)
    verb = "was not up" if target.kind in ("Pod", "Deployment", "StatefulSet") else "did not finish"
    return FollowOutcome(False, "Timeout", f"{target.ref} {verb} within {timeout or 0:g}s ({last})"
                         + (f"; {why}" if why else ""))


def _pod_trouble(api_client: Any, target: CreatedObject) -> str:
    """Why the pods of a Job are not getting anywhere (unschedulable, waiting), if one says."""
    if target.kind != "Job" or not target.namespace:
        return ""
    try:
        pods = _call(api_client, "GET", f"/api/v1/namespaces/{target.namespace}/pods",
                     query=[("labelSelector", f"job-name={target.name}")]).get("items") or []
    except Exception:  # noqa: BLE001 - only an explanation; the timeout is the news
        return ""
    for pod in pods:
        status = pod.get("status") or {}
        name = pod["metadata"]["name"]
        sched = _conditions(pod).get("PodScheduled")
        if sched and sched.get("status") == "False":
            return f"pod {name} is not scheduled: {sched.get('message') or sched.get('reason')}"
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                return f"pod {name}: {waiting.get('reason')} {waiting.get('message') or ''}".strip()
        if status.get("phase") == "Pending" and not (pod.get("spec") or {}).get("nodeName"):
            return f"pod {name} is Pending and not yet scheduled"
    return ""
