"""The log screen against the demo cluster: saving writes the whole log (not the 500-line tail
the view opened with), a Pending pod says it is waiting, `p` on a container that never
restarted says no previous log."""

from __future__ import annotations

from kubernetes import client

from cockpit.demo.simulator import append_lines
from cockpit.kube.logs import LogTarget
from cockpit.ui.screens.logs import LogScreen
from tests.integration.test_logs_live import NS, LogsApp, log_pod, texts, wait_served
from tests.support.pilot import until


async def test_save_writes_every_line_not_just_the_tail(kube_admin, demo_cluster, unique_name, tmp_path):
    files = log_pod(kube_admin, demo_cluster, unique_name)
    append_lines(files["main"], [f"step {i}" for i in range(1, 1201)])
    wait_served(client.CoreV1Api(kube_admin), unique_name, "main", "step 1200")
    screen = LogScreen(kube_admin, [LogTarget(NS, unique_name, "main")], title="Logs")  # tail 500
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: "step 1200" in texts(screen.view), what="the tail")
        assert len(texts(screen.view)) == 500
        target = tmp_path / "whole.log"
        screen.save(target)
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 1201, what="saved file")
    lines = target.read_text().splitlines()
    assert lines[0] == "epoch 1 started (main)" and lines[1] == "step 1" and lines[-1] == "step 1200"


async def test_a_pending_pod_says_waiting_not_streaming(kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_pod(NS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name},
        "spec": {"nodeSelector": {"no-such-node": "true"},
                 "containers": [{"name": "main", "image": "busybox"}]}})
    try:
        screen = LogScreen(kube_admin, [LogTarget(NS, unique_name, "main")], title="Logs")
        async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
            await until(pilot, lambda: "waiting: pod Pending (Unschedulable)" in screen.status_text(),
                        what="waiting status")
            await pilot.pause(1.5)
            assert "streaming" not in screen.status_text() and "reconnecting" not in screen.status_text()
    finally:
        core.delete_namespaced_pod(unique_name, NS, grace_period_seconds=0)


async def test_previous_without_a_restart_says_so(kube_admin, demo_cluster, unique_name):
    log_pod(kube_admin, demo_cluster, unique_name)  # restartCount 0, no previous log file
    screen = LogScreen(kube_admin, [LogTarget(NS, unique_name, "main")], title="Logs")
    async with LogsApp(screen).run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: texts(screen.view) == ["epoch 1 started (main)"], what="live log")
        await pilot.press("p")
        await until(pilot, lambda: "container main has not restarted: no previous log"
                    in screen.status_text(), what="no previous log said")
