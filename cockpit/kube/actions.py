"""What the cockpit may change in a cluster: deletes, kills, Argo workflow controls, Katib
restarts, scaling and restarting workloads, and the clean-up of finished work. Blocking calls: run them in worker threads.

Every request goes through the API client's read-only guard (see `connection.guard_read_only`),
so these functions need no read-only checks of their own to be safe; they check anyway to
refuse before doing any preparatory reads.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass


from cockpit.kube.connection import ReadOnlyRefused, object_path, request_json
from cockpit.kube.informer import Resource
from cockpit.kube.rows import parse_time

PODS = Resource("", "v1", "pods")
JOBS = Resource("batch", "v1", "jobs")
WF = Resource("argoproj.io", "v1alpha1", "workflows")
EXPERIMENT = Resource("kubeflow.org", "v1beta1", "experiments")
_CLEANUP_RESOURCES = {"pods": PODS, "jobs": JOBS}  # what :cleanup deletes


class ActionError(Exception):
    pass


def _refuse_if_read_only(api) -> None:
    if getattr(api, "read_only", False):
        raise ReadOnlyRefused("read-only: the cockpit changes nothing in this cluster")


def _call(api, path: str, method: str, body=None, query=None, content_type: str = "application/json"):
    return request_json(api, method, path, query=query, body=body, content_type=content_type, timeout=(5, 30))


def _obj_path(resource: Resource, namespace: str, name: str) -> str:
    return object_path(resource, namespace, name)


def get(api, resource: Resource, namespace: str, name: str) -> dict:
    return _call(api, _obj_path(resource, namespace, name), "GET")


def delete(api, resource: Resource, namespace: str, name: str, *, uid: str | None = None,
           grace_seconds: int | None = None, propagation: str = "Background") -> None:
    """Delete one object. Background propagation: a Job's pods go with it, none orphaned. With
    `uid`, only that very object: a same-named replacement created since is left alone."""
    _refuse_if_read_only(api)
    body: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
    if grace_seconds is not None:
        body["gracePeriodSeconds"] = grace_seconds
    if uid:
        body["preconditions"] = {"uid": uid}
    _call(api, _obj_path(resource, namespace, name), "DELETE", body=body)


def kill_pod(api, namespace: str, name: str, uid: str | None = None) -> None:
    delete(api, PODS, namespace, name, uid=uid, grace_seconds=0)


# -- Argo (DOMAIN.md section 4) ----------------------------------------------------------------

FINISHED = {"Succeeded", "Failed", "Error"}


def merge_patch(api, resource: Resource, namespace: str, name: str, patch: dict) -> dict:
    """A JSON merge patch (RFC 7386) of one object; returns the object as the server now has it."""
    _refuse_if_read_only(api)
    return _call(api, _obj_path(resource, namespace, name), "PATCH", body=patch,
                 content_type="application/merge-patch+json")


def _workflow(api, namespace: str, name: str) -> dict:
    return get(api, WF, namespace, name)


def workflow_shutdown(api, namespace: str, name: str, strategy: str) -> None:
    """strategy "Stop" (exit handlers run) or "Terminate"; refused for finished workflows."""
    _refuse_if_read_only(api)
    wf = _workflow(api, namespace, name)
    phase = (wf.get("status") or {}).get("phase", "")
    if phase in FINISHED:
        raise ActionError(f"workflow {name} has already finished ({phase}); nothing to {strategy.lower()}")
    merge_patch(api, WF, namespace, name, {"spec": {"shutdown": strategy}})


def workflow_suspend(api, namespace: str, name: str) -> None:
    _refuse_if_read_only(api)
    wf = _workflow(api, namespace, name)
    if (wf.get("status") or {}).get("phase", "") in FINISHED:
        raise ActionError(f"workflow {name} has already finished")
    merge_patch(api, WF, namespace, name, {"spec": {"suspend": True}})


def workflow_resume(api, namespace: str, name: str) -> None:
    """Unset spec.suspend and mark running Suspend nodes Succeeded, as `argo resume` does."""
    _refuse_if_read_only(api)
    wf = _workflow(api, namespace, name)
    nodes = (wf.get("status") or {}).get("nodes") or {}
    patch: dict = {"spec": {"suspend": None}}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    resumed = {nid: {"phase": "Succeeded", "finishedAt": now, "message": "resumed"}
               for nid, n in nodes.items() if n.get("type") == "Suspend" and n.get("phase") == "Running"}
    if resumed:
        patch["status"] = {"nodes": resumed}
    merge_patch(api, WF, namespace, name, patch)


def workflow_retry(api, namespace: str, name: str, pod_gone_timeout: float = 60.0) -> str:
    """Retry a Failed/Error workflow: delete the pods of its failed steps (waiting until they
    are gone), drop those nodes from the status, reset the groups holding them, and hand it back
    to the controller as running. Returns the workflow's name."""
    _refuse_if_read_only(api)
    _, pods = _retried(_workflow(api, namespace, name))
    # The old pods go first, and are waited for: a rerun step gets the same pod name (a hash of
    # the node name), so a controller that still sees the old pod adopts it and then loses it to
    # the deletion ("pods ... not found"). `argo retry` also deletes before it updates.
    _delete_and_wait(api, namespace, pods, timeout=pod_gone_timeout)
    wf, _ = _retried(_workflow(api, namespace, name))  # fresh: the controller may have written meanwhile
    _call(api, _obj_path(WF, namespace, name), "PUT", body=wf)
    return name


