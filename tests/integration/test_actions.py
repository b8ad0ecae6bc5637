"""Actions from the keyboard against the demo cluster, checked through the API; and read-only
mode, checked through the API server's audit log."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.app import CockpitApp
from cockpit.config import Settings
from cockpit.kube import actions
from cockpit.kube.connection import Kubeconfig, ReadOnlyRefused, make_api_client
from tests.conftest import wait_for
from tests.support.pilot import until

WF = ("argoproj.io", "v1alpha1")


def app_for(cluster, pane: str, **kw) -> CockpitApp:
    return CockpitApp(Kubeconfig.load(cluster.kubeconfig), context="cockpit-demo", start_pane=pane, **kw)


def job_body(name: str, run_for: str = "87600h", **ann) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {"suite": "actions"}},
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": run_for, **ann}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}


async def point_at(pilot, app, key: str):
    await until(pilot, lambda: app.main.current.store.get(key) is not None, what=f"row {key}")
    app.main.table.move_cursor(app.main.current.store.index(key))
    await pilot.pause()


def gone(fn) -> bool:
    try:
        fn()
    except ApiException as e:
        return e.status == 404
    return False


async def test_delete_job_with_confirmation_takes_its_pods(demo_cluster, kube_admin, unique_name):
    batch, core = client.BatchV1Api(kube_admin), client.CoreV1Api(kube_admin)
    batch.create_namespaced_job("team-vision", job_body(unique_name))
    wait_for(lambda: core.list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items,
             what="job pod")
    app = app_for(demo_cluster, "jobs")
    async with app.run_test(size=(120, 30)) as pilot:
        await point_at(pilot, app, f"team-vision/{unique_name}")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm dialog")
        assert any(unique_name in item for item in app.screen.items)
        await pilot.press("n")  # cancel: nothing happens
        await pilot.pause(0.5)
        assert not gone(lambda: batch.read_namespaced_job(unique_name, "team-vision"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm dialog")
        await pilot.press("y")
    wait_for(lambda: gone(lambda: batch.read_namespaced_job(unique_name, "team-vision")), what="job deleted")
    wait_for(lambda: not core.list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items,
             what="job's pods deleted with it")


async def test_kill_marked_pods(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    names = [f"{unique_name}-{i}" for i in range(2)]
    for n in names:
        core.create_namespaced_pod("team-nlp", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n},
                                                "spec": {"nodeName": "cpu-01", "containers": [{"name": "c", "image": "x"}]}})
    app = app_for(demo_cluster, "pods")
    async with app.run_test(size=(120, 30)) as pilot:
        for n in names:
            await point_at(pilot, app, f"team-nlp/{n}")
            await pilot.press("space")
        assert len(app.main.table.marked_keys) == 2
        await pilot.press("ctrl+k")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        assert len(app.screen.items) == 2
        await pilot.press("enter")
        await until(pilot, lambda: all(app.main.current.store.get(f"team-nlp/{n}") is None for n in names),
                    what="rows gone")
    for n in names:
        assert gone(lambda n=n: core.read_namespaced_pod(n, "team-nlp"))


async def test_pvc_delete_needs_its_name_typed(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_persistent_volume_claim("team-nlp", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": unique_name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nvme-local",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    app = app_for(demo_cluster, "pvcs")
    async with app.run_test(size=(120, 30)) as pilot:
        await point_at(pilot, app, f"team-nlp/{unique_name}")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y", "enter")  # "y" is typed into the name box, not a confirmation
        await pilot.pause(0.5)
        assert not gone(lambda: core.read_namespaced_persistent_volume_claim(unique_name, "team-nlp"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press(*unique_name, "enter")
    wait_for(lambda: gone(lambda: core.read_namespaced_persistent_volume_claim(unique_name, "team-nlp")),
             what="pvc deleted")


def running_workflow(custom, name: str, *, fail: bool = False, delay: str = "87600h") -> None:
    ann = {"pod-complete.stage.kwok.x-k8s.io/delay": delay}
    if fail:
        ann["demo.gpu-cockpit.dev/exit-code"] = "1"
    custom.create_namespaced_custom_object(*WF, "team-nlp", "workflows", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "work", "template": "work"}]]},
            # With no command the controller would look the image up in a registry.
            {"name": "work", "metadata": {"annotations": ann},
             "container": {"image": "busybox", "command": ["sh", "-c", "train"]}}]}})


def wf_get(custom, name):
    return custom.get_namespaced_custom_object(*WF, "team-nlp", "workflows", name)


async def confirm_dialog(pilot, app, name: str):
    """The confirmation is on screen and names the workflow."""
    await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirmation")
    assert any(name in item for item in app.screen.items)
    return app.screen


async def test_workflow_controls(demo_cluster, kube_admin, unique_name):
    custom = client.CustomObjectsApi(kube_admin)
    for suffix in ("a", "b"):
        running_workflow(custom, f"{unique_name}-{suffix}")
    app = app_for(demo_cluster, "workflows")
    async with app.run_test(size=(120, 30)) as pilot:
        await point_at(pilot, app, f"team-nlp/{unique_name}-a")
        await pilot.press("z")  # suspend and resume undo each other: no question
        await until(pilot, lambda: wf_get(custom, f"{unique_name}-a")["spec"].get("suspend") is True, what="suspended")
        await pilot.press("u")
        await until(pilot, lambda: "suspend" not in wf_get(custom, f"{unique_name}-a")["spec"], what="resumed")
        await pilot.press("x")
        await confirm_dialog(pilot, app, f"{unique_name}-a")
        await pilot.press("n")  # cancelled: the workflow runs on, untouched
        await until(pilot, lambda: type(app.screen).__name__ != "ConfirmScreen", what="dialog closed")
        await pilot.pause(1.0)
        assert "shutdown" not in wf_get(custom, f"{unique_name}-a")["spec"]
        await pilot.press("x")
        await confirm_dialog(pilot, app, f"{unique_name}-a")
        await pilot.press("y")
        await until(pilot, lambda: wf_get(custom, f"{unique_name}-a")["spec"].get("shutdown") == "Stop", what="stopped")
        await point_at(pilot, app, f"team-nlp/{unique_name}-b")
        await pilot.press("X")
        await confirm_dialog(pilot, app, f"{unique_name}-b")
        await pilot.press("y")
        await until(pilot, lambda: wf_get(custom, f"{unique_name}-b")["spec"].get("shutdown") == "Terminate",
                 what="terminated")
        await until(pilot, lambda: (wf_get(custom, f"{unique_name}-b").get("status") or {}).get("phase") in ("Failed", "Error"),
                 timeout=60, what="terminated workflow finished")
        shown: list[str] = []
        app.notify = lambda message, *a, **k: shown.append(str(message))  # what the toast says
        await pilot.press("ctrl+r")
        await confirm_dialog(pilot, app, f"{unique_name}-b")
        await pilot.press("y")
        new = await until(pilot, lambda: [w["metadata"]["name"] for w in custom.list_namespaced_custom_object(
            *WF, "team-nlp", "workflows")["items"]
            if (w["metadata"].get("labels") or {}).get("workflows.argoproj.io/resubmitted-from-workflow")
            == f"{unique_name}-b"], what="resubmitted workflow")
        # <name>-xxxxx, as argo resubmit names it (before: the name was cut at its last dash)
        assert len(new) == 1 and new[0].startswith(f"{unique_name}-b-") and len(new[0]) == len(unique_name) + 8
        await until(pilot, lambda: any(new[0] in m for m in shown), what="toast naming the new workflow")


def test_retry_right_after_stop_reruns_the_step(kube_admin, unique_name):
    custom, core = client.CustomObjectsApi(kube_admin), client.CoreV1Api(kube_admin)
    running_workflow(custom, unique_name)  # its step runs until stopped
    wait_for(lambda: any(n.get("type") == "Pod" and n.get("phase") == "Running"
                         for n in ((wf_get(custom, unique_name).get("status") or {}).get("nodes") or {}).values()),
             timeout=60, what="step running")
    actions.WORKFLOW_ACTIONS["stop"](kube_admin, "team-nlp", unique_name)
    wait_for(lambda: (wf_get(custom, unique_name).get("status") or {}).get("phase") in ("Failed", "Error"),
             timeout=60, what="stopped workflow finished")
    retried_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    actions.workflow_retry(kube_admin, "team-nlp", unique_name)  # at once, old pod or not

    def rerun_step():
        nodes = (wf_get(custom, unique_name).get("status") or {}).get("nodes") or {}
        return [n for n in nodes.values() if n.get("type") == "Pod" and (n.get("startedAt") or "") >= retried_at]

    step = wait_for(rerun_step, timeout=60, what="step re-run")[0]
    time.sleep(3)  # the controller has had time to lose the pod, were it to
    nodes = (wf_get(custom, unique_name).get("status") or {}).get("nodes") or {}
    step = nodes[step["id"]]
    assert "not found" not in (step.get("message") or ""), step
    assert step.get("phase") in ("Pending", "Running"), step
    pods = core.list_namespaced_pod("team-nlp", label_selector=f"workflows.argoproj.io/workflow={unique_name}").items
    assert any(p.metadata.deletion_timestamp is None and p.status.phase in ("Pending", "Running") for p in pods)
    actions.WORKFLOW_ACTIONS["terminate"](kube_admin, "team-nlp", unique_name)


def test_retry_reruns_a_failed_workflow(kube_admin, unique_name):
    custom = client.CustomObjectsApi(kube_admin)
    running_workflow(custom, unique_name, fail=True, delay="1s")
    wait_for(lambda: (wf_get(custom, unique_name).get("status") or {}).get("phase") == "Failed", timeout=60,
             what="workflow failed")
    retried_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    actions.workflow_retry(kube_admin, "team-nlp", unique_name)

    def step_ran_again():
        nodes = (wf_get(custom, unique_name).get("status") or {}).get("nodes") or {}
        return any(n.get("type") == "Pod" and (n.get("startedAt") or "") >= retried_at for n in nodes.values())

    # The real controller picks the workflow up again and re-creates the failed step.
    wait_for(step_ran_again, timeout=60, what="failed step re-run")
    running_workflow(custom, unique_name + "-ok", delay="87600h")
    with pytest.raises(actions.ActionError):
        actions.workflow_retry(kube_admin, "team-nlp", unique_name + "-ok")


async def test_katib_restart_and_trial_delete(demo_cluster, kube_admin):
    custom = client.CustomObjectsApi(kube_admin)
    before = custom.get_namespaced_custom_object("kubeflow.org", "v1beta1", "team-vision", "experiments",
                                                 "resnet-bs-search")["spec"]["maxTrialCount"]
    app = app_for(demo_cluster, "experiments")
    async with app.run_test(size=(120, 30)) as pilot:
        await point_at(pilot, app, "team-vision/resnet-bs-search")
        await pilot.press("R")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="restart asks first")
        await pilot.press("y")
        await until(pilot, lambda: custom.get_namespaced_custom_object("kubeflow.org", "v1beta1", "team-vision", "experiments",
                                                             "resnet-bs-search")["spec"]["maxTrialCount"] > before,
                 what="maxTrialCount raised")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.main.current.store) > 0, what="trials")
        victim = app.main.current.store.get(app.main.current.store.view()[0]).name
        app.main.table.move_cursor(0)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y")
    wait_for(lambda: gone(lambda: custom.get_namespaced_custom_object("kubeflow.org", "v1beta1", "team-vision",
                                                                      "trials", victim)), what="trial deleted")
    with pytest.raises(actions.ActionError, match="still running"):
        actions.experiment_restart(kube_admin, "team-nlp", "bert-lr-search")


async def test_cleanup_deletes_exactly_the_previewed_set(demo_cluster, kube_admin, unique_name):
    batch = client.BatchV1Api(kube_admin)
    names = [f"{unique_name}-{i}" for i in range(3)]
    for n in names:
        batch.create_namespaced_job("team-nlp", job_body(n, run_for="1s"))
    for n in names:
        wait_for(lambda n=n: any(c.type == "Complete" for c in
                                 batch.read_namespaced_job(n, "team-nlp").status.conditions or []), what="complete")
    base = Settings()
    settings = dataclasses.replace(base, cleanup=dataclasses.replace(base.cleanup, finished_after=0,
                                                                     idle_dev_pod_after=10 ** 9))
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", namespace="team-nlp",
                     settings=settings, start_pane="jobs")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        app.main.run_command("cleanup")
        await until(pilot, lambda: app.main.current.id == "cleanup" and len(app.main.current.store) >= 3, what="preview")
        keep = f"jobs:team-nlp/{names[0]}"
        assert {f"jobs:team-nlp/{n}" for n in names} <= set(app.main.table.marked_keys)
        app.main.table.move_cursor(app.main.current.store.index(keep))
        await pilot.press("space")  # untick one
        previewed = set(app.main.table.marked_keys)
        # Made after the preview: must survive.
        batch.create_namespaced_job("team-nlp", job_body(unique_name + "-late", run_for="1s"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: all(app.main.current.store.get(k) is None for k in previewed), what="deleted rows")
    for key in previewed:
        kind, _, rest = key.partition(":")
        ns, _, name = rest.partition("/")
        if kind == "jobs":
            wait_for(lambda ns=ns, name=name: gone(lambda: batch.read_namespaced_job(name, ns)), what=key)
    assert not gone(lambda: batch.read_namespaced_job(names[0], "team-nlp"))
    assert not gone(lambda: batch.read_namespaced_job(unique_name + "-late", "team-nlp"))


def test_read_only_client_refuses_before_sending(demo_cluster):
    from cockpit.kube.connection import clone_api, request_json

    api = make_api_client(Kubeconfig.load(demo_cluster.kubeconfig), "cockpit-demo", read_only=True)
    with pytest.raises(ReadOnlyRefused):
        request_json(api, "DELETE", "/api/v1/namespaces/team-vision/pods/dev-box-alice")
    with pytest.raises(ReadOnlyRefused):
        actions.workflow_shutdown(api, "team-nlp", "x", "Stop")
    from kubernetes.stream import stream

    # The official client that exec and port-forward get is guarded the same way.
    official = clone_api(api)
    with pytest.raises(ReadOnlyRefused):
        client.CoreV1Api(official).delete_namespaced_pod("dev-box-alice", "team-vision")
    with pytest.raises(ReadOnlyRefused):
        stream(client.CoreV1Api(official).connect_get_namespaced_pod_exec, "dev-box-alice", "team-vision",
               command=["true"], stdout=True, stderr=True, stdin=False, tty=False)
    assert request_json(api, "GET", "/api/v1/namespaces/team-vision/pods")["items"]  # reading works
    assert client.CoreV1Api(official).list_namespaced_pod("team-vision").items


ACTION_KEYS = ["ctrl+d", "y", "enter", "ctrl+k", "y", "x", "X", "z", "u", "R", "ctrl+r", "s", "S", "F", "l",
               "n", "e", "a", "p"]


@pytest.mark.parametrize("source", ["flag", "config", "context", "env"])
async def test_read_only_mode_sends_no_mutating_request(demo_cluster, tmp_path, source):
    """Each of the four ways to say read-only, then every action key on every pane (and its
    drill-down), then `:cleanup`: the audit log shows reads and self-access reviews only."""
    from cockpit.ui.main_screen import PANES
    from cockpit.config import load_settings

    config = tmp_path / "config.yaml"
    config.write_text({"config": "read_only: true\n",
                       "context": "contexts:\n  cockpit-demo:\n    read_only: true\n"}.get(source, ""))
    settings, problems = load_settings(config, env={"COCKPIT_READ_ONLY": "1"} if source == "env" else {})
    assert not problems
    agent_marker = f"read-only-probe-{source}-{int(time.time())}"
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", read_only=source == "flag",
                     start_pane="pods", settings=settings)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        assert app.read_only and app.hub.api.read_only
        app.hub.api.user_agent = f"gpu-cockpit/{agent_marker}"
        for index, pane in enumerate(PANES):
            if pane == "contexts":
                continue  # enter there switches context: a different test
            await pilot.press(str(index + 1))
            await until(pilot, lambda: len(app.main.current.store) > 0, what=f"rows of {pane}")
            app.main.table.move_cursor(0)
            await pilot.press("space")
            for key in ACTION_KEYS:
                await pilot.press(key)
                await pilot.pause(0.05)
                while len(app.screen_stack) > 1:
                    app.pop_screen()
                    await pilot.pause(0.05)
            footer_keys = {b.key for b in app.active_bindings.values()
                           if b.binding.action.split("(")[0] in ("delete", "kind_action")}
            assert not footer_keys, footer_keys
            while len(app.main.places) > 1:  # back out of a drill-down that enter opened
                app.main.pop_view()
                await pilot.pause(0.05)
        app.main.run_command("cleanup")
        await pilot.pause(0.5)
    time.sleep(1.5)  # the audit backend writes in batches
    events = [json.loads(line) for line in demo_cluster.audit_log.read_text().splitlines()]
    ours = [e for e in events if agent_marker in e.get("userAgent", "")]
    assert ours, "the probe's own reads should be in the audit log"
    ours = [e for e in ours if not ((e.get("objectRef") or {}).get("resource", "").startswith("selfsubject")
                                    and e["verb"] == "create")]  # questions about own access
    bad = [(e["verb"], e.get("requestURI")) for e in ours
           if e["verb"] in ("create", "update", "patch", "delete", "deletecollection")
           or (e.get("objectRef") or {}).get("subresource") in ("exec", "attach", "portforward")]
    assert bad == []
