"""Deployments, ReplicaSets, StatefulSets, DaemonSets and CronJobs in the cockpit against the
demo cluster (its kube-controller-manager makes the ReplicaSets, pods and Jobs; KWOK runs the
pods): each opens by `:name`, follows changes made through the API, drills down to its pods and
runs its actions from the keyboard, checked through the API."""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.app import CockpitApp
from cockpit.kube.connection import Kubeconfig
from cockpit.ui.screens.ask import AskScreen
from cockpit.ui.screens.confirm import ConfirmScreen
from tests.conftest import wait_for
from tests.support.pilot import until

NS = "team-nlp"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def live_app(cluster) -> CockpitApp:
    return CockpitApp(Kubeconfig.load(cluster.kubeconfig), context="cockpit-demo")


def template(name: str) -> dict:
    return {"metadata": {"labels": {"app": name}},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": "cpu-01"}, "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def running_pods(api, name: str) -> list[str]:
    pods = client.CoreV1Api(api).list_namespaced_pod(NS, label_selector=f"app={name}").items
    return sorted(p.metadata.name for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp)


def gone(read) -> bool:
    try:
        read()
    except ApiException as e:
        return e.status == 404
    return False


async def command(pilot, app, text: str) -> None:
    await pilot.press("colon", *text, "enter")
    await until(pilot, lambda: not app.main._prompt_mode, what=f":{text} entered")


async def point_at(pilot, app, key: str) -> None:
    await until(pilot, lambda: app.main.current.store.get(key) is not None, what=f"row {key} in {app.main.current.id}")
    await until(pilot, lambda: app.main.current.store.index(key) is not None, what=f"row {key} shown")
    app.main.table.move_cursor(app.main.current.store.index(key))
    await pilot.pause()


async def confirm(pilot, app, key: str, title: str, name: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what=f"{title} dialog")
    assert app.screen.title_text.startswith(title), app.screen.title_text
    assert any(name in item for item in app.screen.items)
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="dialog closed")


async def scale_to(pilot, app, value: str) -> None:
    await pilot.press("S")
    await until(pilot, lambda: isinstance(app.screen, AskScreen), what="replicas question")
    await pilot.press(*value, "enter")
    await until(pilot, lambda: not isinstance(app.screen, AskScreen), what="question closed")


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def delete_and_check(pilot, app, name: str, read) -> None:
    await pilot.press("ctrl+d")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="delete dialog")
    assert any(name in item for item in app.screen.items)
    await pilot.press("n")  # no: nothing is deleted
    await pilot.pause(0.5)
    assert not gone(read)
    await pilot.press("ctrl+d")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="delete dialog again")
    await pilot.press("y")
    wait_for(lambda: gone(read), what=f"{name} deleted")


async def test_deployment_lists_drills_down_scales_restarts_and_deletes(demo_cluster, kube_admin, unique_name):
    apps_api = client.AppsV1Api(kube_admin)
    name, key = unique_name, f"{NS}/{unique_name}"
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template(name)}}
    apps_api.create_namespaced_deployment(NS, body)
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        await command(pilot, app, "deploy")
        assert app.main.current.id == "deployments"
        await point_at(pilot, app, key)
        await until(pilot, lambda: app.main.current.store.get(key).cells[2] == "1/1", what="READY 1/1")
        # A change made elsewhere shows without a key.
        apps_api.patch_namespaced_deployment(name, NS, {"spec": {"replicas": 2}})
        await until(pilot, lambda: app.main.current.store.get(key).cells[2] == "2/2", timeout=60, what="READY 2/2")

        # Enter: its ReplicaSet, and only its own.
        await pilot.press("enter")
        await until(pilot, lambda: app.main.current.id == f"deploy:{key}" and len(app.main.current.store) == 1,
                    what="its replica set")
        rs_key = next(iter(app.main.current.store.keys()))
        rs = apps_api.read_namespaced_replica_set(rs_key.split("/", 1)[1], NS)
        assert rs.metadata.owner_references[0].name == name
        await until(pilot, lambda: app.main.current.store.get(rs_key).cells[4] == "2", what="RS READY 2")
        # Enter on it: its pods, the ones the API lists for its pod-template-hash.
        app.main.table.move_cursor(app.main.current.store.index(rs_key))
        await pilot.press("enter")
        hash_ = rs.metadata.labels["pod-template-hash"]
        want = {f"{NS}/{p.metadata.name}" for p in client.CoreV1Api(kube_admin).list_namespaced_pod(
            NS, label_selector=f"pod-template-hash={hash_}").items}
        await until(pilot, lambda: app.main.current.id == f"rs:{rs_key}" and set(app.main.current.store.keys()) == want,
                    what="the replica set's pods")
        assert len(want) == 2
        await pilot.press("escape")
        await until(pilot, lambda: app.main.current.id == f"deploy:{key}", what="back to replica sets")
        await pilot.press("escape")
        await until(pilot, lambda: app.main.current.id == "deployments", what="back to deployments")
        assert f"replicasets:{key}" not in app.hub.feeds  # the drill-down's feed went with it

        # Scale: a bad answer is refused and said; 3 ends with 3 pods running.
        await point_at(pilot, app, key)
        await scale_to(pilot, app, "-1")
        await until(pilot, lambda: any("whole number" in t for t in toasts(app)), what="bad replicas said")
        assert apps_api.read_namespaced_deployment(name, NS).spec.replicas == 2
        await scale_to(pilot, app, "3")
        wait_for(lambda: len(running_pods(kube_admin, name)) == 3, timeout=60, what="3 pods running")
        await until(pilot, lambda: app.main.current.store.get(key).cells[2] == "3/3", timeout=60, what="READY 3/3")

        # Restart asks first, then writes the annotation `kubectl rollout restart` writes.
        await confirm(pilot, app, "R", "Restart 1 deployment?", name)
        wait_for(lambda: RESTARTED_AT in (apps_api.read_namespaced_deployment(name, NS).spec.template.metadata
                                          .annotations or {}), what="restartedAt annotation")

        # `:rs` lists the ReplicaSets cluster-wide: the restart made a second one.
        await command(pilot, app, "rs")
        assert app.main.current.id == "replicasets"
        await until(pilot, lambda: sum(1 for k in app.main.current.store.keys() if k.startswith(f"{key}-")) == 2,
                    what="old and new replica set")
        await command(pilot, app, "deployments")
        await point_at(pilot, app, key)
        await delete_and_check(pilot, app, name, lambda: apps_api.read_namespaced_deployment(name, NS))
    wait_for(lambda: not running_pods(kube_admin, name), timeout=60, what="its pods gone with it")


