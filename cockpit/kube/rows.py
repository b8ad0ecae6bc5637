"""Table rows for the resource views, built from raw (JSON-decoded) Kubernetes objects.

Every builder is pure: `(obj, now) -> Row`, `now` in epoch seconds. Every displayed string goes
through `text.clean`; label maps are passed through as-is because the API server validates
label keys and values to a charset without control characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cockpit.kube.gpu import (
    DEFAULT_GPU_PREFIXES,
    DEFAULT_GPU_RESOURCES,
    gpu_requests,
    node_gpu_info,
    node_ready,
)
from cockpit.kube.kueue import QUEUE_LABEL
from cockpit.kube.model import Column, Row
from cockpit.kube.quantity import parse_quantity
from cockpit.kube.text import clean

Obj = Mapping[str, Any]
NO_VALUE = float("-inf")  # sort value of a missing number: sorts first ascending

# --- time -------------------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def _parse_iso(value: str) -> float | None:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_time(value: object) -> float | None:
    """RFC 3339 timestamp (as the API server sends it), datetime or epoch -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return _parse_iso(str(value))


def fmt_age(seconds: float | None) -> str:
    """A duration the way kubectl prints ages: "45s", "3m", "2h5m", "4d", "2y30d"."""
    if seconds is None:
        return ""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{hours // 24 // 365}y"


def duration_seconds(start: object, end: object, now: float | None = None) -> float | None:
    """Seconds from `start` to `end`, or to `now` while `end` is unset; None without a start."""
    t0 = parse_time(start)
    if t0 is None:
        return None
    t1 = parse_time(end)
    if t1 is None:
        t1 = now if now is not None else datetime.now(UTC).timestamp()
    return max(t1 - t0, 0.0)


def fmt_duration(start: object, end_or_now: object) -> str:
    """`fmt_age` of the span between two timestamps (strings, datetimes or epoch seconds)."""
    return fmt_age(duration_seconds(start, end_or_now))


def _age(obj: Obj, now: float) -> tuple[str, float]:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "", NO_VALUE
    age = now - created
    return fmt_age(age), age


# --- shared helpers ---------------------------------------------------------------------------


def _meta(obj: Obj) -> tuple[str, str, dict[str, str]]:
    meta = obj.get("metadata") or {}
    return (
        clean(meta.get("namespace", ""), 253),
        clean(meta.get("name", ""), 253),
        dict(meta.get("labels") or {}),
    )


def _key(ns: str, name: str) -> str:
    return f"{ns}/{name}" if ns else name


def _num(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else f"{n:.2f}".rstrip("0").rstrip(".")


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NO_VALUE


def _last_true_condition(obj: Obj) -> str:
    for cond in reversed((obj.get("status") or {}).get("conditions") or ()):
        if cond.get("status") == "True":
            return str(cond.get("type", ""))
    return ""


def fmt_gpus(requests: Mapping[str, float]) -> str:
    """GPU requests for a cell: whole GPUs as a count, other pools as "1×mig-1g.10gb"."""
    whole = 0.0
    parts: list[str] = []
    for resource in sorted(requests):
        n = requests[resource]
        if n <= 0:
            continue
        base = resource.rsplit("/", 1)[-1]
        if base == "gpu":
            whole += n
        else:
            parts.append(f"{_num(n)}×{base}")
    if whole:
        parts.insert(0, _num(whole))
    return clean(",".join(parts), 64) if parts else "-"


# --- pods -------------------------------------------------------------------------------------

POD_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("READY", 6, "right", priority=1),
    Column("STATUS", 20, min_width=16),
    Column("RESTARTS", 8, "right", priority=3),
    Column("GPUS", 8, "right", priority=1),
    Column("NODE", 20, priority=4, cut="middle"),
    Column("AGE", 6, "right", priority=2),
    # Why a pending pod does not run, where the terminal has room (describe and `cockpit why`
    # add what needs other objects: node labels, claims, Kueue).
    Column("WHY PENDING", 40, priority=5),
)

_INIT_PROGRESS = re.compile(r"Init:\d+/\d+")
_ERROR_REASONS = frozenset(
    {
        "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull",
        "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
        "RunContainerError", "ContainerCannotRun", "StartError", "OOMKilled", "Error",
        "Evicted", "Failed", "DeadlineExceeded", "UnexpectedAdmissionError",
    }
)  # fmt: skip
_PENDING_REASONS = frozenset({"Pending", "ContainerCreating", "PodInitializing", "Init"})
_WARN_REASONS = frozenset({"Terminating", "Unknown", "NotReady", "Unschedulable", "SchedulingGated"})


def _terminated_text(term: Mapping[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_status(pod: Obj) -> tuple[str, int, int, int]:
    """(STATUS reason, ready containers, total containers, restarts), the way kubectl reports them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase or "Unknown")
    restarts = 0
    init_specs = spec.get("initContainers") or ()
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or ()) + len(sidecars)
    ready = 0

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or ()):
        restarts += _int(cs.get("restartCount"))
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar and cs.get("ready"):
            ready += 1
        if term is not None and _int(term.get("exitCode")) == 0 and not term.get("signal"):
            continue
        if is_sidecar and cs.get("started"):
            continue
        if term is not None:
            reason = _terminated_text(term, "Init:")
        elif wait is not None and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = f"Init:{wait['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    conditions = {c.get("type"): c for c in status.get("conditions") or ()}
    initialized = (conditions.get("Initialized") or {}).get("status") == "True"
    if not initializing or initialized:
        restarts = sum(
            _int(cs.get("restartCount"))
            for cs in status.get("initContainerStatuses") or ()
            if cs.get("name") in sidecars
        )
        has_running = False
        for cs in reversed(status.get("containerStatuses") or ()):
            restarts += _int(cs.get("restartCount"))
            state = cs.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait is not None and wait.get("reason"):
                reason = str(wait["reason"])
            elif term is not None:
                reason = _terminated_text(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = conditions.get("Ready")
            reason = "Running" if ready_cond and ready_cond.get("status") == "True" else "NotReady"

    if phase == "Failed" and status.get("reason"):
        # The pod-level reason (Evicted, DeadlineExceeded, OutOfnvidia.com/gpu) says more than
        # the container state the kubelet fills in afterwards (ContainerStatusUnknown).
        reason = str(status["reason"])
    if phase == "Pending" and reason == "Pending":
        scheduled = conditions.get("PodScheduled")
        if scheduled and scheduled.get("status") == "False" and scheduled.get("reason"):
            reason = str(scheduled["reason"])  # Unschedulable, SchedulingGated

    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return clean(reason, 64), ready, total, restarts


def pod_status_message(pod: Obj) -> str:
    """The human explanation behind STATUS: scheduler message, waiting/termination message."""
    status = pod.get("status") or {}
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
            return clean(cond["message"], 1024)
    for cs in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        state = cs.get("state") or {}
        for key in ("waiting", "terminated"):
            msg = (state.get(key) or {}).get("message")
            if msg:
                return clean(msg, 1024)
    return clean(status.get("message", ""), 1024)


def status_hint_for_pod(reason: str, ready: int, total: int) -> str:
    if reason == "Running":
        return "ok" if ready >= total else "warn"
    if reason in ("Completed", "Succeeded"):
        return "done"
    if reason in _PENDING_REASONS or _INIT_PROGRESS.fullmatch(reason):
        return "pending"
    if reason in _WARN_REASONS:
        return "warn"
    if reason in _ERROR_REASONS or reason.startswith(("Init:", "ExitCode:", "Signal:", "OutOf")):
        return "error"
    return ""


def _pending_reason(pod: Obj) -> str:
    """The scheduler's reason, shortened, for a pod it could not place (else "")."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return ""
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
            from cockpit.kube.why import scheduler_summary

            return scheduler_summary(cond["message"])
    return ""


def pod_row(
    pod: Obj,
    now: float,
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> Row:
    ns, name, labels = _meta(pod)
    reason, ready, total, restarts = pod_status(pod)
    gpus = gpu_requests(pod, names, prefixes)
    node = clean((pod.get("spec") or {}).get("nodeName", ""), 253)
    age, age_s = _age(pod, now)
    why = _pending_reason(pod)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, f"{ready}/{total}", reason, str(restarts), fmt_gpus(gpus), node, age, why),
        sort=(ns, name, (ready, total), reason, restarts, sum(gpus.values()), node, age_s, why),
        status=status_hint_for_pod(reason, ready, total),
        labels=labels,
        namespace=ns,
        name=name,
    )


# --- jobs -------------------------------------------------------------------------------------

JOB_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("STATUS", 10),
    Column("COMPLETIONS", 11, "right", priority=1),
    Column("GPUS", 8, "right", priority=1),
    Column("DURATION", 8, "right", priority=3),
    Column("AGE", 6, "right", priority=2),
    Column("WHY PENDING", 40, priority=5),
)
_JOB_HINT = {"Complete": "done", "Failed": "error", "Suspended": "warn", "Running": "ok",
             "Terminating": "warn", "Pending": "pending"}  # fmt: skip


def job_status(job: Obj) -> str:
    conditions = (job.get("status") or {}).get("conditions") or ()
    true = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    for kind in ("Complete", "Failed", "Suspended"):
        if kind in true:
            return kind
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = job.get("status") or {}
    # Pods that exist but none is ready (unschedulable, pulling, initialising) are not running
    # yet. `ready` is counted by the Job controller (1.29+); without it there is no telling.
    if "ready" in status and _int(status.get("ready")) == 0 and not _int(status.get("succeeded")):
        return "Pending"
    return "Running"


def job_row(
    job: Obj,
    now: float,
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> Row:
    ns, name, labels = _meta(job)
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    state = job_status(job)
    succeeded = _int(status.get("succeeded"))
    parallelism = _int(spec.get("parallelism", 1))
    completions = spec.get("completions")
    if completions is not None:
        done = f"{succeeded}/{_int(completions)}"
        # The controller never runs more pods than completions still missing.
        pods = min(parallelism, max(_int(completions), 1))
    else:
        done = f"{succeeded}/1" if parallelism <= 1 else f"{succeeded}/1 of {parallelism}"
        pods = parallelism
    template = (spec.get("template") or {}).get("spec") or {}
    per_pod = gpu_requests({"spec": template}, names, prefixes)
    gpus = {r: n * pods for r, n in per_pod.items()}
    end = status.get("completionTime")
    if end is None and state == "Failed":
        end = next(
            (
                c.get("lastTransitionTime")
                for c in status.get("conditions") or ()
                if c.get("type") == "Failed"
            ),
            None,
        )
    dur = duration_seconds(status.get("startTime"), end, now)
    age, age_s = _age(job, now)
    why = ""
    if state == "Suspended":
        # Kueue holds a queued Job suspended until its queue admits it (:wl says why in detail).
        queue = labels.get(QUEUE_LABEL, "")
        why = f"waiting for Kueue queue {clean(queue, 63)} (:wl)" if queue else "suspended (spec.suspend)"
    return Row(
        key=_key(ns, name),
        cells=(ns, name, state, done, fmt_gpus(gpus), fmt_age(dur), age, why),
        sort=(ns, name, state, succeeded, sum(gpus.values()), NO_VALUE if dur is None else dur, age_s, why),
        status=_JOB_HINT.get(state, ""),
        labels=labels,
        namespace=ns,
        name=name,
    )


# --- persistent volume claims -----------------------------------------------------------------

PVC_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 32, min_width=20, cut="middle"),
    Column("STATUS", 8),
    Column("CAPACITY", 8, "right", priority=1),
    Column("STORAGECLASS", 14, priority=3),
    Column("ACCESS-MODES", 12, priority=4),
    Column("USED-BY", 24, priority=1),
    Column("AGE", 6, "right", priority=2),
    # Why a Pending claim binds no volume (no such StorageClass, no default, waiting for a pod).
    Column("WHY PENDING", 40, priority=5),
)
_ACCESS = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
_PVC_HINT = {"Bound": "ok", "Pending": "pending", "Lost": "error", "Terminating": "warn"}


