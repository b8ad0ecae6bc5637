"""The cockpit driven by Pilot against the demo cluster: every pane fills from watch streams."""

from __future__ import annotations

import json

from kubernetes import client

from cockpit.app import CockpitApp
from cockpit.ui.main_screen import PANES
from cockpit.kube.connection import Kubeconfig
from tests.support.pilot import until
from tests.support.users import make_user


def live_app(cluster, context="cockpit-demo", **kw) -> CockpitApp:
    return CockpitApp(Kubeconfig.load(cluster.kubeconfig), context=context, **kw)


async def open_launch_form(pilot, app, preset: str):
    """n, then pick `preset` from the list; returns the launch screen with its form shown."""
    await pilot.press("n")
    await until(pilot, lambda: type(app.screen).__name__ == "LaunchScreen", what="launch screen")
    screen = app.screen
    options = screen.query_one("#presets")
    await until(pilot, lambda: any(options.get_option_at_index(i).id == preset
                                   for i in range(options.option_count)), what=f"preset {preset} listed")
    options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == preset)
    await pilot.press("enter")
    await until(pilot, lambda: screen.preset is not None, what="form")
    return screen


def table_text(app) -> list[str]:
    table = app.main.table
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_every_pane_renders_live(demo_cluster):
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        for i, pane in enumerate(PANES):
            await pilot.press(str(i + 1))
            assert app.main.current.id == pane
            await until(pilot, lambda: len(app.main.current.store) > 0, what=f"{pane} rows")
        await until(pilot, lambda: app.main._connection_text()[0] == "● live", what="live indicator")
    # The audit log shows who asked: the cockpit's own user agent.
    agents = {json.loads(line).get("userAgent", "") for line in demo_cluster.audit_log.read_text().splitlines()}
    assert any(a.startswith("gpu-cockpit/") for a in agents)


async def test_pod_change_reaches_the_screen_without_a_key(demo_cluster, kube_admin, unique_name):
    api = client.CoreV1Api(kube_admin)
    app = live_app(demo_cluster)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 0, what="pods")
        key = f"team-nlp/{unique_name}"
        api.create_namespaced_pod("team-nlp", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name, "labels": {"probe": "a"}},
            "spec": {"nodeName": "cpu-01", "containers": [{"name": "c", "image": "busybox"}]}})
        await until(pilot, lambda: app.main.current.store.get(key) is not None, what="new pod row")
        await until(pilot, lambda: app.main.current.store.get(key).cells[3] == "Running", what="pod Running")
        api.patch_namespaced_pod(unique_name, "team-nlp", {"metadata": {"labels": {"probe": "b"}}})
        await until(pilot, lambda: app.main.current.store.get(key).labels.get("probe") == "b", what="label change")
        api.delete_namespaced_pod(unique_name, "team-nlp", grace_period_seconds=0)
        await until(pilot, lambda: app.main.current.store.get(key) is None, what="row removed")


async def test_switching_context_retargets_the_panes(demo_cluster):
    app = live_app(demo_cluster, start_pane="experiments")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.main.current.store.get("team-nlp/bert-lr-search") is not None,
                    what="experiments as admin")
        await pilot.press("colon")
        await pilot.press(*"ctx cockpit-demo-viewer")
        await pilot.press("enter")
        await until(pilot, lambda: app.context == "cockpit-demo-viewer" and app.hub is not None, what="switch")
        await until(pilot, lambda: app.main.table.placeholder.startswith("Forbidden"), what="forbidden placeholder")
        assert len(app.main.current.store) == 0
        await pilot.press("1")  # the viewer may list pods and nodes: GPU allocation is known
        await until(pilot, lambda: len(app.main.current.store) > 0 and all(
            "?" not in app.main.current.store.get(k).cells[3] for k in app.main.current.store.view()),
            what="gpu allocation known as viewer")


async def test_gpu_allocation_is_unknown_when_pods_cannot_be_listed(demo_cluster, kube_admin, tmp_path):
    kubeconfig = make_user(demo_cluster, kube_admin, "nodes-only", ["cockpit-node-reader"], tmp_path)
    app = CockpitApp(Kubeconfig.load(kubeconfig), context="nodes-only", start_pane="gpu")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 0 and app.hub.pods_forbidden(), what="gpu rows")
        await until(pilot, lambda: all(app.main.current.store.get(k).cells[3].startswith("?")
                                       for k in app.main.current.store.view()), what="unknown allocation")
        assert any("allocation unknown" in line for line in [str(app.query_one("#panebar").render())])


