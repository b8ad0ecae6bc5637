"""Read-only in the TUI beyond the action keys: a doubtful config shows why in the top bar, a
port-forward does not outlive a switch into a read-only context, and the :pf pane can always
stop a forward."""

from __future__ import annotations

import socket

from cockpit.app import CockpitApp
from cockpit.config import load_settings
from cockpit.kube.connection import Kubeconfig
from tests.support.pilot import until


def _app(demo_cluster, tmp_path, text: str, **kw) -> CockpitApp:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    settings, _ = load_settings(config, env={})
    return CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), settings=settings, **kw)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_a_config_typo_starts_read_only_and_the_top_bar_says_where(demo_cluster, tmp_path):
    app = _app(demo_cluster, tmp_path, 'theme: cockpit-dark\nread_only: "yes"\n', context="cockpit-demo",
               start_pane="pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        assert app.read_only and app.hub.api.read_only
        top = await until(pilot, lambda: str(app.main._bars.get("#topbar", "")), what="top bar")
        assert "[READ-ONLY]" in top
        assert f"read-only because of {tmp_path / 'config.yaml'}:2: read_only: expected true or false" in top
        # Shown on the screen, not only in the bar's model: the bar is as tall as its text.
        await until(pilot, lambda: app.screen.query_one("#topbar").size.height >= 2, what="a two-line top bar")


async def test_switching_into_a_read_only_context_closes_port_forwards(demo_cluster, tmp_path):
    app = _app(demo_cluster, tmp_path, "contexts:\n  cockpit-demo-viewer:\n    read_only: true\n",
               context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        assert not app.read_only
        fwd = app.forwards.start("team-vision", "dev-box-alice", 8888)
        assert _port_open(fwd.local_port)
        app.main.run_command("ctx cockpit-demo-viewer")
        await until(pilot, lambda: app.context == "cockpit-demo-viewer" and app.read_only, what="switched")
        await until(pilot, lambda: not app.forwards.list(), what="forwards closed")
        assert not _port_open(fwd.local_port)
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None and app.hub.api.read_only,
                    what="the read-only context connected")


async def test_the_pf_pane_can_stop_a_forward_in_read_only(demo_cluster, tmp_path):
    app = _app(demo_cluster, tmp_path, "", context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        fwd = app.forwards.start("team-vision", "dev-box-alice", 8888)
        app._read_only_flag = True  # the session turned read-only after the forward was made
        app.main.run_command("pf")
        await until(pilot, lambda: app.main.current.id == "pf" and len(app.main.current.store) == 1, what=":pf row")
        assert app.main.check_action("delete", ()) is True
        await pilot.press("ctrl+d")
        await until(pilot, lambda: not app.forwards.list(), what="stopped")
        assert not _port_open(fwd.local_port)
