"""The doctor's checks, each a pure function, on recorded API objects (tests/unit/fixtures)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import yaml

from cockpit.doctor import checks as c
from cockpit.doctor.checks import FAILED, OK, WARNING, AccessReview, MetricsProbe, RegistryProbe
from cockpit.doctor.gather import ClusterFacts
from cockpit.doctor.report import print_json, print_text
from cockpit.doctor.runner import DoctorReport, exit_code, preset_tolerations, run_checks

FIXTURES = Path(__file__).parent / "fixtures"
NOW = dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC)


def load(name: str) -> list[dict]:
    return yaml.safe_load((FIXTURES / name).read_text())["items"]


@pytest.fixture
def nodes():
    return load("nodes.yaml")


@pytest.fixture
def recorded():
    return yaml.safe_load((FIXTURES / "doctor.yaml").read_text())


def by_name(items, name):
    return next(i for i in items if i["metadata"]["name"] == name)


# -- GPU nodes ---------------------------------------------------------------------------------

def test_gpu_capacity_names_the_node_with_an_unhealthy_gpu(nodes):
    r = c.gpu_capacity(nodes)
    assert r.status == WARNING
    assert r.objects == ("node/gpu-node-2",)
    assert "gpu-node-2: nvidia.com/gpu allocatable 7 of 8" in r.saw


def test_gpu_capacity_fails_on_allocatable_zero(nodes):
    by_name(nodes, "gpu-node-1")["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    r = c.gpu_capacity(nodes)
    assert r.status == FAILED
    assert "gpu-node-1: nvidia.com/gpu capacity 8, allocatable 0" in r.saw
    assert "node/gpu-node-1" in r.objects and "node/cpu-node-1" not in r.objects


def test_gpu_capacity_fails_on_a_labelled_node_without_gpu_resources(nodes):
    node = by_name(nodes, "gpu-node-1")
    for part in ("capacity", "allocatable"):
        node["status"][part].pop("nvidia.com/gpu")
    r = c.gpu_capacity(nodes)
    assert r.status == FAILED and "gpu-node-1: GPU labels or a device-plugin pod, but no GPU resource" in r.saw


def test_gpu_capacity_counts_a_node_with_a_device_plugin_pod_as_gpu_node(nodes):
    cpu = by_name(nodes, "cpu-node-1")
    assert not c.is_gpu_node(cpu)
    assert c.is_gpu_node(cpu, {"cpu-node-1"})
    assert "cpu-node-1" in c.gpu_capacity(nodes, {"cpu-node-1"}).saw


def test_no_gpu_nodes_is_a_warning():
    r = c.gpu_capacity([{"metadata": {"name": "cpu"}, "status": {"capacity": {"cpu": "4"}}}])
    assert r.status == WARNING and "no GPU node" in r.saw


def test_gfd_labels_name_the_node_and_the_missing_labels(nodes):
    assert c.gfd_labels(nodes).status == OK
    labels = by_name(nodes, "ts-node-1")["metadata"]["labels"]
    for k in ("nvidia.com/gpu.product", "nvidia.com/gpu.memory"):
        labels.pop(k)
    r = c.gfd_labels(nodes)
    assert r.status == WARNING
    assert r.objects == ("node/ts-node-1",)
    assert r.saw == "ts-node-1: no gpu.product, gpu.memory"


def test_mig_mixed_counts_agree_and_a_mismatch_is_named(nodes):
    assert c.mig_strategy(nodes).status == OK
    by_name(nodes, "mig-node-1")["metadata"]["labels"]["nvidia.com/mig-1g.10gb.count"] = "21"
    r = c.mig_strategy(nodes)
    assert r.status == WARNING and r.objects == ("node/mig-node-1",)
    assert "nvidia.com/mig-1g.10gb capacity 28 but label nvidia.com/mig-1g.10gb.count=21" in r.saw


def test_mig_resources_under_a_non_mixed_strategy(nodes):
    by_name(nodes, "mig-node-1")["metadata"]["labels"]["nvidia.com/mig.strategy"] = "single"
    r = c.mig_strategy(nodes)
    assert r.status == WARNING and "mig.strategy=single but it advertises nvidia.com/mig-1g.10gb" in r.saw


def test_time_slicing_capacity_is_gpus_times_replicas(nodes):
    r = c.time_slicing(nodes)
    assert r.status == OK and "ts-node-1" in r.saw
    by_name(nodes, "ts-node-1")["status"]["capacity"]["nvidia.com/gpu"] = "8"
    r = c.time_slicing(nodes)
    assert r.status == WARNING and r.objects == ("node/ts-node-1",)
    assert "capacity 8, expected 4 GPUs x 4 replicas = 16" in r.saw


def test_time_slicing_strategy_without_replicas(nodes):
    by_name(nodes, "ts-node-1")["metadata"]["labels"]["nvidia.com/gpu.replicas"] = "1"
    r = c.time_slicing(nodes)
    assert r.status == WARNING and "sharing-strategy=time-slicing but gpu.replicas=1" in r.saw


# -- DaemonSets --------------------------------------------------------------------------------

def test_device_plugin_crash_loop_and_uncovered_node_are_named(recorded):
    plugin = c.COMPONENTS[0]
    r = c.gpu_daemonset(plugin, recorded["daemonsets"], recorded["daemonset_pods"],
                        ["gpu-node-1", "gpu-node-2", "mig-node-1"])
    assert r.status == FAILED
    assert "gpu-operator/nvidia-device-plugin-daemonset-q2m7z on gpu-node-2: CrashLoopBackOff (14 restarts)" in r.saw
    assert set(r.objects) == {"pod/gpu-operator/nvidia-device-plugin-daemonset-q2m7z", "node/gpu-node-2",
                              "node/mig-node-1"}


def test_device_plugin_ready_everywhere(recorded):
    pods = recorded["daemonset_pods"][:1]
    r = c.gpu_daemonset(c.COMPONENTS[0], recorded["daemonsets"], pods, ["gpu-node-1"])
    assert r.status == OK and "ready on all 1 GPU nodes" in r.saw


def test_missing_component_daemonset_is_a_warning_and_the_validator_does_not_count(recorded):
    dcgm = next(x for x in c.COMPONENTS if x.id == "dcgm-exporter")
    r = c.gpu_daemonset(dcgm, recorded["daemonsets"], [], ["gpu-node-1"])
    assert r.status == WARNING and r.saw == "no dcgm-exporter DaemonSet found in any namespace"
    validator_only = [d for d in recorded["daemonsets"] if "validator" in d["metadata"]["name"]]
    assert c.gpu_daemonset(c.COMPONENTS[0], validator_only, [], ["gpu-node-1"]).status == WARNING


def test_dcgm_probe_results():
    assert c.dcgm_answers(None).status == WARNING
    r = c.dcgm_answers(MetricsProbe("gpu-operator/nvidia-dcgm-exporter-x", "gpu-a100-01",
                                    error="503 error trying to reach service"))
    assert r.status == WARNING and r.objects == ("pod/gpu-operator/nvidia-dcgm-exporter-x",)
    assert "would not proxy" in r.fix
    denied = c.dcgm_answers(MetricsProbe("ns/p", "n", error='403 pods "p:9400" is forbidden: cannot get pods/proxy'))
    assert "get pods/proxy" in denied.fix
    assert c.dcgm_answers(MetricsProbe("ns/p", "n", samples=8)).status == OK


# -- scheduling --------------------------------------------------------------------------------

@pytest.mark.parametrize(("tol", "taint", "expected"), [
    ({"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"},
     {"key": "dedicated", "value": "llm", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "operator": "Equal", "value": "other"}, {"key": "dedicated", "value": "llm",
                                                                    "effect": "NoSchedule"}, False),
    ({"key": "dedicated", "operator": "Exists"}, {"key": "dedicated", "value": "llm", "effect": "NoExecute"}, True),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
     {"key": "dedicated", "effect": "NoSchedule"}, False),
    ({"key": "nvidia.com/gpu", "value": "present"}, {"key": "nvidia.com/gpu", "value": "present",
                                                     "effect": "NoSchedule"}, True),
])
def test_tolerates_follows_the_scheduler(tol, taint, expected):
    assert c.tolerates(tol, taint) is expected


def test_tainted_gpu_nodes_without_a_preset_toleration(nodes):
    presets = {"pytorch-train": [], "gpu-devbox": []}
    r = c.tainted_gpu_nodes(nodes, presets, ["pytorch-train", "gpu-devbox"])
    assert r.status == WARNING
    # The cordon taint belongs to the cordon check; cpu-node-1 is no GPU node.
    assert r.objects == ("node/gpu-node-1", "node/gpu-node-2")
    assert "gpu-node-1: nvidia.com/gpu=present:NoSchedule, no shipped preset tolerates it" in r.saw
    assert "--set gpu_toleration=nvidia.com/gpu=present:NoSchedule" in r.fix
    tolerant = {"pytorch-train": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    r = c.tainted_gpu_nodes(nodes, tolerant)
    assert r.status == OK and "by pytorch-train" in r.saw


def test_shipped_presets_with_gpus_take_a_toleration():
    tolerations, takes = preset_tolerations()
    assert "pytorch-train" in tolerations and "gpu-devbox" in tolerations
    assert "tensorboard" not in tolerations  # asks for no GPU
    assert set(tolerations) <= set(takes) | set(tolerations)
    assert "pytorch-train" in takes


def test_cordoned_and_not_ready_gpu_nodes(nodes):
    r = c.gpu_nodes_schedulable(nodes)
    assert r.status == WARNING and r.objects == ("node/gpu-node-2",)
    assert "cordoned: gpu-node-2 (8 GPUs take no new pods)" in r.saw
    by_name(nodes, "ts-node-1")["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    r = c.gpu_nodes_schedulable(nodes)
    assert r.status == FAILED and "not Ready: ts-node-1" in r.saw


def test_pending_gpu_pods_after_ten_minutes():
    pods = load("pods.yaml")
    young = c.pending_gpu_pods(pods, dt.datetime(2024, 6, 1, 12, 5, tzinfo=dt.UTC))
    assert young.status == OK and "1 waiting less than 10 minutes" in young.saw
    r = c.pending_gpu_pods(pods, NOW)
    assert r.status == WARNING and r.objects == ("pod/team-nlp/train-llm-big-q8z2w",)
    assert "team-nlp/train-llm-big-q8z2w (32m): 0/5 nodes are available" in r.saw


# -- storage -----------------------------------------------------------------------------------

def test_default_storage_class(recorded):
    classes = recorded["storageclasses"]
    r = c.default_storage_class(classes)
    assert r.status == OK and r.saw == "standard (provisioner rancher.io/local-path)"
    plain = copy.deepcopy(classes)
    plain[0]["metadata"]["annotations"] = {}
    r = c.default_storage_class(plain)
    assert r.status == FAILED and "no StorageClass is the default (2: standard, cephfs)" in r.saw
    two = copy.deepcopy(classes)
    two[1]["metadata"]["annotations"] = {"storageclass.beta.kubernetes.io/is-default-class": "true"}
    assert c.default_storage_class(two).status == WARNING
    assert c.default_storage_class([]).status == FAILED


def test_pending_pvc_says_why(recorded):
    pvcs = load("pvcs.yaml")
    r = c.pending_pvcs(pvcs, recorded["storageclasses"], {})
    assert r.status == WARNING and r.objects == ("pvc/team-nlp/scratch",)
    assert r.saw == "team-nlp/scratch: StorageClass local-nvme does not exist"
    # A claim waiting for its first pod under WaitForFirstConsumer is not a problem.
    waiting = copy.deepcopy(pvcs[1])
    waiting["spec"]["storageClassName"] = "standard"
    assert c.pending_pvcs([waiting], recorded["storageclasses"], {}).status == OK
    # An event says why when the class exists.
    failing = copy.deepcopy(pvcs[1])
    failing["spec"]["storageClassName"] = "cephfs"
    event = {"message": "failed to provision volume: quota exceeded", "lastTimestamp": "2024-06-01T12:00:00Z"}
    r = c.pending_pvcs([failing], recorded["storageclasses"], {"team-nlp/scratch": [event]})
    assert r.saw == "team-nlp/scratch: failed to provision volume: quota exceeded"
    # Without read access to StorageClasses the events still speak.
    r = c.pending_pvcs([failing], None, {"team-nlp/scratch": [event]})
    assert "quota exceeded" in r.saw


# -- Argo, Katib, Kueue ------------------------------------------------------------------------

def test_argo_checks(recorded):
    deps = recorded["deployments"]
    groups = {"argoproj.io", "kubeflow.org"}
    assert c.argo_controller(set(), deps, [], NOW).status == WARNING
    assert c.argo_controller(groups, [], [], NOW).status == FAILED
    down = copy.deepcopy(deps)
    down[0]["status"]["readyReplicas"] = 0
    r = c.argo_controller(groups, down, [], NOW)
    assert r.status == FAILED and r.objects == ("deployment/argo/workflow-controller",)
    stuck = {"metadata": {"name": "wf-1", "namespace": "team-a", "creationTimestamp": "2024-06-01T12:00:00Z"}}
    done = {"metadata": {"name": "wf-2", "namespace": "team-a", "creationTimestamp": "2024-06-01T12:00:00Z"},
            "status": {"phase": "Succeeded"}}
    r = c.argo_controller(groups, deps, [stuck, done], NOW)
    assert r.status == FAILED and r.objects == ("workflow/team-a/wf-1",)
    assert c.argo_controller(groups, deps, [done], NOW).status == OK


def test_argo_configmap_name_comes_from_the_controller_args(recorded):
    dep = recorded["deployments"][0]
    assert c.argo_configmap_name(dep) == "workflow-controller-configmap"
    dep["spec"]["template"]["spec"]["containers"][0]["args"] = ["--configmap=argo-wf-cm"]
    assert c.argo_configmap_name(dep) == "argo-wf-cm"


def test_argo_configmap_missing_is_named(recorded):
    r = c.argo_configmap({"argoproj.io"}, "argo", "workflow-controller-configmap", None)
    assert r.status == FAILED and r.objects == ("configmap/argo/workflow-controller-configmap",)
    ok = c.argo_configmap({"argoproj.io"}, "argo", "workflow-controller-configmap", recorded["argo_configmap"])
    assert ok.status == OK and "containerRuntimeExecutor" in ok.saw
    assert c.argo_configmap(set(), "argo", "x", None).status == OK


def test_argo_executor(recorded):
    cm, dep = recorded["argo_configmap"], recorded["deployments"][0]
    r = c.argo_executor({"argoproj.io"}, cm, dep)
    assert r.status == OK and "v3.5.8" in r.saw and "containerRuntimeExecutor=docker is ignored" in r.saw
    old = copy.deepcopy(dep)
    old["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/argoproj/workflow-controller:v3.3.9"
    r = c.argo_executor({"argoproj.io"}, cm, old)
    assert r.status == WARNING and "emissary" in r.fix


def test_katib_and_kueue(recorded):
    deps = recorded["deployments"]
    assert c.katib(set(), set(), deps).status == WARNING
    full = {"experiments", "trials", "suggestions"}
    assert c.katib({"kubeflow.org"}, full, deps).status == OK
    r = c.katib({"kubeflow.org"}, full, deps[:1])
    assert r.status == WARNING and "no katib-controller Deployment" in r.saw
    assert c.katib({"kubeflow.org"}, {"experiments", "trials"}, deps).status == FAILED
    assert c.kueue(set(), deps) == c.CheckResult("kueue", "Kueue", OK, "not installed (jobs are not queued)")
    assert c.kueue({"kueue.x-k8s.io"}, deps, []).status == FAILED
    # Queues that could not be read (403) are no evidence of a missing manager.
    unread = c.kueue({"kueue.x-k8s.io"}, deps, None)
    assert unread.status == WARNING and "cannot tell whether it runs" in unread.saw
    active = {"metadata": {"name": "gpu-a100"}, "status": {"conditions": [{"type": "Active", "status": "True"}]}}
    idle = {"metadata": {"name": "gpu-h100"}, "status": {"conditions": [
        {"type": "Active", "status": "False", "reason": "FlavorNotFound"}]}}
    # A manager running outside a Deployment shows in the queues it keeps active.
    r = c.kueue({"kueue.x-k8s.io"}, deps, [active])
    assert r.status == OK and "manager running; 1 ClusterQueues active" in r.saw
    r = c.kueue({"kueue.x-k8s.io"}, deps, [active, idle])
    assert r.status == WARNING and r.objects == ("clusterqueue/gpu-h100",)


# -- access and registry -----------------------------------------------------------------------

def test_viewer_access_names_what_it_disables(recorded):
    rules = recorded["viewer_rules"]
    r = c.own_access(AccessReview("team-vision", tuple(rules["resourceRules"])))
    assert r.status == WARNING
    assert "list pods" in r.saw and "watch pods" in r.saw and "get pods/log" in r.saw
    assert "cannot create jobs, delete pods, create pods/exec, create pods/portforward, patch workflows" in r.saw
    for feature in ("launch", "delete/kill", "shell", "port-forward", "Argo stop"):
        assert feature in r.fix
    assert "logs" not in r.fix


def test_admin_access_and_missing_list(recorded):
    admin = c.own_access(AccessReview("default", tuple(recorded["admin_rules"]["resourceRules"])))
    assert admin.status == OK
    none = c.own_access(AccessReview("default", ()))
    assert none.status == FAILED and "tables" in none.fix
    assert c.own_access(AccessReview("default", error="403 forbidden")).status == WARNING


def test_rule_allows_subresources_and_resource_names():
    assert c.rule_allows([{"verbs": ["create"], "apiGroups": [""], "resources": ["pods/*"]}], "create", "",
                         "pods/exec")
    assert not c.rule_allows([{"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}], "create", "",
                             "pods/exec")
    assert not c.rule_allows([{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"],
                               "resourceNames": ["one"]}], "delete", "", "pods")


def test_registry_results():
    assert c.registry(None, "lab").status == OK
    assert c.registry(RegistryProbe("reg:5000", error="Connection refused"), "lab").status == FAILED
    ok = c.registry(RegistryProbe("reg:5000", url="https://reg:5000/v2/", status=200, push="allowed"), "lab")
    assert ok.status == OK and "push allowed" in ok.saw
    login = c.registry(RegistryProbe("reg:5000", url="https://reg:5000/v2/", status=401), "lab")
    assert login.status == WARNING and "docker login reg:5000" in login.fix
    assert c.registry(RegistryProbe("reg:5000", url="http://reg:5000/v2/", status=404), "lab").status == FAILED


# -- the whole run and its output --------------------------------------------------------------

def facts_from_fixtures(recorded) -> ClusterFacts:
    facts = ClusterFacts("lab", "team-vision", server="https://lab:6443", version="v1.30.1")
    facts.groups = {"argoproj.io", "kubeflow.org", "apps"}
    facts.nodes = load("nodes.yaml")
    facts.pods = load("pods.yaml") + recorded["daemonset_pods"]
    facts.daemonsets = recorded["daemonsets"]
    facts.deployments = recorded["deployments"]
    facts.storageclasses = recorded["storageclasses"]
    facts.pvcs = load("pvcs.yaml")
    facts.workflows = []
    facts.argo_configmap = recorded["argo_configmap"]
    facts.katib_resources = {"experiments", "trials", "suggestions"}
    facts.access = AccessReview("team-vision", tuple(recorded["viewer_rules"]["resourceRules"]))
    return facts


def test_run_checks_on_recorded_cluster(recorded):
    results = run_checks(facts_from_fixtures(recorded), presets=({"pytorch-train": []}, ["pytorch-train"]), now=NOW)
    status = {r.id: r.status for r in results}
    assert len(status) == len(results), "check ids are unique"
    assert status["device-plugin"] == FAILED  # the crash-looping plugin pod
    assert status["gpu-capacity"] == WARNING and status["kueue"] == OK and status["katib"] == OK
    report = DoctorReport("lab", "team-vision", "https://lab:6443", "v1.30.1", results)
    assert exit_code(report) == 1
    assert "failed" in report.summary and "not ready" in report.summary


def test_run_checks_when_kinds_are_unreadable(recorded):
    facts = facts_from_fixtures(recorded)
    facts.storageclasses = None
    facts.unreadable["storageclasses"] = c.Unreadable("storageclasses", "403 forbidden")
    facts.nodes = []
    facts.unreadable["nodes"] = c.Unreadable("nodes", "403 forbidden")
    results = {r.id: r for r in run_checks(facts, presets=({}, []), now=NOW)}
    assert results["default-storageclass"].status == WARNING
    assert "cannot read storageclasses: 403 forbidden" in results["default-storageclass"].saw
    assert results["gpu-capacity"].status == WARNING and "cannot read nodes" in results["gpu-capacity"].saw


def test_text_output_shows_cluster_text_literally_and_json_parses(recorded):
    facts = facts_from_fixtures(recorded)
    pods = load("pods.yaml")
    pending = by_name(pods, "train-llm-big-q8z2w")
    pending["status"]["conditions"][0]["message"] = "[bold red]fake[/] \x1b[2Jcleared\rhidden"
    facts.pods = pods + recorded["daemonset_pods"]
    report = DoctorReport("lab", "team-vision", "s", "v", run_checks(facts, presets=({}, []), now=NOW))
    out = io.StringIO()
    print_text(report, out, color=False, width=240)
    text = out.getvalue()
    assert "(32m): [bold red]fake[/] cleared\ufffdhidden" in text
    assert "\x1b" not in text and "\r" not in text
    assert report.summary.split(" - ")[0] in text
    buf = io.StringIO()
    print_json(report, buf)
    doc = json.loads(buf.getvalue())
    assert doc["summary"]["failed"] == report.count(FAILED)
    assert {ch["id"] for ch in doc["checks"]} >= {"gpu-capacity", "registry", "access"}
    msg = next(ch for ch in doc["checks"] if ch["id"] == "pending-gpu-pods")["saw"]
    assert "[bold red]fake[/]" in msg and "\x1b" not in msg
