"""Argo controls that end or change a run ask first, naming the workflow (recorded cluster: a
"no" sends nothing, and there is no API server to send it to)."""

from __future__ import annotations

import pytest

from cockpit.ui.screens.confirm import ConfirmScreen
from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app

WF = "team-vision/train-pipeline-7xk2p"


@pytest.mark.parametrize(("key", "title"), [("x", "Stop 1 workflow?"), ("X", "Terminate 1 workflow?"),
                                            ("R", "Retry 1 workflow?"), ("ctrl+r", "Resubmit 1 workflow?")])
async def test_each_control_asks_first_naming_the_workflow(key, title):
    app = recorded_app("workflows")
    sent: list = []
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.current.store.get(WF) is not None, what="workflow row")
        app.main.table.move_cursor(app.main.current.store.index(WF))
        app.main._run_action = lambda summary, calls: sent.append(calls)  # what would go to the cluster
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        dialog = app.screen
        assert dialog.title_text.startswith(title)
        assert dialog.items == [f"Workflow {WF}"]
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        assert sent == []  # cancelled: nothing sent
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation again")
        await pilot.press("y")
        await until(pilot, lambda: sent, what="the action")
        assert [args for _, args in sent[0]] == [("team-vision", "train-pipeline-7xk2p")]


async def test_suspend_needs_no_question():
    app = recorded_app("workflows")
    sent: list = []
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.current.store.get(WF) is not None, what="workflow row")
        app.main.table.move_cursor(app.main.current.store.index(WF))
        app.main._run_action = lambda summary, calls: sent.append(calls)
        await pilot.press("z")
        await until(pilot, lambda: sent, what="suspend sent")
        assert not isinstance(app.screen, ConfirmScreen)
