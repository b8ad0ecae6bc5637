"""A CRD installed after the cockpit started: `:plural` opens it with the server's own columns
(its printer columns included), fed by watch; :api-resources lists it; delete asks and the
object is gone from the API. Against the demo cluster."""

from __future__ import annotations

from kubernetes import client

from cockpit.ui.screens.confirm import ConfirmScreen
from tests.integration.test_discovery import GROUP, crd_body
from tests.support.pilot import until
from tests.ui.test_app_live import live_app


def _titles(app) -> list[str]:
    return [c.title for c in app.main.current.columns]


async def test_a_crd_created_while_running_opens_by_its_names_with_its_printer_columns(demo_cluster, kube_admin,
                                                                                     unique_name):
    n = unique_name.replace("-", "")[-8:]
    plural, kind = f"gpubatches{n}", f"GpuBatch{n}"
    body = crd_body(plural, kind)
    short = body["spec"]["names"]["shortNames"][0]
    ext = client.ApiextensionsV1Api(kube_admin)
    custom = client.CustomObjectsApi(kube_admin)
    app = live_app(demo_cluster, start_pane="pods")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.discovery is not None and app.discovery.read_at > 0, what="discovery")
        ext.create_custom_resource_definition(body)
        try:
            def established() -> bool:
                crd = ext.read_custom_resource_definition(f"{plural}.{GROUP}")
                return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

            await until(pilot, established, what="CRD established", timeout=30)
            custom.create_namespaced_custom_object(GROUP, "v1", "team-nlp", plural, {
                "apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": "batch-a"},
                "spec": {"phase": "Queued", "gpus": 4, "queue": "nlp"}})
            # By its short name, typed like a person: the pane opens with the printer columns.
            app.main.run_command(short)
            await until(pilot, lambda: app.main.current.id.startswith(plural), what=f":{short} opens {plural}", timeout=30)
            await until(pilot, lambda: "PHASE" in _titles(app) and "GPUS" in _titles(app), what="printer columns")
            key = "team-nlp/batch-a"
            await until(pilot, lambda: app.main.current.store.get(key) is not None, what="the object's row")
            titles = _titles(app)
            row = app.main.current.store.get(key)
            assert row.cells[titles.index("PHASE")] == "Queued" and row.cells[titles.index("GPUS")] == "4"
            assert titles[0] == "NAMESPACE" and "AGE" in titles
            # Live: a change to a printer-column field arrives by watch.
            custom.patch_namespaced_custom_object(GROUP, "v1", "team-nlp", plural, "batch-a",
                                                  {"spec": {"phase": "Running"}})
            await until(pilot, lambda: app.main.current.store.get(key).cells[_titles(app).index("PHASE")] == "Running",
                        what="the update on screen")
            # The other names open the same pane.
            for name in (plural, kind, f"{plural}.{GROUP}", f"{GROUP}/v1/{plural}"):
                app.main.show_pane("pods")
                app.main.run_command(name)
                await until(pilot, lambda: app.main.current.id.startswith(plural), what=f":{name}", timeout=15)
            # Delete asks, naming it, and the object is gone from the API.
            app.main.table.move_cursor(app.main.current.store.index(key))
            await pilot.press("ctrl+d")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
            assert any("batch-a" in i for i in app.screen.items)
            await pilot.press("y")

            def gone() -> bool:
                try:
                    custom.get_namespaced_custom_object(GROUP, "v1", "team-nlp", plural, "batch-a")
                except client.ApiException as e:
                    return e.status == 404
                return False

            await until(pilot, gone, what="object deleted in the API", timeout=30)
            await until(pilot, lambda: app.main.current.store.get(key) is None, what="row gone")
            # :api-resources lists it with its short name; Enter opens it.
            app.main.show_pane("pods")
            app.main.run_command("api-resources")
            await until(pilot, lambda: app.main.current.id == "api-resources" and
                        app.main.current.store.get(f"{plural}.{GROUP}") is not None, what="listed", timeout=30)
            listed = app.main.current.store.get(f"{plural}.{GROUP}")
            assert short in listed.cells[1] and kind in listed.cells
            app.main.table.move_cursor(app.main.current.store.index(f"{plural}.{GROUP}"))
            await pilot.press("enter")
            await until(pilot, lambda: app.main.current.id.startswith(plural), what="enter opens it")
        finally:
            ext.delete_custom_resource_definition(f"{plural}.{GROUP}")


async def test_a_name_the_server_does_not_serve_says_so(demo_cluster):
    app = live_app(demo_cluster, start_pane="pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.discovery is not None and app.discovery.read_at > 0, what="discovery")
        app.main.run_command("nosuchthings")
        await until(pilot, lambda: any("unknown command" in str(n.message) and "nosuchthings" in str(n.message)
                                       for n in app._notifications), what="the warning", timeout=60)
        assert app.main.current.id == "pods"
