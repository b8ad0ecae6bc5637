"""The launch form's create can be cancelled, and closing the form (or quitting) while it
creates rolls back too: nothing of the launch is left in the demo cluster."""

from __future__ import annotations

import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.app import CockpitApp
from cockpit.kube.connection import Kubeconfig
from cockpit.launch.apply import LAUNCH_ID_LABEL
from tests.conftest import wait_for
from tests.support.pilot import until
from tests.ui.test_app_live import open_launch_form


def slow_creates(api, seconds: float):
    """Each create request is sent for real; its answer is handed back `seconds` later, the
    way a slow or distant API server answers."""
    real = api.call_api

    def call_api(path, method, *args, **kwargs):
        answer = real(path, method, *args, **kwargs)
        if method == "POST":
            time.sleep(seconds)
        return answer

    api.call_api = call_api


def left_over(kube_admin, name: str, namespace: str) -> list[str]:
    out = []
    try:
        claim = client.CoreV1Api(kube_admin).read_namespaced_persistent_volume_claim(name, namespace)
        if not claim.metadata.deletion_timestamp:
            out.append(f"pvc/{name}")
    except ApiException as e:
        assert e.status == 404
    try:
        job = client.BatchV1Api(kube_admin).read_namespaced_job(name, namespace)
        if not job.metadata.deletion_timestamp:
            out.append(f"job/{name}")
    except ApiException as e:
        assert e.status == 404
    return out


async def _start_create(pilot, app, name: str):
    screen = await open_launch_form(pilot, app, "pytorch-train")
    screen.query_one("#f-name").value = name
    screen.query_one("#f-namespace").value = "team-vision"
    screen.query_one("#f-pvc").value = name
    slow_creates(app.hub.api, 1.5)
    await pilot.press("ctrl+s")
    return screen


async def test_esc_while_creating_cancels_and_rolls_back(demo_cluster, kube_admin, unique_name):
    name = unique_name[:40]
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        screen = await _start_create(pilot, app, name)
        core = client.CoreV1Api(kube_admin)
        wait_for(lambda: core.read_namespaced_persistent_volume_claim(name, "team-vision"), what="first object made")
        await pilot.press("escape")
        status = await until(pilot, lambda: "cancelled:" in str(screen.query_one("#status").render()) and
                             str(screen.query_one("#status").render()), timeout=30, what="cancelled")
        assert f"Rolled back: deleted persistentvolumeclaim/{name}" in status
        assert app.screen is screen  # esc cancelled the create; the form stays open
    wait_for(lambda: left_over(kube_admin, name, "team-vision") == [], what="nothing left")
    sel = f"{LAUNCH_ID_LABEL}"
    assert not [j for j in client.BatchV1Api(kube_admin).list_namespaced_job("team-vision", label_selector=sel).items
                if j.metadata.name == name and not j.metadata.deletion_timestamp]


async def test_quitting_while_creating_rolls_back(demo_cluster, kube_admin, unique_name):
    name = unique_name[:40]
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        await _start_create(pilot, app, name)
        core = client.CoreV1Api(kube_admin)
        wait_for(lambda: core.read_namespaced_persistent_volume_claim(name, "team-vision"), what="first object made")
        app.exit()
    wait_for(lambda: left_over(kube_admin, name, "team-vision") == [], timeout=20, what="nothing left")
