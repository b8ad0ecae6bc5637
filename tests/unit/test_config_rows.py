"""Rows of the config and cluster kinds (Services, Events, ConfigMaps, Secrets, ServiceAccounts,
PersistentVolumes, StorageClasses, CRDs), built from objects recorded from the demo API server
(tests/unit/fixtures/config_kinds.yaml)."""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path

import pytest
import yaml

from cockpit.kube.model import Row
from cockpit.kube.rows import parse_time
from cockpit.kube.store import RowStore
from cockpit.resources import registry
from cockpit.resources.configmaps import configmap_row
from cockpit.resources.crds import crd_row
from cockpit.resources.events import LAST_SEEN_COLUMN, TYPE_COLUMN, event_row, slim_event
from cockpit.resources.persistentvolumes import pv_row
from cockpit.resources.secrets import revealed_text, secret_row
from cockpit.resources.serviceaccounts import serviceaccount_row
from cockpit.resources.services import matches, selector_of, service_row
from cockpit.resources.storageclasses import storageclass_row

RECORDED = yaml.safe_load((Path(__file__).parent / "fixtures" / "config_kinds.yaml").read_text())
NOW = parse_time("2026-12-02T00:50:00Z")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SECRET_VALUES = ("AKIAEXAMPLE", "hunter2-s3cr3t", "line one")


def objs(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: copy.deepcopy(o) for o in RECORDED[kind]}


def check_shape(row: Row, kind_id: str) -> None:
    columns = registry.get(kind_id).columns
    assert len(row.cells) == len(columns) == len(row.sort)
    for cell in row.cells:
        assert isinstance(cell, str) and not CONTROL.search(cell)


# --- services ---------------------------------------------------------------------------------


def test_service_rows_show_type_ip_ports_and_selector():
    svc = objs("services")
    row = service_row(svc["argo-server"], NOW)
    check_shape(row, "services")
    assert row.key == "argo/argo-server"
    assert row.cells[2:6] == ("ClusterIP", svc["argo-server"]["spec"]["clusterIP"], "2746/TCP", "app=argo-server")
    nodeport = service_row(svc["tb-dev"], NOW)
    assert nodeport.cells[2] == "NodePort" and nodeport.cells[4] == "6006:30606/TCP"
    # kubernetes has no selector: its endpoints are the API servers, kept by hand.
    assert service_row(svc["kubernetes"], NOW).cells[5] == "<none>"
    created = parse_time(svc["argo-server"]["metadata"]["creationTimestamp"])
    assert row.sort[6] == NOW - created and row.cells[6] == "2m20s"


def test_a_service_selects_pods_carrying_all_its_labels_and_no_selector_selects_none():
    sel = selector_of(objs("services")["argo-server"])
    assert sel == {"app": "argo-server"}
    assert matches(sel, {"app": "argo-server", "pod-template-hash": "f545fc6d"})
    assert not matches(sel, {"app": "workflow-controller"})
    assert not matches({"app": "a", "tier": "b"}, {"app": "a"})
    assert not matches(selector_of(objs("services")["kubernetes"]), {"component": "apiserver"})


# --- events -----------------------------------------------------------------------------------


def test_event_rows_read_core_and_series_fields():
    ev = objs("events")
    oom = event_row(ev["train-oom.1"], NOW)
    check_shape(oom, "events")
    assert oom.cells == ("team-nlp", "60s", "Warning", "OOMKilling", "Pod/bert-finetune-abc", "3",
                         "Memory cgroup out of memory: killed process 4242 (python)")
    assert oom.status == "warn"
    # Written through events.k8s.io by the scheduler: no lastTimestamp or count, a series instead.
    series = event_row(ev["llama-pretrain-16gpu-4hkw7.18ed4956bbe22f28"], NOW)
    assert series.cells[1] == "2m16s" and series.cells[5] == "2" and series.cells[2] == "Warning"
    # eventTime only, no series: seen once.
    once = event_row(ev["argo-server-f545fc6d-drnkz.18ed495694a8a0d6"], NOW)
    assert once.cells[2] == "Normal" and once.cells[5] == "1" and once.status == ""
    assert once.cells[4] == "Pod/argo-server-f545fc6d-drnkz"