def pvc_users(pods: Iterable[Obj], include_finished: bool = False) -> dict[str, list[str]]:
    """Map "namespace/pvc" to the sorted names of the pods mounting it.

    Finished pods (Succeeded/Failed) are left out unless asked for: like the pvc-protection
    controller, they no longer keep the claim in use. Generic ephemeral volumes count too
    (their claim is named "<pod>-<volume>").
    """
    users: dict[str, list[str]] = {}
    for pod in pods:
        if not include_finished and (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        meta = pod.get("metadata") or {}
        ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim and vol.get("ephemeral") is not None:
                claim = f"{name}-{vol.get('name', '')}"
            if claim:
                users.setdefault(f"{ns}/{claim}", []).append(name)
    for names in users.values():
        names.sort()
    return users


def pvc_row(pvc: Obj, now: float, used_by: Mapping[str, list[str]] | None = None,
            storage_classes: Callable[[], Iterable[Obj]] | None = None) -> Row:
    """`storage_classes` gives the cluster's StorageClasses, read only for a Pending claim."""
    ns, name, labels = _meta(pvc)
    spec = pvc.get("spec") or {}
    status = pvc.get("status") or {}
    meta = pvc.get("metadata") or {}
    phase = clean("Terminating" if meta.get("deletionTimestamp") else status.get("phase") or "Pending", 32)
    raw_cap = (status.get("capacity") or {}).get("storage", "")
    capacity = clean(raw_cap, 32)
    modes = status.get("accessModes") or spec.get("accessModes") or ()
    access = clean(",".join(_ACCESS.get(m, str(m)) for m in modes), 64)
    sc = clean(spec.get("storageClassName") or "", 253)
    users = list((used_by or {}).get(f"{meta.get('namespace', '')}/{meta.get('name', '')}", ()))
    used = clean(",".join(users), 256) if used_by is not None else ""
    age, age_s = _age(pvc, now)
    why = ""
    if phase == "Pending":
        from cockpit.kube.why import pvc_reason

        why = pvc_reason(pvc, storage_classes() if storage_classes else ())
    return Row(
        key=_key(ns, name),
        cells=(ns, name, phase, capacity, sc, access, used, age, why),
        sort=(ns, name, phase, parse_quantity(raw_cap, 0.0), sc, access, len(users), age_s, why),
        status=_PVC_HINT.get(phase, ""),
        labels=labels,
        namespace=ns,
        name=name,
    )


# --- nodes ------------------------------------------------------------------------------------

NODE_COLUMNS: tuple[Column, ...] = (
    Column("NAME", 32, min_width=20, cut="middle"),
    Column("STATUS", 18),
    Column("GPU-PRODUCT", 22, priority=1),
    Column("GPUS", 12, "right"),
    Column("ROLES", 14, priority=3),
    Column("AGE", 6, "right", priority=2),
)
_ROLE_PREFIX = "node-role.kubernetes.io/"


def node_status(node: Obj) -> str:
    ready = node_ready(node)
    parts = ["Ready" if ready else "NotReady" if ready is False else "Unknown"]
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        parts.append("SchedulingDisabled")
    taints = [
        t for t in spec.get("taints") or ()
        if t.get("effect") in ("NoSchedule", "NoExecute")
        and t.get("key") != "node.kubernetes.io/unschedulable"
    ]  # fmt: skip
    if taints:
        parts.append("Tainted")
    return ",".join(parts)


def node_row(
    node: Obj,
    now: float,
    allocated: Mapping[str, float] | None = None,
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> Row:
    """`allocated`: GPU resource -> requested on this node (`PodGpuIndex.allocated`); None = unknown."""
    _, name, labels = _meta(node)
    info = node_gpu_info(node, names, prefixes)
    state = node_status(node)
    parts: list[str] = []
    whole = 0.0
    for resource, pool in info.pools.items():
        used = "?" if allocated is None else _num(allocated.get(resource, 0.0))
        base = resource.rsplit("/", 1)[-1]
        text = f"{used}/{_num(pool.allocatable)}"
        if base == "gpu":
            whole += pool.allocatable
        else:
            text += f" {base}"
        parts.append(text)
    gpus = clean(" ".join(parts), 64) if parts else "-"
    roles = sorted(k[len(_ROLE_PREFIX) :] for k in labels if k.startswith(_ROLE_PREFIX))
    if not roles and labels.get("kubernetes.io/role"):
        roles = [labels["kubernetes.io/role"]]
    role_text = clean(",".join(r for r in roles if r) or "<none>", 64)
    age, age_s = _age(node, now)
    hint = "ok" if state == "Ready" else "error" if state.startswith(("NotReady", "Unknown")) else "warn"
    return Row(
        key=name,
        cells=(name, state, info.product or "-", gpus, role_text, age),
        sort=(name, state, info.product, whole, role_text, age_s),
        status=hint,
        labels=labels,
        name=name,
    )


# --- Argo workflows ---------------------------------------------------------------------------

WORKFLOW_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 36, min_width=20, cut="middle"),
    Column("PHASE", 12),
    Column("PROGRESS", 8, "right", priority=1),
    Column("DURATION", 8, "right", priority=2),
    Column("AGE", 6, "right", priority=3),
    Column("MESSAGE", 30, priority=4),
)
_WF_HINT = {"Succeeded": "done", "Running": "ok", "Pending": "pending", "Failed": "error",
            "Error": "error", "Unknown": "", "Suspended": "warn", "Stopping": "warn",
            "Terminating": "warn"}  # fmt: skip


