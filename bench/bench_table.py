"""Benchmark ResourceTable + RowStore headless at 10,000 and 100,000 rows.

    .venv/bin/python bench/bench_table.py [ROWS ...]

Each size runs in its own process so the RSS figure (peak, from getrusage) is not inflated by
the previous one. Columns, in ms: "apply" is the store mutation plus `ResourceTable.apply`;
"render" renders every visible line (what a repaint asks of the widget); "e2e" adds
`pilot.pause()`, i.e. Textual's compositor and event-loop round trip, until the screen is painted.
"""

from __future__ import annotations

import asyncio
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult

from cockpit.kube.model import Column, Row
from cockpit.kube.store import Delta
from cockpit.ui.widgets.resource_table import ResourceTable

COLUMNS = [
    Column("NAMESPACE", 16, priority=2),
    Column("NAME", 40),
    Column("READY", 5, align="right", priority=3),
    Column("STATUS", 18),
    Column("RESTARTS", 8, align="right", priority=4),
    Column("AGE", 6, align="right", priority=1),
    Column("NODE", 20, priority=5),
    Column("IP", 15, priority=6),
]
STATUSES = [
    ("Running", "ok"),
    ("Pending", "pending"),
    ("CrashLoopBackOff", "error"),
    ("Completed", "done"),
    ("ContainerCreating", "warn"),
]


def make_row(i: int, rng: random.Random) -> Row:
    ns = f"team-{i % 40:02d}"
    name = f"train-{i // 8:06d}-worker-{i % 8}"
    status, hint = rng.choice(STATUSES)
    restarts, age = rng.randint(0, 30), rng.randint(1, 400_000)
    node, ip = f"gpu-node-{i % 500:03d}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
    cells = (ns, name, "1/1", status, str(restarts), f"{age // 3600}h", node, ip)
    return Row(
        f"{ns}/{name}",
        cells,
        (ns, name, 1, status, restarts, age, node, ip),
        hint,
        {"app": "train", "job": name[:12]},
        ns,
        name,
    )


class BenchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ResourceTable(COLUMNS)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def bench(n: int) -> None:
    rng = random.Random(42)
    app = BenchApp()
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one(ResourceTable)
        store = table.store
        await pilot.pause()
        base_rss = rss_mib()

        async def timed(label: str, mutate: Callable[[], Delta]) -> None:
            t0 = time.perf_counter()
            table.apply(mutate())
            t1 = time.perf_counter()
            for y in range(table.size.height):  # what the compositor will ask for
                table.render_line(y)
            t2 = time.perf_counter()
            await pilot.pause()  # the real paint: compositor, event loop (cached strips)
            t3 = time.perf_counter()
            print(f"  {label:<42} {(t1 - t0) * 1e3:8.1f} {(t2 - t1) * 1e3:8.1f} {(t3 - t0) * 1e3:8.1f}")

        start = time.perf_counter()
        rows = [make_row(i, rng) for i in range(n)]
        print(f"{n:,} rows   (building Row objects: {(time.perf_counter() - start) * 1000:.0f} ms, untimed)")
        print(f"  {'ms:':<42} {'apply':>8} {'render':>8} {'e2e':>8}")
        await timed("load + first paint", lambda: store.apply(rows, []))
        assert table.cursor_key is not None

        def updates(count: int) -> list[Row]:
            # Same keys, new status/restarts/age: no reorder under the default (key) sort.
            return [make_row(i, rng) for i in rng.sample(range(n), count)]

        await timed("(nothing: pilot.pause overhead alone)", lambda: Delta())
        batch = updates(1000)
        await timed("1,000 updates, one delta (sorted by key)", lambda: store.apply(batch, []))
        await timed("sort by AGE", lambda: store.set_sort(5))
        batch = updates(1000)
        await timed("1,000 updates, one delta (sorted by AGE)", lambda: store.apply(batch, []))
        await timed("reverse sort", lambda: store.set_sort(5, reverse=True))
        keys = rng.sample(store.view(), 1000)
        await timed("remove 1,000 rows", lambda: store.apply([], keys))
        await timed("filter 'worker-3'", lambda: store.set_filter("worker-3"))
        await timed("filter '-l job=train-00001'", lambda: store.set_filter("-l job=train-00001"))
        await timed("clear filter", lambda: store.set_filter(""))
        await timed("page down (cursor + scroll)", lambda: table.action_page_down() or Delta())
        print(f"  maxrss {rss_mib():.0f} MiB (app alone {base_rss:.0f} MiB)")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]]
    if len(sizes) == 1:
        asyncio.run(bench(sizes[0]))
        return
    for n in sizes or [10_000, 100_000]:
        subprocess.run([sys.executable, __file__, str(n)], check=True)


if __name__ == "__main__":
    main()
