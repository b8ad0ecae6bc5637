"""The port-forward dialog driven through Pilot, and the rows of the `:pf` pane (no cluster)."""

from __future__ import annotations

import socket

from textual.app import App
from textual.widgets import Input, OptionList, Static

from cockpit.kube.portforward import Forward, owner_of, port_is_free, ports_of
from cockpit.ui.screens.portforward import (
    FORWARD_COLUMNS,
    PortForwardChoice,
    PortForwardDialog,
    forward_rows,
    port_targets,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod(*ports: int, labels: dict | None = None, owner: dict | None = None) -> dict:
    meta = {"name": "dev-box", "namespace": "team-vision", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{**owner, "controller": True}]
    return {"metadata": meta, "spec": {"containers": [
        {"name": "jupyter", "ports": [{"containerPort": p, "name": f"p{p}"} for p in ports]},
        {"name": "metrics", "ports": [{"containerPort": 9999, "protocol": "UDP"}]},
    ]}}


class DialogApp(App[None]):
    def __init__(self, pod_obj: dict):
        super().__init__()
        self.pod_obj = pod_obj
        self.results: list[PortForwardChoice | None] = []

    def on_mount(self) -> None:
        self.push_screen(PortForwardDialog(self.pod_obj), self.results.append)


def value(app: App, selector: str) -> str:
    return app.screen.query_one(selector, Input).value


async def test_local_port_defaults_to_the_remote_port_when_free_and_enter_starts():
    port = free_port()
    app = DialogApp(pod(port))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PortForwardDialog)
        assert value(app, "#remote") == str(port)
        assert value(app, "#local") == str(port)
        assert value(app, "#address") == "127.0.0.1"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [PortForwardChoice("team-vision", "dev-box", port, port, "127.0.0.1", None)]


async def test_local_port_is_another_free_one_when_the_remote_port_is_taken_here():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = DialogApp(pod(port))
        async with app.run_test() as pilot:
            await pilot.pause()
            local = int(value(app, "#local"))
            assert local != port and port_is_free(local)
            assert value(app, "#address") == "127.0.0.1"
            await pilot.press("enter")
            await pilot.pause()
    assert app.results[0].remote_port == port and app.results[0].local_port == local


async def test_quick_targets_are_offered_and_picking_one_updates_the_ports():
    app = DialogApp(pod(8888))
    async with app.run_test() as pilot:
        await pilot.pause()
        options = app.screen.query_one("#ports", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [lbl.split()[0] for lbl in labels] == ["8888", "6006", "2746"]
        assert "jupyter" in labels[0] and "container jupyter" in labels[0]
        assert "tensorboard" in labels[1] and "not declared" in labels[1]
        free = port_is_free(6006)
        await pilot.press("down")
        await pilot.pause()
        assert value(app, "#remote") == "6006"
        local = int(value(app, "#local"))
        assert local == 6006 if free else local != 6006
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_a_taken_local_port_is_refused_in_the_dialog():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = DialogApp(pod(free_port()))
        async with app.run_test() as pilot:
            await pilot.pause()
            app.screen.query_one("#local", Input).value = str(taken.getsockname()[1])
            app.screen.query_one("#local", Input).focus()
            await pilot.press("enter")
            await pilot.pause()
            assert app.results == []
            assert "taken" in str(app.screen.query_one("#error", Static).render())


def test_ports_of_lists_declared_tcp_ports_and_owner_of_finds_the_replacement_selector():
    assert ports_of(pod(8888, 6006)) == [("jupyter", "p8888", 8888), ("jupyter", "p6006", 6006)]
    assert [t.port for t in port_targets(pod(6006))] == [6006, 8888, 2746]
    assert owner_of(pod(8888)) is None
    job_pod = pod(8888, labels={"job-name": "train", "controller-uid": "u1"}, owner={"kind": "Job", "name": "train"})
    assert owner_of(job_pod) == {"kind": "Job", "name": "train", "selector": "job-name=train"}
    rs_pod = pod(8888, labels={"app": "nb", "pod-template-hash": "abc"}, owner={"kind": "ReplicaSet", "name": "nb-abc"})
    assert owner_of(rs_pod)["selector"] == "app=nb,pod-template-hash=abc"


class FakeManager:
    def __init__(self, forwards):
        self.forwards = forwards

    def list(self):
        return self.forwards


def test_forward_rows_show_every_column():
    assert [c.title for c in FORWARD_COLUMNS] == ["ID", "TARGET", "LOCAL", "STATUS", "CONNS", "BYTES IN",
                                                 "BYTES OUT", "AGE"]
    ok = Forward("pf1", "team-vision", "dev-box", 8888, "127.0.0.1", 8888, created=1000.0, status="active",
                 open_connections=1, total_connections=4, bytes_in=2048, bytes_out=300)
    gone = Forward("pf2", "team-vision", "old\x1b[31m", 6006, "127.0.0.1", 40001, created=900.0,
                   status="broken: pod gone")
    rows = forward_rows(FakeManager([ok, gone]), now=1090.0)
    assert rows[0].key == "pf1"
    assert rows[0].cells == ("pf1", "team-vision/dev-box:8888", "127.0.0.1:8888", "active", "1/4", "2Ki", "300",
                             "90s")
    assert rows[0].status == "ok" and rows[1].status == "error"
    assert "\x1b" not in rows[1].cells[1]
    assert len(rows[1].cells) == len(FORWARD_COLUMNS)
