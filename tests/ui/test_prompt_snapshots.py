"""The `:` and `/` prompts while typing, the help screen and the pod delete confirmation, at
80x24 and 160x50, over recorded objects with a fixed clock."""

from __future__ import annotations

import pytest

from cockpit.ui.screens.confirm import ConfirmScreen
from cockpit.ui.screens.help import HelpScreen
from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])


@SIZES
@pytest.mark.parametrize("typed", [":", ":jobs", "/", "/-l team in (vision,nlp)"],
                         ids=["command-empty", "command-typed", "filter-empty", "filter-selector"])
def test_prompt_snapshot(snap_compare, size, typed):
    # The filter follows typing after a 0.15 s pause in it: the picture is taken after one.
    assert snap_compare(recorded_app("pods"), press=[*typed, "wait:400"], terminal_size=size)


@SIZES
def test_help_snapshot(snap_compare, size):
    async def run_before(pilot):
        await pilot.pause()
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="the help screen")
        await pilot.pause()

    assert snap_compare(recorded_app("pods"), terminal_size=size, run_before=run_before)


@SIZES
def test_pod_delete_confirmation_snapshot(snap_compare, size):
    async def run_before(pilot):
        app = pilot.app
        await pilot.pause()
        app.main.table.move_cursor(app.main.table.store.index("team-vision/dev-box-alice"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.pause()

    assert snap_compare(recorded_app("pods"), terminal_size=size, run_before=run_before)
