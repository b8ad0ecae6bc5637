"""One small function per doctor check, over objects already fetched (raw API JSON).

Each returns a `CheckResult`: ok / warning / failed, what it saw (naming the node or object),
and the fix. Nothing here talks to the cluster, so every check is tested on recorded objects.
Every string that came from the cluster goes through `clean` before it lands in a result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cockpit.kube.gpu import gpu_requests, is_mig_resource, node_gpu_info, node_ready
from cockpit.kube.quantity import parse_quantity
from cockpit.kube.text import clean

OK, WARNING, FAILED = "ok", "warning", "failed"
PENDING_GPU_AFTER = 600  # seconds: a GPU pod pending longer than this is stuck, not starting
UNPICKED_WORKFLOW_AFTER = 120  # seconds: a workflow the controller has not touched by then
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
GFD_LABELS = ("nvidia.com/gpu.product", "nvidia.com/gpu.memory", "nvidia.com/gpu.count")
CORDON_TAINT = "node.kubernetes.io/unschedulable"
LIST_LIMIT = 6  # objects named in one line before "and N more"


@dataclass(frozen=True)
class CheckResult:
    id: str
    name: str
    status: str  # ok | warning | failed
    saw: str
    fix: str = ""
    objects: tuple[str, ...] = ()  # the nodes/objects the result is about, e.g. "node/gpu-a100-01"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "status": self.status, "saw": self.saw, "fix": self.fix,
                "objects": list(self.objects)}


@dataclass(frozen=True)
class Unreadable:
    """A kind the user could not list (forbidden, not served): checks that need it say so."""

    kind: str
    why: str


def cannot_read(id_: str, name: str, missing: Unreadable) -> CheckResult:
    return CheckResult(id_, name, WARNING, f"cannot read {missing.kind}: {clean(missing.why, 200)}",
                       "ask for read access to it, or run doctor with a context that has it")


# -- small helpers -----------------------------------------------------------------------------

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: Mapping[str, Any]) -> str:
    return clean(_meta(obj).get("name", ""), 253)


def key_of(obj: Mapping[str, Any]) -> str:
    ns = _meta(obj).get("namespace")
    return f"{clean(ns, 63)}/{name_of(obj)}" if ns else name_of(obj)


def _listing(items: Sequence[str], limit: int = LIST_LIMIT) -> str:
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _worst(statuses: Iterable[str]) -> str:
    s = set(statuses)
    return FAILED if FAILED in s else WARNING if WARNING in s else OK


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_time(s: object) -> dt.datetime | None:
    if not isinstance(s, str) or not s:
        return None
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


def age_seconds(obj: Mapping[str, Any], now: dt.datetime) -> float | None:
    t = parse_time(_meta(obj).get("creationTimestamp"))
    return (now - t).total_seconds() if t else None


def _ago(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def is_gpu_node(node: Mapping[str, Any], plugin_nodes: Iterable[str] = ()) -> bool:
    """GPU labels, GPU resources, or a device-plugin pod on it: the three ways a GPU node shows."""
    labels = _meta(node).get("labels") or {}
    if labels.get("nvidia.com/gpu.present") == "true" or any(k in labels for k in GFD_LABELS):
        return True
    if node_gpu_info(node).pools:
        return True
    return _meta(node).get("name") in set(plugin_nodes)


def gpu_nodes(nodes: Iterable[Mapping[str, Any]], plugin_nodes: Iterable[str] = ()) -> list[Mapping[str, Any]]:
    plugin_nodes = set(plugin_nodes)
    return [n for n in nodes if is_gpu_node(n, plugin_nodes)]


# -- GPU nodes ---------------------------------------------------------------------------------

def gpu_capacity(nodes: Sequence[Mapping[str, Any]], plugin_nodes: Iterable[str] = ()) -> CheckResult:
    """Every GPU node advertises GPUs in capacity and allocatable (allocatable 0 with GPUs in
    capacity means a broken driver or device plugin)."""
    id_, title = "gpu-capacity", "GPU nodes advertise GPUs"
    found = gpu_nodes(nodes, plugin_nodes)
    if not found:
        return CheckResult(id_, title, WARNING,
                           "no GPU node: no node has GPU labels, GPU resources or a device-plugin pod",
                           "install the NVIDIA GPU operator (or the device plugin) on the GPU machines")
    problems: list[tuple[str, str, str]] = []  # (status, node, text)
    totals: dict[str, float] = {}
    for n in found:
        info = node_gpu_info(n)
        if not info.pools:
            problems.append((FAILED, info.name, f"{info.name}: GPU labels or a device-plugin pod, but no GPU "
                                                "resource in capacity"))
            continue
        for p in info.pools.values():
            totals[p.resource] = totals.get(p.resource, 0) + p.allocatable
            if p.capacity > 0 and p.allocatable <= 0:
                problems.append((FAILED, info.name, f"{info.name}: {p.resource} capacity {_num(p.capacity)}, "
                                                    "allocatable 0"))
            elif p.allocatable < p.capacity:
                problems.append((WARNING, info.name, f"{info.name}: {p.resource} allocatable "
                                                     f"{_num(p.allocatable)} of {_num(p.capacity)}"))
    if problems:
        status = _worst(s for s, _, _ in problems)
        return CheckResult(id_, title, status, "; ".join(t for _, _, t in problems),
                           "check the NVIDIA driver and the device-plugin pod on "
                           f"{_listing(sorted({n for _, n, _ in problems}))} (kubectl logs of the plugin pod; "
                           "unhealthy devices lower allocatable)",
                           tuple(f"node/{n}" for n in sorted({n for _, n, _ in problems})))
    pools = ", ".join(f"{r} {_num(v)}" for r, v in sorted(totals.items()))
    return CheckResult(id_, title, OK, f"{len(found)} GPU nodes, allocatable: {pools}")


def gfd_labels(nodes: Sequence[Mapping[str, Any]], plugin_nodes: Iterable[str] = ()) -> CheckResult:
    """GPU Feature Discovery labels (product, memory, count) on every GPU node: presets pick a
    GPU model by `nvidia.com/gpu.product`."""
    id_, title = "gfd-labels", "GPU Feature Discovery labels"
    found = gpu_nodes(nodes, plugin_nodes)
    missing: dict[str, list[str]] = {}
    for n in found:
        labels = _meta(n).get("labels") or {}
        lacking = [k.removeprefix("nvidia.com/") for k in GFD_LABELS if not labels.get(k)]
        if lacking:
            missing[name_of(n)] = lacking
    if not found:
        return CheckResult(id_, title, OK, "no GPU node to label")
    if missing:
        return CheckResult(id_, title, WARNING,
                           "; ".join(f"{n}: no {', '.join(ls)}" for n, ls in sorted(missing.items())),
                           "check the gpu-feature-discovery pod on that node; without the labels "
                           "gpu_product selectors (and the GPU pane's model column) miss it",
                           tuple(f"node/{n}" for n in sorted(missing)))
    return CheckResult(id_, title, OK, f"product, memory and count on all {len(found)} GPU nodes")


def mig_strategy(nodes: Sequence[Mapping[str, Any]]) -> CheckResult:
    """The node's `nvidia.com/mig.strategy` label agrees with the resources it advertises."""
    id_, title = "mig-strategy", "MIG strategy"
    problems: dict[str, str] = {}
    seen: dict[str, list[str]] = {}
    for n in gpu_nodes(nodes):
        labels = _meta(n).get("labels") or {}
        info = node_gpu_info(n)
        strategy = clean(labels.get("nvidia.com/mig.strategy", ""), 32) or "none"
        mig = [p for p in info.pools.values() if is_mig_resource(p.resource)]
        seen.setdefault(strategy, []).append(info.name)
        if strategy == "mixed":
            if not mig:
                problems[info.name] = "mig.strategy=mixed but no nvidia.com/mig-* resource"
            for p in mig:
                count = labels.get(f"{p.resource}.count")
                if count is not None and parse_quantity(count, -1) != p.capacity:
                    problems[info.name] = (f"{p.resource} capacity {_num(p.capacity)} but label "
                                           f"{p.resource}.count={clean(count, 16)}")
        elif mig:
            problems[info.name] = (f"mig.strategy={strategy} but it advertises "
                                   f"{', '.join(p.resource for p in mig)} (only the mixed strategy does)")
    if problems:
        return CheckResult(id_, title, WARNING, "; ".join(f"{n}: {t}" for n, t in sorted(problems.items())),
                           "set one strategy in the device plugin and GFD config (ClusterPolicy "
                           "mig.strategy) and let the MIG manager re-partition the node",
                           tuple(f"node/{n}" for n in sorted(problems)))
    if not seen:
        return CheckResult(id_, title, OK, "no GPU node")
    return CheckResult(id_, title, OK, "; ".join(f"{s}: {_listing(sorted(ns), 3)}" for s, ns in sorted(seen.items())))