async def test_statefulset_lists_drills_down_scales_restarts_and_deletes(demo_cluster, kube_admin, unique_name):
    apps_api = client.AppsV1Api(kube_admin)
    name, key = unique_name, f"{NS}/{unique_name}"
    apps_api.create_namespaced_stateful_set(NS, {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": template(name)}})
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        await command(pilot, app, "sts")
        assert app.main.current.id == "statefulsets"
        await point_at(pilot, app, key)
        await until(pilot, lambda: app.main.current.store.get(key).cells[2] == "1/1", timeout=60, what="READY 1/1")
        apps_api.patch_namespaced_stateful_set(name, NS, {"metadata": {"labels": {"probe": "b"}}})
        await until(pilot, lambda: app.main.current.store.get(key).labels.get("probe") == "b", what="label change")
        await pilot.press("enter")
        await until(pilot, lambda: app.main.current.id == f"sts:{key}"
                    and set(app.main.current.store.keys()) == {f"{NS}/{name}-0"}, what="its pod")
        await pilot.press("escape")
        await point_at(pilot, app, key)
        await scale_to(pilot, app, "2")
        wait_for(lambda: running_pods(kube_admin, name) == [f"{name}-0", f"{name}-1"], timeout=60,
                 what="2 pods running")
        await confirm(pilot, app, "R", "Restart 1 StatefulSet?", name)
        wait_for(lambda: RESTARTED_AT in (apps_api.read_namespaced_stateful_set(name, NS).spec.template.metadata
                                          .annotations or {}), what="restartedAt annotation")
        await delete_and_check(pilot, app, name, lambda: apps_api.read_namespaced_stateful_set(name, NS))


async def test_daemonset_lists_drills_down_restarts_and_deletes(demo_cluster, kube_admin, unique_name):
    apps_api = client.AppsV1Api(kube_admin)
    name, key = unique_name, f"{NS}/{unique_name}"
    apps_api.create_namespaced_daemon_set(NS, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template(name)}})
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        await command(pilot, app, "ds")
        assert app.main.current.id == "daemonsets"
        await point_at(pilot, app, key)
        await until(pilot, lambda: app.main.current.store.get(key).cells[4] == "1", timeout=60, what="READY 1")
        assert app.main.current.store.get(key).cells[7] == "kubernetes.io/hostname=cpu-01"
        await pilot.press("enter")
        await until(pilot, lambda: app.main.current.id == f"ds:{key}" and len(app.main.current.store) == 1, what="its pod")
        pod = running_pods(kube_admin, name)
        assert list(app.main.current.store.keys()) == [f"{NS}/{pod[0]}"]
        await pilot.press("escape")
        await point_at(pilot, app, key)
        await pilot.press("S")  # a DaemonSet has no replica count: nothing asks
        await pilot.pause(0.3)
        assert not isinstance(app.screen, AskScreen)
        await confirm(pilot, app, "R", "Restart 1 DaemonSet?", name)
        wait_for(lambda: RESTARTED_AT in (apps_api.read_namespaced_daemon_set(name, NS).spec.template.metadata
                                          .annotations or {}), what="restartedAt annotation")
        await delete_and_check(pilot, app, name, lambda: apps_api.read_namespaced_daemon_set(name, NS))