def _retried(wf: dict) -> tuple[dict, list[str]]:
    """The workflow as a retry writes it back, and the pods of the failed steps."""
    from cockpit.kube.argo import workflow_node_pod_name

    name = wf["metadata"]["name"]
    status = wf.get("status") or {}
    if status.get("phase") not in ("Failed", "Error"):
        raise ActionError(f"workflow {name} is {status.get('phase') or 'not finished'}; only Failed or Error "
                          "workflows can be retried")
    nodes = copy.deepcopy(status.get("nodes") or {})
    bad = {nid for nid, n in nodes.items() if n.get("phase") in ("Failed", "Error", "Omitted")}
    # Failed steps go (the controller runs them again); the groups above them are reset to
    # running; steps that succeeded stay done and are not re-run.
    failed = {nid for nid in bad if nodes[nid].get("type") in ("Pod", "Container", "HTTP", "Plugin", "Skipped")}
    pods = sorted(workflow_node_pod_name(name, nodes[nid]) for nid in failed if nodes[nid].get("type") == "Pod")
    for nid in failed:
        nodes.pop(nid, None)
    for nid in bad - failed:
        node = nodes[nid]
        node["phase"] = "Running"
        node.pop("finishedAt", None)
        node.pop("message", None)
    for n in nodes.values():
        n["children"] = [c for c in n.get("children") or [] if c not in failed]
    # As `argo retry` does: the workflow looks never finished, so the controller takes it up.
    labels = wf["metadata"].setdefault("labels", {})
    for label in ("workflows.argoproj.io/completed", "workflows.argoproj.io/workflow-archiving-status",
                  "workflows.argoproj.io/phase"):
        labels.pop(label, None)
    status.update(phase="", nodes=nodes, message="", conditions=[{"type": "Completed", "status": "False"}],
                  startedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    status.pop("finishedAt", None)
    wf["status"] = status
    spec = wf.setdefault("spec", {})
    spec.pop("shutdown", None)
    return wf, pods


def _delete_and_wait(api, namespace: str, pods: list[str], *, timeout: float) -> None:
    from cockpit.kube.rest import api_errors

    resource = PODS
    waiting = []
    for pod in pods:
        try:
            delete(api, resource, namespace, pod, grace_seconds=0)
            waiting.append(pod)
        except api_errors() as e:
            if e.status != 404:  # already gone: garbage collected with the workflow's pods
                raise
    deadline = time.monotonic() + timeout
    while waiting:
        still = []
        for pod in waiting:
            try:
                get(api, resource, namespace, pod)
                still.append(pod)
            except api_errors() as e:
                if e.status != 404:
                    raise
        waiting = still
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise ActionError(f"pods of the failed steps are still terminating ({', '.join(waiting)}); "
                              "nothing was retried, try again in a moment")
        time.sleep(0.25)


def workflow_resubmit(api, namespace: str, name: str) -> str:
    """A new workflow from the same spec; returns its name."""
    _refuse_if_read_only(api)
    wf = _workflow(api, namespace, name)
    labels = {k: v for k, v in ((wf.get("metadata") or {}).get("labels") or {}).items()
              if not k.startswith("workflows.argoproj.io/")}
    labels["workflows.argoproj.io/resubmitted-from-workflow"] = name
    spec = dict(wf.get("spec") or {})
    spec.pop("shutdown", None)
    spec.pop("suspend", None)
    # Like `argo resubmit`: the workflow's own generateName, else "<name>-" (cutting the name at
    # its last dash turned ux-wf2 into ux-xpr98).
    generate = (wf.get("metadata") or {}).get("generateName") or f"{name}-"
    new = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
           "metadata": {"generateName": generate, "namespace": namespace, "labels": labels},
           "spec": spec}
    created = _call(api, WF.path(namespace), "POST", body=new)
    return (created.get("metadata") or {}).get("name", "")


