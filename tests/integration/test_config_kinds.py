"""Services, Events, ConfigMaps, Secrets, ServiceAccounts, PersistentVolumes, StorageClasses and
CRDs in the cockpit, driven by Pilot against the demo cluster: each opens under its `:` names,
fills from its watch, and follows changes made with the kubernetes client; Enter on a Service
lists its pods; a Warning the test emits leads the Events pane; a Secret's value stays off the
screen and out of memory until `v`, and `v` does nothing in read-only mode."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from kubernetes import client

from cockpit.kube.informer import LIVE
from cockpit.ui.screens.text import TextScreen
from tests.support.pilot import until
from tests.ui.test_app_live import live_app, table_text


async def command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")


def screen_text(app) -> str:
    """Everything on the terminal now, the table and the bars and toasts included."""
    return app.export_screenshot()


def select(app, key: str) -> None:
    app.main.table.move_cursor(app.main.current.store.index(key))


# What each kind's test creates, then changes, with the kubernetes client: (names it opens
# under, key of the row, create, change, what the changed row shows, delete).
def _cm(api, ns, name):
    core = client.CoreV1Api(api)
    return (lambda: core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"lr": "0.1"}}),
            lambda: core.patch_namespaced_config_map(name, ns, {"data": {"epochs": "3"}}),
            lambda row: row.cells[2:4] == ("2", "epochs,lr"),
            lambda: core.delete_namespaced_config_map(name, ns))


def _secret(api, ns, name):
    core = client.CoreV1Api(api)
    return (lambda: core.create_namespaced_secret(ns, {"metadata": {"name": name}, "stringData": {"token": "t0k"}}),
            lambda: core.patch_namespaced_secret(name, ns, {"stringData": {"user": "u"}}),
            lambda row: row.cells[3:5] == ("2", "token,user"),
            lambda: core.delete_namespaced_secret(name, ns))


def _svc(api, ns, name):
    core = client.CoreV1Api(api)
    return (lambda: core.create_namespaced_service(ns, {"metadata": {"name": name}, "spec": {
                "selector": {"app": name}, "ports": [{"name": "a", "port": 80, "targetPort": 8080}]}}),
            lambda: core.patch_namespaced_service(name, ns, {"spec": {"ports": [
                {"name": "a", "port": 80, "targetPort": 8080}, {"name": "b", "port": 81}]}}),
            lambda row: row.cells[4] == "80/TCP,81/TCP",
            lambda: core.delete_namespaced_service(name, ns))


def _sa(api, ns, name):
    core = client.CoreV1Api(api)
    return (lambda: core.create_namespaced_service_account(ns, {"metadata": {"name": name}}),
            lambda: core.patch_namespaced_service_account(name, ns, {"imagePullSecrets": [{"name": "registry"}]}),
            lambda row: row.cells[3] == "1",
            lambda: core.delete_namespaced_service_account(name, ns))


def _pv(api, ns, name):
    core = client.CoreV1Api(api)
    return (lambda: core.create_persistent_volume({"metadata": {"name": name}, "spec": {
                "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": f"/tmp/{name}"}}}),
            lambda: core.patch_persistent_volume(name, {"spec": {"persistentVolumeReclaimPolicy": "Delete"}}),
            lambda row: row.cells[1:4] == ("1Gi", "RWO", "Delete"),
            lambda: core.delete_persistent_volume(name))


def _sc(api, ns, name):
    storage = client.StorageV1Api(api)
    # A StorageClass's provisioner and policies are immutable; whether it is the default is not.
    return (lambda: storage.create_storage_class({"metadata": {"name": name}, "provisioner": "example.com/none",
                                                  "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
            lambda: storage.patch_storage_class(name, {"metadata": {"annotations": {
                "storageclass.beta.kubernetes.io/is-default-class": "true"}}}),
            lambda row: row.cells[1:5] == ("default", "example.com/none", "Retain", "WaitForFirstConsumer"),
            lambda: storage.delete_storage_class(name))


def _crd(api, ns, name):
    ext = client.ApiextensionsV1Api(api)
    plural = name.replace("-", "")
    full = f"{plural}.test.gpu-cockpit.dev"
    version = {"name": "v1", "served": True, "storage": True,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return (lambda: ext.create_custom_resource_definition({"metadata": {"name": full}, "spec": {
                "group": "test.gpu-cockpit.dev", "scope": "Namespaced",
                "names": {"plural": plural, "singular": plural[:-1], "kind": "Probe"}, "versions": [version]}}),
            lambda: ext.patch_custom_resource_definition(full, {"spec": {"versions": [
                {**version, "storage": False, "name": "v1beta1"}, version]}}),
            lambda row: row.cells[1:5] == ("test.gpu-cockpit.dev", "Probe", "v1beta1,v1*", "Namespaced"),
            lambda: ext.delete_custom_resource_definition(full))


def _event(api, ns, name):
    core = client.CoreV1Api(api)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (lambda: core.create_namespaced_event(ns, {
                "metadata": {"name": name}, "type": "Normal", "reason": "Probed", "message": "first",
                "involvedObject": {"kind": "Pod", "name": "probe", "namespace": ns}, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "test"}}),
            lambda: core.patch_namespaced_event(name, ns, {"count": 4, "message": "fourth"}),
            lambda row: row.cells[5:7] == ("4", "fourth") and row.cells[4] == "Pod/probe",
            lambda: core.delete_namespaced_event(name, ns))


KINDS = {
    "configmaps": (("cm", "configmaps"), True, _cm),
    "secrets": (("secrets", "secret"), True, _secret),
    "services": (("svc", "services"), True, _svc),
    "serviceaccounts": (("sa", "serviceaccounts"), True, _sa),
    "pvs": (("pv", "persistentvolumes"), False, _pv),
    "storageclasses": (("sc", "storageclasses"), False, _sc),
    "crds": (("crd", "customresourcedefinitions"), False, _crd),
    "events": (("ev", "events"), True, _event),
}


@pytest.mark.parametrize("kind_id", list(KINDS))
async def test_each_kind_opens_by_its_names_lists_live_and_follows_changes(demo_cluster, kube_admin, unique_name,
                                                                           kind_id):
    names, namespaced, make = KINDS[kind_id]
    ns = "team-nlp"
    name = unique_name.replace("_", "-")
    create, change, changed, delete = make(kube_admin, ns, name)
    key = f"{ns}/{name}" if namespaced else (f"{name.replace('-', '')}.test.gpu-cockpit.dev"
                                            if kind_id == "crds" else name)
    app = live_app(demo_cluster)
    async with app.run_test(size=(160, 40)) as pilot:
        for typed in names:
            await pilot.press("1")
            await command(pilot, typed)
            await until(pilot, lambda: app.main.current.id == kind_id, what=f":{typed} opens {kind_id}")
        # The demo seeds objects of every one of these kinds but Secrets.
        await until(pilot, lambda: app.hub.state(kind_id)[0] == LIVE
                    and (len(app.main.current.store) > 0 or kind_id == "secrets"), what=f"{kind_id} listed")
        create()
        try:
            row = await until(pilot, lambda: app.main.current.store.get(key), what=f"new {kind_id} row {key}")
            assert row.name == key.rpartition("/")[2] and row.namespace == (ns if namespaced else "")
            select(app, key)  # scrolled into view: events are many
            await pilot.pause()
            shown = row.cells[3] if kind_id == "events" else row.name[:12]  # an event's REASON; a name
            assert any(shown in line for line in table_text(app)), (shown, table_text(app))
            change()
            await until(pilot, lambda: app.main.current.store.get(key) and changed(app.main.current.store.get(key)),
                        what=f"{kind_id} change shown")
        finally:
            delete()
        await until(pilot, lambda: app.main.current.store.get(key) is None, what=f"{kind_id} row removed")


async def test_enter_on_a_service_lists_the_pods_its_selector_matches(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    ns, name = "team-nlp", unique_name

    def pod(pod_name: str, app_label: str) -> dict:
        return {"metadata": {"name": pod_name, "labels": {"app": app_label}},
                "spec": {"nodeName": "cpu-01", "containers": [{"name": "c", "image": "busybox"}]}}

    core.create_namespaced_service(ns, {"metadata": {"name": name}, "spec": {
        "selector": {"app": name}, "ports": [{"port": 80}]}})
    core.create_namespaced_pod(ns, pod(f"{name}-a", name))
    core.create_namespaced_pod(ns, pod(f"{name}-other", f"{name}-x"))  # same namespace, not selected
    # Same label in another namespace: a Service selects in its own namespace only.
    core.create_namespaced_pod("team-vision", pod(f"{name}-elsewhere", name))
    app = live_app(demo_cluster)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await command(pilot, "svc")
            await until(pilot, lambda: app.main.current.store.get(f"{ns}/{name}"), what="service row")
            select(app, f"{ns}/{name}")
            await pilot.press("enter")
            await until(pilot, lambda: app.main.current.id == f"svc:{ns}/{name}", what="pods of the service")
            await until(pilot, lambda: f"{ns}/{name}-a" in app.main.current.store, what="selected pod")
            assert set(app.main.current.store.keys()) == {f"{ns}/{name}-a"}
            assert app.main.current.kind_id == "pods"
            # Live: a pod that starts carrying the label joins; one created with it appears.
            core.patch_namespaced_pod(f"{name}-other", ns, {"metadata": {"labels": {"app": name}}})
            core.create_namespaced_pod(ns, pod(f"{name}-b", name))
            await until(pilot, lambda: set(app.main.current.store.keys()) == {
                f"{ns}/{name}-a", f"{ns}/{name}-other", f"{ns}/{name}-b"}, what="pods joining")
            # The Service's selector changes: the list follows it.
            core.patch_namespaced_service(name, ns, {"spec": {"selector": {"app": f"{name}-none"}}})
            await until(pilot, lambda: len(app.main.current.store) == 0, what="no pod selected any more")
            await pilot.press("escape")
            assert app.main.current.id == "services"
    finally:
        core.delete_namespaced_service(name, ns)
        for p_ns, p in ((ns, f"{name}-a"), (ns, f"{name}-other"), (ns, f"{name}-b"), ("team-vision", f"{name}-elsewhere")):
            core.delete_namespaced_pod(p, p_ns, grace_period_seconds=0)


def _warning(core, ns: str, name: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.create_namespaced_event(ns, {
        "metadata": {"name": name}, "type": "Warning", "reason": "GpuXidError",
        "message": "Xid 79: GPU has fallen off the bus", "count": 1, "firstTimestamp": now, "lastTimestamp": now,
        "involvedObject": {"kind": "Node", "name": "gpu-a100-01"}, "source": {"component": "dcgm-test"}})


async def test_a_warning_the_test_emits_appears_flagged(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    key = f"default/{unique_name}"
    app = live_app(demo_cluster)
    async with app.run_test(size=(160, 40)) as pilot:
        await command(pilot, "events")
        await until(pilot, lambda: app.main.current.id == "events" and len(app.main.current.store) > 0, what="events")
        _warning(core, "default", unique_name)
        try:
            row = await until(pilot, lambda: app.main.current.store.get(key), what="the emitted warning")
            assert row.status == "warn" and row.cells[2:5] == ("Warning", "GpuXidError", "Node/gpu-a100-01")
            # The pane opens by TYPE; one column back is LAST SEEN: newest first, ours among them.
            await pilot.press("less_than_sign")
            await until(pilot, lambda: app.main.current.store.sort_column == 1, what="sorted by LAST SEEN")
            assert isinstance(row.sort[1], float)
            view = app.main.current.store.view()
            newest_first = [app.main.current.store.get(k).sort[1] for k in view]
            assert newest_first == sorted(newest_first)
            # Only events seen after ours (other tests' jobs keep the session cluster busy) are above.
            assert all(app.main.current.store.get(k).sort[1] <= row.sort[1] for k in view[:view.index(key)])
        finally:
            core.delete_namespaced_event(unique_name, "default")



async def test_the_events_pane_opens_with_the_newest_warning_on_top(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    key = f"default/{unique_name}"
    app = live_app(demo_cluster)
    async with app.run_test(size=(160, 40)) as pilot:
        await command(pilot, "ev")
        await until(pilot, lambda: app.main.current.id == "events" and len(app.main.current.store) > 0, what="events")
        _warning(core, "default", unique_name)
        try:
            await until(pilot, lambda: key in app.main.current.store, what="the emitted warning")
            assert app.main.current.store.sort_column == 2 and not app.main.current.store.sort_reverse
            # Only a Warning seen after ours may be above it (the demo's PVC controller repeats one).
            view = app.main.current.store.view()
            above = [app.main.current.store.get(k) for k in view[:view.index(key)]]
            mine = app.main.current.store.get(key)
            assert all(r.cells[2] == "Warning" and r.sort[1] <= mine.sort[1] for r in above), above
            # Recurring Warnings (unschedulable pods, Kueue's pending) keep moving above it; the
            # row itself is drawn as a Warning where the cursor takes the view.
            app.main.table.move_cursor(app.main.current.store.view().index(key))
            await until(pilot, lambda: any("GpuXidError" in line and "Warning" in line for line in table_text(app)),
                        what="drawn on screen")
        finally:
            core.delete_namespaced_event(unique_name, "default")


def _make_secret(core, ns: str, name: str, value: str) -> None:
    core.create_namespaced_secret(ns, {"metadata": {"name": name}, "type": "Opaque",
                                       "data": {"password": base64.b64encode(value.encode()).decode(),
                                                "blob.bin": base64.b64encode(bytes(range(256))).decode()}})


def _kept_anywhere(app, needle: str) -> bool:
    """Whether `needle` is in any row or kept object of any feed of the app."""
    for feed in app.hub.feeds.values():
        with feed.lock:
            items = list(feed.items.values())
        for item in items:
            if needle in repr(item.row) or (item.obj is not None and needle in repr(item.obj)):
                return True
    for view in app.main.views.values():
        if any(needle in repr(view.store.get(k)) for k in view.store.keys()):
            return True
    return False


async def test_a_secret_value_stays_hidden_until_v_and_v_shows_it(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    ns, name, value = "team-nlp", unique_name, f"s3cr3t-{uuid.uuid4().hex[:16]}"
    encoded = base64.b64encode(value.encode()).decode()
    _make_secret(core, ns, name, value)
    app = live_app(demo_cluster)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await command(pilot, "secrets")
            row = await until(pilot, lambda: app.main.current.store.get(f"{ns}/{name}"), what="secret row")
            assert row.cells[2:5] == ("Opaque", "2", "blob.bin,password")
            select(app, f"{ns}/{name}")
            await pilot.pause()
            for needle in (value, encoded):
                assert needle not in screen_text(app)
                assert not _kept_anywhere(app, needle)
            # Filtering for the value finds nothing (it is in no cell); for a key name, the Secret.
            await pilot.press("slash", *value, "enter")
            await until(pilot, lambda: app.main.current.store.filter_text == value, what="filter")
            assert len(app.main.current.store) == 0
            await pilot.press("slash", *["backspace"] * len(value), *"password", "enter")
            await until(pilot, lambda: app.main.current.store.filter_text == "password", what="filter by key")
            assert f"{ns}/{name}" in app.main.current.store.view()
            await pilot.press("escape")
            await until(pilot, lambda: app.main.current.store.get(f"{ns}/{name}") and len(app.main.current.store) > 0,
                        what="filter cleared")
            select(app, f"{ns}/{name}")
            await pilot.press("v")
            screen = await until(pilot, lambda: app.screen if isinstance(app.screen, TextScreen)
                                 and "password" in app.screen.body_text else None, what="revealed values")
            assert f"password: {value}" in screen.body_text.splitlines()
            assert "blob.bin: <256 bytes binary>" in screen.body_text.splitlines()
            assert screen.title_text == f"Reveal Secret {ns}/{name}"
            await until(pilot, lambda: value in screen_text(app), what="value on screen")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, TextScreen), what="back to the table")
            assert value not in screen_text(app) and not _kept_anywhere(app, value)
    finally:
        core.delete_namespaced_secret(name, ns)


async def test_v_in_read_only_mode_shows_nothing_and_says_why(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    ns, name, value = "team-nlp", unique_name, f"s3cr3t-{uuid.uuid4().hex[:16]}"
    _make_secret(core, ns, name, value)
    app = live_app(demo_cluster, read_only=True)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await command(pilot, "secrets")
            await until(pilot, lambda: app.main.current.store.get(f"{ns}/{name}"), what="secret row")
            select(app, f"{ns}/{name}")
            await pilot.press("v")
            await until(pilot, lambda: any("read-only" in n.message for n in app._notifications),
                        what="read-only toast")
            await pilot.pause(0.5)
            assert not isinstance(app.screen, TextScreen)
            assert len(app.screen_stack) == 1
            assert value not in screen_text(app) and not _kept_anywhere(app, value)
    finally:
        core.delete_namespaced_secret(name, ns)


async def test_a_pending_claim_says_why_and_follows_its_storage_class(demo_cluster, kube_admin, unique_name):
    """The PVC pane's WHY PENDING reads the StorageClasses: a class that does not exist is named;
    once it is created (WaitForFirstConsumer), the row says the claim waits for its first pod."""
    core, storage = client.CoreV1Api(kube_admin), client.StorageV1Api(kube_admin)
    ns, tag = "team-nlp", uuid.uuid4().hex[:6]
    name, cls = f"claim-{tag}", f"nvme-{tag}"  # short: the reason must fit its column
    core.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": name}, "spec": {
        "storageClassName": cls, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    app = live_app(demo_cluster)
    try:
        async with app.run_test(size=(200, 40)) as pilot:
            await command(pilot, "pvc")
            key = f"{ns}/{name}"
            await until(pilot, lambda: app.main.current.store.get(key), what="claim row")
            await until(pilot, lambda: app.main.current.store.get(key).cells[-1] == f"StorageClass {cls} does not exist",
                        what="the missing class named")
            select(app, key)
            await pilot.pause()
            assert any(f"StorageClass {cls} does not exist" in line for line in table_text(app)), "\n".join(table_text(app))
            storage.create_storage_class({"metadata": {"name": cls}, "provisioner": "example.com/none",
                                          "volumeBindingMode": "WaitForFirstConsumer"})
            await until(pilot, lambda: app.main.current.store.get(key).cells[-1].startswith("waits for its first pod"),
                        what="the row follows the new class")
            await pilot.pause()
            assert any("waits for its first pod" in line for line in table_text(app)), table_text(app)
    finally:
        core.delete_namespaced_persistent_volume_claim(name, ns)
        try:
            storage.delete_storage_class(cls)
        except client.ApiException as e:
            if e.status != 404:
                raise