async def test_cronjob_triggers_a_job_that_runs_suspends_resumes_and_deletes(demo_cluster, kube_admin,
                                                                             unique_name):
    batch = client.BatchV1Api(kube_admin)
    name = unique_name[:40].rstrip("-")  # a CronJob's name leaves room for its Jobs' suffix
    key = f"{NS}/{name}"
    pod_tpl = template(name)
    pod_tpl["spec"]["restartPolicy"] = "Never"
    pod_tpl["metadata"]["annotations"] = {"pod-complete.stage.kwok.x-k8s.io/delay": "87600h"}
    batch.create_namespaced_cron_job(NS, {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        # Once a year: the controller itself starts nothing during the test.
        "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {"metadata": {"labels": {"from": "cron"}},
                                                           "spec": {"backoffLimit": 0, "template": pod_tpl}}}})
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        await command(pilot, app, "cj")
        assert app.main.current.id == "cronjobs"
        await point_at(pilot, app, key)
        row = app.main.current.store.get(key)
        assert row.cells[2:6] == ("0 0 1 1 *", "False", "0", "<none>")
        batch.patch_namespaced_cron_job(name, NS, {"spec": {"schedule": "0 0 2 1 *"}})
        await until(pilot, lambda: app.main.current.store.get(key).cells[2] == "0 0 2 1 *", what="schedule change")

        # Trigger asks, then makes a Job from the template that runs.
        await confirm(pilot, app, "t", "Trigger 1 CronJob?", name)
        jobs = wait_for(lambda: [j for j in batch.list_namespaced_job(NS).items if j.metadata.owner_references
                                 and j.metadata.owner_references[0].name == name], what="the triggered job")
        job = jobs[0]
        assert job.metadata.name.startswith(f"{name}-manual-")
        assert job.metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"
        assert job.metadata.labels["from"] == "cron"
        owner = job.metadata.owner_references[0]
        assert (owner.kind, owner.controller) == ("CronJob", True)
        assert owner.uid == batch.read_namespaced_cron_job(name, NS).metadata.uid
        await until(pilot, lambda: any(job.metadata.name in t for t in toasts(app)), what="toast names the job")
        core = client.CoreV1Api(kube_admin)
        wait_for(lambda: [p for p in core.list_namespaced_pod(NS, label_selector=f"job-name={job.metadata.name}")
                          .items if p.status.phase == "Running"], timeout=60, what="the job's pod running")
        # ACTIVE stays 0, as kubectl shows it: the controller lists only the Jobs it started itself.
        assert batch.read_namespaced_cron_job(name, NS).status.active is None
        assert app.main.current.store.get(key).cells[4] == "0"

        # Enter: the Jobs it made.
        await pilot.press("enter")
        await until(pilot, lambda: app.main.current.id == f"cj:{key}"
                    and list(app.main.current.store.keys()) == [f"{NS}/{job.metadata.name}"], what="its job")
        await pilot.press("escape")
        await point_at(pilot, app, key)

        # Suspend and resume ask nothing.
        await pilot.press("z")
        wait_for(lambda: batch.read_namespaced_cron_job(name, NS).spec.suspend is True, what="suspended")
        assert not isinstance(app.screen, ConfirmScreen)
        await until(pilot, lambda: app.main.current.store.get(key).cells[3] == "True", what="SUSPEND True")
        await pilot.press("u")
        wait_for(lambda: batch.read_namespaced_cron_job(name, NS).spec.suspend is False, what="resumed")
        await delete_and_check(pilot, app, name, lambda: batch.read_namespaced_cron_job(name, NS))
    wait_for(lambda: gone(lambda: batch.read_namespaced_job(job.metadata.name, NS)), timeout=60,
             what="its job deleted with it")


async def test_every_name_opens_its_kind(demo_cluster):
    from cockpit.resources import registry

    app = live_app(demo_cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        for name in ("deploy", "deployment", "deployments.apps", "apps/v1/deployments", "rs", "replicaset",
                     "sts", "statefulsets", "ds", "daemonset", "cj", "cronjobs", "CronJob"):
            kind = registry.by_name(name)
            await command(pilot, app, name)
            assert app.main.current.id == kind.id, name
            await until(pilot, lambda k=kind.id: app.hub.feeds.get(k) is not None and app.hub.feeds[k].synced,
                        what=f"{kind.id} listed")
        # The demo's GPU operator runs as Deployments and DaemonSets: their rows are there.
        await command(pilot, app, "ds")
        await until(pilot, lambda: app.main.current.store.get("gpu-operator/nvidia-dcgm-exporter") is not None,
                    what="the dcgm-exporter daemon set")
