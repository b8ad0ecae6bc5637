"""Builders of the demo's workload objects: GPU containers, Jobs whose pods KWOK runs to an end
(pod annotations say when and how), claims, dev pods, DaemonSets, Deployments, Argo workflows.
The seeder (fleet.py) and the Kueue seeding (kueue_seed.py) both use them, and neither imports
the other at the top.
"""

from __future__ import annotations

from typing import Any

LONG = "87600h"  # pods that should keep running for as long as anyone looks


def gpu_container(name: str, image: str, command: list[str], gpus: int = 0, resource: str = "nvidia.com/gpu",
                  cpu: str = "4", memory: str = "32Gi", **extra) -> dict:
    limits: dict[str, str] = {"cpu": cpu, "memory": memory}
    if gpus:
        limits[resource] = str(gpus)
    return {"name": name, "image": image, "command": command,
            "resources": {"limits": limits, "requests": {"cpu": cpu, "memory": memory}}, **extra}


def pod_annotations(run_for: str | None = None, exit_code: int | None = None, reason: str | None = None) -> dict:
    ann: dict[str, str] = {}
    if run_for:
        ann["pod-complete.stage.kwok.x-k8s.io/delay"] = run_for
    if exit_code is not None:
        ann["demo.gpu-cockpit.dev/exit-code"] = str(exit_code)
    if reason:
        ann["demo.gpu-cockpit.dev/reason"] = reason
    return ann


def job(name: str, namespace: str, *, gpus: int = 1, run_for: str = "5s", exit_code: int | None = None,
        reason: str | None = None, parallelism: int = 1, completions: int | None = None,
        node_selector: dict | None = None, tolerations: list | None = None, labels: dict | None = None,
        image: str = "nvcr.io/nvidia/pytorch:24.08-py3", command: list[str] | None = None,
        resource: str = "nvidia.com/gpu", volumes: list | None = None, mounts: list | None = None) -> dict:
    labels = {"app.kubernetes.io/part-of": "gpu-cockpit-demo", **(labels or {})}
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [gpu_container("train", image, command or ["python", "train.py"], gpus, resource,
                                     **({"volumeMounts": mounts} if mounts else {}))],
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0, "parallelism": parallelism, "completions": completions or parallelism,
            "template": {"metadata": {"labels": labels, "annotations": pod_annotations(run_for, exit_code, reason)},
                         "spec": spec},
        },
    }


def pvc(name: str, namespace: str, size: str, *, storage_class: str = "standard",
        modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict:
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"accessModes": list(modes), "storageClassName": storage_class,
                 "resources": {"requests": {"storage": size}}},
    }


def dev_pod(name: str, namespace: str, claim: str, gpus: int = 1) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app": "dev-box", "owner": name.removeprefix("dev-box-")},
                     "annotations": {"kubectl.kubernetes.io/default-container": "jupyter"}},
        "spec": {
            "restartPolicy": "Always",
            "containers": [gpu_container(
                "jupyter", "quay.io/jupyter/pytorch-notebook:cuda12-latest", ["sleep", "infinity"], gpus,
                cpu="8", memory="64Gi", ports=[{"name": "jupyter", "containerPort": 8888},
                                               {"name": "tensorboard", "containerPort": 6006}],
                volumeMounts=[{"name": "data", "mountPath": "/data"}])],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


def daemonset(name: str, namespace: str, app: str, *, selector: dict, ports: list | None = None,
              image: str = "nvcr.io/nvidia/k8s-device-plugin:v0.17.0") -> dict:
    container: dict[str, Any] = {"name": name, "image": image,
                                 "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                         "spec": {"nodeSelector": selector, "containers": [container],
                                  "tolerations": [{"operator": "Exists"}]}},
        },
    }


def deployment(name: str, namespace: str, image: str, ports: list | None = None,
               labels: dict | None = None) -> dict:
    labels = {"app": name, **(labels or {})}
    container: dict[str, Any] = {"name": name, "image": image,
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"nodeSelector": {"kubernetes.io/hostname": "cpu-01"},
                                       "containers": [container]}}},
    }


def workflow(name: str, namespace: str, steps: list[tuple[str, str, dict]], *, gpu_step: str = "") -> dict:
    """A DAG workflow; each step is (task name, depends, pod annotations)."""
    templates: list[dict] = [{
        "name": "main",
        "dag": {"tasks": [
            {"name": t, "template": t, **({"depends": d} if d else {})} for t, d, _ in steps
        ]},
    }]
    for t, _, ann in steps:
        container = gpu_container("main", "ghcr.io/example/ml-pipeline:1.4", ["python", f"{t}.py"],
                                  gpus=1 if t == gpu_step else 0, cpu="2", memory="8Gi")
        templates.append({"name": t, "metadata": {"annotations": ann}, "container": container})
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "gpu-cockpit-demo"}},
        "spec": {"entrypoint": "main", "templates": templates, "serviceAccountName": "default"},
    }