WORKFLOW_ACTIONS = {
    "stop": lambda api, ns, n: workflow_shutdown(api, ns, n, "Stop"),
    "terminate": lambda api, ns, n: workflow_shutdown(api, ns, n, "Terminate"),
    "suspend": workflow_suspend,
    "resume": workflow_resume,
    "retry": workflow_retry,
    "resubmit": workflow_resubmit,
}


# -- Katib -------------------------------------------------------------------------------------

def experiment_restart(api, namespace: str, name: str, more_trials: int = 3) -> int:
    """Raise maxTrialCount of a finished experiment whose resumePolicy allows a restart; the
    Katib controller then runs the extra trials. Returns the new maxTrialCount."""
    _refuse_if_read_only(api)
    exp = get(api, EXPERIMENT, namespace, name)
    spec, status = exp.get("spec") or {}, exp.get("status") or {}
    policy = spec.get("resumePolicy") or "Never"
    if policy == "Never":
        raise ActionError(f"experiment {name} has resumePolicy Never: it cannot be restarted")
    done = any(c.get("type") in ("Succeeded", "Failed") and c.get("status") == "True"
               for c in status.get("conditions") or [])
    if not done:
        raise ActionError(f"experiment {name} is still running")
    new_max = int(spec.get("maxTrialCount") or status.get("trials") or 0) + more_trials
    merge_patch(api, EXPERIMENT, namespace, name, {"spec": {"maxTrialCount": new_max}})
    return new_max


# -- workloads: Deployments, StatefulSets, ReplicaSets, DaemonSets, CronJobs -------------------

def create(api, resource: Resource, namespace: str, body: dict) -> dict:
    """Create one object; returns it as the server made it (its generated name, uid)."""
    _refuse_if_read_only(api)
    return _call(api, resource.path(namespace if resource.namespaced else None), "POST", body=body)


def replica_count(text: str) -> int:
    """The answer to "Replicas": a whole number, 0 or more."""
    value = str(text).strip()
    if not value.isdigit() or not value.isascii():
        raise ActionError(f"replicas must be a whole number, 0 or more (not {value[:20]!r}); nothing was scaled")
    return int(value)


def scale(api, resource: Resource, namespace: str, name: str, replicas: str | int) -> int:
    """Set spec.replicas (a merge patch, as `kubectl scale` ends up doing); returns the count."""
    _refuse_if_read_only(api)
    count = replica_count(str(replicas))
    merge_patch(api, resource, namespace, name, {"spec": {"replicas": count}})
    return count


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def rollout_restart(api, resource: Resource, namespace: str, name: str, now: float | None = None) -> str:
    """`kubectl rollout restart`: a new pod-template annotation, so the controller replaces the
    pods (one by one, by the object's update strategy). Returns the timestamp written."""
    _refuse_if_read_only(api)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    merge_patch(api, resource, namespace, name,
                {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}})
    return stamp