async def test_gpu_node_drills_down_to_the_pods_holding_its_gpus(demo_cluster, kube_admin):
    app = live_app(demo_cluster, start_pane="gpu")
    async with app.run_test(size=(120, 30)) as pilot:
        key = "gpu-h100-01|nvidia.com/gpu"
        # "?" until every pod has been listed; then the real count.
        await until(pilot, lambda: app.main.current.store.get(key) is not None
                    and not app.main.current.store.get(key).cells[3].startswith("?"), what="h100 allocation")
        row = app.main.current.store.get(key)
        # The row equals what the API says: the GPUs requested by running pods on that node.
        pods = client.CoreV1Api(kube_admin).list_pod_for_all_namespaces(field_selector="spec.nodeName=gpu-h100-01")
        want = sum(int(c.resources.limits.get("nvidia.com/gpu", 0)) for p in pods.items
                   if p.status.phase not in ("Succeeded", "Failed") for c in p.spec.containers
                   if c.resources and c.resources.limits)
        assert row.cells[3] == f"{want}/8"
        app.main.table.move_cursor(app.main.current.store.index(key))
        await pilot.press("enter")
        await until(pilot, lambda: app.main.current.id == "node:gpu-h100-01" and len(app.main.current.store) > 0,
                    what="holders")
        assert any(k.startswith("team-nlp/llm-serve-bench") for k in app.main.current.store.view())
        # Utilisation per pod, from the demo's exporters: the serving job keeps its GPUs busy.
        holder = next(k for k in app.main.current.store.view() if k.startswith("team-nlp/llm-serve-bench"))
        await until(pilot, lambda: app.main.current.store.get(holder).cells[4].endswith("%")
                    and app.main.current.store.get(holder).cells[5].strip(), timeout=40, what="pod utilisation")
        await pilot.press("escape")
        assert app.main.current.id == "gpu"


async def test_filter_by_label_and_describe(demo_cluster):
    app = live_app(demo_cluster, start_pane="jobs")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 5, what="jobs")
        await pilot.press("slash", *"-l team=nlp", "enter")
        await until(pilot, lambda: app.main.current.store.filter_text == "-l team=nlp", what="filter")
        names = [app.main.current.store.get(k).name for k in app.main.current.store.view()]
        assert names and all(app.main.current.store.get(k).labels.get("team") == "nlp" for k in app.main.current.store.view())
        assert "bert-finetune" in names and "resnet50-train" not in names
        app.main.table.move_cursor(app.main.current.store.index("team-nlp/bert-finetune"))
        await pilot.press("d")
        screen = await until(pilot, lambda: app.screen if "Events:" in getattr(app.screen, "body_text", "") else None,
                             what="describe text")
        assert "Name:         bert-finetune" in screen.body_text
        await pilot.press("escape")
        await pilot.press("y")
        await until(pilot, lambda: "kind: Job" in getattr(app.screen, "body_text", ""), what="yaml")


async def test_experiment_drills_down_to_trials(demo_cluster):
    app = live_app(demo_cluster, start_pane="experiments")
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: app.main.current.store.get("team-nlp/bert-lr-search") is not None, what="exp")
        app.main.table.move_cursor(app.main.current.store.index("team-nlp/bert-lr-search"))
        await pilot.press("enter")
        await until(pilot, lambda: len(app.main.current.store) >= 9, what="trials")
        cells = [app.main.current.store.get(k).cells for k in app.main.current.store.view()]
        assert any("lr=" in " ".join(c) for c in cells)


async def test_logs_key_opens_the_pods_log(demo_cluster):
    app = live_app(demo_cluster, start_pane="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        key = "team-vision/dev-box-alice"
        await until(pilot, lambda: app.main.current.store.get(key) is not None, what="pod row")
        app.main.table.move_cursor(app.main.current.store.index(key))
        await pilot.press("l")
        await until(pilot, lambda: type(app.screen).__name__ == "LogScreen", what="log screen")
        view = app.screen.query_one("LogView")
        await until(pilot, lambda: view.line_count > 0, what="log lines")
        assert any("loss" in line.text for line in view.lines())
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ != "LogScreen", what="back")


