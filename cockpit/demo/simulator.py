"""What the demo's simulated containers "do": a process on the host that writes training logs
and serves a small HTTP page standing in for Jupyter, both reached through the API server
(KWOK's ClusterLogs and ClusterPortForward point at them).

Run as `python -m cockpit.demo.simulator WORKDIR PORT`; `cockpit demo up` starts it and
`down` stops it. Log files are in the CRI format the kubelet writes, which KWOK serves.
"""

from __future__ import annotations

import datetime as dt
import http.server
import math
import random
import signal
import sys
import threading
import time
from pathlib import Path

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


def run(workdir: Path, http_port: int) -> None:
    logs = workdir / "pod-logs"
    logs.mkdir(parents=True, exist_ok=True)
    train = logs / "training.log"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), JupyterStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
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


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))
    time.sleep(0)