# -- clean-up ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CleanupItem:
    kind: str  # kinds id: "jobs" | "pods"
    namespace: str
    name: str
    uid: str
    reason: str
    age_seconds: float
    gpus: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"


def _list(api, resource: Resource, namespace: str | None) -> list[dict]:
    items, cont = [], ""
    while True:
        q = [("limit", 500)] + ([("continue", cont)] if cont else [])
        body = _call(api, resource.path(namespace), "GET", query=q)
        items.extend(body.get("items") or [])
        cont = (body.get("metadata") or {}).get("continue") or ""
        if not cont:
            return items


def cleanup_preview(api, *, finished_after: float, idle_dev_pod_after: float, namespace: str | None = None,
                    now: float | None = None, gpu_names=None, gpu_prefixes=None) -> list[CleanupItem]:
    """What `:cleanup` offers to delete: Jobs finished longer ago than `finished_after`, bare
    finished pods as old, and GPU-holding pods nobody controls that have run longer than
    `idle_dev_pod_after` (dev boxes left running). Pods owned by a listed Job are not listed
    twice: they go with their Job."""
    from cockpit.kube import gpu

    now = time.time() if now is None else now
    names = gpu_names or gpu.DEFAULT_GPU_RESOURCES
    prefixes = gpu_prefixes or gpu.DEFAULT_GPU_PREFIXES
    out: list[CleanupItem] = []
    for job in _list(api, JOBS, namespace):
        meta, st = job.get("metadata") or {}, job.get("status") or {}
        finished = None
        for c in st.get("conditions") or []:
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                finished = parse_time(c.get("lastTransitionTime")) or parse_time(st.get("completionTime"))
                reason = "completed" if c["type"] == "Complete" else "failed"
        if finished is not None and now - finished >= finished_after:
            out.append(CleanupItem("jobs", meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""),
                                   f"job {reason} {int((now - finished) // 60)}m ago", now - finished))
    for pod in _list(api, PODS, namespace):
        meta, st = pod.get("metadata") or {}, pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            continue
        owners = meta.get("ownerReferences") or []
        controlled = any(o.get("controller") for o in owners)
        phase = st.get("phase")
        started = parse_time(st.get("startTime")) or parse_time(meta.get("creationTimestamp")) or now
        if phase in ("Succeeded", "Failed") and not controlled:
            ended = max((parse_time((cs.get("state") or {}).get("terminated", {}).get("finishedAt")) or started
                         for cs in st.get("containerStatuses") or []), default=started)
            if now - ended >= finished_after:
                out.append(CleanupItem("pods", meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""),
                                       f"pod {phase.lower()} {int((now - ended) // 60)}m ago", now - ended))
        elif phase == "Running" and not controlled:
            held = sum(gpu.gpu_requests(pod, names, prefixes).values())
            if held and now - started >= idle_dev_pod_after:
                out.append(CleanupItem("pods", meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""),
                                       f"holds {held:g} GPU, running {int((now - started) // 3600)}h",
                                       now - started, held))
    return sorted(out, key=lambda i: (i.kind, i.namespace, i.name))


def cleanup_delete(api, items: list[CleanupItem]) -> tuple[list[CleanupItem], list[tuple[CleanupItem, str]]]:
    """Delete exactly `items` (by uid). Returns (deleted, failures with their reason)."""
    _refuse_if_read_only(api)
    done, failed = [], []
    for item in items:
        try:
            delete(api, _CLEANUP_RESOURCES[item.kind], item.namespace, item.name, uid=item.uid)
            done.append(item)
        except Exception as e:  # report per item, carry on with the rest
            failed.append((item, getattr(e, "reason", None) or str(e)[:200]))
    return done, failed
