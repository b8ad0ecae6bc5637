"""One meaning of "free GPUs" (cockpit.kube.gpu.node_schedulable / free_by_product), shared by the
GPU pane's totals, the launch form and `cockpit launch`: cordoned, NotReady and tainted nodes
offer nothing to a new pod."""

from __future__ import annotations

from typing import Any

from cockpit.kube.gpu import allocate, free_by_product, node_gpu_info, node_schedulable
from cockpit.kube.gpu_view import totals_line

A100 = "NVIDIA-A100-SXM4-80GB"
H100 = "NVIDIA-H100-80GB-HBM3"


def node(name: str, product: str, gpus: int, *, ready: bool = True, cordoned: bool = False,
         taints: list[dict] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if cordoned:
        spec["unschedulable"] = True
        # what the node lifecycle controller adds to a cordoned node
        taints = [*(taints or []), {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    if taints:
        spec["taints"] = taints
    return {"metadata": {"name": name, "labels": {"nvidia.com/gpu.product": product}}, "spec": spec,
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}, "capacity": {"nvidia.com/gpu": str(gpus)},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def gpu_pod(name: str, node_name: str, gpus: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team"},
            "spec": {"nodeName": node_name,
                     "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]},
            "status": {"phase": "Running"}}


DEDICATED = {"key": "dedicated", "value": "llm", "effect": "NoSchedule"}
NODES = [
    node("a100-01", A100, 8), node("a100-02", A100, 8), node("a100-03", A100, 8, cordoned=True),
    node("a100-04", A100, 8, ready=False),
    node("h100-01", H100, 8, taints=[DEDICATED]),
    node("h100-02", H100, 8, taints=[{"key": "soft", "effect": "PreferNoSchedule"}]),
]
PODS = [gpu_pod("p1", "a100-01", 4), gpu_pod("p2", "a100-02", 7), gpu_pod("p3", "h100-01", 2)]


def test_cordoned_notready_and_tainted_nodes_offer_nothing_to_a_new_pod():
    infos = {n["metadata"]["name"]: node_gpu_info(n) for n in NODES}
    assert node_schedulable(infos["a100-01"])
    assert not node_schedulable(infos["a100-03"])  # cordoned
    assert not node_schedulable(infos["a100-04"])  # NotReady
    assert not node_schedulable(infos["h100-01"])  # NoSchedule taint, not tolerated
    assert node_schedulable(infos["h100-01"], ["dedicated=llm:NoSchedule"])
    assert node_schedulable(infos["h100-01"], ["dedicated"])  # operator Exists
    assert not node_schedulable(infos["h100-01"], ["dedicated=other:NoSchedule"])
    assert node_schedulable(infos["h100-02"])  # PreferNoSchedule does not block


def test_free_by_product_counts_only_schedulable_nodes():
    cluster = allocate(NODES, PODS)
    offer = {o.product: o for o in free_by_product(cluster.nodes.values())}
    # 4 + 1 free on the two usable A100 nodes; the 8 of the cordoned one and the NotReady one
    # are not free for anyone (before: 21).
    assert offer[A100].free == 5 and offer[A100].tainted == 0 and offer[A100].nodes == 4
    assert offer[H100].free == 8 and offer[H100].tainted == 6
    assert offer[A100].label() == "5 free"
    assert offer[H100].label() == "8 free, 6 more on tainted nodes"
    tolerated = {o.product: o for o in free_by_product(cluster.nodes.values(), ["dedicated=llm:NoSchedule"])}
    assert tolerated[H100].free == 14


def test_free_is_unknown_when_pods_cannot_be_listed():
    cluster = allocate(NODES, None)
    offer = {o.product: o for o in free_by_product(cluster.nodes.values())}
    assert offer[A100].free is None and offer[A100].label() == "free unknown"


def test_pane_totals_say_the_same_free_count_as_the_form():
    cluster = allocate(NODES, PODS)
    line = totals_line(cluster.nodes.values())
    assert "A100-SXM4-80GB gpu 11/32, 5 free [16 unavailable]" in line
    assert "H100-80GB-HBM3 gpu 2/16, 8 free" in line
