"""GPU pools per node and their allocation, computed the way the scheduler counts requests.

Everything here takes raw (JSON-decoded, camelCase) Kubernetes objects. See DOMAIN.md section 2.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from cockpit.kube.quantity import parse_quantity
from cockpit.kube.text import clean

__all__ = [
    "DEFAULT_GPU_PREFIXES",
    "DEFAULT_GPU_RESOURCES",
    "MIG_PREFIX",
    "ClusterGpu",
    "NodeAllocation",
    "NodeGpu",
    "PodGpuIndex",
    "Pool",
    "PoolAllocation",
    "PoolTotal",
    "ProductFree",
    "allocate",
    "allocate_from_index",
    "gpu_requests",
    "is_gpu_resource",
    "is_mig_resource",
    "node_gpu_info",
    "node_ready",
    "node_schedulable",
    "free_by_product",
    "blocking_taints",
    "pod_counts_for_node",
    "pod_key",
    "pod_requests",
]

DEFAULT_GPU_RESOURCES: tuple[str, ...] = (
    "nvidia.com/gpu",
    "nvidia.com/gpu.shared",
    "amd.com/gpu",
    "gpu.intel.com/i915",
    "gpu.intel.com/xe",
)
DEFAULT_GPU_PREFIXES: tuple[str, ...] = ("nvidia.com/mig-", "amd.com/")
MIG_PREFIX = "nvidia.com/mig-"

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def is_gpu_resource(
    name: str,
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> bool:
    return name in names or name.startswith(prefixes if isinstance(prefixes, tuple) else tuple(prefixes))


def is_mig_resource(name: str) -> bool:
    return name.startswith(MIG_PREFIX)


# --- effective pod requests -------------------------------------------------------------------


def _container_requests(container: Mapping[str, Any], keep: Callable[[str], bool] | None = None) -> dict[str, float]:
    res = container.get("resources") or {}
    requests = res.get("requests") or {}
    limits = res.get("limits") or {}
    out: dict[str, float] = {}
    # A limit alone sets the request (the API server defaults it so; templates may not be defaulted).
    for name in limits.keys() | requests.keys():
        if keep is not None and not keep(name):
            continue  # not asked for: not parsed (10,000 pods' cpu and memory add up)
        raw = requests[name] if name in requests else limits[name]
        out[name] = parse_quantity(raw, 0.0)
    return out


def _add(into: dict[str, float], other: Mapping[str, float]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0.0) + v


def _max(into: dict[str, float], other: Mapping[str, float]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0.0):
            into[k] = v


def pod_requests(pod: Mapping[str, Any], keep: Callable[[str], bool] | None = None) -> dict[str, float]:
    """Effective request per resource of a pod (or pod template), as the scheduler computes it.

    main = containers + sidecars (init containers with restartPolicy Always);
    init_i = regular init container i + sidecars declared before it;
    effective = max(main, max_i init_i) + spec.overhead. Pod-level spec.resources is ignored:
    it never covers extended resources such as GPUs. `keep`: only the resources it holds for.
    """
    spec = pod.get("spec") or {}
    main: dict[str, float] = {}
    for c in spec.get("containers") or ():
        _add(main, _container_requests(c, keep))
    init_peak: dict[str, float] = {}
    sidecars: dict[str, float] = {}
    for c in spec.get("initContainers") or ():
        req = _container_requests(c, keep)
        if c.get("restartPolicy") == "Always":
            _add(main, req)
            _add(sidecars, req)
            continue
        step = dict(sidecars)
        _add(step, req)
        _max(init_peak, step)
    _max(main, init_peak)
    for name, raw in (spec.get("overhead") or {}).items():
        if keep is None or keep(name):
            main[name] = main.get(name, 0.0) + parse_quantity(raw, 0.0)
    return main


def gpu_requests(
    pod: Mapping[str, Any],
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> dict[str, float]:
    """The GPU part of `pod_requests`, zero entries dropped. Inside `one_object()`, the same
    (read-only) dict comes back to every caller asking about the same pod object."""
    if not isinstance(names, (tuple, frozenset)):
        names = frozenset(names) if isinstance(names, set) else tuple(names)
    prefixes = prefixes if isinstance(prefixes, tuple) else tuple(prefixes)
    memo = getattr(_memo, "entry", None)
    if memo is not None and memo[0] is pod and memo[1] == names and memo[2] == prefixes:
        return memo[3]
    requests = pod_requests(pod, _gpu_names(names, prefixes).__getitem__)
    out = {k: v for k, v in requests.items() if v > 0} if requests else {}
    if getattr(_memo, "active", False):
        _memo.entry = (pod, names, prefixes, out)  # holds the pod: its id is not reused meanwhile
    return out


class _GpuNames(dict):
    """resource name -> whether it is a GPU resource, filled as names are met (a handful)."""

    def __init__(self, names: Iterable[str], prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.names, self.prefixes = names, prefixes

    def __missing__(self, name: str) -> bool:
        if len(self) > 4096:
            self.clear()
        keep = self[name] = name in self.names or name.startswith(self.prefixes)
        return keep


@lru_cache(maxsize=16)
def _gpu_names(names: Iterable[str], prefixes: tuple[str, ...]) -> _GpuNames:
    return _GpuNames(names, prefixes)


_memo = threading.local()


class one_object:
    """While one watch event's object goes through its consumers (the GPU index, GPU-hours, the
    row builder: each asks for the pod's GPU requests), they are computed once. Per thread; the
    memo ends with the block, so an object changed later is read afresh."""

    def __enter__(self) -> None:
        _memo.active, _memo.entry = True, None

    def __exit__(self, *exc) -> None:
        _memo.active, _memo.entry = False, None


def pod_counts_for_node(pod: Mapping[str, Any]) -> bool:
    """Whether the pod holds its node's resources: bound to a node and not finished."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    return bool(spec.get("nodeName")) and status.get("phase") not in _TERMINAL_PHASES


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


