"""The log screen against the demo cluster: KWOK serves each container's log from a file in
CRI format through the real API server, and the tests append to those files."""

from __future__ import annotations

import threading
import time

from kubernetes import client
from kubernetes.client.rest import ApiException
from textual.app import App

from cockpit.demo.simulator import append_lines
from cockpit.kube.logs import LogTarget
from cockpit.ui.screens.logs import LogScreen
from cockpit.ui.widgets.log_view import LogView
from tests.conftest import wait_for
from tests.support.pilot import until

NS = "team-vision"


class LogsApp(App):
    """A bare app with one screen pushed: the log screen under test."""

    def __init__(self, screen: LogScreen):
        super().__init__()
        self.log_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.log_screen)


def texts(view: LogView) -> list[str]:
    return [line.text for line in view.lines()]


def screen_rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


def logs_object(name: str, logs: list[dict]) -> dict:
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": name},
            "spec": {"logs": logs}}


def serve_logs(api_client, name: str, logs: list[dict]) -> None:
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "kwok.x-k8s.io", "v1alpha1", NS, "logs", logs_object(name, logs))


def wait_served(core, pod: str, container: str, text: str, **kw) -> None:
    def served():
        try:
            return text in core.read_namespaced_pod_log(pod, NS, container=container, **kw)
        except ApiException:
            return False

    wait_for(served, 30, what=f"log of {pod}/{container} served")


def log_pod(kube_admin, demo_cluster, name: str, containers=("main",), first_line="epoch 1 started",
            previous: str | None = None, annotations=None):
    """A Running pod whose containers' logs are files of their own; returns {container: file}."""
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_pod(NS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"nodeName": "cpu-01",
                 "containers": [{"name": c, "image": "busybox", "command": ["sleep", "infinity"]}
                                for c in containers]}})
    files, rules = {}, []
    for c in containers:
        files[c] = demo_cluster.logs_dir / f"{name}-{c}.log"
        append_lines(files[c], [f"{first_line} ({c})"])
        rule = {"containers": [c], "logsFile": str(files[c]), "follow": True}
        if previous is not None:
            prev = demo_cluster.logs_dir / f"{name}-{c}.previous.log"
            append_lines(prev, [previous])
            rule["previousLogsFile"] = str(prev)
        rules.append(rule)
    serve_logs(kube_admin, name, rules)
    wait_for(lambda: core.read_namespaced_pod(name, NS).status.phase == "Running", 30, what="pod Running")
    for c in containers:
        wait_served(core, name, c, f"{first_line} ({c})")
    return files


def pod_screen(kube_admin, pod: str, container: str = "main", **kw) -> LogScreen:
    return LogScreen(kube_admin, [LogTarget(NS, pod, container)], title=f"Logs {pod}", **kw)


async def test_appended_lines_appear_in_the_view(kube_admin, demo_cluster, unique_name):
    files = log_pod(kube_admin, demo_cluster, unique_name)
    screen = pod_screen(kube_admin, unique_name)
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: "epoch 1 started (main)" in texts(view), what="first line")
        append_lines(files["main"], ["epoch 2 started", "epoch 3 started"])
        await until(pilot, lambda: "epoch 3 started" in texts(view), what="appended lines")
        assert texts(view) == ["epoch 1 started (main)", "epoch 2 started", "epoch 3 started"]
        assert all(line.timestamp for line in view.lines())
        await until(pilot, lambda: any("epoch 3 started" in row for row in screen_rows(view)), what="row on screen")
        assert "following" in screen.status_text() and "3 lines" in screen.status_text()
        follower = screen.followers[0]
        assert follower.alive and follower._response is not None
        await pilot.press("escape")  # back: the follower's open stream is closed, its thread ends
        started = time.monotonic()
        follower.join(5)
        assert not follower.alive and time.monotonic() - started < 1.0
        assert pilot.app.screen is not screen


async def test_escape_sequences_are_shown_inert(kube_admin, demo_cluster, unique_name):
    files = log_pod(kube_admin, demo_cluster, unique_name)
    screen = pod_screen(kube_admin, unique_name)
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: texts(view), what="first line")
        append_lines(files["main"], ["before\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 [bold]after[/bold] \x1b[31mred"])
        await until(pilot, lambda: any("after" in t for t in texts(view)), what="escape line")
        await pilot.press("t")  # timestamps on: another rendering path
        await pilot.pause()
        rows = screen_rows(view)
        hit = [row for row in rows if "after" in row]
        assert hit, rows
        assert "before [bold]after[/bold] red" in hit[0]  # markup is text, not parsed
        for y in range(view.size.height):
            for segment in view.render_line(y):
                assert "\x1b" not in segment.text and "\x07" not in segment.text
                assert "pwned" not in segment.text


