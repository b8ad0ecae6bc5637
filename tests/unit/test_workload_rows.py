"""Rows of Deployments, ReplicaSets, StatefulSets, DaemonSets and CronJobs, built from objects
recorded from the demo API server and checked against what `kubectl get` printed for the same
objects at the same moment; the Job a CronJob trigger makes; selectors and replica answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cockpit.kube import actions
from cockpit.kube.selector import parse
from cockpit.resources import _workload, registry
from cockpit.resources.cronjobs import cronjob_row, manual_job
from cockpit.resources.daemonsets import daemonset_row
from cockpit.resources.deployments import deployment_row
from cockpit.resources.replicasets import replicaset_row
from cockpit.resources.statefulsets import statefulset_row

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "workloads.json").read_text())
NOW = RECORDED["recorded_at"]
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BUILDERS = {"Deployment": ("deployments", deployment_row), "ReplicaSet": ("replicasets", replicaset_row),
            "StatefulSet": ("statefulsets", statefulset_row), "DaemonSet": ("daemonsets", daemonset_row),
            "CronJob": ("cronjobs", cronjob_row)}


def objects(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in RECORDED["items"] if o["kind"] == kind}


def build(obj: dict):
    kind_id, builder = BUILDERS[obj["kind"]]
    return builder(obj, NOW)


def printed(kind_id: str) -> dict[str, list[str]]:
    """What kubectl printed, by name, AGE left out (the two clocks read a moment apart)."""
    out = {}
    for fields in RECORDED["kubectl"][kind_id]:
        if kind_id == "cronjobs":  # the schedule has spaces; TIMEZONE is a column kubectl added
            fields = [*fields[:2], " ".join(fields[2:-5]), *fields[-4:]]
        out[fields[1]] = fields[:-1]
    return out


@pytest.mark.parametrize("obj", RECORDED["items"], ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_row_has_a_cell_and_a_sort_value_per_column_and_no_control_characters(obj):
    kind_id, _ = BUILDERS[obj["kind"]]
    row = build(obj)
    assert len(row.cells) == len(registry.get(kind_id).columns) == len(row.sort)
    assert all(isinstance(c, str) and not CONTROL.search(c) for c in row.cells)
    assert row.key == f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


@pytest.mark.parametrize(("kind", "kind_id", "cells"), [
    ("Deployment", "deployments", slice(0, 5)),  # NAMESPACE NAME READY UP-TO-DATE AVAILABLE
    ("ReplicaSet", "replicasets", slice(0, 5)),  # NAMESPACE NAME DESIRED CURRENT READY
    ("StatefulSet", "statefulsets", slice(0, 3)),  # NAMESPACE NAME READY
    ("DaemonSet", "daemonsets", slice(0, 8)),  # ... AVAILABLE NODE SELECTOR
])
def test_rows_say_what_kubectl_get_says(kind, kind_id, cells):
    want = printed(kind_id)
    got = {name: list(build(obj).cells[cells]) for name, obj in objects(kind).items()}
    assert got == {name: fields[cells] for name, fields in want.items()}
    assert len(got) >= 1


def test_cronjob_rows_say_what_kubectl_get_says():
    want = printed("cronjobs")
    for name, obj in objects("CronJob").items():
        ns, _, schedule, suspend, active, last = want[name]
        row = cronjob_row(obj, RECORDED["printed_at"]["cronjobs"])
        assert row.cells[:5] == (ns, name, schedule, suspend, active)
        # LAST SCHEDULE: the same, give or take the second between the two readings
        # (the object and kubectl's table were read one after the other).
        if last == "<none>":
            assert row.cells[5] == "<none>"
        else:
            assert abs(int(row.cells[5].rstrip("s")) - int(last.rstrip("s"))) <= 2


def test_gpus_are_the_templates_request_times_the_replicas():
    deps = objects("Deployment")
    assert build(deps["tensorboard"]).cells[5] == "2"  # 1 GPU × 2 replicas
    assert build(deps["llm-serve-pending"]).cells[5] == "12"  # 4 × 3, though none is scheduled
    assert build(deps["gpu-operator"]).cells[5] == "-"
    rs = next(o for n, o in objects("ReplicaSet").items() if n.startswith("tensorboard-"))
    assert build(rs).cells[5] == "2"


def test_colour_follows_readiness():
    deps = objects("Deployment")
    assert build(deps["tensorboard"]).status == "ok"
    assert build(deps["llm-serve-pending"]).status == "pending"  # 0/3: nothing can schedule
    crons = objects("CronJob")
    assert build(crons["weekly-cleanup"]).status == "warn"  # suspended
    gone = {**deps["tensorboard"], "metadata": {**deps["tensorboard"]["metadata"],
                                                 "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert build(gone).status == "warn"


def test_a_replica_count_of_zero_is_neither_ready_nor_pending():
    dep = objects("Deployment")["tensorboard"]
    zero = {**dep, "spec": {**dep["spec"], "replicas": 0}, "status": {}}
    row = build(zero)
    assert row.cells[2] == "0/0" and row.cells[5] == "-" and row.status == ""


def test_cluster_text_is_cleaned():
    cj = objects("CronJob")["weekly-cleanup"]
    evil = {**cj, "spec": {**cj["spec"], "schedule": "\x1b]0;owned\x07* * * * *\x1b[2J"}}
    row = cronjob_row(evil, NOW)
    assert not CONTROL.search(row.cells[2]) and "* * * * *" in row.cells[2]
    ds = objects("DaemonSet")["nvidia-dcgm-exporter"]
    template = ds["spec"]["template"]
    evil_ds = {**ds, "spec": {**ds["spec"], "template": {**template, "spec": {
        **template["spec"], "nodeSelector": {"zone": "a\x1b[31mb"}}}}}
    assert not CONTROL.search(daemonset_row(evil_ds, NOW).cells[7])


def test_a_triggered_job_is_what_kubectl_create_job_from_makes():
    cj = objects("CronJob")["nightly-eval"]
    job = manual_job(cj, 1_764_633_600.0)
    meta = job["metadata"]
    assert meta["name"] == "nightly-eval-manual-633600"
    assert meta["namespace"] == "team-nlp"
    assert meta["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly-eval",
                                        "uid": cj["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert job["spec"] == cj["spec"]["jobTemplate"]["spec"]


def test_a_long_cronjob_name_leaves_a_job_name_of_63_characters_at_most():
    cj = objects("CronJob")["nightly-eval"]
    long = {**cj, "metadata": {**cj["metadata"], "name": "a" * 51 + "-b"}}
    name = manual_job(long, 1_764_633_600.0)["metadata"]["name"]
    assert len(name) <= 63 and name.endswith("-manual-633600") and not name.startswith("-")


def test_selectors_of_workloads():
    sel = {"matchLabels": {"app": "x"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"},
        {"key": "zone", "operator": "Exists"}, {"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    s = _workload.selector_of(sel)
    assert s.matches({"app": "x", "tier": "b", "zone": "1"})
    assert not s.matches({"app": "x", "tier": "b", "zone": "1", "canary": "y"})
    assert not s.matches({"app": "x", "tier": "c", "zone": "1"})
    assert not s.matches({"app": "x", "tier": "a", "zone": "1", "env": "dev"})
    # The same selector as a labelSelector query: the grammar the API server (and ours) parses.
    text = _workload.selector_text(sel)
    assert text == "app=x,tier in (a,b),!canary,zone,env notin (dev)"
    assert parse(text) == s
    # Nothing to select by, or an operator unknown here: no pods rather than every pod.
    assert _workload.selector_of({}) is None and _workload.selector_text(None) == ""
    assert _workload.selector_of({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}) is None


def test_controlled_by_means_the_same_object_when_the_uid_is_known():
    rs = next(o for n, o in objects("ReplicaSet").items() if n.startswith("tensorboard-"))
    dep = objects("Deployment")["tensorboard"]
    assert _workload.controlled_by(rs, "Deployment", "tensorboard", dep["metadata"]["uid"])
    assert not _workload.controlled_by(rs, "Deployment", "tensorboard", "another-uid")
    assert _workload.controlled_by(rs, "Deployment", "tensorboard")
    assert not _workload.controlled_by(rs, "StatefulSet", "tensorboard")


@pytest.mark.parametrize("answer", ["-1", "abc", "1.5", "", " ", "٣", "3 4", "+2"])
def test_a_replica_answer_that_is_not_a_whole_number_is_refused_in_words(answer):
    with pytest.raises(actions.ActionError, match="whole number"):
        actions.replica_count(answer)


@pytest.mark.parametrize(("answer", "count"), [("0", 0), ("3", 3), (" 12 ", 12)])
def test_replica_answers(answer, count):
    assert actions.replica_count(answer) == count


def test_each_action_needs_the_verb_it_sends():
    assert registry.get("deployments").needs("scale") == ("patch", "deployments", "apps")
    assert registry.get("deployments").needs("retry") == ("patch", "deployments", "apps")
    assert registry.get("statefulsets").needs("scale") == ("patch", "statefulsets", "apps")
    assert registry.get("daemonsets").needs("scale") is None  # no replica count to set
    assert registry.get("cronjobs").needs("trigger") == ("create", "jobs", "batch")
    assert registry.get("cronjobs").needs("suspend") == ("patch", "cronjobs", "batch")
    assert registry.get("replicasets").needs("delete") == ("delete", "replicasets", "apps")
    # What ends or replaces someone's work asks first; suspend and resume undo each other.
    for kind_id, action in (("deployments", "retry"), ("statefulsets", "retry"), ("daemonsets", "retry"),
                            ("cronjobs", "trigger")):
        assert registry.get(kind_id).actions[action].confirm is not None
    assert registry.get("cronjobs").actions["suspend"].confirm is None


def test_read_only_refuses_before_any_request():
    from cockpit.kube.connection import ReadOnlyRefused
    from cockpit.resources.cronjobs import trigger

    class ReadOnlyApi:
        read_only = True

        def call_api(self, *a, **k):
            raise AssertionError("a request was sent in read-only mode")

    api = ReadOnlyApi()
    resource = registry.get("deployments").resource
    for call in (lambda: actions.scale(api, resource, "ns", "d", "3"),
                 lambda: actions.rollout_restart(api, resource, "ns", "d"),
                 lambda: trigger(api, "ns", "cj"),
                 lambda: registry.get("cronjobs").actions["suspend"].run(api, "ns", "cj")):
        with pytest.raises(ReadOnlyRefused):
            call()
