"""Kueue's side of the demo fleet: what a GPU admin sets up and what a team's jobs then look like.

A ResourceFlavor per GPU product of the fleet (matching its nodes by their GPU Feature Discovery
labels), a ClusterQueue per team with GPU, CPU and memory quotas in one cohort (teams borrow
each other's unused GPUs), a LocalQueue in each team namespace, and Jobs queued through it so
that the real Kueue manager leaves Workloads admitted, pending on quota, and one preempted by a
more urgent job. Created idempotently, like the rest of the fleet.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cockpit.demo.workloads import LONG, job
from cockpit.kube.kueue import GROUP, QUEUE_LABEL, VERSION

if TYPE_CHECKING:
    from cockpit.demo.fleet import Seeder

API = f"{GROUP}/{VERSION}"
COHORT = "gpu-fleet"
QUEUE = "gpu-queue"  # the LocalQueue of each team namespace
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
CPU_FLAVOR = "default-flavor"
MIG_RESOURCE = "nvidia.com/mig-1g.10gb"

# Flavor -> (node labels that select its nodes, taints of those nodes). Whole-GPU flavors first:
# a job naming no product gets the first one with room.
GPU_FLAVORS: dict[str, tuple[dict[str, str], list[dict]]] = {
    "a100-80gb": ({"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}, []),
    # The H100 node is tainted for LLM work: only jobs tolerating the taint get this flavor.
    "h100-80gb": ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                  [{"key": "dedicated", "value": "llm", "effect": "NoSchedule"}]),
    "t4-shared": ({"nvidia.com/gpu.product": "Tesla-T4-SHARED"}, []),
}
MIG_FLAVOR = "a100-mig-1g.10gb"
MIG_LABELS = {"nvidia.com/mig-1g.10gb.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb"}

# Nominal GPU quota per team and flavor; each team may borrow up to BORROW more of a flavor
# from the cohort while the other team leaves it unused.
TEAM_QUOTAS = {
    "team-vision": {"a100-80gb": 4, "h100-80gb": 0, "t4-shared": 4, MIG_FLAVOR: 2},
    "team-nlp": {"a100-80gb": 4, "h100-80gb": 8, "t4-shared": 4, MIG_FLAVOR: 4},
}
BORROW = 4
TEAM_CPU, TEAM_MEMORY = "96", "768Gi"

PRIORITIES = {
    "best-effort": (-100, "Preemptible: any job of default (0) or higher priority may take its quota."),
    "urgent": (1000, "Deadline work: preempts lower-priority jobs of the same team."),
}


def resource_flavor(name: str, node_labels: dict[str, str] | None = None, taints: list[dict] | None = None) -> dict:
    spec: dict[str, Any] = {}
    if node_labels:
        spec["nodeLabels"] = node_labels
    if taints:
        spec["nodeTaints"] = taints
    return {"apiVersion": API, "kind": "ResourceFlavor", "metadata": {"name": name}, "spec": spec}


def flavors() -> list[dict]:
    return [resource_flavor(CPU_FLAVOR),
            *(resource_flavor(n, labels, taints) for n, (labels, taints) in GPU_FLAVORS.items()),
            resource_flavor(MIG_FLAVOR, MIG_LABELS)]


def _quota(resource: str, nominal: str | int, borrow: int | None = None) -> dict:
    q: dict[str, Any] = {"name": resource, "nominalQuota": str(nominal)}
    if borrow is not None:
        q["borrowingLimit"] = str(borrow)
    return q


def cluster_queue(name: str, namespace: str, gpus: dict[str, int], *, cohort: str | None = COHORT,
                  cpu: str = TEAM_CPU, memory: str = TEAM_MEMORY, borrow: int | None = BORROW) -> dict:
    """A team's ClusterQueue: CPU and memory in one flavor, whole GPUs per product, MIG slices.
    Only the team's namespace may use it; a pending job may preempt lower-priority jobs of the
    team, and the team may reclaim its lent quota from lower-priority borrowers."""
    groups: list[dict] = [
        {"coveredResources": ["cpu", "memory"],
         "flavors": [{"name": CPU_FLAVOR, "resources": [_quota("cpu", cpu), _quota("memory", memory)]}]},
    ]
    whole = [f for f in GPU_FLAVORS if f in gpus]
    if whole:
        groups.append({"coveredResources": ["nvidia.com/gpu"],
                       "flavors": [{"name": f, "resources": [_quota("nvidia.com/gpu", gpus[f], borrow)]}
                                   for f in whole]})
    if MIG_FLAVOR in gpus:
        groups.append({"coveredResources": [MIG_RESOURCE],
                       "flavors": [{"name": MIG_FLAVOR, "resources": [_quota(MIG_RESOURCE, gpus[MIG_FLAVOR], borrow)]}]})
    spec: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "queueingStrategy": "BestEffortFIFO",
        "preemption": {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "LowerPriority"},
        "resourceGroups": groups,
    }
    if cohort:
        spec["cohortName"] = cohort
    return {"apiVersion": API, "kind": "ClusterQueue", "metadata": {"name": name}, "spec": spec}


def local_queue(namespace: str, cluster_queue_name: str, name: str = QUEUE) -> dict:
    return {"apiVersion": API, "kind": "LocalQueue", "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterQueue": cluster_queue_name}}


def priority_class(name: str, value: int, description: str) -> dict:
    return {"apiVersion": API, "kind": "WorkloadPriorityClass", "metadata": {"name": name},
            "value": value, "description": description}


def queued_job(name: str, namespace: str, *, gpus: int, product: str | None = None,
               resource: str = "nvidia.com/gpu", priority: str | None = None, queue: str = QUEUE,
               run_for: str = LONG, labels: dict | None = None, tolerations: list | None = None) -> dict:
    """A Job submitted through a LocalQueue: Kueue's webhook suspends it on create, and the
    manager starts it (adding its flavor's node labels) once the queue's quota admits it."""
    selector = {"nvidia.com/gpu.product": product} if product else None
    obj = job(name, namespace, gpus=gpus, resource=resource, run_for=run_for, node_selector=selector,
              tolerations=tolerations, labels=labels)
    obj["metadata"]["labels"][QUEUE_LABEL] = queue
    if priority:
        obj["metadata"]["labels"][PRIORITY_LABEL] = priority
    return obj


# -- reading Workloads back --------------------------------------------------------------------

def workload_of(seeder: Seeder, namespace: str, job_name: str) -> dict | None:
    """The Workload Kueue made for a Job (owned by it), if any yet."""
    items = seeder.api.call_api(f"/apis/{API}/namespaces/{namespace}/workloads", "GET", response_type="object",
                                _return_http_data_only=True, _request_timeout=10)["items"]
    for wl in items:
        for ref in wl["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Job" and ref.get("name") == job_name:
                return wl
    return None


def condition(workload: dict | None, kind: str) -> dict | None:
    for c in ((workload or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def is_true(workload: dict | None, kind: str) -> bool:
    return (condition(workload, kind) or {}).get("status") == "True"


# -- the seed ----------------------------------------------------------------------------------

def seed(seeder: Seeder, log=print, timeout: float = 60.0) -> None:
    """Queues, then the queued jobs. The preemption is staged in order (the best-effort job is
    admitted before the urgent one arrives); what does not happen within `timeout` is logged."""
    for name, (value, description) in PRIORITIES.items():
        seeder.create(priority_class(name, value, description))
    for flavor in flavors():
        seeder.create(flavor)
    for ns, quotas in TEAM_QUOTAS.items():
        seeder.create(cluster_queue(ns, ns, quotas))
        seeder.create(local_queue(ns, ns))
    vision, nlp = "team-vision", "team-nlp"
    a100, t4 = "NVIDIA-A100-SXM4-80GB", "Tesla-T4-SHARED"
    admitted = [
        queued_job("detr-train", vision, gpus=2, product=a100, labels={"team": "vision"}),
        queued_job("augment-search", vision, gpus=2, product=t4, labels={"team": "vision"}),
        queued_job("tokenizer-bench", nlp, gpus=2, resource=MIG_RESOURCE, labels={"team": "nlp"}),
    ]
    # 8 A100s: the team's 4, less detr-train's 2, plus at most 4 borrowed, is 6.
    over_quota = queued_job("sam-finetune-8gpu", vision, gpus=8, product=a100, labels={"team": "vision"})
    # Both want the team's whole T4 quota; vision lends only the 2 it leaves unused.
    preempted = queued_job("embed-corpus", nlp, gpus=4, product=t4, priority="best-effort", labels={"team": "nlp"})
    urgent = queued_job("eval-release-candidate", nlp, gpus=4, product=t4, priority="urgent", labels={"team": "nlp"})
    deadline = time.monotonic() + timeout
    fresh = {j["metadata"]["name"] for j in (*admitted, over_quota, preempted) if seeder.create(j) is not None}
    if preempted["metadata"]["name"] in fresh:
        if not _wait(seeder, nlp, preempted["metadata"]["name"], lambda wl: is_true(wl, "Admitted"), deadline):
            log("Kueue did not admit team-nlp/embed-corpus in time; its preemption is not staged")
    if seeder.create(urgent) is not None:
        fresh.add(urgent["metadata"]["name"])
    if "eval-release-candidate" in fresh and not _wait(
            seeder, nlp, preempted["metadata"]["name"], lambda wl: is_true(wl, "Preempted"), deadline):
        log("Kueue has not preempted team-nlp/embed-corpus yet")
    for j in (*admitted, urgent):
        name = j["metadata"]["name"]
        if name in fresh and not _wait(seeder, j["metadata"]["namespace"], name,
                                       lambda wl: is_true(wl, "Admitted"), deadline):
            log(f"Kueue has not admitted {j['metadata']['namespace']}/{name} yet")


def _wait(seeder: Seeder, namespace: str, job_name: str, done, deadline: float) -> bool:
    while True:
        if done(workload_of(seeder, namespace, job_name)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
