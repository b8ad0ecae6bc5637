"""Why is it not running? One line for a Pending pod, a Job, a Kueue Workload or a PVC, from
what the scheduler, Kueue and the storage layer said about it.

The pure functions read raw objects; `explain` fetches what they need (blocking: a worker or
the CLI). Every string that comes from the cluster is cleaned before it is returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.informer import Resource
from cockpit.kube.kueue import GROUP, QUEUE_LABEL, VERSION
from cockpit.kube.text import clean

Obj = Mapping[str, Any]

PODS = Resource("", "v1", "pods")
PVCS = Resource("", "v1", "persistentvolumeclaims")
JOBS = Resource("batch", "v1", "jobs")
NODES = Resource("", "v1", "nodes", namespaced=False)
STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", namespaced=False)
WORKLOADS = Resource(GROUP, VERSION, "workloads")
# The GA annotation, and the beta one older clusters still carry (kubectl reads both).
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")

_AVAILABLE = re.compile(r"^0/(\d+) nodes are available:\s*")
_PREEMPTION = re.compile(r"\s*preemption:.*$", re.S)


def _condition(obj: Obj, kind: str) -> Obj | None:
    for c in ((obj.get("status") or {}).get("conditions") or ()):
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def scheduler_summary(message: str) -> str:
    """"0/12 nodes are available: 3 Insufficient nvidia.com/gpu, 9 node(s) didn't match Pod's node
    affinity/selector. preemption: ..." -> "no node fits (of 12): 3 Insufficient nvidia.com/gpu,
    9 node(s) didn't match Pod's node affinity/selector"."""
    text = " ".join(str(message).split())
    text = _PREEMPTION.sub("", text)
    m = _AVAILABLE.match(text)
    if m:
        # The per-node reasons end at the first full stop; what follows is about preemption
        # and dynamic resource claims, not about why no node fits.
        reasons = text[m.end():].split(". ", 1)[0]
        text = f"no node fits (of {m.group(1)}): " + reasons
    return clean(text.rstrip(". ,"), 300)