def test_events_sort_warnings_first_then_newest_and_last_seen_is_numeric():
    rows = [event_row(e, NOW) for e in objs("events").values()]
    store = RowStore(rows)
    store.set_sort(TYPE_COLUMN)
    order = [store.get(k) for k in store.view()]
    kinds = [r.cells[2] for r in order]
    assert kinds == sorted(kinds, key=lambda t: t != "Warning"), kinds
    warnings = [r for r in order if r.cells[2] == "Warning"]
    assert warnings[0].name == "train-oom.1"  # the newest Warning
    assert [r.sort[LAST_SEEN_COLUMN] for r in warnings] == sorted(r.sort[LAST_SEEN_COLUMN] for r in warnings)
    store.set_sort(LAST_SEEN_COLUMN)
    seen = [store.get(k).sort[LAST_SEEN_COLUMN] for k in store.view()]
    assert all(isinstance(v, float) for v in seen) and seen == sorted(seen)
    assert store.get(store.view()[0]).name == "train-oom.1"  # newest first, whatever its type
    # The sort values do not move as time passes: a rebuilt row keeps its place.
    later = event_row(objs("events")["train-oom.1"], NOW + 600)
    assert later.sort[TYPE_COLUMN] == warnings[0].sort[TYPE_COLUMN] and later.cells[1] == "11m"


def test_the_events_kind_opens_warnings_first_and_is_not_deletable():
    kind = registry.get("events")
    assert kind.default_sort == (TYPE_COLUMN, False) and kind.columns[TYPE_COLUMN].title == "TYPE"
    assert kind.columns[LAST_SEEN_COLUMN].title == "LAST SEEN"
    assert not kind.deletable and not kind.supports("delete") and kind.needs("delete") is None
    assert registry.by_name("ev") is kind and registry.by_name("events") is kind


def test_a_kept_event_is_trimmed_to_what_its_row_needs():
    ev = objs("events")["train-oom.1"]
    row = event_row(ev, NOW)
    kept = slim_event(ev)
    assert set(kept) <= {"metadata", "involvedObject", "type", "reason", "message", "count", "lastTimestamp",
                         "firstTimestamp", "eventTime", "series"}
    assert "source" not in kept and "uid" not in kept["involvedObject"]
    assert set(kept["metadata"]) == {"name", "namespace", "uid", "creationTimestamp", "resourceVersion"}
    assert event_row(kept, NOW) == row  # the row is rebuilt from what is kept, unchanged
    assert slim_event(copy.deepcopy(kept)) == kept


def test_event_text_is_cleaned():
    ev = objs("events")["train-oom.1"]
    ev["message"] = "\x1b]52;c;aGk=\x07boom\x1b[31m red\nnext"
    ev["reason"] = "Bad\x07Reason"
    row = event_row(ev, NOW)
    check_shape(row, "events")
    assert row.cells[6] == "boom red next" and "\x1b" not in row.cells[3]


# --- configmaps and secrets -------------------------------------------------------------------


def test_configmap_rows_count_and_list_keys():
    cm = objs("configmaps")
    row = configmap_row(cm["train-config"], NOW)
    check_shape(row, "configmaps")
    assert row.cells[2:4] == ("2", "epochs,lr")
    wcc = configmap_row(cm["workflow-controller-configmap"], NOW)
    assert wcc.cells[2:4] == ("2", "metricsConfig,telemetryConfig")
    cm["train-config"]["binaryData"] = {"weights.bin": "AAEC"}
    assert configmap_row(cm["train-config"], NOW).cells[2:4] == ("3", "epochs,lr,weights.bin")


def test_secret_rows_show_type_and_key_names_and_no_value():
    secret = objs("secrets")["s3-credentials"]
    row = secret_row(secret, NOW)
    check_shape(row, "secrets")
    assert row.cells[2:5] == ("Opaque", "4", "AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,keystore.p12,notes.txt")
    shown = repr(row)
    for value in (*SECRET_VALUES, *secret["data"].values()):
        assert value not in shown


def test_revealed_values_are_decoded_cleaned_and_binary_is_sized():
    secret = objs("secrets")["s3-credentials"]
    secret["data"]["evil"] = base64.b64encode(b"\x1b]0;pwned\x07ok\x1b[2J").decode()
    text = revealed_text(secret)
    lines = text.splitlines()
    assert "AWS_ACCESS_KEY_ID: AKIAEXAMPLE" in lines
    assert "AWS_SECRET_ACCESS_KEY: hunter2-s3cr3t" in lines
    assert "keystore.p12: <64 bytes binary>" in lines
    assert lines[lines.index("notes.txt: |") + 1:lines.index("notes.txt: |") + 3] == ["  line one", "  line two"]
    assert "evil: <" in text  # an escape sequence is a control character: not shown as text
    assert not CONTROL.search(text.replace("\n", ""))
    assert revealed_text({"data": {}}) == "(no data)"
    assert revealed_text({"data": {"k": "not base64!"}}) == "k: <not valid base64>"


def test_secrets_keep_nothing_and_reveal_is_an_explicit_get_shown_as_text():
    kind = registry.get("secrets")
    assert kind.keep_objects is False
    reveal = kind.actions["reveal"]
    assert reveal.shows and reveal.verb == "get" and kind.needs("reveal") == ("get", "secrets", "")


