"""Discovery and the server's Table format, against the demo cluster's real API server.

Every kind of name resolves for core, apps, batch, Argo and Katib resources (aggregated and
legacy discovery alike); a CRD created after discovery was read resolves once it is re-read,
by hand or by the CRD watch (and by the ETag re-read for a user who may not list CRDs); a
table-mode informer shows the CRD's printer columns and follows an update and a delete live;
core Events come through in table mode too.
"""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client

from cockpit.kube.discovery import CrdWatch, Discovery
from cockpit.kube.informer import LIVE, Informer, TableRow
from cockpit.kube.table_rows import api_resource_rows, layout_for, table_row
from tests.conftest import wait_for
from tests.support.sinks import Recorder

NAMES = [
    # name, (group, version, plural)
    ("pods", ("", "v1", "pods")),
    ("pod", ("", "v1", "pods")),
    ("po", ("", "v1", "pods")),
    ("Pod", ("", "v1", "pods")),
    ("v1/pods", ("", "v1", "pods")),
    ("core/v1/pods", ("", "v1", "pods")),
    ("events", ("", "v1", "events")),  # core wins over events.k8s.io, as in kubectl
    ("ev", ("", "v1", "events")),
    ("events.events.k8s.io", ("events.k8s.io", "v1", "events")),
    ("events.k8s.io/v1/events", ("events.k8s.io", "v1", "events")),
    ("deployments", ("apps", "v1", "deployments")),
    ("deployment", ("apps", "v1", "deployments")),
    ("deploy", ("apps", "v1", "deployments")),
    ("DEPLOYMENT", ("apps", "v1", "deployments")),
    ("deployments.apps", ("apps", "v1", "deployments")),
    ("deploy.apps", ("apps", "v1", "deployments")),
    ("deployments.v1.apps", ("apps", "v1", "deployments")),
    ("apps/v1/deployments", ("apps", "v1", "deployments")),
    ("sts", ("apps", "v1", "statefulsets")),
    ("jobs", ("batch", "v1", "jobs")),
    ("job", ("batch", "v1", "jobs")),
    ("Job", ("batch", "v1", "jobs")),
    ("jobs.batch", ("batch", "v1", "jobs")),
    ("batch/v1/jobs", ("batch", "v1", "jobs")),
    ("cj", ("batch", "v1", "cronjobs")),
    ("CronJob", ("batch", "v1", "cronjobs")),
    ("workflows", ("argoproj.io", "v1alpha1", "workflows")),
    ("workflow", ("argoproj.io", "v1alpha1", "workflows")),
    ("wf", ("argoproj.io", "v1alpha1", "workflows")),
    ("Workflow", ("argoproj.io", "v1alpha1", "workflows")),
    ("workflows.argoproj.io", ("argoproj.io", "v1alpha1", "workflows")),
    ("argoproj.io/v1alpha1/workflows", ("argoproj.io", "v1alpha1", "workflows")),
    ("cwf", ("argoproj.io", "v1alpha1", "cronworkflows")),
    ("experiments", ("kubeflow.org", "v1beta1", "experiments")),
    ("experiment", ("kubeflow.org", "v1beta1", "experiments")),
    ("Experiment", ("kubeflow.org", "v1beta1", "experiments")),
    ("experiments.kubeflow.org", ("kubeflow.org", "v1beta1", "experiments")),
    ("kubeflow.org/v1beta1/trials", ("kubeflow.org", "v1beta1", "trials")),
    ("trial", ("kubeflow.org", "v1beta1", "trials")),
    ("crd", ("apiextensions.k8s.io", "v1", "customresourcedefinitions")),
]


@pytest.fixture(scope="module", params=["aggregated", "legacy"])
def discovery(request, kube_admin):
    d = Discovery(kube_admin, aggregated=request.param == "aggregated")
    d.refresh()
    assert d.aggregated == (request.param == "aggregated")
    return d


def test_every_kind_of_name_resolves(discovery):
    wrong = {}
    for name, expected in NAMES:
        r = discovery.resolve(name)
        got = (r.group, r.version, r.plural) if r else None
        if got != expected:
            wrong[name] = got
    assert not wrong, wrong
    assert discovery.resolve("no-such-kind") is None
    assert discovery.resolve("pods.no.such.group") is None
    assert discovery.resolve("apps/v9/deployments") is None