def time_slicing(nodes: Sequence[Mapping[str, Any]]) -> CheckResult:
    """Shared GPUs: sharing-strategy and replicas agree, and capacity = GPUs x replicas."""
    id_, title = "time-slicing", "GPU sharing (time-slicing, MPS)"
    problems: dict[str, str] = {}
    shared: list[str] = []
    for n in gpu_nodes(nodes):
        labels = _meta(n).get("labels") or {}
        info = node_gpu_info(n)
        strategy = info.sharing_strategy or "none"
        replicas = info.replicas
        if replicas <= 1 and strategy in ("none", ""):
            continue
        shared.append(info.name)
        if replicas > 1 and strategy == "none":
            problems[info.name] = f"gpu.replicas={replicas} but sharing-strategy=none"
            continue
        if replicas <= 1:
            problems[info.name] = f"sharing-strategy={strategy} but gpu.replicas={replicas}"
            continue
        pool = info.pools.get("nvidia.com/gpu") or info.pools.get("nvidia.com/gpu.shared")
        count = labels.get("nvidia.com/gpu.count")
        if pool and count is not None:
            expected = parse_quantity(count, 0) * replicas
            if pool.capacity != expected:
                problems[info.name] = (f"{pool.resource} capacity {_num(pool.capacity)}, expected "
                                       f"{clean(count, 8)} GPUs x {replicas} replicas = {_num(expected)}")
    if problems:
        return CheckResult(id_, title, WARNING, "; ".join(f"{n}: {t}" for n, t in sorted(problems.items())),
                           "the device plugin's sharing config and GFD disagree: restart both after "
                           "changing the time-slicing ConfigMap", tuple(f"node/{n}" for n in sorted(problems)))
    if not shared:
        return CheckResult(id_, title, OK, "no node shares its GPUs")
    return CheckResult(id_, title, OK, f"shared GPUs consistent on {_listing(sorted(shared))}")


