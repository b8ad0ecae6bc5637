"""Benchmark the log screen headless: synthetic log bursts through the follower's delivery path.

    .venv/bin/python bench/bench_logs.py                 # the default scenarios, one process each
    .venv/bin/python bench/bench_logs.py --rate 50000 --seconds 5 --pods 1 [--cap N] [--wrap]

Each producer thread stands in for a `LogFollower`: it is created by `LogScreen` through its
`follower_factory`, builds chunks of API-style lines (`<RFC 3339 timestamp> <text>\\n`), parses
them with the follower's own `parse_log_chunk` (timestamp split, `clean_log_line`) and hands each
chunk's batch to the screen's `on_lines` callback, paced to `--rate` lines per second in total
(0: as fast as it can). The run ends when the view has received every line sent.

Figures: lines sent and received by the view (must be equal: nothing dropped; the line cap only
bounds what the view keeps, and is reported separately), lines/s achieved (received / time from
the first line sent to the last one received), appends to the view per second (the screen
coalesces to at most ~20), event-loop lag (how late a 10 ms asyncio sleep wakes: what a key press
would wait) and the process's peak RSS (getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App

from cockpit.kube.logs import STREAMING, LogTarget, parse_log_chunk
from cockpit.ui.screens.logs import LogScreen

TEXT = "step {:9d} | loss 0.{:04d} | lr 3.0e-04 | 401 samples/s | gpu_mem 61.2GiB | rank {}"


class SyntheticFollower:
    """Same constructor and callbacks as LogFollower; produces lines instead of reading them."""

    go = threading.Event()
    instances: ClassVar[list[SyntheticFollower]] = []
    total = 0
    rate = 0.0  # per producer
    batch = 500

    def __init__(self, api, target, on_lines, on_state, *, previous=False, tail_lines=None):
        self.target, self.on_lines, self.on_state = target, on_lines, on_state
        self.sent = 0
        self.started = self.finished = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        SyntheticFollower.instances.append(self)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        self.on_state(self.target, STREAMING, "")
        self.go.wait()
        rank, total, rate, batch = self.target.prefix, self.total, self.rate, self.batch
        t0 = self.started = time.perf_counter()
        i = 0
        while i < total and not self._stop.is_set():
            n = min(batch, total - i)
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e9) % 10**9:09d}Z"
            data = "".join(f"{ts} {TEXT.format(k, k % 10000, rank)}\n" for k in range(i, i + n)).encode()
            lines, _ = parse_log_chunk(data, self.target.prefix)
            self.on_lines(self.target, lines)
            i += n
            self.sent = i
            self.finished = time.perf_counter()
            if rate:
                ahead = i / rate - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)


class BenchApp(App):
    def __init__(self, screen: LogScreen):
        super().__init__()
        self.log_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.log_screen)


async def measure(rate: int, seconds: float, pods: int, cap: int, wrap: bool, timestamps: bool) -> dict:
    per_pod_total = int((rate or 200_000) * seconds) // pods
    SyntheticFollower.total = per_pod_total
    SyntheticFollower.rate = rate / pods if rate else 0.0
    targets = [LogTarget("bench", f"train-{p}", "main", f"w{p}" if pods > 1 else "") for p in range(pods)]
    screen = LogScreen(object(), targets, title="bench", line_cap=cap, follower_factory=SyntheticFollower)
    app = BenchApp(screen)
    lags: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        view = screen.view
        view.set_wrap(wrap)
        view.set_timestamps(timestamps)

        async def lag_probe():
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t - 0.01)

        probe = asyncio.create_task(lag_probe())
        SyntheticFollower.go.set()
        total = per_pod_total * pods
        deadline = time.perf_counter() + seconds * 20 + 60
        while view.received < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        done = time.perf_counter()
        probe.cancel()
        await pilot.pause(0.1)
        producers = SyntheticFollower.instances
        sent = sum(p.sent for p in producers)
        start = min(p.started for p in producers)
        produced_in = max(p.finished for p in producers) - start
        lines = view.lines()
        contiguous = None
        if pods == 1 and lines:
            first, last = (int(ln.text.split()[1]) for ln in (lines[0], lines[-1]))
            contiguous = last - first + 1 == len(lines) and last == sent - 1
        rows_ok = all("\x1b" not in view.render_line(y).text for y in range(view.size.height))
    lags.sort()
    return {
        "rate_target": rate, "seconds": seconds, "pods": pods, "cap": cap, "wrap": wrap, "timestamps": timestamps,
        "sent": sent, "received": view.received, "kept": len(lines), "dropped_by_cap": view.dropped,
        "lost": sent - view.received, "buffer_contiguous": contiguous, "rows_rendered_ok": rows_ok,
        "produced_lines_per_s": round(sent / produced_in) if produced_in else 0,
        "achieved_lines_per_s": round(view.received / (done - start)),
        "appends": screen.flushes, "appends_per_s": round(screen.flushes / (done - start), 1),
        "loop_lag_ms_p50": round(lags[len(lags) // 2] * 1000, 1) if lags else None,
        "loop_lag_ms_p99": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None,
        "loop_lag_ms_max": round(lags[-1] * 1000, 1) if lags else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


SCENARIOS = [
    ["--rate", "50000", "--seconds", "6", "--pods", "1"],
    ["--rate", "50000", "--seconds", "6", "--pods", "8"],
    ["--rate", "50000", "--seconds", "6", "--pods", "1", "--wrap", "--timestamps"],
    ["--rate", "100000", "--seconds", "5", "--pods", "1"],
    ["--rate", "0", "--seconds", "5", "--pods", "1"],
    ["--rate", "50000", "--seconds", "6", "--pods", "1", "--cap", "1000000"],
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=None, help="lines per second in total; 0: unpaced")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pods", type=int, default=1, help="producer threads (a Job's pods)")
    ap.add_argument("--cap", type=int, default=20_000, help="the view's line cap")
    ap.add_argument("--batch", type=int, default=500, help="lines per chunk")
    ap.add_argument("--wrap", action="store_true")
    ap.add_argument("--timestamps", action="store_true")
    args = ap.parse_args()
    if args.rate is None:
        failed = False
        for scenario in SCENARIOS:
            out = subprocess.run([sys.executable, __file__, *scenario], capture_output=True, text=True, check=False)
            print(out.stdout.strip() or out.stderr.strip()[-2000:], flush=True)
            failed |= out.returncode != 0
        return 1 if failed else 0
    SyntheticFollower.batch = args.batch
    result = asyncio.run(measure(args.rate, args.seconds, args.pods, args.cap, args.wrap, args.timestamps))
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["buffer_contiguous"] is not False else 1


if __name__ == "__main__":
    sys.exit(main())