def test_subresources_are_left_out_and_preferred_versions_come_first(discovery):
    plurals = {r.plural for r in discovery.resources}
    assert "pods" in plurals and not any("/" in p for p in plurals)
    hpa = [r for r in discovery.resources if r.plural == "horizontalpodautoscalers"]
    assert [r.version for r in hpa][:1] == ["v2"] and hpa[0].preferred
    assert all(not r.preferred for r in hpa[1:])
    pods = discovery.resolve("pods")
    assert pods.namespaced and pods.can("list", "watch") and pods.kind == "Pod"
    assert not discovery.resolve("nodes").namespaced


def test_aggregated_and_legacy_discovery_agree(kube_admin):
    agg, legacy = Discovery(kube_admin), Discovery(kube_admin, aggregated=False)
    agg.refresh()
    legacy.refresh()
    assert agg.aggregated and not legacy.aggregated

    def key(r):
        return (r.group, r.version, r.plural, r.kind, r.namespaced, tuple(sorted(r.verbs)),
                tuple(sorted(r.short_names)), r.preferred)

    assert sorted(map(key, agg.resources)) == sorted(map(key, legacy.resources))


def test_unchanged_discovery_reads_as_unchanged(kube_admin):
    d = Discovery(kube_admin)
    assert d.refresh() is True
    assert d.refresh(if_changed=True) is False  # the ETags matched: nothing re-read
    assert d.refresh() is False


def test_api_resource_rows_name_every_resource_with_its_aliases(discovery):
    rows = {r.key: r for r in api_resource_rows(discovery.preferred())}
    assert rows["pods"].cells[:5] == ("pods", "po", "v1", "true", "Pod")
    assert rows["deployments.apps"].cells[:5] == ("deployments", "deploy", "apps/v1", "true", "Deployment")
    assert rows["workflows.argoproj.io"].cells[1] == "wf"
    assert rows["nodes"].cells[3] == "false"
    assert "watch" in rows["experiments.kubeflow.org"].cells[5].split(",")
    # One row per resource: the non-preferred autoscaling/v1 is not listed twice.
    assert [r.cells[2] for r in rows.values() if r.cells[0] == "horizontalpodautoscalers"] == ["autoscaling/v2"]


# -- a CRD installed while the cockpit runs ---------------------------------------------------------
GROUP = "tests.cockpit.dev"


def crd_body(plural: str, kind: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind,
                      "shortNames": [f"{plural[:3]}{plural[-5:]}"]},
            "versions": [{
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".spec.phase"},
                    {"name": "GPUs", "type": "integer", "jsonPath": ".spec.gpus"},
                    {"name": "Queue", "type": "string", "jsonPath": ".spec.queue", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        },
    }


@pytest.fixture
def crd(kube_admin, unique_name):
    """A CRD made for this test (deleted after it): (plural, kind, short name)."""
    n = unique_name.replace("-", "")[-10:]
    plural, kind = f"gpubatches{n}", f"GpuBatch{n}"
    ext = client.ApiextensionsV1Api(kube_admin)
    body = crd_body(plural, kind)
    created = False

    def create():
        nonlocal created
        ext.create_custom_resource_definition(body)
        created = True

    yield (plural, kind, body["spec"]["names"]["shortNames"][0]), create
    if created:
        try:
            ext.delete_custom_resource_definition(f"{plural}.{GROUP}")
        except client.ApiException:
            pass


def established(kube_admin, plural: str) -> bool:
    crd = client.ApiextensionsV1Api(kube_admin).read_custom_resource_definition(f"{plural}.{GROUP}")
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or ()))


def test_crd_created_after_discovery_resolves_after_refresh(kube_admin, crd):
    (plural, kind, short), create = crd
    d = Discovery(kube_admin)
    d.refresh()
    assert d.resolve(plural) is None
    create()
    wait_for(lambda: established(kube_admin, plural), 30, what="the CRD to be established")
    d.MISS_REFRESH_SECONDS = 0  # each poll may re-read
    r = wait_for(lambda: d.resolve_or_refresh(plural), 30, what="discovery to serve the new CRD")
    assert (r.group, r.version, r.kind, r.namespaced) == (GROUP, "v1", kind, True)
    for name in (plural[:-1], short, kind.lower(), kind, f"{plural}.{GROUP}", f"{GROUP}/v1/{plural}"):
        assert d.resolve(name) == r, name


