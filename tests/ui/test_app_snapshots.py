"""Each pane at 80x24 and 160x50, rendered from recorded objects with a fixed clock."""

from __future__ import annotations

import pytest

from cockpit.ui.main_screen import PANES
from tests.ui.recorded_app import recorded_app


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
@pytest.mark.parametrize("pane", PANES)
def test_pane_snapshot(snap_compare, pane, size):
    assert snap_compare(recorded_app(pane), terminal_size=size)


def test_workflow_steps_snapshot(snap_compare):
    async def open_steps(pilot):
        await pilot.pause()
        table = pilot.app.main.table
        table.move_cursor(table.store.index("team-vision/train-pipeline-7xk2p"))
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(recorded_app("workflows"), terminal_size=(100, 24), run_before=open_steps)


def test_node_gpu_holders_snapshot(snap_compare):
    async def open_node(pilot):
        await pilot.pause()
        table = pilot.app.main.table
        table.move_cursor(table.store.index("gpu-a100-02|nvidia.com/gpu"))
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(recorded_app("gpu"), terminal_size=(80, 24), run_before=open_node)


@pytest.mark.parametrize("theme", ["cockpit-dark", "cockpit-light", "cockpit-high-contrast", "cockpit-ansi16"])
def test_theme_snapshot(snap_compare, theme):
    import dataclasses

    from cockpit.config import Settings

    settings = dataclasses.replace(Settings(), theme=theme)
    assert snap_compare(recorded_app("gpu", settings=settings), terminal_size=(80, 24))
