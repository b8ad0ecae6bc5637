"""The demo's simulated nodes: the resources and GPU Feature Discovery labels real GPU nodes have
(see DOMAIN.md). The seeder (fleet.py) creates them; the GPU simulator (simulator.py) lays out its
devices from them. Neither imports the other.
"""

from __future__ import annotations

from typing import Any

FLEET_LABEL = "demo.gpu-cockpit.dev/fleet"


def gfd_labels(product: str, count: int, memory_mib: int, family: str, compute: str,
               replicas: int = 1, sharing: str = "none", mig: str = "none") -> dict[str, str]:
    major, minor = compute.split(".")
    return {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": product,
        "nvidia.com/gpu.count": str(count),
        "nvidia.com/gpu.memory": str(memory_mib),
        "nvidia.com/gpu.family": family,
        "nvidia.com/gpu.compute.major": major,
        "nvidia.com/gpu.compute.minor": minor,
        "nvidia.com/gpu.replicas": str(replicas),
        "nvidia.com/gpu.sharing-strategy": sharing,
        "nvidia.com/mig.strategy": mig,
        "nvidia.com/mig.capable": "true" if family in ("ampere", "hopper") else "false",
        "nvidia.com/cuda.driver-version.major": "550",
        "nvidia.com/cuda.driver-version.minor": "127",
        "nvidia.com/cuda.driver-version.revision": "05",
        "nvidia.com/cuda.driver-version.full": "550.127.05",
        "nvidia.com/gpu.deploy.device-plugin": "true",
        "nvidia.com/gpu.deploy.gpu-feature-discovery": "true",
        "nvidia.com/gpu.deploy.dcgm-exporter": "true",
    }


def node(name: str, *, cpu: str = "96", memory: str = "1024Gi", gpus: dict[str, int] | None = None,
         labels: dict[str, str] | None = None, unschedulable: bool = False,
         taints: list[dict] | None = None, fleet: str = "default") -> dict:
    resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "3500Gi"}
    resources.update({k: str(v) for k, v in (gpus or {}).items()})
    spec: dict[str, Any] = {}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "type": "kwok", FLEET_LABEL: fleet, **(labels or {}),
            },
        },
        "spec": spec,
        "status": {"capacity": resources, "allocatable": dict(resources)},
    }


def default_nodes() -> list[dict]:
    a100 = gfd_labels("NVIDIA-A100-SXM4-80GB", 8, 81920, "ampere", "8.0")
    mig_profiles = {"1g.10gb": (7, 9856), "2g.20gb": (3, 19968), "3g.40gb": (2, 40192)}
    mig_labels = gfd_labels("NVIDIA-A100-SXM4-80GB", 4, 81920, "ampere", "8.0", mig="mixed")
    for profile, (count, mem) in mig_profiles.items():
        mig_labels[f"nvidia.com/mig-{profile}.count"] = str(count)
        mig_labels[f"nvidia.com/mig-{profile}.memory"] = str(mem)
        mig_labels[f"nvidia.com/mig-{profile}.product"] = f"NVIDIA-A100-SXM4-80GB-MIG-{profile}"
    return [
        node("gpu-a100-01", gpus={"nvidia.com/gpu": 8}, labels={**a100, "node.kubernetes.io/instance-type": "p4de.24xlarge"}),
        node("gpu-a100-02", gpus={"nvidia.com/gpu": 8}, labels={**a100, "node.kubernetes.io/instance-type": "p4de.24xlarge"}),
        node("gpu-h100-01", cpu="192", memory="2048Gi", gpus={"nvidia.com/gpu": 8},
             labels={**gfd_labels("NVIDIA-H100-80GB-HBM3", 8, 81559, "hopper", "9.0"),
                     "node.kubernetes.io/instance-type": "p5.48xlarge"},
             taints=[{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}]),
        node("gpu-a100-mig-01", gpus={f"nvidia.com/mig-{p}": c for p, (c, _) in mig_profiles.items()},
             labels=mig_labels),
        node("gpu-t4-shared-01", cpu="48", memory="192Gi", gpus={"nvidia.com/gpu": 16},
             labels=gfd_labels("Tesla-T4-SHARED", 4, 15360, "turing", "7.5", replicas=4, sharing="time-slicing")),
        node("cpu-01", cpu="64", memory="256Gi"),
        node("gpu-a100-03", gpus={"nvidia.com/gpu": 8}, unschedulable=True,
             labels={**a100, "node.kubernetes.io/instance-type": "p4de.24xlarge"}),
    ]
