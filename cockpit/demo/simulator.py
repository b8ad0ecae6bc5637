"""What the demo's simulated containers "do": a process on the host that writes training logs
and serves a small HTTP page standing in for Jupyter, both reached through the API server
(KWOK's ClusterLogs and ClusterPortForward point at them).

It also stands in for dcgm-exporter: one loopback port per GPU node of the default fleet
(listed in `<workdir>/exporters.json` as {node: port}; KWOK PortForward objects made by the
seeder send each exporter pod's port 9400 there) serves that node's GPUs in the exporter's
text format. The values come from `<workdir>/gpu-util.json`, re-read on every request, which
tests and the seeder write (see `gpu_layout` for the keys and `render_metrics` for the fields).

Run as `python -m cockpit.demo.simulator WORKDIR PORT`; `cockpit demo up` starts it and
`down` stops it. Log files are in the CRI format the kubelet writes, which KWOK serves.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import math
import os
import random
import signal
import socket
import sys
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.demo.nodes import default_nodes

# Files grow forever otherwise; the demo keeps the newest lines only.
MAX_LOG_BYTES = 4 * 1024 * 1024


def cri_line(text: str, stream: str = "stdout", when: dt.datetime | None = None) -> str:
    ts = (when or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{ts} {stream} F {text}\n"


def append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as f:
        for line in lines:
            f.write(cri_line(line))


def training_line(step: int, rng: random.Random) -> str:
    loss = 2.3 * math.exp(-step / 400) + rng.uniform(0, 0.05)
    return (f"step {step:6d} | loss {loss:.4f} | lr 3.0e-04 | {rng.uniform(380, 420):.0f} samples/s "
            f"| gpu_mem 61.2GiB")


class JupyterStandIn(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><head><title>Jupyter Server (demo)</title></head><body>Jupyter demo</body></html>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep quiet
        pass


def run(workdir: Path, http_port: int, metrics: bool = True) -> None:
    logs = workdir / "pod-logs"
    logs.mkdir(parents=True, exist_ok=True)
    train = logs / "training.log"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), JupyterStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exporters: list[http.server.ThreadingHTTPServer] = []
    if metrics:
        try:
            exporters = start_exporters(workdir)
        except Exception as e:  # noqa: BLE001 - the logs and the Jupyter page go on without it
            print(f"simulator: the dcgm-exporter stand-in did not start: {e}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rng = random.Random(7)
    step = 0
    while not stop.is_set():
        step += 10
        append_lines(train, [training_line(step, rng)])
        if train.stat().st_size > MAX_LOG_BYTES:
            keep = train.read_bytes()[-MAX_LOG_BYTES // 2:]
            train.write_bytes(keep[keep.index(b"\n") + 1:])
        stop.wait(1.0)
    server.shutdown()
    for exporter in exporters:
        exporter.shutdown()


# -- the dcgm-exporter stand-in ------------------------------------------------------------------

EXPORTERS_FILE = "exporters.json"
CONTROL_FILE = "gpu-util.json"
DRIVER_VERSION = "550.127.05"
# GPU instance ids the A100 gives each MIG profile (first instance; the next ones count up).
_MIG_GI_BASE = {1: 7, 2: 3, 3: 1, 4: 5, 7: 0}
# Idle and full-load board power (W) per model, for a believable power reading.
_POWER = {"A100": (62.0, 400.0), "H100": (72.0, 700.0), "T4": (10.0, 70.0)}


@dataclass(frozen=True)
class SimDevice:
    """One simulated GPU or MIG instance of a node."""

    node: str
    gpu: int
    uuid: str
    model: str
    memory_mib: int
    resource: str  # what a pod requests to get it: nvidia.com/gpu or nvidia.com/mig-<profile>
    host_label: str  # "Hostname" or "hostname": both spellings exist in the field
    mig_profile: str = ""
    mig_id: str = ""
    replicas: int = 1  # time-slicing: pods that may share it
    profiling: bool = False  # also reports DCGM_FI_PROF_GR_ENGINE_ACTIVE

    @property
    def key(self) -> str:
        """Its key in gpu-util.json: "node/gpu", or "node/gpu/gi" for a MIG instance."""
        return f"{self.node}/{self.gpu}/{self.mig_id}" if self.mig_id else f"{self.node}/{self.gpu}"


def _model_name(product: str) -> str:
    # Feature discovery's product label has dashes where the driver's name has a space.
    name = product.removesuffix("-SHARED")
    head, _, tail = name.partition("-")
    return f"{head} {tail}" if tail else head


def gpu_layout(nodes: list[dict] | None = None) -> dict[str, list[SimDevice]]:
    """The simulated devices of each GPU node (default: the seeded fleet's), in node order.

    Whole GPUs are numbered 0..count-1. On the MIG node the instances fill GPUs in profile
    order (seven slices a GPU), each with the GPU instance id an A100 gives it; GPUs left over
    have MIG on and no instance, so they report nothing. Every other node (sorted by name)
    spells its host label `hostname`, the others `Hostname`.
    """
    if nodes is None:
        nodes = default_nodes()
    gpu_nodes = sorted((n for n in nodes if n["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"),
                       key=lambda n: n["metadata"]["name"])
    layout: dict[str, list[SimDevice]] = {}
    for index, n in enumerate(gpu_nodes):
        name = n["metadata"]["name"]
        labels = n["metadata"]["labels"]
        host_label = "Hostname" if index % 2 == 0 else "hostname"
        model = _model_name(labels.get("nvidia.com/gpu.product", "NVIDIA-GPU"))
        count = int(labels.get("nvidia.com/gpu.count", "0"))
        memory = int(labels.get("nvidia.com/gpu.memory", "0"))
        profiling = labels.get("nvidia.com/gpu.family") == "hopper"

        def uid(gpu: int, name: str = name) -> str:
            return f"GPU-{uuidlib.uuid5(uuidlib.NAMESPACE_URL, f'gpu-cockpit-demo/{name}/{gpu}')}"

        devices: list[SimDevice] = []
        if labels.get("nvidia.com/mig.strategy") == "mixed":
            profiles = sorted((k.removeprefix("nvidia.com/mig-").removesuffix(".count"), int(v))
                              for k, v in labels.items() if k.startswith("nvidia.com/mig-") and k.endswith(".count"))
            gpu, used, seen = 0, 0, {}
            for profile, n_instances in profiles:
                slices = int(profile.split("g.", 1)[0])
                mem = int(labels.get(f"nvidia.com/mig-{profile}.memory", "0"))
                for _ in range(n_instances):
                    if used + slices > 7:
                        gpu, used = gpu + 1, 0
                    k = seen[(gpu, profile)] = seen.get((gpu, profile), -1) + 1
                    devices.append(SimDevice(name, gpu, uid(gpu), model, mem, f"nvidia.com/mig-{profile}", host_label,
                                             mig_profile=profile, mig_id=str(_MIG_GI_BASE.get(slices, 8) + k),
                                             profiling=True))
                    used += slices
        else:
            replicas = int(labels.get("nvidia.com/gpu.replicas", "1") or 1)
            for gpu in range(count):
                devices.append(SimDevice(name, gpu, uid(gpu), model, memory, "nvidia.com/gpu", host_label,
                                         replicas=replicas, profiling=profiling))
        layout[name] = devices
    return layout


def read_control(workdir: Path) -> dict[str, Any]:
    try:
        data = json.loads((workdir / CONTROL_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read_exporter_ports(workdir: Path) -> dict[str, int]:
    try:
        data = json.loads((workdir / EXPORTERS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _num(v: Any, default: float = 0.0) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _value(entry: dict, now: float, phase: float) -> tuple[float, float]:
    """(util %, memory used MiB) of a control entry at `now`; "jitter": N makes a busy GPU
    wander by up to N points (never down to 0), so sparklines move."""
    util = min(max(_num(entry.get("util")), 0.0), 100.0)
    jitter = _num(entry.get("jitter"))
    if util > 0 and jitter > 0:
        util = min(max(util + jitter * math.sin(now / 7.0 + phase), 1.0), 100.0)
        util = round(util)
    return util, max(_num(entry.get("fb_used")), 0.0)


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def render_metrics(devices: list[SimDevice], control: dict[str, Any], now: float | None = None) -> str:
    """A node's /metrics page in dcgm-exporter's format, values from `control`:
    {"node/gpu[/gi]": {"util": 0-100, "fb_used": MiB, "pod": "ns/name" (or a list of them,
    time-slicing), "container": name, "jitter": points}}; a device not listed is idle and free."""
    now = time.time() if now is None else now
    series: dict[str, list[str]] = {}
    for d in devices:
        entry = control.get(d.key)
        entry = entry if isinstance(entry, dict) else {}
        util, used = _value(entry, now, d.gpu + (int(d.mig_id) if d.mig_id.isdigit() else 0) / 10)
        used = min(used, float(d.memory_mib))
        pods = entry.get("pod") or []
        pods = [pods] if isinstance(pods, str) else [p for p in pods if isinstance(p, str)]
        low, high = next((v for k, v in _POWER.items() if k in d.model), (50.0, 300.0))
        share = int(d.mig_profile.split("g.", 1)[0]) / 7 if d.mig_profile else 1.0
        values = {
            "DCGM_FI_DEV_GPU_TEMP": f"{round(31 + util * 0.45)}",
            "DCGM_FI_DEV_POWER_USAGE": f"{(low + (high - low) * util / 100) * share:.3f}",
            "DCGM_FI_DEV_FB_FREE": f"{round(d.memory_mib - used)}",
            "DCGM_FI_DEV_FB_USED": f"{round(used)}",
        }
        if not d.mig_profile:
            values["DCGM_FI_DEV_GPU_UTIL"] = f"{round(util)}"
        if d.profiling:
            values["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] = f"{util / 100:.6f}"
        for pod in pods or [""]:
            ns, _, name = pod.partition("/") if "/" in pod else ("", "", pod)
            labels = [("gpu", str(d.gpu)), ("UUID", d.uuid), ("pci_bus_id", f"00000000:{0x07 + d.gpu * 8:02X}:00.0"),
                      ("device", f"nvidia{d.gpu}"), ("modelName", d.model)]
            if d.mig_profile:
                labels += [("GPU_I_PROFILE", d.mig_profile), ("GPU_I_ID", d.mig_id)]
            labels += [(d.host_label, d.node), ("DCGM_FI_DRIVER_VERSION", DRIVER_VERSION)]
            if name:
                labels += [("container", str(entry.get("container") or "main")), ("namespace", ns), ("pod", name)]
            text = ",".join(f'{k}="{_esc(v)}"' for k, v in labels)
            for metric, value in values.items():
                series.setdefault(metric, []).append(f"{metric}{{{text}}} {value}")
    helps = {
        "DCGM_FI_DEV_GPU_TEMP": "GPU temperature (in C).",
        "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
        "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
        "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
        "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
    }
    out: list[str] = []
    for metric, lines in series.items():
        out.append(f"# HELP {metric} {helps[metric]}")
        out.append(f"# TYPE {metric} gauge")
        out.extend(lines)
    return "\n".join(out) + "\n"


class ExporterStandIn(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    workdir: Path
    devices: list[SimDevice]

    def do_GET(self):
        if self.path.split("?", 1)[0] != "/metrics":
            body, status, kind = b"404 page not found\n", 404, "text/plain; charset=utf-8"
        else:
            body = render_metrics(self.devices, read_control(self.workdir)).encode()
            status, kind = 200, "text/plain; version=0.0.4; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep quiet
        pass


def _bind(port: int) -> http.server.ThreadingHTTPServer | None:
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), ExporterStandIn)
    except OSError:
        return None


def start_exporters(workdir: Path) -> list[http.server.ThreadingHTTPServer]:
    """One exporter stand-in per GPU node, on the ports of the last run when still free (so
    PortForward objects made then stay right), else on new ones; then exporters.json."""
    previous = read_exporter_ports(workdir)
    servers: list[http.server.ThreadingHTTPServer] = []
    ports: dict[str, int] = {}
    for node, devices in gpu_layout().items():
        handler = type(f"Exporter_{node.replace('-', '_')}", (ExporterStandIn,),
                       {"workdir": workdir, "devices": devices})
        server = None
        if previous.get(node):
            server = _bind(previous[node])
        if server is None:
            server = _bind(0)
        if server is None:
            continue
        server.RequestHandlerClass = handler
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"exporter-{node}", daemon=True).start()
        servers.append(server)
        ports[node] = server.server_address[1]
    write_json(workdir / EXPORTERS_FILE, ports)
    return servers


def port_listening(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))
    time.sleep(0)