async def test_launch_form_creates_a_gpu_job_and_lands_on_its_pods(demo_cluster, kube_admin, unique_name):
    app = live_app(demo_cluster, start_pane="gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 0 and app.hub.gpu.pods_known, what="gpu rows")
        screen = await open_launch_form(pilot, app, "pytorch-train")
        # The GPU product list is what the nodes offer, with free counts.
        select = screen.query_one("#f-gpu_product")
        labels = [str(o[0]) for o in select._options]
        assert any("A100-SXM4-80GB" in label and "free" in label for label in labels)
        select.value = "NVIDIA-A100-SXM4-80GB"
        screen.query_one("#f-name").value = unique_name
        screen.query_one("#f-namespace").value = "team-vision"
        screen.query_one("#f-gpus").value = "many"  # inline validation
        await until(pilot, lambda: "gpus" in screen.errors, what="validation error")
        screen.query_one("#f-gpus").value = "1"
        await until(pilot, lambda: "gpus" not in screen.errors, what="error cleared")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: "dry run passed" in str(screen.query_one("#status").render()), what="dry run")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.main.current.id == f"job:team-vision/{unique_name}", timeout=30, what="landed")
        await until(pilot, lambda: len(app.main.current.store) == 1, what="the job's pod")
    job = client.BatchV1Api(kube_admin).read_namespaced_job(unique_name, "team-vision")
    assert job.spec.template.spec.node_selector == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


async def test_idle_view_lists_the_idle_dev_box_and_gpu_pane_shows_utilisation(demo_cluster):
    import dataclasses

    from cockpit.config import Settings

    base = Settings()
    settings = dataclasses.replace(base, idle=dataclasses.replace(base.idle, window=2))
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", start_pane="gpu",
                     settings=settings)
    async with app.run_test(size=(160, 40)) as pilot:
        key = "gpu-h100-01|nvidia.com/gpu"
        # Utilisation arrives from the demo's exporters through the API server.
        await until(pilot, lambda: app.main.current.store.get(key) is not None
                    and app.main.current.store.get(key).cells[8].endswith("%"), timeout=40, what="utilisation")
        app.main.run_command("idle")
        await until(pilot, lambda: app.main.current.store.get("team-vision/dev-box-alice") is not None, timeout=40,
                    what="idle dev box")
        busy = [k for k in app.main.current.store.view() if k.startswith("team-nlp/llm-serve-bench")]
        assert not busy


async def test_port_forward_from_the_pods_pane(demo_cluster):
    import urllib.request

    app = live_app(demo_cluster, start_pane="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        key = "team-vision/dev-box-alice"
        await until(pilot, lambda: app.main.current.store.get(key) is not None, what="pod row")
        app.main.table.move_cursor(app.main.current.store.index(key))
        await pilot.press("F")
        await until(pilot, lambda: type(app.screen).__name__ == "PortForwardDialog", what="dialog")
        await pilot.press("enter")
        await until(pilot, lambda: app.forwards.list(), what="forward started")
        fwd = app.forwards.list()[0]
        assert fwd.local_address == "127.0.0.1" and fwd.remote_port == 8888

        def fetch():
            return urllib.request.urlopen(f"http://127.0.0.1:{fwd.local_port}/", timeout=10).read()

        import asyncio

        body = await asyncio.get_running_loop().run_in_executor(None, fetch)
        assert b"Jupyter" in body
        app.main.run_command("pf")
        await until(pilot, lambda: app.main.current.id == "pf" and len(app.main.current.store) == 1, what=":pf row")
        await until(pilot, lambda: app.main.current.store.get(fwd.id).cells[3].startswith("active"), what="active")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: not app.forwards.list() or app.forwards.list()[0].status == "stopped",
                    what="stopped")


async def test_pvc_pane_shows_the_pods_using_each_claim(demo_cluster, kube_admin, unique_name):
    app = live_app(demo_cluster, start_pane="pvcs")
    async with app.run_test(size=(140, 30)) as pilot:
        key = "team-nlp/checkpoints"
        await until(pilot, lambda: app.main.current.store.get(key) is not None, what="pvc row")
        client.CoreV1Api(kube_admin).create_namespaced_pod("team-nlp", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name},
            "spec": {"nodeName": "cpu-01", "containers": [{"name": "c", "image": "x"}],
                     "volumes": [{"name": "ck", "persistentVolumeClaim": {"claimName": "checkpoints"}}]}})
        await until(pilot, lambda: unique_name in app.main.current.store.get(key).cells[6], what="USED-BY")
        client.CoreV1Api(kube_admin).delete_namespaced_pod(unique_name, "team-nlp", grace_period_seconds=0)
        await until(pilot, lambda: unique_name not in app.main.current.store.get(key).cells[6], what="user gone")