# -- GPU operator, device plugin, dcgm-exporter ------------------------------------------------

@dataclass(frozen=True)
class Component:
    id: str
    title: str
    match: str  # a part of the DaemonSet name or its app label
    missing_status: str
    purpose: str
    exclude: tuple[str, ...] = ("validator",)


COMPONENTS = (
    Component("device-plugin", "NVIDIA device plugin", "device-plugin", WARNING,
              "it is what puts nvidia.com/gpu into node capacity"),
    Component("gpu-feature-discovery", "GPU feature discovery", "gpu-feature-discovery", WARNING,
              "it writes the nvidia.com/gpu.* node labels"),
    Component("dcgm-exporter", "dcgm-exporter", "dcgm-exporter", WARNING,
              "GPU utilisation (:idle, the holders' sparklines) comes from it"),
)

_BAD_WAITING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                          "CreateContainerError", "RunContainerError", "InvalidImageName"})


def _matches(ds: Mapping[str, Any], comp: Component) -> bool:
    meta = _meta(ds)
    text = f"{meta.get('name', '')} {(meta.get('labels') or {}).get('app', '')}"
    return comp.match in text and not any(x in text for x in comp.exclude)


def _owned_by(pod: Mapping[str, Any], ds: Mapping[str, Any]) -> bool:
    meta = _meta(pod)
    if meta.get("namespace") != _meta(ds).get("namespace"):
        return False
    return any(r.get("kind") == "DaemonSet" and r.get("name") == _meta(ds).get("name")
               for r in meta.get("ownerReferences") or [])


def pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pod_trouble(pod: Mapping[str, Any]) -> str:
    """"CrashLoopBackOff (12 restarts)" and the like, or ""."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason", "")
        if reason in _BAD_WAITING:
            return f"{clean(reason, 64)} ({int(cs.get('restartCount') or 0)} restarts)"
    return ""


def gpu_daemonset(comp: Component, daemonsets: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]],
                  gpu_node_names: Sequence[str]) -> CheckResult:
    """The component's DaemonSet has a ready pod on every GPU node, none crash-looping."""
    id_, title = comp.id, comp.title
    sets = [d for d in daemonsets if _matches(d, comp)]
    if not sets:
        return CheckResult(id_, title, comp.missing_status, f"no {comp.title} DaemonSet found in any namespace",
                           f"install it (the NVIDIA GPU operator does): {comp.purpose}")
    problems: list[tuple[str, str, str]] = []
    covered: set[str] = set()
    for ds in sets:
        ours = [p for p in pods if _owned_by(p, ds)]
        for p in ours:
            node = clean((p.get("spec") or {}).get("nodeName", ""), 253)
            trouble = pod_trouble(p)
            if trouble:
                problems.append((FAILED, f"pod/{key_of(p)}", f"{key_of(p)} on {node or '?'}: {trouble}"))
            elif pod_ready(p) and node:
                covered.add(node)
    without = [n for n in gpu_node_names if n not in covered]
    for n in without:
        status = FAILED if comp.id == "device-plugin" else WARNING
        problems.append((status, f"node/{n}", f"{n}: no ready {comp.title} pod"))
    names = _listing([key_of(d) for d in sets], 3)
    if problems:
        return CheckResult(id_, title, _worst(s for s, _, _ in problems),
                           f"{names}: " + "; ".join(t for _, _, t in problems),
                           "kubectl -n NAMESPACE describe/logs the pods named; a missing pod means the "
                           "DaemonSet's nodeSelector or tolerations leave that node out",
                           tuple(o for _, o, _ in problems))
    return CheckResult(id_, title, OK, f"{names}: ready on all {len(gpu_node_names)} GPU nodes")


@dataclass(frozen=True)
class MetricsProbe:
    """What reading one exporter through the API server's pod proxy gave."""

    exporter: str = ""  # namespace/pod
    node: str = ""
    samples: int = 0
    error: str = ""