def workflow_phase(wf: Obj) -> str:
    phase = str((wf.get("status") or {}).get("phase") or "Unknown")
    spec = wf.get("spec") or {}
    if phase == "Running":
        # One word each, so the PHASE column never cuts them ("Running (Su…").
        if spec.get("shutdown"):
            return {"Stop": "Stopping", "Terminate": "Terminating"}.get(str(spec["shutdown"]), "Stopping")
        if spec.get("suspend"):
            return "Suspended"
    return phase


def _progress_ratio(progress: str) -> float:
    done, _, total = progress.partition("/")
    try:
        return int(done) / int(total) if int(total) else 0.0
    except ValueError:
        return NO_VALUE


def workflow_row(wf: Obj, now: float) -> Row:
    ns, name, labels = _meta(wf)
    status = wf.get("status") or {}
    phase = clean(workflow_phase(wf), 64)
    progress = clean(status.get("progress", ""), 16)
    dur = duration_seconds(status.get("startedAt"), status.get("finishedAt"), now)
    age, age_s = _age(wf, now)
    message = clean(status.get("message", ""), 256)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, phase, progress, fmt_age(dur), age, message),
        sort=(ns, name, phase, _progress_ratio(progress), NO_VALUE if dur is None else dur, age_s, message),
        status=_WF_HINT.get(phase.split(" ", 1)[0], ""),
        labels=labels,
        namespace=ns,
        name=name,
    )