async def test_actions_without_rbac_are_shown_disabled(demo_cluster):
    app = live_app(demo_cluster, context="cockpit-demo-viewer", start_pane="pods")
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: app.permissions.get(("delete", "pods")) is False, what="access review")
        assert app.main.check_action("delete", ()) is None  # shown, but disabled
        assert app.main.check_action("kind_action", ("kill",)) is None
    admin = live_app(demo_cluster, start_pane="pods")
    async with admin.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: admin.permissions.get(("delete", "pods")) is True, what="access review")
        assert admin.check_action("delete", ()) is True


async def test_launch_form_follows_preset_files_and_context_defaults(demo_cluster, tmp_path, monkeypatch):
    import dataclasses

    from cockpit.config import ContextDefaults, ResourceDefaults, Settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    base = Settings()
    settings = dataclasses.replace(base, contexts={"cockpit-demo": ContextDefaults(
        resources=ResourceDefaults(cpu="6", memory="48Gi", gpus=2))})
    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        await pilot.press("n")
        await until(pilot, lambda: type(app.screen).__name__ == "LaunchScreen", what="launch screen")
        screen = app.screen
        options = screen.query_one("#presets")
        await until(pilot, lambda: options.option_count >= 8 and screen.watcher is not None
                    and screen.watcher.ready.is_set(), what="presets and watcher")
        user_dir = tmp_path / "gpu-cockpit" / "presets"
        src = app.screen.library.get("pytorch-train").text.replace("name: pytorch-train", "name: my-train", 1)
        (user_dir / "my-train.yaml").write_text(src)
        await until(pilot, lambda: any(options.get_option_at_index(i).id == "my-train"
                                       for i in range(options.option_count)), what="new user preset listed")
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == "my-train")
        await pilot.press("enter")
        await until(pilot, lambda: screen.preset is not None, what="form")
        assert screen.query_one("#f-gpus").value == "2"
        assert screen.query_one("#f-cpu").value == "6"


async def test_launch_form_builds_local_code_pushes_and_launches(demo_cluster, docker_engine, kube_admin,
                                                                tmp_path, unique_name, monkeypatch):
    import docker as docker_sdk

    from tests.support.engine import busybox_base_image

    monkeypatch.setenv("DOCKER_HOST", docker_engine.docker_host)
    base = busybox_base_image(docker_sdk.DockerClient(base_url=docker_engine.docker_host))
    code = tmp_path / "experiment"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    app = live_app(demo_cluster, start_pane="jobs")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.api is not None, what="connected")
        screen = await open_launch_form(pilot, app, "pytorch-train")
        screen.query_one("#f-name").value = unique_name
        screen.query_one("#f-namespace").value = "team-vision"
        screen.query_one("#f-from_dir").value = str(code)
        screen.query_one("#f-base_image").value = base
        screen.query_one("#f-registry").value = docker_engine.registry
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.main.current.id == f"job:team-vision/{unique_name}", timeout=120,
                    what="built, pushed, launched")
    job = client.BatchV1Api(kube_admin).read_namespaced_job(unique_name, "team-vision")
    image = job.spec.template.spec.containers[0].image
    assert image.startswith(f"{docker_engine.registry}/team-vision/pytorch-train")


async def test_nodes_pane_follows_gpu_allocation(demo_cluster, kube_admin, unique_name):
    app = live_app(demo_cluster, start_pane="nodes")
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: app.main.current.store.get("gpu-a100-03") is not None
                    and "?" not in app.main.current.store.get("gpu-a100-03").cells[3], what="node row")
        before = app.main.current.store.get("gpu-a100-03").cells[3]
        assert before.startswith("0/")  # cordoned: nothing scheduled there
        client.CoreV1Api(kube_admin).create_namespaced_pod("team-vision", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name},
            "spec": {"nodeName": "gpu-a100-03", "containers": [{
                "name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "3"}}}]}})
        await until(pilot, lambda: app.main.current.store.get("gpu-a100-03").cells[3].startswith("3/"),
                    what="allocation on the node row")
        client.CoreV1Api(kube_admin).delete_namespaced_pod(unique_name, "team-vision", grace_period_seconds=0)
        await until(pilot, lambda: app.main.current.store.get("gpu-a100-03").cells[3].startswith("0/"), what="freed")