# --- nodes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pool:
    """One schedulable GPU resource on a node (a MIG profile is its own pool)."""

    resource: str
    allocatable: float
    capacity: float
    replicas: int = 1  # time-slicing/MPS factor per physical device

    @property
    def is_mig(self) -> bool:
        return is_mig_resource(self.resource)

    @property
    def physical(self) -> float | None:
        """Physical devices behind a shared pool (allocatable / replicas); None if not shared."""
        return self.allocatable / self.replicas if self.replicas > 1 else None


@dataclass(frozen=True, slots=True)
class NodeGpu:
    name: str
    product: str
    pools: dict[str, Pool]
    replicas: int = 1
    sharing_strategy: str = ""
    mig_strategy: str = ""
    cordoned: bool = False
    ready: bool = False
    taints: tuple[str, ...] = ()
    gpu_count: int | None = None
    memory_mib: int | None = None


def _int_label(labels: Mapping[str, str], key: str) -> int | None:
    try:
        return int(str(labels[key]).strip())
    except (KeyError, ValueError):
        return None


def _replicas(resource: str, labels: Mapping[str, str]) -> int:
    # GFD labels the replica factor of whole GPUs as nvidia.com/gpu.replicas, and of each MIG
    # profile under mixed strategy as nvidia.com/mig-<profile>.replicas.
    if resource.startswith("nvidia.com/gpu"):
        value = _int_label(labels, "nvidia.com/gpu.replicas")
    elif is_mig_resource(resource):
        value = _int_label(labels, f"{resource}.replicas")
    else:
        value = None
    return value if value and value > 0 else 1


def _taint_text(t: Mapping[str, Any]) -> str:
    key, value, effect = t.get("key", ""), t.get("value"), t.get("effect", "")
    text = f"{key}={value}" if value else str(key)
    return clean(f"{text}:{effect}" if effect else text, 253)


def node_ready(node: Mapping[str, Any]) -> bool | None:
    """True/False from the Ready condition; None when it is missing or Unknown."""
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return {"True": True, "False": False}.get(cond.get("status", ""))
    return None


