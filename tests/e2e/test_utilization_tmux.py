"""GPU utilisation on the GPU pane of the installed cockpit, in a real 80x24 terminal (tmux),
against the demo cluster: the demo's dcgm-exporter pods are reached only by port-forward, which
the cockpit's own client opens as a websocket of its own (cockpit/kube/dcgm.py); in read-only
mode no port-forward leaves the process, so the column stays empty."""

from __future__ import annotations

import re
import time

from cockpit.demo import simulator
from tests.integration.test_gpu_utilization import restore_control, set_control  # noqa: F401 - autouse

try:  # the shared terminal fixture (tests/support/tmux.py, also offered by tests/e2e/conftest.py)
    from tests.support.tmux import tmux_cockpit  # noqa: F401
except ImportError:  # pragma: no cover - before the fixture moved there
    from tests.e2e.test_tmux import tmux_cockpit  # noqa: F401

NODE = "gpu-h100-01"


def _set_utilisation(cluster, pct: int) -> None:
    set_control(cluster, {d.key: {"util": pct, "fb_used": 1000, "pod": ""}
                          for d in simulator.gpu_layout()[NODE]})


def test_the_gpu_pane_shows_what_the_exporters_report(tmux_cockpit, demo_cluster):  # noqa: F811
    _set_utilisation(demo_cluster, 37)
    term = tmux_cockpit("--context cockpit-demo -A")
    term.wait_for(r"● live")
    term.burst(":gpu", then="Enter")
    screen = term.wait_for(rf"{NODE} .* 37%", timeout=45)  # the scraper reads every 5 s
    assert all(len(line) <= 80 for line in screen.splitlines())


def test_read_only_reads_no_exporter_through_a_port_forward(tmux_cockpit, demo_cluster):  # noqa: F811
    _set_utilisation(demo_cluster, 37)
    term = tmux_cockpit("--context cockpit-demo -A --read-only")
    term.wait_for(r"READ-ONLY")
    term.burst(":gpu", then="Enter")
    term.wait_for(rf"{NODE} ")
    deadline = time.monotonic() + 12  # two scrape rounds and more: never a number
    while time.monotonic() < deadline:
        screen = term.screen()
        row = next(line for line in screen.splitlines() if line.lstrip().startswith(NODE))
        assert re.search(r" -\s*$", row), row
        time.sleep(0.5)
