"""The demo's simulated machines and the workloads seeded on them.

Nodes carry the resources and GPU Feature Discovery labels real GPU nodes have (see DOMAIN.md):
whole GPUs, MIG mixed profiles, time-sliced T4s, a CPU-only node, a cordoned node. Workloads
cover what a GPU team runs: Jobs running/succeeded/failed, a multi-GPU Job, a dev pod with a
PVC, a pod Pending for lack of GPUs, the GPU operator, Argo workflows, Katib experiments, and
Kueue's queues with jobs admitted, pending and preempted (kueue_seed.py).
Everything is created idempotently: `cockpit demo up` twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

# The nodes live in nodes.py, which the GPU simulator reads too without importing the seeder.
from cockpit.demo.nodes import FLEET_LABEL, default_nodes, node
from cockpit.demo.nodes import gfd_labels as _gfd_labels
from cockpit.demo.workloads import (
    LONG,
    daemonset,
    deployment,
    dev_pod,
    gpu_container,
    job,
    pod_annotations,
    pvc,
    workflow,
)

if TYPE_CHECKING:
    from cockpit.demo.cluster import DemoCluster

TEAM_NAMESPACES = ("team-vision", "team-nlp")


# -- Katib -------------------------------------------------------------------------------------

def _ts(seconds_ago: float) -> str:
    t = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def experiment(name: str, namespace: str, max_trials: int, parallel: int = 3) -> dict:
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "objective": {"type": "maximize", "goal": 0.92, "objectiveMetricName": "accuracy",
                          "additionalMetricNames": ["loss"]},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": parallel, "maxTrialCount": max_trials, "maxFailedTrialCount": 3,
            "resumePolicy": "LongRunning",
            "parameters": [
                {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.0001", "max": "0.1"}},
                {"name": "batch_size", "parameterType": "int", "feasibleSpace": {"min": "16", "max": "256"}},
            ],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [
                    {"name": "learningRate", "reference": "lr"},
                    {"name": "batchSize", "reference": "batch_size"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1", "kind": "Job",
                    "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{
                        "name": "training-container", "image": "ghcr.io/example/bert-finetune:2.1",
                        "command": ["python", "train.py", "--lr=${trialParameters.learningRate}",
                                    "--batch-size=${trialParameters.batchSize}"],
                        "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}},
                },
            },
        },
    }


def _condition(kind: str, reason: str, message: str, ago: float) -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastUpdateTime": _ts(ago), "lastTransitionTime": _ts(ago)}


def trial_objects(exp: dict, states: list[str], rng: random.Random) -> list[tuple[dict, dict]]:
    """(trial, status) pairs for an experiment; states are Succeeded/Running/Failed/EarlyStopped/Pending."""
    ns, exp_name = exp["metadata"]["namespace"], exp["metadata"]["name"]
    out = []
    for i, state in enumerate(states):
        lr = round(10 ** rng.uniform(-4, -1), 5)
        bs = rng.choice([16, 32, 64, 128, 256])
        name = f"{exp_name}-{''.join(rng.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(8))}"
        trial = {
            "apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"katib.kubeflow.org/experiment": exp_name}},
            "spec": {
                "objective": exp["spec"]["objective"],
                "parameterAssignments": [{"name": "lr", "value": str(lr)}, {"name": "batch_size", "value": str(bs)}],
                "primaryContainerName": "training-container",
                "runSpec": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns}},
            },
        }
        started = 3600 - i * 240
        acc = round(0.78 + 0.14 * (1 - abs(-2.5 - math.log10(lr)) / 2.5) * rng.uniform(0.9, 1.0), 4)
        loss = round(1.2 - acc, 4)
        status: dict[str, Any] = {"startTime": _ts(started), "conditions": [
            _condition("Created", "TrialCreated", "Trial is created", started)]}
        if state in ("Succeeded", "Failed", "EarlyStopped"):
            status["completionTime"] = _ts(started - 900)
        if state == "Running":
            status["conditions"].append(_condition("Running", "TrialRunning", "Trial is running", started - 5))
        elif state == "Succeeded":
            status["conditions"].append(_condition("Succeeded", "TrialSucceeded", "Trial has succeeded", started - 900))
        elif state == "Failed":
            status["conditions"].append(_condition("Failed", "TrialFailed", "Trial has failed", started - 300))
        elif state == "EarlyStopped":
            status["conditions"].append(_condition("EarlyStopped", "TrialEarlyStopped", "Trial is early stopped",
                                                   started - 400))
        if state in ("Succeeded", "Running", "EarlyStopped"):
            status["observation"] = {"metrics": [
                {"name": "accuracy", "min": str(round(acc - 0.2, 4)), "max": str(acc), "latest": str(acc)},
                {"name": "loss", "min": str(loss), "max": str(round(loss + 0.5, 4)), "latest": str(loss)},
            ]}
        out.append((trial, status))
    return out


def experiment_status(exp: dict, trials: list[tuple[dict, dict]], done: bool) -> dict:
    counts = {"Succeeded": 0, "Running": 0, "Failed": 0, "EarlyStopped": 0, "Pending": 0}
    for _, st in trials:
        last = st["conditions"][-1]["type"]
        counts[last if last in counts else "Pending"] += 1
    scored = [(float(next(m["latest"] for m in st["observation"]["metrics"] if m["name"] == "accuracy")), t, st)
              for t, st in trials if st.get("observation")]
    best = max(scored, key=lambda x: x[0]) if scored else None
    status: dict[str, Any] = {
        "startTime": _ts(3700),
        "conditions": [_condition("Created", "ExperimentCreated", "Experiment is created", 3700)],
        "trials": len(trials), "trialsSucceeded": counts["Succeeded"], "trialsRunning": counts["Running"],
        "trialsFailed": counts["Failed"], "trialsEarlyStopped": counts["EarlyStopped"],
        "trialsPending": counts["Pending"],
        "succeededTrialList": [t["metadata"]["name"] for t, st in trials if st["conditions"][-1]["type"] == "Succeeded"],
        "runningTrialList": [t["metadata"]["name"] for t, st in trials if st["conditions"][-1]["type"] == "Running"],
        "failedTrialList": [t["metadata"]["name"] for t, st in trials if st["conditions"][-1]["type"] == "Failed"],
    }
    if best:
        _, t, st = best
        status["currentOptimalTrial"] = {
            "bestTrialName": t["metadata"]["name"],
            "parameterAssignments": t["spec"]["parameterAssignments"],
            "observation": st["observation"],
        }
    if done:
        status["completionTime"] = _ts(60)
        status["conditions"].append(_condition("Succeeded", "ExperimentMaxTrialsReached",
                                               "Experiment has succeeded because max trial count has reached", 60))
    else:
        status["conditions"].append(_condition("Running", "ExperimentRunning", "Experiment is running", 3690))
    return status


# -- the seeder --------------------------------------------------------------------------------

_PLURALS = {
    "PersistentVolumeClaim": "persistentvolumeclaims", "PersistentVolume": "persistentvolumes",
    "StorageClass": "storageclasses", "ClusterLogs": "clusterlogs", "Logs": "logs",
    "ClusterPolicy": "clusterpolicies", "WorkloadPriorityClass": "workloadpriorityclasses",
}


class Seeder:
    def __init__(self, cluster: DemoCluster):
        self.cluster = cluster
        cfg = client.Configuration()
        config.load_kube_config(str(cluster.kubeconfig), context="cockpit-demo", client_configuration=cfg)
        cfg.connection_pool_maxsize = 32
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)

    # Generic create-if-missing by manifest, without the typed models (faster, any kind).
    def _path(self, obj: dict) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural = _PLURALS.get(kind, kind.lower() + "s")
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        ns = obj["metadata"].get("namespace")
        return f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"

    def create(self, obj: dict, status: dict | None = None) -> dict | None:
        """Create unless it exists; then write status when given. Returns the stored object."""
        path = self._path(obj)
        name = obj["metadata"]["name"]
        for attempt in range(40):
            try:
                stored = self.api.call_api(path, "POST", body=obj, response_type="object",
                                           header_params={"Content-Type": "application/json"},
                                           _return_http_data_only=True)
                break
            except ApiException as e:
                if e.status == 409:
                    stored = None
                    break
                # A namespace's default service account, a CRD or a webhook may be a moment
                # behind on a fresh control plane.
                transient = e.status in (429, 500, 503, 504) or (
                    e.status in (403, 404) and b"serviceaccount" in (e.body or b"" if isinstance(e.body, bytes)
                                                                     else str(e.body or "").encode()))
                if not transient or attempt == 39:
                    raise
                time.sleep(0.25)
        if status is not None and stored is not None:
            stored["status"] = status
            self.api.call_api(f"{path}/{name}/status", "PUT", body=stored, response_type="object",
                              header_params={"Content-Type": "application/json"},
                              _return_http_data_only=True)
        return stored

    def exists(self, obj: dict) -> bool:
        try:
            self.api.call_api(f"{self._path(obj)}/{obj['metadata']['name']}", "GET", response_type="object",
                              _return_http_data_only=True)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    def namespace(self, name: str, labels: dict | None = None) -> None:
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})

    # -- once per cluster: CRDs, RBAC, kwok rules ------------------------------------------------
    def install_base(self) -> None:
        bins = self.cluster.bins
        for project in ("argo", "katib"):
            for f in sorted(bins.crd_dir(project).glob("*.yaml")):
                for doc in yaml.safe_load_all(f.read_text()):
                    if doc and doc.get("kind") == "CustomResourceDefinition":
                        self.create(doc)
        for crd in self.cluster.kueue.crds():
            self._create_crd(crd)
        self._wait_crds(["workflows.argoproj.io", "experiments.kubeflow.org", "trials.kubeflow.org",
                         *(f"{p}.kueue.x-k8s.io" for p in ("clusterqueues", "localqueues", "workloads",
                                                           "resourceflavors", "workloadpriorityclasses"))])
        self.namespace("kueue-system")
        viewer = "cockpit-viewer"
        self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": "cockpit-viewer-view"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": viewer}]})
        self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": "cockpit-node-reader"},
                     "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]})
        self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": "cockpit-viewer-nodes"},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": "cockpit-node-reader"},
                     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": viewer}]})
        # The Argo controller exits unless its config map exists.
        self.namespace("argo")
        self.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "workflow-controller-configmap", "namespace": "argo"},
                     # Metrics servers bind fixed ports and would clash between two demo clusters.
                     "data": {"metricsConfig": "enabled: false\n",
                              "telemetryConfig": "enabled: false\n"}})
        # As Argo's own install does: workflows readable by whoever has `view`.
        self.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": "argo-aggregate-to-view",
                                  "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                     "rules": [{"apiGroups": ["argoproj.io"],
                                "resources": ["workflows", "workflows/finalizers", "workflowtemplates",
                                              "cronworkflows", "clusterworkflowtemplates", "workflowtaskresults"],
                                "verbs": ["get", "list", "watch"]}]})

    def _create_crd(self, crd: dict) -> None:
        """Create a CRD; an existing one gets this one's conversion (the Kueue webhook's URL and
        CA change with the cluster and the manager's port)."""
        if self.create(crd) is not None or "conversion" not in crd["spec"]:
            return
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
        stored = self.api.call_api(path, "GET", response_type="object", _return_http_data_only=True)
        if stored["spec"].get("conversion") != crd["spec"]["conversion"]:
            self.api.call_api(path, "PATCH", body={"spec": {"conversion": crd["spec"]["conversion"]}},
                              response_type="object", _return_http_data_only=True,
                              header_params={"Content-Type": "application/merge-patch+json"})

    def install_kueue_webhooks(self) -> None:
        """Register Kueue's webhooks at its manager's loopback address (replacing what an
        earlier start registered)."""
        for hooks in self.cluster.kueue.webhook_configurations():
            if self.create(hooks) is not None:
                continue
            path = f"{self._path(hooks)}/{hooks['metadata']['name']}"
            stored = self.api.call_api(path, "GET", response_type="object", _return_http_data_only=True)
            hooks["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            self.api.call_api(path, "PUT", body=hooks, response_type="object", _return_http_data_only=True,
                              header_params={"Content-Type": "application/json"})

    def _wait_crds(self, names: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            while time.monotonic() < deadline:
                try:
                    crd = self.api.call_api(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
                                            "GET", response_type="object", _return_http_data_only=True)
                    conds = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
                    if conds.get("Established") == "True":
                        break
                except ApiException:
                    pass
                time.sleep(0.2)

    # -- the default fleet and workloads -------------------------------------------------------
    def seed_all(self, log=print) -> None:
        wd = self.cluster.workdir
        logs = self.cluster.logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "training.log").touch()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self.create, default_nodes()))
        self.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                     "metadata": {"name": "standard",
                                  "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                     "provisioner": "demo.gpu-cockpit.dev/volume", "volumeBindingMode": "Immediate"})
        for ns in (*TEAM_NAMESPACES, "gpu-operator", "argo"):
            self.namespace(ns, {"demo.gpu-cockpit.dev/seeded": "true"})
        self._kwok_rules(wd)
        self._team_workloads()
        self._gpu_operator()
        self._argo()
        self._katib()
        from cockpit.demo import kueue_seed

        kueue_seed.seed(self, log=log)
        self._gpu_metrics(log=log)
        log("seeded the demo fleet: 7 nodes, workloads in " + ", ".join((*TEAM_NAMESPACES, "gpu-operator", "argo"))
            + f"; Kueue queues {', '.join(kueue_seed.TEAM_QUOTAS)} in cohort {kueue_seed.COHORT}")

    def _kwok_rules(self, wd: Path) -> None:
        http_port = self.cluster.simulator_port()
        train_log = str(self.cluster.logs_dir / "training.log")
        self.create({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
                     "metadata": {"name": "demo-training-logs"},
                     "spec": {"selector": {}, "logs": [{"logsFile": train_log, "follow": True}]}})
        exec_root = wd / "exec-root"
        exec_root.mkdir(exist_ok=True)
        self.create({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterExec",
                     "metadata": {"name": "demo-exec"},
                     "spec": {"selector": {}, "execs": [{"local": {
                         "workDir": str(exec_root),
                         "envs": [{"name": "PS1", "value": "demo-pod$ "}, {"name": "HOME", "value": str(exec_root)}],
                     }}]}})
        self.create({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward",
                     "metadata": {"name": "demo-port-forward"},
                     "spec": {"selector": {}, "forwards": [
                         {"ports": [8888, 6006, 2746, 9400], "target": {"address": "127.0.0.1", "port": http_port}},
                     ]}})

    def _team_workloads(self) -> None:
        vision, nlp = TEAM_NAMESPACES
        a100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
        # "standard" claims are provisioned by the demo's volume stage; nvme-local has no
        # provisioner, so that claim stays Pending.
        for claim in (pvc("alice-data", vision, "40Gi"), pvc("imagenet", vision, "2Ti", modes=("ReadOnlyMany",)),
                      pvc("checkpoints", nlp, "500Gi", modes=("ReadWriteMany",)),
                      pvc("scratch-fast", nlp, "100Gi", storage_class="nvme-local")):
            self.create(claim)
        items = [
            job("resnet50-train", vision, gpus=1, run_for=LONG, node_selector=a100,
                labels={"team": "vision", "experiment": "resnet50"}),
            job("resnet50-eval", vision, gpus=1, run_for="2s", node_selector=a100, labels={"team": "vision"}),
            job("vit-large-finetune", vision, gpus=2, run_for="3s", exit_code=137, reason="OOMKilled",
                labels={"team": "vision"}),
            job("ddp-resnet152", vision, gpus=4, run_for=LONG, node_selector=a100, labels={"team": "vision"}),
            job("llama-pretrain-16gpu", nlp, gpus=16, run_for=LONG, node_selector=a100, labels={"team": "nlp"}),
            job("bert-finetune", nlp, gpus=2, run_for=LONG, node_selector=a100, labels={"team": "nlp"}),
            job("tokenize-corpus", nlp, gpus=0, run_for="2s", labels={"team": "nlp"},
                image="python:3.11-slim", command=["python", "tokenize.py"]),
            job("t5-eval", nlp, gpus=1, run_for="3s", exit_code=1, labels={"team": "nlp"}),
            job("llm-serve-bench", nlp, gpus=8, run_for=LONG, labels={"team": "nlp"},
                node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                tolerations=[{"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}]),
            job("mig-notebook-tests", nlp, gpus=1, resource="nvidia.com/mig-1g.10gb", run_for=LONG,
                labels={"team": "nlp"}),
            job("whisper-inference", nlp, gpus=2, run_for=LONG, labels={"team": "nlp"},
                node_selector={"nvidia.com/gpu.product": "Tesla-T4-SHARED"}),
            dev_pod("dev-box-alice", vision, "alice-data"),
        ]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self.create, items))

    def _gpu_operator(self) -> None:
        ns = "gpu-operator"
        gpu_nodes = {"nvidia.com/gpu.present": "true", FLEET_LABEL: "default"}
        items = [
            daemonset("nvidia-device-plugin-daemonset", ns, "nvidia-device-plugin-daemonset", selector=gpu_nodes),
            daemonset("gpu-feature-discovery", ns, "gpu-feature-discovery", selector=gpu_nodes,
                      image="nvcr.io/nvidia/k8s-device-plugin:v0.17.0"),
            daemonset("nvidia-container-toolkit-daemonset", ns, "nvidia-container-toolkit-daemonset",
                      selector=gpu_nodes, image="nvcr.io/nvidia/k8s/container-toolkit:v1.17.0-ubuntu20.04"),
            daemonset("nvidia-dcgm-exporter", ns, "nvidia-dcgm-exporter", selector=gpu_nodes,
                      image="nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04",
                      ports=[{"name": "gpu-metrics", "containerPort": 9400}]),
            daemonset("nvidia-operator-validator", ns, "nvidia-operator-validator", selector=gpu_nodes,
                      image="nvcr.io/nvidia/cloud-native/gpu-operator-validator:v24.9.0"),
            deployment("gpu-operator", ns, "nvcr.io/nvidia/gpu-operator:v24.9.0"),
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "nvidia-dcgm-exporter", "namespace": ns, "labels": {"app": "nvidia-dcgm-exporter"}},
             "spec": {"selector": {"app": "nvidia-dcgm-exporter"},
                      "ports": [{"name": "gpu-metrics", "port": 9400, "targetPort": 9400}]}},
        ]
        for validator in ("nvidia-cuda-validator", "nvidia-device-plugin-validator"):
            items.append(job(validator, ns, gpus=0, run_for="1s", labels={"app": validator},
                             image="nvcr.io/nvidia/cloud-native/gpu-operator-validator:v24.9.0",
                             command=["sh", "-c", "echo validations are successful"]))
        for item in items:
            self.create(item)

    def _argo(self) -> None:
        ns = "argo"
        self.create(deployment("workflow-controller", ns, "quay.io/argoproj/workflow-controller:v4.0.2"))
        self.create(deployment("argo-server", ns, "quay.io/argoproj/argocli:v4.0.2",
                               ports=[{"name": "web", "containerPort": 2746}]))
        self.create({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "argo-server", "namespace": ns},
                     "spec": {"selector": {"app": "argo-server"},
                              "ports": [{"name": "web", "port": 2746, "targetPort": 2746}]}})
        quick = pod_annotations("1s")
        running = pod_annotations(LONG)
        self.create(workflow("train-pipeline-7xk2p", "team-vision", [
            ("preprocess", "", quick), ("train", "preprocess", running), ("evaluate", "train", quick)],
            gpu_step="train"))
        self.create(workflow("nightly-eval-2q9vd", "team-nlp", [
            ("fetch-data", "", quick), ("eval-a", "fetch-data", quick), ("eval-b", "fetch-data", quick),
            ("report", "eval-a && eval-b", quick)]))
        self.create(workflow("feature-build-m4t8c", "team-nlp", [
            ("extract", "", quick), ("transform", "extract", pod_annotations("1s", exit_code=2)),
            ("load", "transform", quick)]))

    def _katib(self) -> None:
        rng = random.Random(42)
        running = experiment("bert-lr-search", "team-nlp", max_trials=12)
        done = experiment("resnet-bs-search", "team-vision", max_trials=6, parallel=2)
        for exp, states, finished in (
            (running, ["Succeeded"] * 4 + ["Failed", "EarlyStopped", "Running", "Running", "Pending"], False),
            (done, ["Succeeded"] * 6, True),
        ):
            trials = trial_objects(exp, states, rng)
            stored = self.create(exp, status=experiment_status(exp, trials, finished))
            if stored is None:  # seeded by an earlier `up`
                continue
            owner = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "name": exp["metadata"]["name"],
                         "uid": stored["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
            for trial, status in trials:
                trial["metadata"]["ownerReferences"] = [owner]
                stored_trial = self.create(trial, status=status)
                if stored_trial and status["conditions"][-1]["type"] == "Running":
                    name, ns = trial["metadata"]["name"], trial["metadata"]["namespace"]
                    run = job(name, ns, gpus=1, run_for=LONG, labels={
                        "katib.kubeflow.org/experiment": exp["metadata"]["name"],
                        "katib.kubeflow.org/trial": name})
                    run["metadata"]["ownerReferences"] = [{
                        "apiVersion": "kubeflow.org/v1beta1", "kind": "Trial", "name": name,
                        "uid": stored_trial["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
                    run["spec"]["template"]["spec"]["containers"][0]["name"] = "training-container"
                    self.create(run)

    # -- GPU utilisation: exporter pods read the simulator's metrics -----------------------------
    def _gpu_metrics(self, log=print, timeout: float = 30.0) -> None:
        """Point each dcgm-exporter pod's port 9400 at its node's exporter stand-in in the
        simulator (a KWOK PortForward named like the pod overrides the cluster-wide rule for it),
        and give the simulated GPUs their first values unless a control file is there already.
        Waits at most `timeout` for the exporter pods and the simulator; what is still missing
        then is left out with a note, and the next `cockpit demo up` fills it in."""
        from cockpit.demo import simulator

        deadline = time.monotonic() + timeout
        layout = simulator.gpu_layout()
        exporters: dict[str, str] = {}
        while True:
            pods = self.core.list_namespaced_pod("gpu-operator", label_selector="app=nvidia-dcgm-exporter",
                                                 _request_timeout=10).items
            exporters = {p.spec.node_name: p.metadata.name for p in pods
                         if p.spec.node_name in layout and p.status.phase == "Running"
                         and not p.metadata.deletion_timestamp}
            if len(exporters) >= len(layout) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        ports: dict[str, int] = {}
        while True:
            ports = simulator.read_exporter_ports(self.cluster.workdir)
            if ports and all(simulator.port_listening(port) for port in ports.values()):
                break
            if time.monotonic() > deadline:
                ports = {n: port for n, port in ports.items() if simulator.port_listening(port)}
                break
            time.sleep(0.2)
        for node_name, pod in sorted(exporters.items()):
            if node_name in ports:
                self._upsert_spec({
                    "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
                    "metadata": {"name": pod, "namespace": "gpu-operator",
                                 "labels": {"app.kubernetes.io/part-of": "gpu-cockpit-demo"}},
                    "spec": {"forwards": [{"ports": [9400],
                                           "target": {"address": "127.0.0.1", "port": ports[node_name]}}]},
                })
        missing = sorted(set(layout) - (set(exporters) & set(ports)))
        if missing:
            log(f"GPU metrics not wired for {', '.join(missing)} (exporter pod or simulator not ready in time)")
        control = self.cluster.workdir / simulator.CONTROL_FILE
        if not self._control_current(simulator.read_control(self.cluster.workdir)):
            simulator.write_json(control, self._initial_gpu_util(layout, deadline))

    def _upsert_spec(self, obj: dict) -> None:
        """Create `obj`, or bring an existing one's spec to `obj`'s."""
        if self.create(obj) is not None:
            return
        path = f"{self._path(obj)}/{obj['metadata']['name']}"
        stored = self.api.call_api(path, "GET", response_type="object", _return_http_data_only=True)
        if stored.get("spec") != obj["spec"]:
            stored["spec"] = obj["spec"]
            self.api.call_api(path, "PUT", body=stored, response_type="object",
                              header_params={"Content-Type": "application/json"}, _return_http_data_only=True)

    def _control_current(self, control: dict) -> bool:
        """Whether a control file names pods of this cluster (one left from an earlier cluster in
        the same directory names pods that are gone)."""
        named = {p for v in control.values() if isinstance(v, dict)
                 for p in ([v.get("pod")] if isinstance(v.get("pod"), str) else v.get("pod") or [])
                 if isinstance(p, str) and "/" in p}
        if not control:
            return False
        if not named:
            return True
        for key in sorted(named):
            ns, name = key.split("/", 1)
            try:
                self.api.call_api(f"/api/v1/namespaces/{ns}/pods/{name}", "GET", response_type="object",
                                  _return_http_data_only=True, _request_timeout=10)
                return True
            except ApiException as e:
                if e.status != 404:
                    raise
        return False

    def _initial_gpu_util(self, layout: dict, deadline: float) -> dict:
        """First values of the simulated GPUs: the long-running GPU pods get their devices (the
        way the device plugin hands them out: whole GPUs, MIG instances of the profile asked for,
        time-sliced shares) and run busy; `team-vision/dev-box-alice` holds memory at 0 %."""
        from cockpit.kube.gpu import gpu_requests

        while True:
            pods = [p for ns in TEAM_NAMESPACES
                    for p in self.api.call_api(f"/api/v1/namespaces/{ns}/pods", "GET", response_type="object",
                                               _return_http_data_only=True, _request_timeout=10)["items"]]
            long_running = [p for p in pods if gpu_requests(p)
                            and ((p["metadata"].get("annotations") or {})
                                 .get("pod-complete.stage.kwok.x-k8s.io/delay") in (None, LONG))
                            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
            placed = [p for p in long_running if (p.get("spec") or {}).get("nodeName")]
            unschedulable = [p for p in long_running if any(
                c.get("type") == "PodScheduled" and c.get("status") == "False"
                for c in (p.get("status") or {}).get("conditions") or [])]
            # Pods a Job is about to make count too: the Katib trials' Jobs were created last.
            # Jobs Kueue holds suspended make none.
            jobs = [j for ns in TEAM_NAMESPACES
                    for j in self.api.call_api(f"/apis/batch/v1/namespaces/{ns}/jobs", "GET", response_type="object",
                                               _return_http_data_only=True, _request_timeout=10)["items"]]
            from_jobs = sum(int(j["spec"].get("parallelism") or 1) for j in jobs
                            if gpu_requests(j["spec"]["template"]) and not j["spec"].get("suspend")
                            and ((j["spec"]["template"].get("metadata") or {}).get("annotations") or {})
                            .get("pod-complete.stage.kwok.x-k8s.io/delay") == LONG)
            bare = sum(1 for p in long_running if not p["metadata"].get("ownerReferences"))
            expected = max(len(long_running), from_jobs + bare)
            if (placed and len(placed) + len(unschedulable) >= expected) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        rng = random.Random(11)
        control: dict[str, dict] = {}
        for devices in layout.values():
            for d in devices:
                control[d.key] = {"util": 0, "fb_used": 0, "pod": ""}
        free: dict[str, list] = {}
        for node_name, devices in layout.items():
            for d in devices:
                free.setdefault(f"{node_name}|{d.resource}", []).extend([d] * d.replicas)
        for p in sorted(placed, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
            key = f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            containers = (p.get("spec") or {}).get("containers") or [{}]
            idle = key == "team-vision/dev-box-alice"
            for resource, count in gpu_requests(p).items():
                slots = free.get(f"{p['spec']['nodeName']}|{resource}", [])
                # Time-sliced shares spread over the GPUs first, as the device plugin does.
                taken = []
                for _ in range(int(count)):
                    pick = next((d for d in slots if d not in taken), slots[0] if slots else None)
                    if pick is None:
                        break
                    slots.remove(pick)
                    taken.append(pick)
                for d in taken:
                    entry = control[d.key]
                    owners = [entry["pod"]] if isinstance(entry["pod"], str) and entry["pod"] else list(entry["pod"] or [])
                    if key not in owners:
                        owners.append(key)
                    entry["pod"] = owners[0] if len(owners) == 1 else owners
                    entry["container"] = containers[0].get("name", "main")
                    if idle:
                        entry.update(util=0, fb_used=min(11264, d.memory_mib // 2))
                    else:
                        entry.update(util=rng.randint(62, 97), jitter=6,
                                     fb_used=max(entry["fb_used"], int(d.memory_mib * rng.uniform(0.55, 0.9))))
        return control

    # -- large clusters for benchmarks ---------------------------------------------------------
    def scale(self, nodes: int, pods: int, log=print, workers: int = 32) -> None:
        """Add `nodes` 8-GPU nodes and `pods` running pods spread over them, concurrently."""
        t0 = time.monotonic()
        names = [f"bench-node-{i:04d}" for i in range(nodes)]
        a100 = _gfd_labels("NVIDIA-A100-SXM4-80GB", 8, 81920, "ampere", "8.0")
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda n: self.create(node(n, gpus={"nvidia.com/gpu": 8}, labels=a100, fleet="bench")),
                          names))
        log(f"created {nodes} nodes in {time.monotonic() - t0:.1f}s")
        if not pods or not names:
            return
        t1 = time.monotonic()
        per_ns = 1000
        namespaces = [f"bench-{i:02d}" for i in range((pods + per_ns - 1) // per_ns)]
        for ns in namespaces:
            self.namespace(ns, {"demo.gpu-cockpit.dev/bench": "true"})

        def make(i: int) -> None:
            ns = namespaces[i // per_ns]
            self.create({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"worker-{i:05d}", "namespace": ns,
                             "labels": {"app": "bench", "shard": str(i % 16)}},
                "spec": {"nodeName": names[i % len(names)], "restartPolicy": "Never",
                         "containers": [gpu_container("train", "ghcr.io/example/bench:1", ["sleep", "infinity"],
                                                      gpus=1 if i % 2 == 0 else 0, cpu="1", memory="1Gi")]},
            })

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(make, range(pods)))
        log(f"created {pods} pods in {time.monotonic() - t1:.1f}s")