# --- Katib ------------------------------------------------------------------------------------

EXPERIMENT_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 30, min_width=20, cut="middle"),
    Column("STATUS", 10),
    Column("TRIALS", 7, "right"),
    Column("RUNNING", 7, "right", priority=2),
    Column("FAILED", 6, "right", priority=2),
    Column("OBJECTIVE", 24, priority=3),
    Column("BEST", 28, priority=1),
    Column("AGE", 6, "right", priority=3),
)
TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("NAME", 36, min_width=20, cut="middle"),
    Column("STATUS", 12),
    Column("PARAMETERS", 40, priority=1),
    Column("OBJECTIVE", 10, "right"),
    Column("AGE", 6, "right", priority=2),
)
_KATIB_HINT = {"Succeeded": "done", "Running": "ok", "Created": "pending", "Restarting": "pending",
               "Failed": "error", "Killed": "warn", "EarlyStopped": "done",
               "MetricsUnavailable": "error"}  # fmt: skip


def _metric_latest(metrics: Iterable[Mapping[str, Any]], metric_name: str) -> str:
    metrics = list(metrics)
    for m in metrics:
        if m.get("name") == metric_name:
            return str(m.get("latest", ""))
    return str(metrics[0].get("latest", "")) if metrics and not metric_name else ""


