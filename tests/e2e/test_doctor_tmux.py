"""`:doctor` in the installed cockpit, in a real 80x24 terminal (tmux), against the demo cluster."""

from __future__ import annotations

import re

from tests.integration.test_doctor import settled_fleet  # noqa: F401 - autouse: the fleet has settled

try:  # the shared terminal fixture (tests/support/tmux.py, also offered by tests/e2e/conftest.py)
    from tests.support.tmux import tmux_cockpit  # noqa: F401
except ImportError:  # pragma: no cover - before the fixture moved there
    from tests.e2e.test_tmux import tmux_cockpit  # noqa: F401


def test_doctor_screen_shows_the_checks_and_esc_closes_it(tmux_cockpit):  # noqa: F811
    term = tmux_cockpit("--context cockpit-demo -A")
    term.wait_for(r"● live")
    term.keys(":", "doctor", "Enter")
    term.wait_for(r"Doctor: is cockpit-demo ready for GPU experiments\?")
    # The checks run in a worker; the screen answers keys meanwhile and then shows the summary.
    screen = term.wait_for(r"\d+ checks: \d+ ok, \d+ warnings, 0 failed", timeout=60)
    assert "cockpit-demo is ready" in screen
    assert re.search(r"ok\s+│ Cluster", screen), screen
    assert "GPU nodes" in screen and "advertise GPUs" in screen
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    # Scrolling reaches the last check (the registry).
    for _ in range(12):
        term.keys("PageDown")
        if "Image registry" in term.screen():
            break
    assert "Image registry" in term.screen()
    term.keys("Escape")
    screen = term.wait_for(r"● live")
    assert "Doctor:" not in screen
