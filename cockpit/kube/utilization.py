"""GPU utilisation over time: allocated is not the same as used.

`UtilizationTracker` keeps, per device (GPU or MIG instance), per node and per pod, the last
values seen (a bounded ring for sparklines) and since when each pod's GPUs have been at zero.
`MetricsScraper` feeds it from the dcgm-exporter pods through the API server, or from NVML on
the GPU box itself; with neither it stays off, quietly. `idle_rows` and `node_util_cells` give
the `:idle` view and the GPU pane's utilisation columns. No UI imports here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from cockpit.kube.dcgm import Exporter, GpuSample, MetricsError, MetricsFetcher, list_exporters, parse_metrics
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import fmt_age
from cockpit.kube.text import clean

__all__ = [
    "DEFAULT_IDLE_WINDOW_SECONDS",
    "IDLE_COLUMNS",
    "RING_SIZE",
    "SPARK_CHARS",
    "UTIL_COLUMNS",
    "IdlePod",
    "MetricsScraper",
    "NodeUtil",
    "PodUtil",
    "UtilizationTracker",
    "fmt_mib",
    "idle_rows",
    "node_util_cells",
    "sparkline",
]

RING_SIZE = 120
DEFAULT_IDLE_WINDOW_SECONDS = 600.0
SPARK_CHARS = "▁▂▃▄▅▆▇█"


# --- rendering helpers ------------------------------------------------------------------------


def sparkline(values: Iterable[float | None], width: int, top: float = 100.0) -> str:
    """The last `width` values as ▁..█ on a fixed 0..`top` scale (utilisation is a percentage,
    so bars are comparable between rows), right-aligned; a missing value is a space."""
    if width <= 0:
        return ""
    vals = list(values)[-width:]
    out = []
    steps = len(SPARK_CHARS) - 1
    for v in vals:
        if v is None:
            out.append(" ")
            continue
        ratio = min(max(v / top, 0.0), 1.0) if top > 0 else 0.0
        out.append(SPARK_CHARS[int(ratio * steps + 0.5)])
    return " " * (width - len(out)) + "".join(out)


def fmt_mib(mib: float | None) -> str:
    if mib is None:
        return "-"
    if mib < 1024:
        return f"{mib:.0f}Mi"
    return f"{mib / 1024:.1f}Gi"


# --- the tracker ------------------------------------------------------------------------------


class NodeUtil(NamedTuple):
    avg_util: float | None  # mean over the node's devices, percent
    fb_used_mib: float | None
    fb_total_mib: float | None
    spark: list[float | None]  # average utilisation per scrape, oldest first


class PodUtil(NamedTuple):
    avg_util: float | None
    fb_used_mib: float | None
    gpus: int
    spark: list[float | None]


@dataclass(frozen=True, slots=True)
class IdlePod:
    pod_key: str
    gpus: int
    idle_for_seconds: float
    fb_used_mib: float | None
    node: str = ""
    idle_since: float = 0.0


@dataclass
class _Device:
    latest: GpuSample
    at: float
    ring: deque = field(default_factory=lambda: deque(maxlen=RING_SIZE))


@dataclass
class _Node:
    at: float = 0.0
    devices: set[str] = field(default_factory=set)
    ring: deque = field(default_factory=lambda: deque(maxlen=RING_SIZE))


@dataclass
class _Pod:
    node: str
    at: float = 0.0
    devices: set[str] = field(default_factory=set)
    util: float | None = None
    fb_used_mib: float | None = None
    idle_since: float | None = None
    ring: deque = field(default_factory=lambda: deque(maxlen=RING_SIZE))


def _mean(vals: Iterable[float | None]) -> float | None:
    xs = [v for v in vals if v is not None]
    return sum(xs) / len(xs) if xs else None


def _sum(vals: Iterable[float | None]) -> float | None:
    xs = [v for v in vals if v is not None]
    return sum(xs) if xs else None


class UtilizationTracker:
    """What the GPUs did lately. Thread-safe: a scraper thread adds, the UI reads.

    Each `add` is one complete reading of the nodes it covers: a pod no longer attributed a
    device on a node that was read is gone from that node (it finished, or let go of its GPU).
    A pod is idle once all its devices have reported 0 % for `window_seconds` without a break;
    any reading above zero ends that at once. Pods not read for `stale_seconds` (their node's
    exporter stopped answering) are not reported idle: there is no evidence either way.
    """

    def __init__(self, window_seconds: float = DEFAULT_IDLE_WINDOW_SECONDS, clock: Callable[[], float] = time.time,
                 stale_seconds: float = 120.0, ring_size: int = RING_SIZE):
        self.window_seconds = float(window_seconds)
        self.stale_seconds = float(stale_seconds)
        self.ring_size = ring_size
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: dict[tuple[str, str], _Device] = {}
        self._nodes: dict[str, _Node] = {}
        self._pods: dict[str, _Pod] = {}
        self.updated_at: float | None = None

    def _ring(self) -> deque:
        return deque(maxlen=self.ring_size)

    def add(self, samples: Iterable[GpuSample], at: float | None = None, nodes: Iterable[str] | None = None) -> None:
        """Record one reading. `nodes`: the nodes read completely this time (default: those in
        `samples`); give a node read with no GPU samples so its pods are let go."""
        at = self._clock() if at is None else at
        samples = list(samples)
        by_node: dict[str, list[GpuSample]] = {}
        for s in samples:
            by_node.setdefault(s.node, []).append(s)
        for n in nodes or ():
            by_node.setdefault(n, [])
        with self._lock:
            for node, node_samples in by_node.items():
                self._add_node(node, node_samples, at)
            self.updated_at = at

    def _add_node(self, node: str, samples: list[GpuSample], at: float) -> None:
        # The device's own values: from its unattributed sample when there is one (NVML gives
        # the totals there), else from the first.
        dev_sample: dict[str, GpuSample] = {}
        pods: dict[str, list[GpuSample]] = {}
        for s in samples:
            d = s.device
            if d not in dev_sample or (s.pod_key is None and dev_sample[d].pod_key is not None):
                dev_sample[d] = s
            if s.pod_key is not None:
                pods.setdefault(s.pod_key, []).append(s)
        n = self._nodes.get(node)
        if n is None:
            n = self._nodes[node] = _Node(ring=self._ring())
        gone = n.devices - dev_sample.keys()
        for d in gone:
            self._devices.pop((node, d), None)
        n.devices = set(dev_sample)
        n.at = at
        for d, s in dev_sample.items():
            dev = self._devices.get((node, d))
            if dev is None:
                dev = self._devices[(node, d)] = _Device(s, at, self._ring())
            dev.latest, dev.at = s, at
            dev.ring.append(s.util_pct)
        n.ring.append(_mean(s.util_pct for s in dev_sample.values()))
        # Pods of this node that were not attributed anything this time are gone from it.
        for key in [k for k, p in self._pods.items() if p.node == node and k not in pods]:
            del self._pods[key]
        for key, ps in pods.items():
            p = self._pods.get(key)
            if p is None or p.node != node:
                p = self._pods[key] = _Pod(node, ring=self._ring())
            utils = [s.util_pct for s in ps]
            known = [u for u in utils if u is not None]
            p.devices = {s.device for s in ps}
            p.util = _mean(known)
            p.fb_used_mib = _sum(s.fb_used_mib for s in ps)
            p.at = at
            p.ring.append(p.util)
            if not known:
                continue  # no utilisation reported (NVML on MIG): no evidence either way
            if max(known) > 0:
                p.idle_since = None
            elif p.idle_since is None:
                p.idle_since = at

    # -- reading -------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        with self._lock:
            return sorted(self._nodes)

    def devices(self, node: str) -> list[GpuSample]:
        """The latest sample of each device on `node`, in device order."""
        with self._lock:
            n = self._nodes.get(node)
            if n is None:
                return []
            return [self._devices[(node, d)].latest for d in sorted(n.devices, key=_device_order)]

    def node_summary(self, node: str, mig_profile: str | None = None) -> NodeUtil | None:
        """(avg util, fb used, fb total, sparkline values) of a node, or of its MIG instances of
        one profile; None when nothing is known about it."""
        with self._lock:
            n = self._nodes.get(node)
            if n is None:
                return None
            devs = [self._devices[(node, d)] for d in n.devices]
            if mig_profile is not None:
                devs = [d for d in devs if d.latest.mig_profile == mig_profile]
                if not devs:
                    return None
                spark = _mean_rings([d.ring for d in devs])
            else:
                spark = list(n.ring)
            latest = [d.latest for d in devs]
        return NodeUtil(_mean(s.util_pct for s in latest), _sum(s.fb_used_mib for s in latest),
                        _sum(s.fb_total_mib for s in latest), spark)

    def pod_summary(self, pod_key: str) -> PodUtil | None:
        with self._lock:
            p = self._pods.get(pod_key)
            if p is None:
                return None
            return PodUtil(p.util, p.fb_used_mib, len(p.devices), list(p.ring))

    def idle_pods(self, now: float | None = None) -> list[IdlePod]:
        """Pods holding GPUs whose utilisation has been 0 for at least the window, longest idle
        first."""
        now = self._clock() if now is None else now
        out: list[IdlePod] = []
        with self._lock:
            for key, p in self._pods.items():
                if p.idle_since is None or now - p.at > self.stale_seconds:
                    continue
                idle_for = now - p.idle_since
                if idle_for >= self.window_seconds:
                    out.append(IdlePod(key, len(p.devices), idle_for, p.fb_used_mib, p.node, p.idle_since))
        out.sort(key=lambda i: (-i.idle_for_seconds, i.pod_key))
        return out


def _device_order(d: str) -> tuple:
    gpu, _, rest = d.partition("/")
    return (int(gpu) if gpu.isdigit() else 1 << 30, gpu, rest)


def _mean_rings(rings: Sequence[deque]) -> list[float | None]:
    """Element-wise mean of rings aligned at their newest end."""
    if not rings:
        return []
    length = max(len(r) for r in rings)
    out: list[float | None] = []
    for i in range(length, 0, -1):
        out.append(_mean(r[-i] if len(r) >= i else None for r in rings))
    return out


# --- rows and cells for the UI ----------------------------------------------------------------

IDLE_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("POD", 40, min_width=24),
    Column("GPUS", 5, "right"),
    Column("IDLE FOR", 9, "right"),
    Column("MEMORY", 9, "right", priority=1),
    Column("NODE", 20, priority=3),
)

# For the GPU pane, after its own columns: the cells come from `node_util_cells`.
UTIL_COLUMNS: tuple[Column, ...] = (
    Column("UTIL", 5, "right", priority=1),
    Column("MEM", 13, "right", priority=2),
    Column("ACTIVITY", 12, priority=3),
)


def idle_rows(tracker: UtilizationTracker, now: float | None = None) -> list[Row]:
    """Rows of the `:idle` view (IDLE_COLUMNS), key "namespace/name" like the pods view."""
    rows = []
    for i in tracker.idle_pods(now):
        ns, sep, name = i.pod_key.partition("/")
        if not sep:
            ns, name = "", i.pod_key
        ns, name, node = clean(ns, 63), clean(name, 253), clean(i.node, 253)
        rows.append(Row(
            key=i.pod_key,
            cells=(ns, name, str(i.gpus), fmt_age(i.idle_for_seconds), fmt_mib(i.fb_used_mib), node),
            sort=(ns, name, i.gpus, i.idle_for_seconds, -1.0 if i.fb_used_mib is None else i.fb_used_mib, node),
            status="warn",
            namespace=ns,
            name=name,
        ))
    return rows


def node_util_cells(tracker: UtilizationTracker, node: str, resource: str | None = None,
                    spark_width: int = 12) -> tuple[str, str, str]:
    """(UTIL, MEM, ACTIVITY) cells for a GPU pane row of `node` (and `resource`: a MIG
    resource such as "nvidia.com/mig-1g.10gb" narrows to that profile's instances), or
    ("-", "-", "") while nothing is known."""
    profile = None
    if resource and resource.startswith("nvidia.com/mig-"):
        profile = resource.removeprefix("nvidia.com/mig-")
    s = tracker.node_summary(node, profile)
    if s is None:
        return ("-", "-", "")
    util = "-" if s.avg_util is None else f"{s.avg_util:.0f}%"
    if s.fb_used_mib is None:
        mem = "-"
    elif s.fb_total_mib:
        mem = f"{s.fb_used_mib / 1024:.0f}/{s.fb_total_mib / 1024:.0f}Gi"
    else:
        mem = fmt_mib(s.fb_used_mib)
    return (util, mem, sparkline(s.spark, spark_width))


# --- the scraper ------------------------------------------------------------------------------

OFF = "off"
EXPORTER = "dcgm-exporter"
NVML = "nvml"


def local_node_name() -> str:
    return os.environ.get("NODE_NAME") or socket.gethostname()


class MetricsScraper:
    """A thread that reads GPU metrics every `interval` seconds into `tracker`, then calls
    `on_update()` (from the scraper thread: post to the UI from there).

    Sources, checked again every `rediscover_seconds`: the dcgm-exporter pods (listed in every
    namespace by label, or given by `exporters`, a callable returning pods, pod rows or
    `Exporter`s: the app's pod store can supply them), read in parallel by at most
    `max_workers` at a time; without exporters, NVML on this machine. With neither, `state`
    is "off" and nothing is reported. `errors` holds the last failure per node."""

    def __init__(self, api, tracker: UtilizationTracker, interval: float = 5.0,
                 on_update: Callable[[], None] | None = None, *,
                 exporters: Callable[[], Iterable] | None = None, max_workers: int = 8, timeout: float = 10.0,
                 rediscover_seconds: float = 30.0, use_nvml: bool = True, local_node: str | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.api = api
        self.tracker = tracker
        self.interval = interval
        self.on_update = on_update
        self._exporters_source = exporters
        self.max_workers = max(1, max_workers)
        self.timeout = timeout
        self.rediscover_seconds = rediscover_seconds
        self.use_nvml = use_nvml
        self.local_node = local_node
        self._clock = clock
        self.fetcher = MetricsFetcher(api, timeout=timeout) if api is not None else None
        self.state = OFF
        self.errors: dict[str, str] = {}
        self.last_error = ""
        self._exporters: list[Exporter] = []
        self._found_at: float | None = None
        self._nvml: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> MetricsScraper:
        if self._thread is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="gpu-metrics")
            self._thread = threading.Thread(target=self._run, name="gpu-metrics-scraper", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait (at most `timeout`) for the thread; reads in flight end by their own
        timeouts and are thrown away."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scrape_once()
            except Exception as e:  # noqa: BLE001 - the scraper never dies of one bad round
                self.last_error = clean(f"{type(e).__name__}: {e}", 300)
            delay = self.interval if self.state != OFF else max(self.interval, self.rediscover_seconds)
            self._stop.wait(delay)

    # -- one round -----------------------------------------------------------------------------
    def _discover(self) -> list[Exporter]:
        now = self._clock()
        if self._found_at is not None and now - self._found_at < self.rediscover_seconds:
            return self._exporters
        found: list[Exporter] = []
        try:
            if self._exporters_source is not None:
                items = list(self._exporters_source() or [])
                found = [i for i in items if isinstance(i, Exporter)]
                if not found:
                    from cockpit.kube.dcgm import find_exporters

                    found = find_exporters(i for i in items if not isinstance(i, Exporter))
            elif self.api is not None:
                found = list_exporters(self.api, timeout=self.timeout)
        except Exception as e:  # noqa: BLE001 - 403 without `list pods`, no connection: off for now
            self.last_error = clean(f"listing exporters: {type(e).__name__}: {getattr(e, 'status', '') or e}", 300)
            found = []
        self._exporters = found
        self._found_at = now
        return found

    def _read(self, exp: Exporter) -> tuple[Exporter, list[GpuSample] | None, str]:
        if self._stop.is_set():
            return exp, None, "stopped"
        try:
            assert self.fetcher is not None
            return exp, parse_metrics(self.fetcher.fetch(exp), node=exp.node), ""
        except MetricsError as e:
            return exp, None, str(e)
        except Exception as e:  # noqa: BLE001
            return exp, None, clean(f"{type(e).__name__}: {e}", 300)

    def scrape_once(self) -> int:
        """One round: returns the number of samples recorded (0 when off or all reads failed)."""
        exporters = self._discover()
        samples: list[GpuSample] = []
        read_nodes: list[str] = []
        if exporters and self.fetcher is not None:
            pool = self._pool or ThreadPoolExecutor(self.max_workers, thread_name_prefix="gpu-metrics")
            try:
                results = list(pool.map(self._read, exporters))
            finally:
                if pool is not self._pool:
                    pool.shutdown(wait=False)
            for exp, got, err in results:
                if got is None:
                    self.errors[exp.node] = err
                    continue
                self.errors.pop(exp.node, None)
                samples += got
                read_nodes.append(exp.node)
            self.state = EXPORTER
            if not read_nodes:
                self._found_at = None  # every read failed: look for the exporters again next round
        elif self.use_nvml and self._nvml_ok():
            from cockpit.kube.nvml import read_local

            node = self.local_node or local_node_name()
            samples = read_local(node, resolve=self._pod_names_on(node))
            read_nodes = [node]
            self.state = NVML
        else:
            self.state = OFF
            return 0
        if self._stop.is_set():
            return 0
        if read_nodes:
            self.tracker.add(samples, nodes=read_nodes)
            if self.on_update is not None:
                with contextlib.suppress(Exception):
                    self.on_update()
        return len(samples)

    def _pod_names_on(self, node: str) -> dict[str, str] | None:
        """{pod UID: "namespace/name"} of the pods on `node`, for NVML's processes."""
        if self.api is None:
            return None

        try:
            from cockpit.kube.connection import request_json

            items = request_json(self.api, "GET", "/api/v1/pods", query=[("fieldSelector", f"spec.nodeName={node}")],
                                 timeout=(5, self.timeout)).get("items") or []
        except Exception:  # noqa: BLE001 - names stay UIDs
            return None
        out = {}
        for item in items:
            meta = item.get("metadata") or {}
            if meta.get("uid"):
                out[meta["uid"]] = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        return out

    def _nvml_ok(self) -> bool:
        if self._nvml is None:
            from cockpit.kube.nvml import nvml_available

            self._nvml = nvml_available()
        return self._nvml


def idle_share(spark: list[float | None]) -> float | None:
    """Share of recent utilisation samples at 0%; None when none is known."""
    known = [s for s in spark if s is not None]
    return sum(1 for s in known if s <= 0) / len(known) if known else None
