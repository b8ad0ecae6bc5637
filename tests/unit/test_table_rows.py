"""Rows from the server's Table format and discovery's name resolution, on answers recorded from
the demo cluster's API server (tests/unit/fixtures/server_tables/)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cockpit.kube.discovery import Discovery, resources_from_aggregated, resources_from_list
from cockpit.kube.informer import TableRow
from cockpit.kube.rows import parse_time
from cockpit.kube.table_rows import (
    NO_VALUE,
    api_resource_rows,
    layout_for,
    parse_duration,
    table_layout,
    table_row,
)

FIXTURES = Path(__file__).parent / "fixtures" / "server_tables"


def table(name: str) -> dict:
    return orjson.loads((FIXTURES / f"{name}.json").read_bytes())


def trows(name: str, received: float = 0.0) -> list[TableRow]:
    t = table(name)
    columns = tuple(t["columnDefinitions"])
    return [TableRow(columns, tuple(r["cells"]), r["object"], received) for r in t["rows"]]


def titles(name: str, all_namespaces: bool = False) -> list[str]:
    return [c.title for c in table_layout(table(name)["columnDefinitions"], all_namespaces=all_namespaces).columns]


def created(t: TableRow) -> float:
    return parse_time(t.object["metadata"]["creationTimestamp"])


def test_default_columns_first_then_wide_ones_namespace_first_across_namespaces():
    assert titles("pods") == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED-NODE",
                              "READINESS-GATES"]
    assert titles("pods", all_namespaces=True)[:2] == ["NAMESPACE", "NAME"]
    # Events mark their Name column wide; it is kept, and first.
    assert titles("events", all_namespaces=True) == [
        "NAMESPACE", "NAME", "LAST-SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE",
        "SUBOBJECT", "SOURCE", "FIRST-SEEN", "COUNT"]
    layout = table_layout(table("jobs")["columnDefinitions"])
    by_title = {c.title: c for c in layout.columns}
    assert by_title["NAME"].priority == 0
    assert all(by_title[t].priority > by_title["AGE"].priority for t in ("CONTAINERS", "IMAGES", "SELECTOR"))
    assert [by_title[t].align for t in ("AGE", "DURATION", "COMPLETIONS", "STATUS")] == [
        "right", "right", "right", "left"]


def test_a_creation_age_is_recomputed_from_the_creation_timestamp():
    t = trows("pods")[0]
    c = created(t)
    row = table_row(t, c + 45)
    assert row.cells[4] == "45s" and row.sort[4] == 45
    later = table_row(t, c + 3 * 3600 + 5 * 60)
    assert later.cells[4] == "3h5m" and later.sort[4] == 3 * 3600 + 5 * 60
    assert row.key == f"{t.object['metadata']['namespace']}/{t.object['metadata']['name']}"


def test_an_age_of_another_time_advances_from_when_the_server_answered():
    # A Workflow's "Age" is its start time (its own printer column), not its creation.
    t = trows("workflows", received=1_000_000.0)[0]
    assert t.cells[2] == "3m28s"
    layout = layout_for(t.columns, False)
    assert layout.kinds[2] == "date"
    assert table_row(t, 1_000_000.0).cells[2] == "3m28s"
    row = table_row(t, 1_000_000.0 + 600)
    assert row.cells[2] == "13m" and row.sort[2] == 208 + 600


def test_a_duration_is_shown_as_the_server_said_and_sorts_as_seconds():
    t = trows("jobs")[0]
    row = table_row(t, created(t) + 9999)
    assert row.cells[3] == "2s" and row.sort[3] == 2.0


def test_numbers_ratios_and_counts_sort_as_numbers():
    pod = table_row(trows("pods")[0], 0)
    assert pod.cells[1] == "1/1" and isinstance(pod.sort[1], float)
    assert pod.sort[3] == 0.0  # RESTARTS is a string column holding a number
    cm = table_row(trows("configmaps")[1], 0)
    assert cm.cells[1] == "2" and cm.sort[1] == 2.0  # a "string" column the server fills with an int
    cols = ({"name": "Name", "type": "string", "format": "name"}, {"name": "Restarts", "type": "string"},
            {"name": "Ready", "type": "string"})
    meta = {"metadata": {"name": "p"}}
    a = table_row(TableRow(cols, ("p", "3 (5m ago)", "0/2"), meta), 0)
    b = table_row(TableRow(cols, ("p", "12", "2/2"), meta), 0)
    assert a.sort[1] == 3.0 and b.sort[1] == 12.0
    assert a.sort[2] < b.sort[2]


def test_unknown_ages_and_missing_cells_sort_first():
    cols = ({"name": "Name", "type": "string", "format": "name"}, {"name": "Started", "type": "date"},
            {"name": "GPUs", "type": "integer"})
    row = table_row(TableRow(cols, ("x", "<unknown>"), {"metadata": {"name": "x"}}), 0)
    assert row.cells == ("x", "<unknown>", "")
    assert row.sort[1:] == (NO_VALUE, NO_VALUE)


def test_cluster_text_is_cleaned_in_every_cell_and_name():
    cols = ({"name": "Name", "type": "string", "format": "name"}, {"name": "Message", "type": "string"},
            {"name": "Reason", "type": "string"}, {"name": "Nodes", "type": "string"})
    meta = {"metadata": {"name": "evil\x1b]0;title\x07", "namespace": "ns\u202e"}}
    row = table_row(TableRow(cols, ("evil\x1b]0;title\x07", "[bold red]boom[/] \x1b[2J\x1b]52;c;aGk=\x07done\r",
                                    "a\nb", ["n1", "n2\x00"]), meta), 0, all_namespaces=True)
    assert row.cells == ("ns", "evil", "[bold red]boom[/] done\ufffd", "a b", "n1,n2\ufffd")
    assert row.namespace == "ns" and row.name == "evil" and row.key == "ns/evil"
    # Markup stays literal text: the UI draws cells as plain text, never as markup.
    long = table_row(TableRow(cols, ("x", "y" * 5000, "", ""), {"metadata": {"name": "x"}}), 0)
    assert len(long.cells[1]) <= 512


def test_status_like_columns_colour_the_row():
    wf = {t.object["metadata"]["name"]: table_row(t, 0) for t in trows("workflows")}
    assert wf["feature-build-m4t8c"].status == "error" and wf["nightly-eval-2q9vd"].status == "done"
    assert table_row(trows("pods")[0], 0).status == "ok"


def test_the_layout_is_shared_by_rows_of_one_answer():
    rows = trows("pods")
    assert rows[0].columns is rows[1].columns
    assert layout_for(rows[0].columns, False) is layout_for(rows[1].columns, False)


@pytest.mark.parametrize("text,seconds", [("45s", 45), ("2m30s", 150), ("3h", 10800), ("2h5m", 7500),
                                          ("4d", 345600), ("3d5h", 277200), ("2y30d", 2 * 365 * 86400 + 30 * 86400)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "<unknown>", "<invalid>", "5", "s", "running", None, 3])
def test_parse_duration_refuses_what_is_not_one(text):
    assert parse_duration(text) is None


# -- discovery, from the recorded aggregated answers -------------------------------------------------
@pytest.fixture(scope="module")
def discovery() -> Discovery:
    groups = table("discovery-api")["items"] + table("discovery-apis")["items"]
    return Discovery(None, resources_from_aggregated(groups))


@pytest.mark.parametrize("name,expected", [
    ("po", ("", "v1", "pods")), ("Pod", ("", "v1", "pods")), ("v1/pods", ("", "v1", "pods")),
    ("events", ("", "v1", "events")), ("events.events.k8s.io", ("events.k8s.io", "v1", "events")),
    ("deploy", ("apps", "v1", "deployments")), ("deployments.v1.apps", ("apps", "v1", "deployments")),
    ("jobs.batch", ("batch", "v1", "jobs")), ("cj", ("batch", "v1", "cronjobs")),
    ("wf", ("argoproj.io", "v1alpha1", "workflows")), ("Workflow.argoproj.io", ("argoproj.io", "v1alpha1", "workflows")),
    ("experiment", ("kubeflow.org", "v1beta1", "experiments")),
    ("kubeflow.org/v1beta1/trials", ("kubeflow.org", "v1beta1", "trials")),
    ("autoscaling/v1/horizontalpodautoscalers", ("autoscaling", "v1", "horizontalpodautoscalers")),
    ("hpa", ("autoscaling", "v2", "horizontalpodautoscalers")),
])
def test_resolve(discovery, name, expected):
    r = discovery.resolve(name)
    assert (r.group, r.version, r.plural) == expected


def test_resolve_unknown_names(discovery):
    for name in ("", " ", "nope", "pods.nope", "a/b/c/d", "apps/v1/nope", "v2/pods"):
        assert discovery.resolve(name) is None, name


def test_core_apps_batch_come_first_then_the_servers_order(discovery):
    groups = []
    for r in discovery.resources:
        if r.group not in groups:
            groups.append(r.group)
    assert groups[:3] == ["", "apps", "batch"]
    assert groups.index("apiregistration.k8s.io") < groups.index("argoproj.io") < groups.index("kubeflow.org")


def test_a_plural_wins_over_another_resources_short_name():
    from cockpit.kube.discovery import ApiResource

    mine = ApiResource("example.com", "v1", "things", "thing", "Thing", short_names=("pods",))
    core = ApiResource("", "v1", "pods", "pod", "Pod", short_names=("po",))
    d = Discovery(None, [mine, core])
    assert d.resolve("pods") == core
    assert d.resolve("pods.example.com") == mine


def test_legacy_lists_leave_subresources_out():
    body = {"resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["list", "watch"],
         "shortNames": ["po"]},
        {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    ]}
    [pods] = resources_from_list(body, "", "v1", preferred=True)
    assert (pods.plural, pods.singular, pods.short_names, pods.namespaced, pods.listable) == (
        "pods", "pod", ("po",), True, True)


def test_api_resource_rows(discovery):
    rows = {r.key: r for r in api_resource_rows(discovery.preferred())}
    assert rows["pods"].cells == ("pods", "po", "v1", "true", "Pod",
                                  "create,delete,deletecollection,get,list,patch,update,watch")
    assert rows["cronworkflows.argoproj.io"].cells[:3] == ("cronworkflows", "cwf,cronwf", "argoproj.io/v1alpha1")
    assert rows["bindings"].status == "done"  # create only: nothing to list
    assert len(rows) == len(discovery.preferred())


# -- a kind made from discovery -------------------------------------------------------------------
class Clock:
    """What a discovered kind asks of the hub while building a row: the time."""

    def __init__(self, now: float):
        self.now = now

    def clock(self) -> float:
        return self.now


def test_a_discovered_kind_shows_the_servers_columns_once_they_arrive(discovery):
    from cockpit.resources.discovered import discovered_kind

    kind = discovered_kind(discovery.resolve("cm"))
    assert (kind.id, kind.title, kind.api_kind, kind.group, kind.plural, kind.namespaced) == (
        "configmaps", "ConfigMaps", "ConfigMap", "", "configmaps", True)
    assert kind.table and kind.deletable and {"cm", "configmap", "v1/configmaps"} <= kind.names()
    t = trows("configmaps")[0]
    row = kind.build(t, Clock(created(t) + 90))
    assert [c.title for c in kind.columns] == ["NAMESPACE", "NAME", "DATA", "AGE"]
    assert row.cells == ("argo", "kube-root-ca.crt", "1", "90s")
    assert kind.age_column == 3
    assert discovered_kind(discovery.resolve("configmaps")) is kind  # one kind, one feed id


def test_kind_for_prefers_the_cockpits_own_kinds(discovery):
    from cockpit.resources import registry
    from cockpit.resources.discovered import DiscoveredKind, kind_for

    assert kind_for(discovery.resolve("po")) is registry.get("pods")
    own = {(k.group, k.plural): k for k in registry.kinds().values()}
    for r in discovery.preferred():
        kind = kind_for(r)
        if (r.group, r.plural) in own:
            assert kind is own[(r.group, r.plural)]
        else:
            assert isinstance(kind, DiscoveredKind) and kind.id == r.full_name, r
    titles = {n: DiscoveredKind(discovery.resolve(n)).title for n in ("crd", "netpol", "cm")}
    assert titles == {"crd": "CustomResourceDefinitions", "netpol": "NetworkPolicies", "cm": "ConfigMaps"}


def test_rows_without_their_object_are_keyed_by_the_name_cell():
    from cockpit.kube.informer import _table_row

    t = table("nodes")
    columns = tuple(t["columnDefinitions"])
    rows = [_table_row(columns, {"cells": r["cells"]}, 0.0) for r in t["rows"]]
    assert [r.object["metadata"]["name"] for r in rows] == [r["cells"][0] for r in t["rows"]]
    row = t["rows"][0]
    meta = {**row["object"]["metadata"], "managedFields": [{"manager": "kubectl"}]}
    kept = _table_row(columns, {"cells": row["cells"], "object": {**row["object"], "metadata": meta}}, 0.0)
    assert kept.object["metadata"]["uid"] == meta["uid"] and "managedFields" not in kept.object["metadata"]


def test_a_discovered_kind_learns_its_columns_from_an_empty_list_too(discovery):
    from cockpit.resources.discovered import DiscoveredKind

    kind = DiscoveredKind(discovery.resolve("wf"))
    before = kind.layout_changes
    assert [c.title for c in kind.columns] == ["NAMESPACE", "NAME", "AGE"]
    kind.columns_seen(tuple(table("workflows")["columnDefinitions"]))
    assert [c.title for c in kind.columns] == ["NAMESPACE", "NAME", "STATUS", "AGE", "MESSAGE"]
    assert kind.layout_changes == before + 1