def test_crd_watch_follows_a_crd_created_and_deleted_while_running(kube_admin, crd):
    (plural, kind, _short), create = crd
    d = Discovery(kube_admin)
    changes = threading.Event()
    watch = CrdWatch(kube_admin, d, on_change=changes.set).start()
    try:
        assert changes.wait(30), "the first read, made by the watch itself"
        assert d.resolve("wf") is not None and d.resolve(kind) is None
        wait_for(lambda: watch.informer.resource_version, 30, what="the CRD watch to list")
        changes.clear()
        create()
        wait_for(lambda: d.resolve(kind) is not None, 60, what="the CRD watch to re-read discovery")
        assert changes.wait(10)
        changes.clear()
        client.ApiextensionsV1Api(kube_admin).delete_custom_resource_definition(f"{plural}.{GROUP}")
        wait_for(lambda: d.resolve(kind) is None, 60, what="the deleted CRD to leave discovery")
        assert changes.wait(10)
    finally:
        watch.stop()
        watch.join(5)


def test_a_user_who_may_not_list_crds_gets_the_etag_reread(kube_viewer, kube_admin, crd):
    (plural, kind, _short), create = crd
    d = Discovery(kube_viewer)
    watch = CrdWatch(kube_viewer, d)
    watch.POLL = 1.0  # the test need not wait the 30 s a cockpit waits
    watch.start()
    try:
        wait_for(lambda: watch._polling, 30, what="the CRD watch to be refused and fall back")
        wait_for(lambda: d.resolve("pods"), 30, what="the first read, made by the watch itself")
        create()
        wait_for(lambda: d.resolve(plural) is not None, 60, what="the ETag re-read to find the CRD")
        assert not watch.error
    finally:
        watch.stop()
        watch.join(5)


def test_table_informer_shows_a_new_crds_printer_columns_live(kube_admin, crd, unique_name):
    (plural, kind, _short), create = crd
    create()
    d = Discovery(kube_admin)
    d.MISS_REFRESH_SECONDS = 0
    r = wait_for(lambda: d.resolve_or_refresh(plural), 60, what="discovery to serve the new CRD")
    objects = client.CustomObjectsApi(kube_admin)
    ns = "default"
    name = f"batch-{unique_name}"[:60]
    body = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"phase": "Queued", "gpus": 4, "queue": "\x1b[31mred\x1b[0m-queue"}}
    wait_for(lambda: _create(objects, ns, plural, body), 30, what="the CRD's objects to be accepted")

    sink = Recorder()
    now = time.time
    informer = Informer(kube_admin, r.resource, sink, lambda t: (t, table_row(t, now())), namespace=ns,
                        table=True, name=plural).start()
    key = f"{ns}/{name}"
    try:
        wait_for(lambda: sink.get(key), 30, what="the table list")
        trow, row = sink.get(key)
        assert isinstance(trow, TableRow)
        titles = [c.title for c in layout_for(trow.columns, False).columns]
        assert titles == ["NAME", "PHASE", "GPUS", "AGE", "QUEUE"]  # the wide column last
        assert row.cells[:3] == (name, "Queued", "4")
        assert row.sort[2] == 4.0
        assert row.cells[4] == "red-queue"  # the escape sequences never reach the screen
        assert row.cells[3].endswith("s") and row.sort[3] >= 0
        assert trow.object["metadata"]["name"] == name and "managedFields" not in trow.object["metadata"]
        assert [d["name"] for d in sink.defs] == ["Name", "Phase", "GPUs", "Queue", "Age"]
        wait_for(lambda: LIVE in sink.states, 10, what="the watch")

        objects.patch_namespaced_custom_object(GROUP, "v1", ns, plural, name, {"spec": {"phase": "Running", "gpus": 8}})
        wait_for(lambda: sink.get(key)[1].cells[1:3] == ("Running", "8"), 30,
                 what="the watch to bring the printer-column update")
        assert sink.get(key)[1].status == "ok"

        objects.delete_namespaced_custom_object(GROUP, "v1", ns, plural, name)
        wait_for(lambda: key in sink.deleted, 30, what="the watch to bring the delete")
        assert sink.get(key) is None
    finally:
        informer.stop()
        informer.join(5)


