"""Dialogs and prompts at 80x24 and 160x50, over recorded objects: the port-forward dialog, the
clean-up confirmation, the PVC delete that needs its name typed (asked, and after a wrong name),
and the log view's search and save prompts."""

from __future__ import annotations

import datetime as dt

import pytest

from cockpit.kube.actions import CleanupItem
from cockpit.kube.logs import STREAMING, LogLine, LogTarget
from cockpit.ui.screens import logs as logs_screen
from cockpit.ui.screens import portforward
from cockpit.ui.screens.confirm import ConfirmScreen
from cockpit.ui.screens.logs import LogScreen
from cockpit.ui.screens.portforward import PortForwardDialog
from tests.support.pilot import until
from tests.ui.recorded_app import FIXED_NOW, recorded_app, recorded_objects

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])


def recorded(kind: str, name: str) -> dict:
    return next(o for o in recorded_objects()[kind] if o["metadata"]["name"] == name)


@SIZES
def test_port_forward_dialog_snapshot(snap_compare, monkeypatch, size):
    # Which ports are free on this machine is not what the picture is about: the remote port is.
    monkeypatch.setattr(portforward, "suggest_local_port", lambda port, address="": port or 18888)

    async def run_before(pilot):
        await pilot.app.push_screen(PortForwardDialog(recorded("pods", "dev-box-alice")))
        await pilot.pause()

    assert snap_compare(recorded_app("pods"), terminal_size=size, run_before=run_before)


@SIZES
def test_cleanup_confirmation_snapshot(snap_compare, size):
    items = [
        CleanupItem("jobs", "team-nlp", "t5-eval", "uid-1", "job failed 1460m ago", 87600),
        CleanupItem("jobs", "team-vision", "resnet50-eval", "uid-2", "job completed 1500m ago", 90000),
        CleanupItem("jobs", "team-vision", "vit-large-finetune", "uid-3", "job failed 1510m ago", 90600),
        CleanupItem("pods", "team-vision", "dev-box-alice", "uid-4", "holds 1 GPU, running 31h", 111600, 1),
    ]

    async def run_before(pilot):
        app = pilot.app
        await pilot.pause()
        view = app.main.cleanup_view()
        app.main.push_view(view)
        app.main._show_cleanup(view, items)
        await pilot.pause()
        app.main.table.move_cursor(app.main.table.store.index("jobs:team-vision/resnet50-eval"))
        await pilot.press("space")  # one unticked: the dialog lists the other three
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")

    assert snap_compare(recorded_app("pods"), terminal_size=size, run_before=run_before)


@SIZES
@pytest.mark.parametrize("state", ["asked", "wrong-name"])
def test_pvc_typed_name_confirmation_snapshot(snap_compare, size, state):
    async def run_before(pilot):
        app = pilot.app
        await pilot.pause()
        key = next(k for k in app.main.table.store.keys() if k.endswith("/alice-data"))
        app.main.table.move_cursor(app.main.table.store.index(key))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        if state == "wrong-name":
            await pilot.press(*"alice-dta", "enter")
        await pilot.pause()

    assert snap_compare(recorded_app("pvcs"), terminal_size=size, run_before=run_before)


class RecordedFollower:
    """LogFollower's constructor and callbacks, playing back fixed lines (no cluster here)."""

    def __init__(self, api, target, on_lines, on_state, *, previous=False, tail_lines=None):
        self.target, self.on_lines, self.on_state = target, on_lines, on_state

    def start(self):
        self.on_state(self.target, STREAMING, "")
        self.on_lines(self.target, [LogLine(f"step {i * 10:6d} | loss {2.3 / (1 + i / 40):.4f} | lr 3.0e-04 | "
                                            f"{400 + i % 7} samples/s | gpu_mem 61.2GiB", "") for i in range(120)])
        return self

    def stop(self):
        pass


@SIZES
@pytest.mark.parametrize("prompt", ["search", "save"])
def test_log_prompt_snapshot(snap_compare, monkeypatch, size, prompt):
    real = logs_screen.default_save_name
    when = dt.datetime.fromtimestamp(FIXED_NOW, dt.UTC)
    monkeypatch.setattr(logs_screen, "default_save_name", lambda targets, container: real(targets, container, when))

    async def run_before(pilot):
        screen = LogScreen(object(), [LogTarget("team-vision", "resnet50-train-7x2kq", "train")],
                           title="Logs Pod team-vision/resnet50-train-7x2kq", follower_factory=RecordedFollower)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.view.line_count == 120, what="the recorded lines")
        if prompt == "search":
            await pilot.press("slash", *"loss 0.9")
        else:
            await pilot.press("s")
        await pilot.pause()

    assert snap_compare(recorded_app("pods"), terminal_size=size, run_before=run_before)