# --- cluster-scoped kinds ---------------------------------------------------------------------


def test_serviceaccount_rows():
    sa = objs("serviceaccounts")
    row = serviceaccount_row(sa["trainer"], NOW)
    check_shape(row, "serviceaccounts")
    assert row.key == "team-nlp/trainer" and row.cells[2:4] == ("0", "0")
    sa["trainer"]["imagePullSecrets"] = [{"name": "registry"}]
    assert serviceaccount_row(sa["trainer"], NOW).cells[3] == "1"


def test_persistent_volume_rows_name_their_claim():
    pvs = list(objs("pvs").values())
    rows = {r.cells[5]: r for r in (pv_row(p, NOW) for p in pvs)}
    for row in rows.values():
        check_shape(row, "pvs")
        assert row.namespace == "" and row.key == row.name and row.name.startswith("pvc-")
    imagenet = rows["team-vision/imagenet"]
    assert imagenet.cells[1:5] == ("2Ti", "ROX", "Delete", "Bound") and imagenet.cells[6] == "standard"
    assert imagenet.status == "ok" and imagenet.sort[1] == 2 * 2**40
    kind = registry.get("pvs")
    assert not kind.namespaced and kind.type_to_confirm and registry.by_name("pv") is kind


def test_storage_class_rows_mark_the_default():
    sc = objs("storageclasses")["standard"]
    row = storageclass_row(sc, NOW)
    check_shape(row, "storageclasses")
    assert row.cells[:5] == ("standard", "default", "demo.gpu-cockpit.dev/volume", "Delete", "Immediate")
    sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "false"}
    assert storageclass_row(sc, NOW).cells[1] == ""
    sc["metadata"]["annotations"] = {"storageclass.beta.kubernetes.io/is-default-class": "true"}
    assert storageclass_row(sc, NOW).cells[1] == "default"


def test_crd_rows_and_deleting_one_needs_its_name_typed():
    crds = objs("crds")
    row = crd_row(crds["experiments.kubeflow.org"], NOW)
    check_shape(row, "crds")
    assert row.cells[:5] == ("experiments.kubeflow.org", "kubeflow.org", "Experiment", "v1beta1*", "Namespaced")
    argo = crd_row(crds["workflowtaskresults.argoproj.io"], NOW)
    assert argo.cells[1:3] == ("argoproj.io", "WorkflowTaskResult")
    crd = crds["experiments.kubeflow.org"]
    crd["spec"]["versions"] = [{"name": "v1", "served": True, "storage": True},
                               {"name": "v1beta1", "served": True, "storage": False},
                               {"name": "v1alpha1", "served": False, "storage": False}]
    assert crd_row(crd, NOW).cells[3] == "v1*,v1beta1"
    kind = registry.get("crds")
    assert kind.type_to_confirm and not kind.namespaced and kind.group == "apiextensions.k8s.io"
    assert registry.by_name("crd") is kind and registry.by_name("customresourcedefinitions") is kind


@pytest.mark.parametrize("kind_id", ["services", "events", "configmaps", "secrets", "serviceaccounts", "pvs",
                                     "storageclasses", "crds"])
def test_every_kind_has_an_age_like_column_and_names(kind_id):
    kind = registry.get(kind_id)
    titles = [c.title for c in kind.columns]
    assert "AGE" in titles or "LAST SEEN" in titles
    assert ("NAMESPACE" in titles) == kind.namespaced
    assert kind.help


def test_describe_and_yaml_of_a_secret_show_no_value():
    from cockpit.kube import describe

    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "s3", "namespace": "team-nlp", "annotations": {
                  describe.LAST_APPLIED: '{"stringData":{"token":"applied-sup3r-secret"}}', "team": "nlp"}},
              "data": {"AWS_SECRET_ACCESS_KEY": "aHVudGVyMi1zM2NyM3Q="}, "stringData": {"token": "plain-secret"}}
    for text in (describe.as_yaml(secret), describe.describe_text(secret, [])):
        for value in ("aHVudGVyMi1zM2NyM3Q=", "applied-sup3r-secret", "plain-secret"):
            assert value not in text
        assert "AWS_SECRET_ACCESS_KEY" in text or "Secret" in text
    assert "AWS_SECRET_ACCESS_KEY: '<hidden: 14 bytes; v reveals>'" in describe.as_yaml(secret)
    assert "token: '<hidden: 12 bytes; v reveals>'" in describe.as_yaml(secret)
    assert "team: nlp" in describe.as_yaml(secret)
    # Other kinds are shown as they are.
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "visible"}}
    assert "visible" in describe.as_yaml(cm)