def _create(objects, ns, plural, body) -> bool:
    try:
        objects.create_namespaced_custom_object(GROUP, "v1", ns, plural, body)
        return True
    except client.ApiException as e:
        if e.status == 404:  # the new resource is not served on this path yet
            return False
        raise


def test_core_events_in_table_mode(kube_admin, unique_name):
    d = Discovery(kube_admin)
    d.refresh()
    events = d.resolve("ev")
    ns = "default"
    sink = Recorder()
    informer = Informer(kube_admin, events.resource, sink, lambda t: table_row(t, time.time(), all_namespaces=True),
                        table=True, name="events").start()
    core = client.CoreV1Api(kube_admin)
    name = f"{unique_name}.warning"
    try:
        wait_for(lambda: LIVE in sink.states, 30, what="the events list")
        core.create_namespaced_event(ns, {
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "trainer-0", "namespace": ns},
            "reason": "FailedScheduling", "type": "Warning", "count": 3,
            "message": "0/5 nodes are available: 3 Insufficient nvidia.com/gpu\x07",
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:10:00Z",
            "source": {"component": "test"},
        })
        key = f"{ns}/{name}"
        row = wait_for(lambda: sink.get(key), 30, what="the watch to bring the new event")
        columns = layout_for(sink.defs, True).columns
        titles = [c.title for c in columns]
        assert titles[:2] == ["NAMESPACE", "NAME"] and "LAST-SEEN" in titles and "MESSAGE" in titles
        cells = dict(zip(titles, row.cells, strict=True))
        assert (cells["NAMESPACE"], cells["NAME"], cells["TYPE"], cells["REASON"]) == (ns, name, "Warning",
                                                                                       "FailedScheduling")
        assert cells["OBJECT"] == "pod/trainer-0"
        assert cells["MESSAGE"] == "0/5 nodes are available: 3 Insufficient nvidia.com/gpu\ufffd"
        assert cells["COUNT"] == "3"
        assert row.status == "warn"
        sort = dict(zip(titles, row.sort, strict=True))
        assert sort["LAST-SEEN"] > 86400 and sort["COUNT"] == 3.0  # ages and counts sort as numbers
        assert columns[titles.index("LAST-SEEN")].align == "right"
    finally:
        informer.stop()
        informer.join(5)
        try:
            core.delete_namespaced_event(name, ns)
        except client.ApiException:
            pass



def test_table_mode_pages_through_a_list_like_plain_mode(kube_admin):
    """Small pages, so the list takes several continue round trips in both modes."""
    pods = Discovery(kube_admin)
    pods.refresh()
    resource = pods.resolve("pods").resource
    plain, table = Recorder(), Recorder()
    a = Informer(kube_admin, resource, plain, lambda obj: obj, name="pods-plain")
    b = Informer(kube_admin, resource, table, lambda t: table_row(t, time.time(), all_namespaces=True),
                 table=True, name="pods-table")
    a.PAGE = b.PAGE = 3
    a.streaming = False  # table mode always pages; the plain one is made to here
    a.start()
    b.start()
    try:
        wait_for(lambda: LIVE in plain.states and LIVE in table.states, 30, what="both lists")
        with plain.lock, table.lock:
            plain_keys, table_rows_ = set(plain.items), dict(table.items)
        assert len(plain_keys) > 3 * 2  # more than two pages
        assert set(table_rows_) == plain_keys
        assert all(row.key == key for key, row in table_rows_.items())
    finally:
        for inf in (a, b):
            inf.stop()
            inf.join(5)