def experiment_row(exp: Obj, now: float) -> Row:
    ns, name, labels = _meta(exp)
    spec = exp.get("spec") or {}
    status = exp.get("status") or {}
    state = clean(_last_true_condition(exp) or "Created", 32)
    objective = spec.get("objective") or {}
    metric = str(objective.get("objectiveMetricName", ""))
    obj_text = f"{objective.get('type', '')} {metric}".strip()
    if objective.get("goal") is not None:
        obj_text += f" (goal {objective['goal']})"
    total = _int(status.get("trials"))
    succeeded = _int(status.get("trialsSucceeded"))
    running = _int(status.get("trialsRunning"))
    failed = _int(status.get("trialsFailed"))
    best = status.get("currentOptimalTrial") or {}
    best_name = str(best.get("bestTrialName") or "")
    best_value = _metric_latest((best.get("observation") or {}).get("metrics") or (), metric)
    best_text = clean(f"{best_name} {best_value}".strip(), 128) if best_name else ""
    age, age_s = _age(exp, now)
    return Row(
        key=_key(ns, name),
        cells=(
            ns,
            name,
            state,
            f"{succeeded}/{total}",
            str(running),
            str(failed),
            clean(obj_text, 128),
            best_text,
            age,
        ),
        sort=(ns, name, state, succeeded, running, failed, obj_text, _float(best_value), age_s),
        status=_KATIB_HINT.get(state, ""),
        labels=labels,
        namespace=ns,
        name=name,
    )