def node_gpu_info(
    node: Mapping[str, Any],
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> NodeGpu:
    names = tuple(names)
    prefixes = tuple(prefixes)
    meta = node.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    status = node.get("status") or {}
    allocatable = status.get("allocatable") or {}
    capacity = status.get("capacity") or {}
    pools: dict[str, Pool] = {}
    for resource in sorted(allocatable.keys() | capacity.keys()):
        if not is_gpu_resource(resource, names, prefixes):
            continue
        alloc = parse_quantity(allocatable.get(resource, 0), 0.0)
        cap = parse_quantity(capacity.get(resource, 0), 0.0)
        if alloc == 0 and cap == 0:
            continue  # e.g. nvidia.com/gpu: "0" left beside the profiles under MIG mixed
        pools[resource] = Pool(resource, alloc, cap, _replicas(resource, labels))
    product = (
        labels.get("nvidia.com/gpu.product")
        or labels.get("cloud.google.com/gke-accelerator")
        or labels.get("karpenter.k8s.aws/instance-gpu-name")
        or ""
    )
    spec = node.get("spec") or {}
    return NodeGpu(
        name=clean(meta.get("name", ""), 253),
        product=clean(product, 128),
        pools=pools,
        replicas=_replicas("nvidia.com/gpu", labels),
        sharing_strategy=clean(labels.get("nvidia.com/gpu.sharing-strategy", ""), 64),
        mig_strategy=clean(labels.get("nvidia.com/mig.strategy", ""), 64),
        cordoned=bool(spec.get("unschedulable")),
        ready=node_ready(node) is True,
        taints=tuple(_taint_text(t) for t in spec.get("taints") or ()),
        gpu_count=_int_label(labels, "nvidia.com/gpu.count"),
        memory_mib=_int_label(labels, "nvidia.com/gpu.memory"),
    )


# --- schedulability ---------------------------------------------------------------------------
#
# "Free" in the cockpit means free for a new pod: GPUs not requested by any running pod, on a
# node that is Ready and not cordoned. A node whose NoSchedule/NoExecute taint the pod does not
# tolerate takes nothing new either, so its GPUs are counted apart ("on tainted nodes") instead
# of being offered as free. PreferNoSchedule only steers the scheduler and is not a block. The
# GPU pane's totals, the launch form's product list and `cockpit launch` all use these.

_BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
# The taint the node controller puts on a cordoned node: already counted as "cordoned".
_CORDON_TAINT = "node.kubernetes.io/unschedulable"


def blocking_taints(gpu: NodeGpu) -> tuple[str, ...]:
    """The node's taints (as "key=value:Effect") that keep an untolerating pod off it."""
    return tuple(t for t in gpu.taints
                 if t.rsplit(":", 1)[-1] in _BLOCKING_EFFECTS and not t.startswith(_CORDON_TAINT))


def _split_taint(text: str) -> tuple[str, str | None, str | None]:
    """"key[=value][:Effect]" -> (key, value or None, effect or None)."""
    body, _, effect = text.partition(":")
    key, eq, value = body.partition("=")
    return key, (value if eq else None), (effect or None)


def _tolerated(taint: str, tolerations: Iterable[str]) -> bool:
    key, value, effect = _split_taint(taint)
    for t in tolerations:
        tkey, tvalue, teffect = _split_taint(t.strip())
        # A toleration without a value tolerates every value (operator Exists); one without an
        # effect, every effect.
        if tkey == key and tvalue in (None, value) and teffect in (None, effect):
            return True
    return False


def node_schedulable(gpu: NodeGpu, tolerations: Iterable[str] = ()) -> bool:
    """Whether a new pod tolerating `tolerations` can be placed on the node."""
    if not gpu.ready or gpu.cordoned:
        return False
    tolerations = tuple(tolerations)
    return all(_tolerated(t, tolerations) for t in blocking_taints(gpu))


@dataclass(slots=True)
class ProductFree:
    """Free whole GPUs of one product, for a new pod (see "schedulability" above)."""

    product: str
    free: float | None = 0.0  # on schedulable nodes; None when allocation is unknown
    tainted: float | None = 0.0  # on Ready, uncordoned nodes whose taint the pod must tolerate
    nodes: int = 0

    def label(self) -> str:
        if self.free is None:
            return "free unknown"
        text = f"{self.free:g} free"
        if self.tainted:
            text += f", {self.tainted:g} more on tainted nodes"
        return text


def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def free_by_product(allocs: Iterable[NodeAllocation], tolerations: Iterable[str] = ()) -> list[ProductFree]:
    """Per GPU product (whole-GPU pools, MIG slices left out), sorted by product name."""
    tolerations = tuple(tolerations)
    out: dict[str, ProductFree] = {}
    for alloc in allocs:
        g = alloc.gpu
        if not g.product:
            continue
        whole = [p for p in alloc.pools.values() if not p.is_mig]
        if not whole:
            continue
        entry = out.setdefault(g.product, ProductFree(g.product))
        entry.nodes += 1
        free: float | None = 0.0
        for p in whole:
            free = _plus(free, p.free)
        if node_schedulable(g, tolerations):
            entry.free = _plus(entry.free, free)
        elif g.ready and not g.cordoned:
            entry.tainted = _plus(entry.tainted, free)
    return [out[k] for k in sorted(out)]


# --- incremental per-pod index ----------------------------------------------------------------


class _PodSummary(NamedTuple):  # a tuple: 10,000 are made at start, and compared on every event
    node: str
    counted: bool
    gpus: tuple[tuple[str, float], ...]
    dra: bool

    @property
    def holds(self) -> bool:
        """Whether the pod holds anything on its node."""
        return self.counted and bool(self.gpus or self.dra)


class PodGpuIndex:
    """GPU requests of pods grouped by node, updated one watch event at a time.

    Keeps only a tiny summary per pod (node, counted?, GPU requests, DRA claims) and running
    per-node sums, so an ADDED/MODIFIED/DELETED event costs O(pod), not O(cluster).
    """

    def __init__(
        self,
        names: Iterable[str] = DEFAULT_GPU_RESOURCES,
        prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
    ) -> None:
        self.names = tuple(names)
        self.prefixes = tuple(prefixes)
        self._pods: dict[str, _PodSummary] = {}
        self._alloc: dict[str, dict[str, float]] = {}
        self._holders: dict[str, dict[str, dict[str, float]]] = {}  # node -> pod key -> gpus
        self._dra: dict[str, set[str]] = {}  # node -> keys of counted pods with resourceClaims

    def __len__(self) -> int:
        return len(self._pods)

    def __contains__(self, key: object) -> bool:
        return key in self._pods

    def summarise(self, pod: Mapping[str, Any]) -> _PodSummary:
        spec = pod.get("spec") or {}
        node = str(spec.get("nodeName") or "")
        if not pod_counts_for_node(pod):
            return _PodSummary(node, False, (), False)
        gpus = gpu_requests(pod, self.names, self.prefixes)
        return _PodSummary(node, True, tuple(sorted(gpus.items())), bool(spec.get("resourceClaims")))

    def upsert(self, pod: Mapping[str, Any]) -> bool:
        """Whether what the pod holds on its node (GPUs, DRA claims) changed."""
        key = pod_key(pod)
        summary = self.summarise(pod)
        old = self._pods.get(key)
        if old == summary:
            return False
        self._pods[key] = summary
        if not (summary.holds or (old is not None and old.holds)):
            return False  # held nothing before or after (a pod without GPUs changing state)
        if old is not None:
            self._apply(key, old, -1.0)
        self._apply(key, summary, 1.0)
        return True

    def remove(self, key: str) -> None:
        old = self._pods.pop(key, None)
        if old is not None:
            self._apply(key, old, -1.0)

    def clear(self) -> None:
        self._pods.clear()
        self._alloc.clear()
        self._holders.clear()
        self._dra.clear()

    def _apply(self, key: str, s: _PodSummary, sign: float) -> None:
        if not s.counted:
            return
        if s.dra:
            claims = self._dra.setdefault(s.node, set())
            if sign > 0:
                claims.add(key)
            else:
                claims.discard(key)
                if not claims:
                    del self._dra[s.node]
        if not s.gpus:
            return
        alloc = self._alloc.setdefault(s.node, {})
        for resource, n in s.gpus:
            total = alloc.get(resource, 0.0) + sign * n
            if abs(total) < 1e-9:
                alloc.pop(resource, None)
            else:
                alloc[resource] = total
        if not alloc:
            del self._alloc[s.node]
        holders = self._holders.setdefault(s.node, {})
        if sign > 0:
            holders[key] = dict(s.gpus)
        else:
            holders.pop(key, None)
            if not holders:
                del self._holders[s.node]

    def allocated(self, node: str) -> dict[str, float]:
        """GPU resource -> amount requested by counted pods on `node`."""
        return dict(self._alloc.get(node, {}))

    def pods_on(self, node: str) -> list[tuple[str, dict[str, float]]]:
        """(namespace/name, {resource: count}) of pods holding GPUs on `node`, sorted by key."""
        return sorted((k, dict(v)) for k, v in self._holders.get(node, {}).items())

    def has_dra_claims(self, node: str) -> bool:
        return node in self._dra

    def nodes(self) -> set[str]:
        return set(self._alloc) | set(self._dra)


# --- allocation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolAllocation:
    resource: str
    allocatable: float
    capacity: float
    allocated: float | None  # None: pods could not be listed, allocation unknown (never 0)
    replicas: int = 1

    @property
    def free(self) -> float | None:
        return None if self.allocated is None else max(self.allocatable - self.allocated, 0.0)

    @property
    def physical(self) -> float | None:
        return self.allocatable / self.replicas if self.replicas > 1 else None

    @property
    def is_mig(self) -> bool:
        return is_mig_resource(self.resource)


@dataclass(frozen=True, slots=True)
class NodeAllocation:
    gpu: NodeGpu
    pools: dict[str, PoolAllocation]
    # Pods on this node hold GPUs through DRA ResourceClaims, which container resources do not
    # show: the UI must say "GPUs from ResourceClaims not counted" rather than call them free.
    dra_claims: bool = False

    @property
    def name(self) -> str:
        return self.gpu.name


@dataclass(slots=True)
class PoolTotal:
    """Cluster-wide sum of one (product, resource) pool."""

    product: str
    resource: str
    nodes: int = 0
    allocatable: float = 0.0
    capacity: float = 0.0
    allocated: float | None = 0.0
    physical: float | None = None  # only when some node shares this pool
    # allocatable on nodes that are cordoned or not Ready
    unavailable: float = 0.0
    # free for a new pod without tolerations: on nodes where `node_schedulable` holds
    schedulable_free: float | None = 0.0

    @property
    def free(self) -> float | None:
        return None if self.allocated is None else max(self.allocatable - self.allocated, 0.0)

    @property
    def is_mig(self) -> bool:
        return is_mig_resource(self.resource)


@dataclass(slots=True)
class ClusterGpu:
    nodes: dict[str, NodeAllocation] = field(default_factory=dict)
    pods_by_node: dict[str, list[tuple[str, dict[str, float]]]] = field(default_factory=dict)
    totals: dict[tuple[str, str], PoolTotal] = field(default_factory=dict)
    pods_known: bool = True


def allocate_from_index(
    nodes: Iterable[Mapping[str, Any]],
    index: PodGpuIndex,
    *,
    pods_known: bool = True,
) -> ClusterGpu:
    """Allocation of every node's GPU pools from an already filled `PodGpuIndex`.

    `pods_known=False` means pods cannot be listed (restricted RBAC): every allocation is
    None ("unknown"), never 0. Nodes without any GPU pool are left out.
    """
    result = ClusterGpu(pods_known=pods_known)
    for node in nodes:
        info = node_gpu_info(node, index.names, index.prefixes)
        if not info.pools:
            continue
        raw_name = str((node.get("metadata") or {}).get("name", ""))
        used = index.allocated(raw_name) if pods_known else None
        pools = {
            r: PoolAllocation(
                resource=r,
                allocatable=p.allocatable,
                capacity=p.capacity,
                allocated=None if used is None else used.get(r, 0.0),
                replicas=p.replicas,
            )
            for r, p in info.pools.items()
        }
        dra = pods_known and index.has_dra_claims(raw_name)
        result.nodes[info.name] = NodeAllocation(gpu=info, pools=pools, dra_claims=dra)
        holders = index.pods_on(raw_name) if pods_known else []
        if holders:
            result.pods_by_node[info.name] = holders
        add_to_totals(result.totals, result.nodes[info.name])
    return result


def add_to_totals(totals: dict[tuple[str, str], PoolTotal], alloc: NodeAllocation) -> None:
    """Add one node's pools into the per (product, resource) cluster totals."""
    info = alloc.gpu
    unavailable = info.cordoned or not info.ready
    for r, pa in alloc.pools.items():
        total = totals.setdefault((info.product, r), PoolTotal(info.product, r))
        total.nodes += 1
        total.allocatable += pa.allocatable
        total.capacity += pa.capacity
        if total.allocated is not None:
            total.allocated = None if pa.allocated is None else total.allocated + pa.allocated
        if pa.physical is not None:
            total.physical = (total.physical or 0.0) + pa.physical
        if unavailable:
            total.unavailable += pa.allocatable
        if node_schedulable(info):
            total.schedulable_free = _plus(total.schedulable_free, pa.free)


def allocate(
    nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]] | None,
    names: Iterable[str] = DEFAULT_GPU_RESOURCES,
    prefixes: Iterable[str] = DEFAULT_GPU_PREFIXES,
) -> ClusterGpu:
    """Per node and pool: allocatable, capacity, allocated, free. `pods=None`: unknown."""
    index = PodGpuIndex(names, prefixes)
    for pod in pods or ():
        index.upsert(pod)
    return allocate_from_index(nodes, index, pods_known=pods is not None)