async def test_follow_resumes_after_a_break_without_loss_or_repeat(kube_admin, demo_cluster, unique_name):
    files = log_pod(kube_admin, demo_cluster, unique_name, first_line="line 0")
    screen = pod_screen(kube_admin, unique_name)
    expected = ["line 0 (main)"] + [f"line {i}" for i in range(1, 601)]
    stop_writing = threading.Event()

    def writer():
        # Bursts of lines, several per timestamp tick, while the connection is being cut.
        for start in range(1, 601, 20):
            append_lines(files["main"], [f"line {i}" for i in range(start, start + 20)])
            if stop_writing.wait(0.05):
                return

    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: texts(view), what="first line")
        follower = screen.followers[0]
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for breaks in range(1, 4):
                connections = follower.connections
                await until(pilot, lambda: follower._response is not None, what="open stream")
                follower.reconnect()  # cuts the live response: the follower must resume
                await until(pilot, lambda c=connections: follower.connections > c, what=f"reconnect {breaks}")
                await pilot.pause(0.2)
        finally:
            thread.join(30)
            stop_writing.set()
        await until(pilot, lambda: len(texts(view)) >= len(expected), what="all lines", timeout=30)
        await pilot.pause(0.5)  # nothing more may arrive: no line repeated late
        assert texts(view) == expected
        assert follower.connections >= 4
        assert follower.replayed > 0  # the resumed requests did send lines again: they were dropped


async def test_job_logs_show_every_pod_prefixed(kube_admin, demo_cluster, unique_name):
    batch = client.BatchV1Api(kube_admin)
    core = client.CoreV1Api(kube_admin)
    job = unique_name
    batch.create_namespaced_job(NS, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job},
        "spec": {"parallelism": 2, "completions": 2, "template": {
            "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "10m"}},
            "spec": {"restartPolicy": "Never", "nodeName": "cpu-01",
                     "containers": [{"name": "trainer", "image": "busybox"}]}}}})
    try:
        def running_pods():
            items = core.list_namespaced_pod(NS, label_selector=f"job-name={job}").items
            names = sorted(p.metadata.name for p in items if p.status.phase == "Running")
            return names if len(names) == 2 else None

        pods = wait_for(running_pods, 60, what="two running job pods")
        assert len(pods) == 2
        for p in pods:
            f = demo_cluster.logs_dir / f"{p}.log"
            append_lines(f, [f"hello from {p}"])
            serve_logs(kube_admin, p, [{"containers": ["trainer"], "logsFile": str(f), "follow": True}])
            wait_served(core, p, "trainer", f"hello from {p}")
        screen = LogScreen.for_object(kube_admin, "jobs", NS, job)
        async with LogsApp(screen).run_test(size=(120, 24)) as pilot:
            view = screen.view
            await until(pilot, lambda: len(view.lines()) >= 2, what="a line of each pod")
            by_prefix = {line.prefix: line.text for line in view.lines()}
            assert by_prefix == {p[len(job) + 1:]: f"hello from {p}" for p in pods}
            assert {t.container for t in screen.targets} == {"trainer"}
            rows = screen_rows(view)
            for p in pods:
                assert any(row.startswith(f"{p[len(job) + 1:]} hello from {p}") for row in rows), rows
            assert "2 pods" in screen.status_text()
    finally:
        batch.delete_namespaced_job(job, NS, propagation_policy="Background")


async def test_previous_container_logs(kube_admin, demo_cluster, unique_name):
    log_pod(kube_admin, demo_cluster, unique_name, previous="RuntimeError: CUDA out of memory (previous run)")
    screen = pod_screen(kube_admin, unique_name)
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: texts(view) == ["epoch 1 started (main)"], what="live log")
        await pilot.press("p")
        await until(pilot, lambda: texts(view) == ["RuntimeError: CUDA out of memory (previous run)"],
                    what="previous log")
        assert screen.previous and "previous" in screen.status_text()
        await until(pilot, lambda: "ended" in screen.status_text(), what="previous log read to its end")
        await pilot.press("p")
        await until(pilot, lambda: texts(view) == ["epoch 1 started (main)"], what="back to the live log")


async def test_container_picker_switches_container(kube_admin, demo_cluster, unique_name):
    log_pod(kube_admin, demo_cluster, unique_name, containers=("main", "sidecar"))
    screen = LogScreen(kube_admin, [LogTarget(NS, unique_name, "main")], title="Logs",
                       containers=["main", "sidecar"], default_container="main")
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: texts(view) == ["epoch 1 started (main)"], what="main's log")
        await pilot.press("c")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ContainerPicker", what="picker")
        await pilot.press("down", "enter")
        await until(pilot, lambda: texts(view) == ["epoch 1 started (sidecar)"], what="sidecar's log")
        assert screen.container == "sidecar" and "container sidecar" in screen.status_text()


async def test_save_writes_the_buffer(kube_admin, demo_cluster, unique_name, tmp_path):
    files = log_pod(kube_admin, demo_cluster, unique_name)
    append_lines(files["main"], ["epoch 2 started"])
    screen = pod_screen(kube_admin, unique_name)
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        view = screen.view
        await until(pilot, lambda: len(texts(view)) == 2, what="lines")
        await pilot.press("s")
        prompt = screen.query_one("#logs-prompt")
        assert prompt.value.startswith(f"./{unique_name}-main-") and prompt.value.endswith("Z.log")
        target = tmp_path / "saved.log"
        prompt.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 2, what="saved file")
        assert target.read_text() == "epoch 1 started (main)\nepoch 2 started\n"
        await pilot.press("t", "s")
        with_ts = tmp_path / "with-timestamps.log"
        screen.query_one("#logs-prompt").value = str(with_ts)
        await pilot.press("enter")
        await until(pilot, lambda: with_ts.exists() and with_ts.read_text().count("\n") == 2, what="second file")
        first = with_ts.read_text().splitlines()[0]
        assert first.endswith(" epoch 1 started (main)") and first[:4].isdigit() and "T" in first.split()[0]