def dcgm_answers(probe: MetricsProbe | None) -> CheckResult:
    id_, title = "dcgm-metrics", "dcgm-exporter answers through the API server"
    if probe is None or not probe.exporter:
        return CheckResult(id_, title, WARNING, "no running dcgm-exporter pod to ask",
                           "without it GPU utilisation is unknown (NVML works only on the GPU box itself)")
    if probe.error:
        forbidden = "forbidden" in probe.error.lower()
        fix = ("give users `get pods/proxy` in the exporter's namespace" if forbidden else
               "the API server would not proxy to the exporter (or it did not answer)")
        return CheckResult(id_, title, WARNING,
                           f"GET pods/{probe.exporter}:9400/proxy/metrics: {clean(probe.error, 300)}",
                           f"{fix}; the cockpit falls back to a port-forward to the exporter, which needs "
                           "`create pods/portforward`", (f"pod/{probe.exporter}",))
    if probe.samples == 0:
        return CheckResult(id_, title, WARNING, f"{probe.exporter} on {probe.node} answered, but with no "
                                                "DCGM_FI_DEV_GPU_UTIL sample", "check the exporter's metrics config",
                           (f"pod/{probe.exporter}",))
    return CheckResult(id_, title, OK, f"{probe.exporter} on {probe.node}: {probe.samples} GPUs reported")


# -- scheduling --------------------------------------------------------------------------------