def trial_row(trial: Obj, now: float) -> Row:
    ns, name, labels = _meta(trial)
    spec = trial.get("spec") or {}
    status = trial.get("status") or {}
    state = clean(_last_true_condition(trial) or "Created", 32)
    params = clean(
        " ".join(f"{p.get('name', '')}={p.get('value', '')}" for p in spec.get("parameterAssignments") or ()),
        256,
    )
    metric = str((spec.get("objective") or {}).get("objectiveMetricName", ""))
    value = _metric_latest((status.get("observation") or {}).get("metrics") or (), metric)
    age, age_s = _age(trial, now)
    return Row(
        key=_key(ns, name),
        cells=(name, state, params, clean(value, 32), age),
        sort=(name, state, params, _float(value), age_s),
        status=_KATIB_HINT.get(state, ""),
        labels=labels,
        namespace=ns,
        name=name,
    )


# --- namespaces -------------------------------------------------------------------------------

NAMESPACE_COLUMNS: tuple[Column, ...] = (
    Column("NAME", 40, min_width=24, cut="middle"),
    Column("STATUS", 12),
    Column("AGE", 6, "right", priority=1),
)


def namespace_row(ns_obj: Obj, now: float) -> Row:
    _, name, labels = _meta(ns_obj)
    phase = clean((ns_obj.get("status") or {}).get("phase") or "Active", 32)
    age, age_s = _age(ns_obj, now)
    return Row(
        key=name,
        cells=(name, phase, age),
        sort=(name, phase, age_s),
        status="ok" if phase == "Active" else "warn",
        labels=labels,
        name=name,
    )