def _selector_nobody_has(pod: Obj, nodes: Iterable[Obj]) -> str:
    """A nodeSelector no node carries (a GPU product the cluster does not have)."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if not selector:
        return ""
    labels = [((n.get("metadata") or {}).get("labels") or {}) for n in nodes]
    if not labels:
        return ""
    for key, value in selector.items():
        if not any(lab.get(key) == value for lab in labels):
            return f"no node has {clean(key, 100)}={clean(value, 100)}"
    return ""


def pvc_reason(pvc: Obj, storage_classes: Iterable[Obj] = ()) -> str:
    """Why a claim is Pending, without its name (the PVC pane's WHY PENDING), or ""."""
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase != "Pending":
        return ""
    cls = (pvc.get("spec") or {}).get("storageClassName")
    classes = {(c.get("metadata") or {}).get("name"): c for c in storage_classes}
    if cls is None:
        default = [n for n, c in classes.items() if is_default_class(c)]
        if classes and not default:
            return "names no StorageClass and none is the default"
        cls = default[0] if default else None
    if cls and classes and cls not in classes:
        return f"StorageClass {clean(cls, 100)} does not exist"
    if cls and (classes.get(cls) or {}).get("volumeBindingMode") == "WaitForFirstConsumer":
        return "waits for its first pod to be scheduled (WaitForFirstConsumer)"
    return "no volume bound yet"


def why_pvc(pvc: Obj, storage_classes: Iterable[Obj] = ()) -> str:
    reason = pvc_reason(pvc, storage_classes)
    if not reason:
        return ""
    name = clean((pvc.get("metadata") or {}).get("name", ""), 100)
    return f"claim {name} {reason}" if reason.startswith("waits") else f"claim {name} is Pending: {reason}"


def is_default_class(sc: Obj) -> bool:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return any(str(annotations.get(a, "")).lower() == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def why_pod(pod: Obj, *, nodes: Iterable[Obj] = (), pvcs: Mapping[str, Obj] | None = None,
            storage_classes: Iterable[Obj] = ()) -> str:
    """Why a pod is not running, or "" when it runs (or is done)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase != "Pending" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return ""
    spec = pod.get("spec") or {}
    gates = [g.get("name", "") for g in spec.get("schedulingGates") or () if isinstance(g, Mapping)]
    if gates:
        return "held by scheduling gate " + ", ".join(clean(g, 100) for g in gates)
    for vol in spec.get("volumes") or ():
        claim = ((vol or {}).get("persistentVolumeClaim") or {}).get("claimName")
        if claim and pvcs is not None:
            pvc = pvcs.get(claim)
            if pvc is None:
                return f"claim {clean(claim, 100)} does not exist"
            why = why_pvc(pvc, storage_classes)
            if why:
                return why
    nodes = list(nodes)
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        missing = _selector_nobody_has(pod, nodes)
        if missing:
            return missing
        if scheduled.get("message"):
            return scheduler_summary(scheduled["message"])
        return clean(scheduled.get("reason") or "not scheduled yet", 100)
    if not spec.get("nodeName"):
        return _selector_nobody_has(pod, nodes) or "waiting for the scheduler"
    for cs in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            msg = waiting.get("message") or ""
            return clean(f"{waiting['reason']}: {msg}" if msg else waiting["reason"], 300)
    return "starting on " + clean(spec.get("nodeName"), 100)


_QUOTA = re.compile(r"insufficient unused quota for (\S+) in flavor (\S+), (\S+) more needed")
_PREEMPTED_BY = {"InClusterQueue": "a higher-priority workload of the same queue",
                 "InCohortReclamation": "its queue reclaiming lent quota",
                 "InCohortReclaimWhileBorrowing": "a queue reclaiming quota this one borrowed",
                 "InCohortFairSharing": "fair sharing in the cohort"}


def kueue_reason(message: str) -> str:
    """Kueue's flavor-assignment message in a few words: what quota is short, where. Flavors that
    could never fit (node affinity, taints) are left out unless nothing else is said."""
    text = " ".join(str(message).split())
    _, sep, rest = text.partition(": ")
    body = rest if sep and text.startswith("couldn't assign flavors") else text
    short = [f"needs {m.group(3)} more {m.group(1)} of {m.group(2)} quota" for m in _QUOTA.finditer(body)]
    if short:
        return clean("; ".join(short), 240)
    return clean(body, 240)


def why_workload(wl: Obj, position: tuple[int, int] | None = None) -> str:
    """Kueue's reason in a few words, with the workload's place in its queue when known; "" when
    it is admitted or finished."""
    for kind in ("Finished", "Admitted"):
        c = _condition(wl, kind)
        if c and c.get("status") == "True":
            return ""
    parts = []
    preempted = _condition(wl, "Preempted")
    evicted = _condition(wl, "Evicted")
    if preempted and preempted.get("status") == "True":
        parts.append("preempted by " + _PREEMPTED_BY.get(str(preempted.get("reason")), "Kueue"))
    elif evicted and evicted.get("status") == "True":
        parts.append("evicted: " + clean(evicted.get("reason") or evicted.get("message") or "", 120))
    waiting = _condition(wl, "QuotaReserved")
    if waiting and waiting.get("status") == "False" and (waiting.get("message") or waiting.get("reason")):
        parts.append(kueue_reason(waiting.get("message") or waiting.get("reason")))
    if (wl.get("spec") or {}).get("active") is False:
        parts.append("deactivated")
    if position:
        parts.append(f"position {position[0]} of {position[1]} in {clean((wl.get('spec') or {}).get('queueName'), 63)}")
    return "Kueue: " + "; ".join(parts) if parts else "Kueue: waiting to be considered"


def why_job(job: Obj, *, workload: Obj | None = None, pods: Iterable[Obj] = (), **pod_context) -> str:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    for kind in ("Complete", "Failed"):
        c = _condition(job, kind)
        if c and c.get("status") == "True":
            return ""
    if spec.get("suspend"):
        if workload is not None:
            return why_workload(workload)
        queue = ((job.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL)
        if queue:
            return f"suspended until Kueue admits it to queue {clean(queue, 63)}"
        return "suspended (spec.suspend is true)"
    for pod in pods:
        why = why_pod(pod, **pod_context)
        if why:
            return why
    if not status.get("active") and not status.get("succeeded"):
        return "no pods yet"
    return ""


# -- fetching what the answer needs (blocking) ---------------------------------------------------

def _get(api, resource: Resource, namespace: str, name: str) -> dict | None:
    from cockpit.kube.rest import api_errors

    from cockpit.kube.connection import object_path, request_json

    try:
        return request_json(api, "GET", object_path(resource, namespace, name), timeout=(5, 20))
    except api_errors() as e:
        if e.status == 404:
            return None
        raise


def _list(api, resource: Resource, namespace: str | None = None, query=None) -> list[dict]:
    from cockpit.kube.rest import api_errors

    from cockpit.kube.connection import request_json

    try:
        return request_json(api, "GET", resource.path(namespace), query=query, timeout=(5, 30)).get("items") or []
    except api_errors() as e:
        if e.status in (403, 404):
            return []
        raise


def _workload_for(api, namespace: str, owner_uid: str) -> dict | None:
    for wl in _list(api, WORKLOADS, namespace):
        for ref in (wl.get("metadata") or {}).get("ownerReferences") or ():
            if ref.get("uid") == owner_uid:
                return wl
    return None


def _position(api, wl: Obj) -> tuple[int, int] | None:
    """The workload's place among its LocalQueue's waiting workloads, in Kueue's order."""
    meta, spec = wl.get("metadata") or {}, wl.get("spec") or {}
    queue = spec.get("queueName")
    waiting = []
    for other in _list(api, WORKLOADS, meta.get("namespace")):
        if (other.get("spec") or {}).get("queueName") != queue or why_workload(other) == "":
            continue
        om = other.get("metadata") or {}
        waiting.append((-int((other.get("spec") or {}).get("priority") or 0), om.get("creationTimestamp") or "",
                        om.get("name")))
    waiting.sort()
    names = [n for _, _, n in waiting]
    return (names.index(meta.get("name")) + 1, len(names)) if meta.get("name") in names else None


def explain(api, namespace: str, name: str) -> tuple[str, str]:
    """(what was found, why it is not running) for NAMESPACE/NAME: a Job, a Workload, a pod or a
    PVC of that name (in that order). ("", "") when there is nothing of that name."""
    pod_context = lambda: {"nodes": _list(api, NODES),  # noqa: E731 - fetched only when needed
                           "pvcs": {(p.get("metadata") or {}).get("name"): p for p in _list(api, PVCS, namespace)},
                           "storage_classes": _list(api, STORAGE_CLASSES)}
    job = _get(api, JOBS, namespace, name)
    if job is not None:
        uid = (job.get("metadata") or {}).get("uid", "")
        wl = _workload_for(api, namespace, uid) if (job.get("spec") or {}).get("suspend") else None
        if wl is not None:
            return f"Job {namespace}/{name}", why_workload(wl, _position(api, wl)) or "admitted"
        pods = _list(api, PODS, namespace, [("labelSelector", f"batch.kubernetes.io/controller-uid={uid}")])
        return f"Job {namespace}/{name}", why_job(job, pods=pods, **pod_context()) or "running (or done)"
    wl = _get(api, WORKLOADS, namespace, name) if namespace else None
    if wl is not None:
        return f"Workload {namespace}/{name}", why_workload(wl, _position(api, wl)) or "admitted"
    pod = _get(api, PODS, namespace, name)
    if pod is not None:
        return f"Pod {namespace}/{name}", why_pod(pod, **pod_context()) or "running (or done)"
    pvc = _get(api, PVCS, namespace, name)
    if pvc is not None:
        return f"PersistentVolumeClaim {namespace}/{name}", why_pvc(pvc, _list(api, STORAGE_CLASSES)) or "bound"
    return "", ""


def why_for(api, obj: Obj) -> str:
    """Why-pending for describe: the same reasons `cockpit why` gives, for the object shown (a
    pod, Job, Workload or PVC); "" for other kinds and for what runs. Blocking."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    if kind == "Pod":
        if (obj.get("status") or {}).get("phase", "Pending") != "Pending":
            return ""
        return why_pod(obj, nodes=_list(api, NODES),
                       pvcs={(p.get("metadata") or {}).get("name"): p for p in _list(api, PVCS, namespace)},
                       storage_classes=_list(api, STORAGE_CLASSES))
    if kind == "Job":
        _, why = explain(api, namespace, meta.get("name", ""))
        return "" if why in ("running (or done)", "admitted") else why
    if kind == "Workload":
        return why_workload(obj, _position(api, obj))
    if kind == "PersistentVolumeClaim":
        return why_pvc(obj, _list(api, STORAGE_CLASSES))
    return ""