def tolerates(tol: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """The scheduler's rule (k8s ToleratesTaint)."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    op = tol.get("operator") or "Equal"
    if not tol.get("key"):
        return op == "Exists"
    if tol.get("key") != taint.get("key"):
        return False
    return op == "Exists" or (tol.get("value") or "") == (taint.get("value") or "")


def taint_text(t: Mapping[str, Any]) -> str:
    text = f"{t.get('key', '')}={t['value']}" if t.get("value") else str(t.get("key", ""))
    return clean(f"{text}:{t.get('effect', '')}", 253)


def tainted_gpu_nodes(nodes: Sequence[Mapping[str, Any]], preset_tolerations: Mapping[str, Sequence[Mapping]],
                      toleration_parameter: Sequence[str] = ()) -> CheckResult:
    """GPU nodes with a NoSchedule/NoExecute taint that no shipped preset tolerates by default.
    `preset_tolerations`: GPU preset name -> the tolerations its pods get with default values;
    `toleration_parameter`: the presets that take a `gpu_toleration` value."""
    id_, title = "gpu-taints", "Tainted GPU nodes vs preset tolerations"
    problems: dict[str, str] = {}
    reached: list[str] = []
    for n in gpu_nodes(nodes):
        hard = [t for t in (n.get("spec") or {}).get("taints") or []
                if t.get("effect") in ("NoSchedule", "NoExecute") and t.get("key") != CORDON_TAINT]
        if not hard:
            continue
        fits = [p for p, tols in sorted(preset_tolerations.items())
                if all(any(tolerates(tol, t) for tol in tols) for t in hard)]
        taints = ", ".join(taint_text(t) for t in hard)
        if fits:
            reached.append(f"{name_of(n)} ({taints}) by {_listing(fits, 3)}")
        else:
            problems[name_of(n)] = taints
    if problems:
        sets = "; ".join(f"--set gpu_toleration={t.split(', ')[0]}" for t in sorted(set(problems.values())))
        how = (f"launch with {sets} ({len(toleration_parameter)} presets take it)" if toleration_parameter
               else "add a toleration to the preset")
        return CheckResult(id_, title, WARNING,
                           "; ".join(f"{n}: {t}, no shipped preset tolerates it by default"
                                     for n, t in sorted(problems.items())),
                           f"{how}, or remove the taint if the node is not reserved",
                           tuple(f"node/{n}" for n in sorted(problems)))
    if reached:
        return CheckResult(id_, title, OK, "; ".join(reached))
    return CheckResult(id_, title, OK, "no GPU node is tainted")


def gpu_nodes_schedulable(nodes: Sequence[Mapping[str, Any]]) -> CheckResult:
    """Cordoned or NotReady GPU nodes: their GPUs take no new pods."""
    id_, title = "gpu-cordoned", "GPU nodes Ready and schedulable"
    found = gpu_nodes(nodes)
    not_ready = [name_of(n) for n in found if node_ready(n) is not True]
    cordoned = [name_of(n) for n in found if (n.get("spec") or {}).get("unschedulable")]
    if not (not_ready or cordoned):
        return CheckResult(id_, title, OK, f"all {len(found)} GPU nodes Ready and schedulable")
    parts = []
    if not_ready:
        parts.append(f"not Ready: {_listing(not_ready)}")
    if cordoned:
        gpus = sum(p.capacity for n in found if name_of(n) in cordoned for p in node_gpu_info(n).pools.values())
        parts.append(f"cordoned: {_listing(cordoned)} ({_num(gpus)} GPUs take no new pods)")
    fix = []
    if cordoned:
        fix.append("`kubectl uncordon NODE` once maintenance is done")
    if not_ready:
        fix.append("check the kubelet and driver on the NotReady nodes")
    return CheckResult(id_, title, FAILED if not_ready else WARNING, "; ".join(parts), "; ".join(fix),
                       tuple(f"node/{n}" for n in sorted(set(not_ready + cordoned))))


def _scheduling_message(pod: Mapping[str, Any]) -> str:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return clean(c.get("message") or c.get("reason") or "", 200)
    return ""


def pending_gpu_pods(pods: Sequence[Mapping[str, Any]], now: dt.datetime,
                     after: float = PENDING_GPU_AFTER) -> CheckResult:
    id_, title = "pending-gpu-pods", "Pods Pending for GPUs"
    stuck: list[tuple[str, str]] = []
    young = 0
    for p in pods:
        if (p.get("status") or {}).get("phase") != "Pending" or (p.get("spec") or {}).get("nodeName"):
            continue
        if not gpu_requests(p):
            continue
        age = age_seconds(p, now)
        if age is not None and age < after:
            young += 1
            continue
        why = _scheduling_message(p) or "not scheduled"
        stuck.append((key_of(p), f"{key_of(p)} ({_ago(age or 0)}): {why}"))
    if stuck:
        stuck.sort()
        return CheckResult(id_, title, WARNING, "; ".join(t for _, t in stuck[:LIST_LIMIT])
                           + (f" and {len(stuck) - LIST_LIMIT} more" if len(stuck) > LIST_LIMIT else ""),
                           "ask for fewer GPUs or another GPU product, or free GPUs (:idle, :cleanup)",
                           tuple(f"pod/{k}" for k, _ in stuck))
    tail = f" ({young} waiting less than {int(after // 60)} minutes)" if young else ""
    return CheckResult(id_, title, OK, f"none pending longer than {int(after // 60)} minutes{tail}")


# -- storage -----------------------------------------------------------------------------------

def is_default_class(sc: Mapping[str, Any]) -> bool:
    ann = _meta(sc).get("annotations") or {}
    return any(ann.get(k) == "true" for k in DEFAULT_CLASS_ANNOTATIONS)


def default_storage_class(classes: Sequence[Mapping[str, Any]]) -> CheckResult:
    id_, title = "default-storageclass", "Default StorageClass"
    defaults = [name_of(c) for c in classes if is_default_class(c)]
    fix_one = ("kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true "
               "(the microk8s `storage` addon makes one)")
    if not classes:
        return CheckResult(id_, title, FAILED, "no StorageClass at all: PVCs without a pre-made volume stay Pending",
                           "install a provisioner; " + fix_one)
    if not defaults:
        return CheckResult(id_, title, FAILED,
                           f"no StorageClass is the default ({len(classes)}: {_listing([name_of(c) for c in classes])});"
                           " PVCs without storageClassName stay Pending", fix_one,
                           tuple(f"storageclass/{name_of(c)}" for c in classes))
    if len(defaults) > 1:
        return CheckResult(id_, title, WARNING, f"{len(defaults)} defaults: {_listing(defaults)} (the newest wins)",
                           "keep the default annotation on one class",
                           tuple(f"storageclass/{d}" for d in defaults))
    sc = next(c for c in classes if is_default_class(c))
    return CheckResult(id_, title, OK, f"{defaults[0]} (provisioner {clean(sc.get('provisioner', '?'), 100)})")


def pvc_pending_reason(pvc: Mapping[str, Any], classes: Sequence[Mapping[str, Any]] | None,
                       events: Sequence[Mapping[str, Any]] = ()) -> tuple[str, bool]:
    """(why a Pending claim is not bound, whether that is a problem)."""
    spec = pvc.get("spec") or {}
    wanted = spec.get("storageClassName")
    by_name = {c["metadata"]["name"]: c for c in classes or [] if _meta(c).get("name")}
    latest = sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime")
                                                  or _meta(e).get("creationTimestamp") or ""))
    event = clean(latest[-1].get("message", ""), 200) if latest else ""
    if wanted == "":
        return "storageClassName \"\" asks for a pre-made PersistentVolume and none matches", True
    if classes is not None:
        if wanted is None and not any(is_default_class(c) for c in classes):
            return "no storageClassName and no default StorageClass", True
        if wanted and wanted not in by_name:
            return f"StorageClass {clean(wanted, 100)} does not exist", True
        sc = by_name.get(wanted) if wanted else next((c for c in classes if is_default_class(c)), None)
        if sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not event:
            return "waits for a pod that uses it (WaitForFirstConsumer)", False
        if sc and not event:
            return f"no volume yet from provisioner {clean(sc.get('provisioner', '?'), 100)}", True
    return event or "not bound yet, no event says why", True


def pending_pvcs(pvcs: Sequence[Mapping[str, Any]], classes: Sequence[Mapping[str, Any]] | None,
                 events_by_claim: Mapping[str, Sequence[Mapping[str, Any]]]) -> CheckResult:
    id_, title = "pending-pvcs", "PVCs Pending"
    pending = [p for p in pvcs if (p.get("status") or {}).get("phase") == "Pending"]
    problems: list[tuple[str, str]] = []
    waiting = 0
    for p in pending:
        why, bad = pvc_pending_reason(p, classes, events_by_claim.get(key_of(p), ()))
        if bad:
            problems.append((key_of(p), why))
        else:
            waiting += 1
    if problems:
        problems.sort()
        return CheckResult(id_, title, WARNING, "; ".join(f"{k}: {w}" for k, w in problems[:LIST_LIMIT])
                           + (f" and {len(problems) - LIST_LIMIT} more" if len(problems) > LIST_LIMIT else ""),
                           "create the StorageClass it names, or recreate the claim with an existing class "
                           "(kubectl get storageclass)", tuple(f"pvc/{k}" for k, _ in problems))
    tail = f" ({waiting} wait for their first pod)" if waiting else ""
    return CheckResult(id_, title, OK, f"{len(pvcs)} claims, none stuck Pending{tail}")


# -- Argo, Katib, Kueue ------------------------------------------------------------------------

def _ready(dep: Mapping[str, Any]) -> bool:
    return int((dep.get("status") or {}).get("readyReplicas") or 0) >= 1


def find_deployments(deployments: Sequence[Mapping[str, Any]], suffix: str) -> list[Mapping[str, Any]]:
    return [d for d in deployments if str(_meta(d).get("name", "")).endswith(suffix)]


def image_version(dep: Mapping[str, Any]) -> tuple[int, ...] | None:
    for c in ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        m = re.search(r":v?(\d+)\.(\d+)(?:\.(\d+))?", str(c.get("image", "")).rsplit("/", 1)[-1])
        if m:
            return tuple(int(g) for g in m.groups() if g is not None)
    return None


def argo_configmap_name(dep: Mapping[str, Any] | None) -> str:
    """The controller's --configmap argument, else the default name."""
    if dep:
        for c in ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
            args = [str(a) for a in (c.get("args") or []) + (c.get("command") or [])]
            for i, a in enumerate(args):
                if a.startswith("--configmap="):
                    return a.split("=", 1)[1]
                if a == "--configmap" and i + 1 < len(args):
                    return args[i + 1]
    return "workflow-controller-configmap"


def argo_controller(groups: set[str], deployments: Sequence[Mapping[str, Any]],
                    workflows: Sequence[Mapping[str, Any]] | None, now: dt.datetime) -> CheckResult:
    id_, title = "argo-controller", "Argo workflow-controller"
    if "argoproj.io" not in groups:
        return CheckResult(id_, title, WARNING, "Argo Workflows is not installed (the API serves no argoproj.io)",
                           "install Argo Workflows; the argo-pipeline preset needs it")
    found = find_deployments(deployments, "workflow-controller")
    if not found:
        return CheckResult(id_, title, FAILED, "Argo's CRDs are installed but no workflow-controller Deployment "
                                               "was found", "install Argo's controller (manifests/install.yaml)")
    down = [key_of(d) for d in found if not _ready(d)]
    if down:
        return CheckResult(id_, title, FAILED, f"{_listing(down)}: no ready replica",
                           "kubectl -n argo logs deploy/workflow-controller (it exits when its ConfigMap is missing)",
                           tuple(f"deployment/{d}" for d in down))
    unpicked = [w for w in workflows or []
                if not (w.get("status") or {}).get("phase")
                and (age_seconds(w, now) or 0) > UNPICKED_WORKFLOW_AFTER]
    if unpicked:
        return CheckResult(id_, title, FAILED,
                           f"{_listing(sorted(key_of(w) for w in unpicked))}: no phase after "
                           f"{UNPICKED_WORKFLOW_AFTER // 60} minutes; the controller is not processing workflows",
                           "check the controller's logs and its namespace/instanceID settings",
                           tuple(f"workflow/{key_of(w)}" for w in unpicked))
    count = f", {len(workflows)} workflows processed" if workflows else ""
    return CheckResult(id_, title, OK, f"{_listing([key_of(d) for d in found])} ready{count}")


def argo_configmap(groups: set[str], namespace: str, name: str, configmap: Mapping[str, Any] | None,
                   missing: Unreadable | None = None) -> CheckResult:
    id_, title = "argo-configmap", "Argo workflow-controller-configmap"
    if "argoproj.io" not in groups:
        return CheckResult(id_, title, OK, "Argo is not installed")
    if missing is not None:
        return cannot_read(id_, title, missing)
    if configmap is None:
        return CheckResult(id_, title, FAILED, f"{namespace}/{name} not found: the controller exits without it",
                           f"kubectl -n {namespace} create configmap {name}",
                           (f"configmap/{namespace}/{name}",))
    keys = sorted((configmap.get("data") or {}).keys())
    return CheckResult(id_, title, OK, f"{namespace}/{name} ({len(keys)} keys{': ' + _listing(keys, 4) if keys else ''})")


def argo_executor(groups: set[str], configmap: Mapping[str, Any] | None,
                  controller: Mapping[str, Any] | None) -> CheckResult:
    """Katib's metrics collector with Argo needs the emissary executor; since Argo 3.4 it is the
    only one and `containerRuntimeExecutor` is ignored."""
    id_, title = "argo-executor", "Argo executor"
    if "argoproj.io" not in groups:
        return CheckResult(id_, title, OK, "Argo is not installed")
    executor = clean(((configmap or {}).get("data") or {}).get("containerRuntimeExecutor", ""), 64)
    version = image_version(controller) if controller else None
    shown = "v" + ".".join(map(str, version)) if version else "unknown version"
    if version and version >= (3, 4):
        extra = f" (containerRuntimeExecutor={executor} is ignored)" if executor and executor != "emissary" else ""
        return CheckResult(id_, title, OK, f"emissary, the only executor since Argo 3.4 (controller {shown}){extra}")
    if executor in ("", "emissary") and version:
        return CheckResult(id_, title, WARNING if not executor else OK,
                           f"controller {shown}, containerRuntimeExecutor={executor or 'unset (docker before 3.3)'}",
                           "" if executor else "set containerRuntimeExecutor: emissary for Katib's metrics collector")
    if executor and executor != "emissary":
        return CheckResult(id_, title, WARNING, f"containerRuntimeExecutor={executor} (controller {shown})",
                           "set containerRuntimeExecutor: emissary in workflow-controller-configmap: "
                           "Katib's metrics collector needs it")
    return CheckResult(id_, title, OK, f"controller {shown}, executor {executor or 'default'}")


def katib(groups: set[str], katib_resources: set[str], deployments: Sequence[Mapping[str, Any]]) -> CheckResult:
    id_, title = "katib", "Katib"
    needed = {"experiments", "trials", "suggestions"}
    if "kubeflow.org" not in groups or not katib_resources & needed:
        return CheckResult(id_, title, WARNING, "Katib is not installed (no kubeflow.org experiments API)",
                           "install Katib; the katib-random-search preset needs it")
    lacking = sorted(needed - katib_resources)
    found = find_deployments(deployments, "katib-controller")
    if lacking:
        return CheckResult(id_, title, FAILED, f"kubeflow.org/v1beta1 lacks {', '.join(lacking)}",
                           "re-apply Katib's CRDs (manifests/v1beta1/components/crd)")
    if not found:
        return CheckResult(id_, title, WARNING, "CRDs experiments, trials, suggestions installed, but no "
                                                "katib-controller Deployment: new experiments will start no trials",
                           "install Katib's controller (manifests/v1beta1/installs/katib-standalone)")
    down = [key_of(d) for d in found if not _ready(d)]
    if down:
        return CheckResult(id_, title, FAILED, f"{_listing(down)}: no ready replica", "check its pod's logs",
                           tuple(f"deployment/{d}" for d in down))
    return CheckResult(id_, title, OK, f"CRDs installed, {_listing([key_of(d) for d in found])} ready")


def _active(queue: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Active" and c.get("status") == "True"
               for c in (queue.get("status") or {}).get("conditions") or [])


def kueue(groups: set[str], deployments: Sequence[Mapping[str, Any]],
          cluster_queues: Sequence[Mapping[str, Any]] | None = None) -> CheckResult:
    """Kueue when installed: its manager runs (a ready Deployment, or, where it runs elsewhere,
    ClusterQueues it has marked Active) - while it is down its webhooks hold or refuse jobs.
    `cluster_queues` None: they could not be read (RBAC), which says nothing about the manager."""
    id_, title = "kueue", "Kueue"
    if "kueue.x-k8s.io" not in groups:
        return CheckResult(id_, title, OK, "not installed (jobs are not queued)")
    found = find_deployments(deployments, "kueue-controller-manager")
    down = [key_of(d) for d in found if not _ready(d)]
    if down:
        return CheckResult(id_, title, FAILED, f"{_listing(down)}: no ready replica; queued jobs stay suspended",
                           "check the manager's logs", tuple(f"deployment/{d}" for d in down))
    if cluster_queues is None and not found:
        return CheckResult(id_, title, WARNING, "Kueue is installed, but this context may not read its "
                                                "ClusterQueues nor see its manager's Deployment: cannot tell "
                                                "whether it runs", "ask an admin, or run doctor with a context "
                                                                   "that may list clusterqueues")
    queues = list(cluster_queues or [])
    inactive = [name_of(q) for q in queues if not _active(q)]
    active = [name_of(q) for q in queues if _active(q)]
    if not found and not active:
        return CheckResult(id_, title, FAILED, "Kueue's CRDs are installed but no kueue-controller-manager "
                                               "Deployment and no active ClusterQueue: its webhooks may refuse or "
                                               "hold new jobs", "install Kueue's manager, or remove its CRDs and "
                                                                "webhooks")
    if inactive:
        return CheckResult(id_, title, WARNING, f"ClusterQueues not active: {_listing(inactive)} (jobs sent to them "
                                                "wait)", "kubectl describe clusterqueue NAME: usually a missing "
                                                         "ResourceFlavor", tuple(f"clusterqueue/{q}" for q in inactive))
    manager = f"{_listing([key_of(d) for d in found])} ready" if found else "manager running"
    return CheckResult(id_, title, OK, f"{manager}; {len(queues)} ClusterQueues active" if queues
                       else f"{manager}; no ClusterQueue yet")


# -- the user's own access ---------------------------------------------------------------------

@dataclass(frozen=True)
class Feature:
    what: str  # in the user's words: what the cockpit does with it
    verb: str
    group: str
    resource: str


FEATURES = (
    Feature("tables", "list", "", "pods"),
    Feature("live updates", "watch", "", "pods"),
    Feature("logs (l)", "get", "", "pods/log"),
    Feature("launch (n, :launch)", "create", "batch", "jobs"),
    Feature("delete/kill (ctrl+d, ctrl+k, :cleanup)", "delete", "", "pods"),
    Feature("shell (s)", "create", "", "pods/exec"),
    Feature("port-forward (shift+f)", "create", "", "pods/portforward"),
    Feature("Argo stop/suspend/resume", "patch", "argoproj.io", "workflows"),
)
ESSENTIAL = ("list", "watch")


def rule_allows(rules: Iterable[Mapping[str, Any]], verb: str, group: str, resource: str) -> bool:
    for r in rules:
        verbs = r.get("verbs") or []
        groups = r.get("apiGroups") or []
        resources = r.get("resources") or []
        if r.get("resourceNames"):
            continue  # limited to named objects: not enough for the cockpit's lists and launches
        if not ("*" in verbs or verb in verbs):
            continue
        if not ("*" in groups or group in groups):
            continue
        base = resource.split("/", 1)[0]
        if "*" in resources or resource in resources or (
                "/" in resource and f"{base}/*" in resources) or (f"*/{resource.split('/', 1)[1]}" in resources
                                                                  if "/" in resource else False):
            return True
    return False


@dataclass(frozen=True)
class AccessReview:
    namespace: str
    rules: tuple[Mapping[str, Any], ...] = ()
    incomplete: bool = False
    error: str = ""


def own_access(review: AccessReview, read_only: bool = False) -> CheckResult:
    id_, title = "access", f"Your access in namespace {clean(review.namespace, 63)}"
    if review.error:
        return CheckResult(id_, title, WARNING, f"could not ask (SelfSubjectRulesReview): {clean(review.error, 200)}",
                           "actions the API refuses are reported when tried")
    have = [f for f in FEATURES if rule_allows(review.rules, f.verb, f.group, f.resource)]
    lack = [f for f in FEATURES if f not in have]
    verbs = sorted({f"{f.verb} {f.resource}" for f in have})
    note = " (the review is incomplete: a webhook authorizer may allow more)" if review.incomplete else ""
    if not lack:
        return CheckResult(id_, title, OK, f"everything the cockpit does: {', '.join(verbs)}{note}")
    essential = [f for f in lack if f.verb in ESSENTIAL]
    status = FAILED if essential and not review.incomplete else WARNING
    saw = (f"can {', '.join(verbs) or 'nothing the cockpit uses'}; cannot "
           f"{', '.join(f'{f.verb} {f.resource}' for f in lack)}{note}")
    fix = f"disabled in the cockpit: {', '.join(f.what for f in lack)}; ask an admin for a Role granting them"
    if read_only:
        fix += " (read-only mode disables changes anyway)"
    return CheckResult(id_, title, status, saw, fix)


# -- registry ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegistryProbe:
    registry: str
    url: str = ""  # the /v2/ URL that answered
    status: int = 0  # its HTTP status
    error: str = ""  # could not reach it at all
    push: str = ""  # "allowed", "needs login", "refused: ...", "" (not tried)
    plain_http: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def registry(probe: RegistryProbe | None, context: str) -> CheckResult:
    id_, title = "registry", "Image registry"
    if probe is None:
        return CheckResult(id_, title, OK, f"none configured for context {clean(context, 100)} (only "
                                           "`--from-dir` launches need one)",
                           f"set contexts.{clean(context, 100)}.registry in the config to build and push images")
    where = clean(probe.registry, 200)
    if probe.error:
        return CheckResult(id_, title, FAILED, f"{where}: {clean(probe.error, 300)}",
                           "check the address in the config (contexts.<name>.registry) and that the registry runs",
                           (f"registry/{where}",))
    if probe.status not in (200, 401):
        return CheckResult(id_, title, FAILED, f"{clean(probe.url, 200)} answered HTTP {probe.status}, not a "
                                               "registry's /v2/", "point contexts.<name>.registry at the registry "
                                               "itself", (f"registry/{where}",))
    seen = f"{clean(probe.url, 200)} answers (HTTP {probe.status})"
    if probe.push == "allowed":
        status, fix = OK, ""
        seen += "; push allowed (upload started and cancelled)"
    elif probe.push == "needs login" or probe.status == 401:
        status, fix = WARNING, f"docker login {where.split('/', 1)[0]} before launching from local code"
        seen += "; needs a login, push not verified"
    else:
        status, fix = FAILED, "ask for push rights on that repository"
        seen += f"; push {clean(probe.push or 'not checked', 200)}"
    if probe.plain_http and status == OK:
        fix = f"plain HTTP: Docker needs {where.split('/', 1)[0]} in insecure-registries unless it is on loopback"
    return CheckResult(id_, title, status, seen, fix, (f"registry/{where}",) if status != OK else ())