def test_a_paged_list_hands_over_each_page_with_the_servers_estimate_before_the_whole(kube_admin):
    """Rows paint as pages arrive: every page but the last reaches the sink at once, with how
    many have arrived and the API server's remainingItemCount estimate of the whole; `reset`
    then gives the complete list (what the pane's "loading 4,000 of ~10,057" is made of). Paging
    is what a server that does not stream lists gets (tests/integration/test_informer.py)."""
    resource = Discovery(kube_admin).resolve_or_refresh("pods").resource
    sink = Recorder()
    informer = Informer(kube_admin, resource, sink, lambda obj: obj, name="pods-paged")
    informer.PAGE = 4
    informer.streaming = False
    informer.start()
    try:
        wait_for(lambda: LIVE in sink.states, 30, what="the list")
        with sink.lock:
            pages, total = list(sink.pages), len(sink.items)
        assert total > 4 * 3, total  # several pages
        assert len(pages) == -(-total // 4) - 1, (pages, total)  # all but the last, before the reset
        assert [p[0] for p in pages] == [4] * len(pages)
        assert [p[1] for p in pages] == [4 * (i + 1) for i in range(len(pages))]
        assert all(p[3] == 0 for p in pages)  # before the whole list was handed over
        # The server's estimate of the whole (pods the demo starts or ends meanwhile move it a little).
        assert all(p[2] is not None and abs(p[2] - total) <= 5 for p in pages), (pages, total)
    finally:
        informer.stop()
        informer.join(5)


def test_editing_a_crds_printer_columns_rerenders_every_row(kube_admin, crd, unique_name):
    (plural, kind, _short), create = crd
    create()
    d = Discovery(kube_admin)
    d.MISS_REFRESH_SECONDS = 0
    r = wait_for(lambda: d.resolve_or_refresh(plural), 60, what="discovery to serve the new CRD")
    objects = client.CustomObjectsApi(kube_admin)
    ns = "default"
    names = [f"a-{unique_name}"[:60], f"b-{unique_name}"[:60]]
    for name in names:
        body = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": {"name": name},
                "spec": {"phase": "Queued", "gpus": 1, "owner": "team-nlp"}}
        wait_for(lambda body=body: _create(objects, ns, plural, body), 30, what="the CRD's objects to be accepted")
    sink = Recorder()
    informer = Informer(kube_admin, r.resource, sink, lambda t: t, namespace=ns, table=True, name=plural).start()
    try:
        wait_for(lambda: LIVE in sink.states and len(sink.items) == 2, 30, what="the table list")
        ext = client.ApiextensionsV1Api(kube_admin)
        columns = crd_body(plural, kind)["spec"]["versions"][0]["additionalPrinterColumns"]
        columns = [*columns, {"name": "Owner", "type": "string", "jsonPath": ".spec.owner"}]
        ext.patch_custom_resource_definition(f"{plural}.{GROUP}", [
            {"op": "replace", "path": "/spec/versions/0/additionalPrinterColumns", "value": columns}])

        def both_show_owner():
            # The server may need a moment to serve the new columns; touching an object brings
            # an event rendered with them.
            objects.patch_namespaced_custom_object(GROUP, "v1", ns, plural, names[0],
                                                   {"spec": {"gpus": int(time.time()) % 1000}})
            with sink.lock:
                rows = list(sink.items.values())
            return len(rows) == 2 and all([c["name"] for c in t.columns][-1] == "Owner" for t in rows)

        wait_for(both_show_owner, 60, interval=1.0, what="every row to carry the new printer column")
        with sink.lock:
            untouched = sink.items[f"{ns}/{names[1]}"]
        assert untouched.cells[-1] == "team-nlp"
    finally:
        informer.stop()
        informer.join(5)


def test_a_read_only_client_reads_discovery_and_tables(demo_cluster):
    """Discovery, the ETag re-read and table-mode lists are reads: the read-only guard lets them
    through (it refuses anything else before it is sent)."""
    from cockpit.kube.connection import Kubeconfig, make_api_client

    api = make_api_client(Kubeconfig.load(demo_cluster.kubeconfig), "cockpit-demo", read_only=True)
    d = Discovery(api)
    assert d.refresh()
    # A CRD an earlier test deleted may still be leaving discovery: once it has settled, the
    # ETag re-read answers "unchanged" (a 304, through the read-only guard).
    wait_for(lambda: d.refresh(if_changed=True) is False, 30, interval=1, what="an unchanged ETag re-read")
    sink = Recorder()
    informer = Informer(api, d.resolve("no").resource, sink, lambda t: table_row(t, time.time()), table=True,
                        name="nodes").start()
    try:
        wait_for(lambda: LIVE in sink.states and sink.items, 30, what="the nodes table")
        assert all(row.cells[0] == key for key, row in sink.items.items())
    finally:
        informer.stop()
        informer.join(5)
