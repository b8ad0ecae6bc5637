"""cockpit.kube.gpu: GPU pools and allocation, counted the way the scheduler counts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from cockpit.kube.gpu import (
    DEFAULT_GPU_PREFIXES,
    DEFAULT_GPU_RESOURCES,
    PodGpuIndex,
    allocate,
    gpu_requests,
    is_gpu_resource,
    node_gpu_info,
    pod_counts_for_node,
    pod_requests,
)
from cockpit.kube.quantity import fmt_bytes, fmt_cpu, parse_quantity

FIXTURES = Path(__file__).parent / "fixtures"
GPU = "nvidia.com/gpu"
MIG_1G = "nvidia.com/mig-1g.10gb"
MIG_3G = "nvidia.com/mig-3g.40gb"


def load(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((FIXTURES / name).read_text())["items"]


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in items}


@pytest.fixture(scope="module")
def pods() -> list[dict[str, Any]]:
    return load("pods.yaml")


@pytest.fixture(scope="module")
def nodes() -> list[dict[str, Any]]:
    return load("nodes.yaml")


def container(name: str, restart_policy: str | None = None, **resources: dict[str, str]) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "busybox:1.36", "resources": resources}
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] = (), **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": containers, "initContainers": list(init), **spec},
        "status": {"phase": "Pending"},
    }


# --- resource names ---------------------------------------------------------------------------


def test_gpu_resource_names() -> None:
    for name in DEFAULT_GPU_RESOURCES:
        assert is_gpu_resource(name)
    assert is_gpu_resource(MIG_1G)
    assert is_gpu_resource("amd.com/cpx_nps4")
    assert not is_gpu_resource("cpu")
    assert not is_gpu_resource("example.com/fpga")
    assert is_gpu_resource("example.com/fpga", names=("example.com/fpga",), prefixes=())
    assert not is_gpu_resource(GPU, names=("example.com/fpga",), prefixes=())
    assert DEFAULT_GPU_PREFIXES == ("nvidia.com/mig-", "amd.com/")


# --- effective requests -----------------------------------------------------------------------


def test_regular_init_container_is_a_peak_not_a_sum() -> None:
    p = pod([container("main", requests={"cpu": "1"})], [container("init", requests={"cpu": "5"})])
    assert pod_requests(p)["cpu"] == 5


def test_sidecar_declared_before_init_adds_to_it() -> None:
    # main = 1 + sidecar 2 = 3; init = 2 + sidecar 2 = 4 -> 4
    p = pod(
        [container("main", requests={"cpu": "1"})],
        [container("side", "Always", requests={"cpu": "2"}), container("init", requests={"cpu": "2"})],
    )
    assert pod_requests(p)["cpu"] == 4


def test_sidecar_declared_after_init_does_not_add_to_it() -> None:
    # main = 1 + sidecar 2 = 3; init = 2 (the sidecar starts after it) -> 3
    p = pod(
        [container("main", requests={"cpu": "1"})],
        [container("init", requests={"cpu": "2"}), container("side", "Always", requests={"cpu": "2"})],
    )
    assert pod_requests(p)["cpu"] == 3


def test_overhead_is_added_after_the_max() -> None:
    p = pod(
        [container("main", requests={"cpu": "1"})],
        [container("init", requests={"cpu": "3"})],
        overhead={"cpu": "250m"},
    )
    assert pod_requests(p)["cpu"] == pytest.approx(3.25)


def test_fixture_sidecar_math(pods: list[dict[str, Any]]) -> None:
    req = pod_requests(by_name(pods)["sidecar-math"])
    assert req["cpu"] == pytest.approx(4.75)
    assert req["memory"] == (4096 + 512 + 256 + 120) * 2**20
    assert req[GPU] == 1  # init and main containers use the same GPU one after the other


def test_limit_alone_sets_the_request(pods: list[dict[str, Any]]) -> None:
    assert gpu_requests(by_name(pods)["train-resnet-7x2kq"]) == {GPU: 2}


def test_request_wins_over_limit() -> None:
    p = pod([container("main", requests={"cpu": "1"}, limits={"cpu": "2", GPU: "1"})])
    assert pod_requests(p) == {"cpu": 1, GPU: 1}


def test_pod_level_resources_never_cover_gpus() -> None:
    p = pod([container("main")], resources={"limits": {GPU: "4"}, "requests": {"cpu": "2"}})
    assert gpu_requests(p) == {}


def test_custom_resource_names() -> None:
    p = pod([container("main", limits={"example.com/fpga": "2", GPU: "1"})])
    assert gpu_requests(p, names=("example.com/fpga",), prefixes=()) == {"example.com/fpga": 2}


def test_pods_counted_on_nodes(pods: list[dict[str, Any]]) -> None:
    p = by_name(pods)
    assert pod_counts_for_node(p["train-resnet-7x2kq"])
    assert pod_counts_for_node(p["notebook-bob-0"])  # terminating pods still hold their GPUs
    assert not pod_counts_for_node(p["eval-resnet-5hd8s"])  # Succeeded
    assert not pod_counts_for_node(p["notebook-ana-0"])  # Failed (Evicted)
    assert not pod_counts_for_node(p["train-llm-big-q8z2w"])  # not bound to a node


# --- nodes ------------------------------------------------------------------------------------


def test_node_gpu_info(nodes: list[dict[str, Any]]) -> None:
    n = by_name(nodes)
    info = node_gpu_info(n["gpu-node-1"])
    assert info.product == "NVIDIA-H100-80GB-HBM3"
    assert info.pools[GPU].allocatable == 8 and info.pools[GPU].capacity == 8
    assert info.gpu_count == 8 and info.memory_mib == 81559
    assert info.ready and not info.cordoned
    assert info.taints == ("nvidia.com/gpu=present:NoSchedule",)
    assert info.mig_strategy == "single" and info.sharing_strategy == "none"

    degraded = node_gpu_info(n["gpu-node-2"])
    assert degraded.cordoned
    assert (degraded.pools[GPU].allocatable, degraded.pools[GPU].capacity) == (7, 8)
    assert "node.kubernetes.io/unschedulable:NoSchedule" in degraded.taints

    assert node_gpu_info(n["cpu-node-1"]).pools == {}
    assert not node_gpu_info(n["cpu-node-1"]).ready


def test_product_label_fallbacks() -> None:
    def node(labels: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": "n", "labels": labels}, "status": {"allocatable": {GPU: "1"}}}

    assert node_gpu_info(node({"cloud.google.com/gke-accelerator": "nvidia-l4"})).product == "nvidia-l4"
    assert node_gpu_info(node({"karpenter.k8s.aws/instance-gpu-name": "a10g"})).product == "a10g"
    assert node_gpu_info(node({})).product == ""
    assert node_gpu_info(node({})).replicas == 1


def test_taints_are_cleaned() -> None:
    node = {
        "metadata": {"name": "n"},
        "spec": {"taints": [{"key": "evil", "value": "x\x1b]0;title\x07y", "effect": "NoSchedule"}]},
    }
    assert node_gpu_info(node).taints == ("evil=xy:NoSchedule",)


# --- allocation -------------------------------------------------------------------------------


def test_allocation_counts_only_live_pods(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
    cluster = allocate(nodes, pods)
    pool = cluster.nodes["gpu-node-1"].pools[GPU]
    # train-resnet 2 + sidecar-math 1; the Succeeded (4) and Evicted (1) pods are not counted
    assert (pool.allocatable, pool.capacity, pool.allocated, pool.free) == (8, 8, 3, 5)
    assert cluster.pods_by_node["gpu-node-1"] == [
        ("team-vision/sidecar-math", {GPU: 1.0}),
        ("team-vision/train-resnet-7x2kq", {GPU: 2.0}),
    ]
    assert "cpu-node-1" not in cluster.nodes  # no GPU pools
    assert cluster.pods_known


def test_unhealthy_device_lowers_the_denominator(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> None:
    node = allocate(nodes, pods).nodes["gpu-node-2"]
    pool = node.pools[GPU]
    assert (pool.allocatable, pool.capacity, pool.allocated, pool.free) == (7, 8, 3, 4)


def test_mig_profiles_are_separate_pools(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
    cluster = allocate(nodes, pods)
    pools = cluster.nodes["mig-node-1"].pools
    assert set(pools) == {MIG_1G, MIG_3G}  # the empty nvidia.com/gpu pool is dropped
    assert (pools[MIG_1G].allocatable, pools[MIG_1G].allocated) == (28, 1)
    assert (pools[MIG_3G].allocatable, pools[MIG_3G].allocated) == (8, 2)
    assert pools[MIG_1G].is_mig and pools[MIG_3G].is_mig
    a100 = "NVIDIA-A100-SXM4-80GB"
    assert (a100, GPU) not in cluster.totals
    assert cluster.totals[(a100, MIG_1G)].allocatable == 28
    assert cluster.totals[(a100, MIG_3G)].allocatable == 8


def test_time_sliced_pool_shows_physical_gpus(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> None:
    cluster = allocate(nodes, pods)
    pool = cluster.nodes["ts-node-1"].pools[GPU]
    assert pool.replicas == 4
    assert (pool.allocatable, pool.physical, pool.allocated, pool.free) == (16, 4, 1, 15)
    assert cluster.nodes["gpu-node-1"].pools[GPU].physical is None
    assert cluster.totals[("Tesla-T4-SHARED", GPU)].physical == 4


def test_cluster_totals(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
    total = allocate(nodes, pods).totals[("NVIDIA-H100-80GB-HBM3", GPU)]
    assert (total.nodes, total.allocatable, total.capacity, total.allocated, total.free) == (2, 15, 16, 6, 9)
    assert total.unavailable == 7  # gpu-node-2 is cordoned


def test_unlistable_pods_mean_unknown_not_zero(nodes: list[dict[str, Any]]) -> None:
    cluster = allocate(nodes, None)
    assert not cluster.pods_known
    assert cluster.pods_by_node == {}
    for node in cluster.nodes.values():
        for pool in node.pools.values():
            assert pool.allocated is None and pool.free is None
    for total in cluster.totals.values():
        assert total.allocated is None and total.free is None
    # an empty list is a real answer: nothing allocated
    assert allocate(nodes, []).nodes["gpu-node-1"].pools[GPU].allocated == 0


def test_dra_claims_are_flagged(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
    cluster = allocate(nodes, pods)
    assert cluster.nodes["gpu-node-2"].dra_claims
    assert not cluster.nodes["gpu-node-1"].dra_claims


# --- incremental index ------------------------------------------------------------------------


def test_index_matches_full_computation(pods: list[dict[str, Any]]) -> None:
    index = PodGpuIndex()
    for p in pods:
        index.upsert(p)
        index.upsert(p)  # a repeated MODIFIED event must not double count
    assert index.allocated("gpu-node-1") == {GPU: 3}
    assert index.allocated("mig-node-1") == {MIG_1G: 1, MIG_3G: 2}
    assert index.allocated("nowhere") == {}
    assert index.has_dra_claims("gpu-node-2")
    assert len(index) == len(pods)


def test_index_follows_watch_events(pods: list[dict[str, Any]]) -> None:
    p = by_name(pods)
    index = PodGpuIndex()
    for item in pods:
        index.upsert(item)

    finished = copy.deepcopy(p["train-resnet-7x2kq"])
    finished["status"]["phase"] = "Succeeded"
    index.upsert(finished)
    assert index.allocated("gpu-node-1") == {GPU: 1}
    assert [k for k, _ in index.pods_on("gpu-node-1")] == ["team-vision/sidecar-math"]

    index.remove("team-vision/sidecar-math")
    assert index.allocated("gpu-node-1") == {}
    assert index.pods_on("gpu-node-1") == []
    index.remove("team-vision/does-not-exist")

    # the pending pod gets bound to a node
    bound = copy.deepcopy(p["train-llm-big-q8z2w"])
    bound["spec"]["nodeName"] = "gpu-node-1"
    bound["status"]["phase"] = "Pending"
    index.upsert(bound)
    assert index.allocated("gpu-node-1") == {GPU: 8}

    index.remove("team-nlp/dra-inference-0")
    assert not index.has_dra_claims("gpu-node-2")


# --- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("100m", 0.1), ("1", 1), ("8", 8), ("1.5", 1.5), ("2Gi", 2 * 2**30), ("500Mi", 500 * 2**20),
        ("1e3", 1000), ("1E3", 1000), ("40G", 40e9), ("3455979810762", 3455979810762), ("1k", 1000),
        ("2113680788Ki", 2113680788 * 1024), (".5", 0.5), (2, 2), ("250n", 250e-9),
    ],
)  # fmt: skip
def test_parse_quantity(raw: object, value: float) -> None:
    assert parse_quantity(raw) == pytest.approx(value)


def test_parse_quantity_errors() -> None:
    with pytest.raises(ValueError):
        parse_quantity("lots")
    assert parse_quantity("lots", 0.0) == 0.0


def test_parse_quantity_is_exact_decimal_arithmetic() -> None:
    # A float product would give 7.000000000000001e-09, 0.009000000000000001 and 110.00000000000001.
    assert [parse_quantity(q) for q in ("7n", "9m", "1.1e2", "2.5u")] == [7e-9, 0.009, 110.0, 2.5e-6]


@pytest.mark.parametrize("raw", ["1K", "nan", "inf", "1_0", "1e3k", "1ki", "", "1e", "True"])
def test_parse_quantity_refuses_what_the_api_server_refuses(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(raw)


def test_format_quantities() -> None:
    assert fmt_bytes(40 * 2**30) == "40Gi"
    assert fmt_bytes(1.5 * 2**30) == "1.5Gi"
    assert fmt_bytes(500 * 2**20) == "500Mi"
    assert fmt_bytes(512) == "512"
    assert fmt_cpu(8) == "8"
    assert fmt_cpu(0.5) == "500m"
    assert fmt_cpu(191.45) == "191450m"


def test_gpu_requests_are_computed_once_per_object_inside_one_object_and_afresh_after(monkeypatch):
    from cockpit.kube import gpu as gpumod

    pod = {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "2"}, "requests": {"cpu": "1"}}}]}}
    calls = []
    real = gpumod.pod_requests
    monkeypatch.setattr(gpumod, "pod_requests", lambda p, keep=None: calls.append(1) or real(p, keep))
    with gpumod.one_object():
        assert gpumod.gpu_requests(pod) == {"nvidia.com/gpu": 2.0}
        assert gpumod.gpu_requests(pod) == {"nvidia.com/gpu": 2.0}
        assert gpumod.gpu_requests({"spec": pod["spec"]}) == {"nvidia.com/gpu": 2.0}  # another object
    assert len(calls) == 2
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "4"
    assert gpumod.gpu_requests(pod) == {"nvidia.com/gpu": 4.0}  # changed in place: read afresh
    assert len(calls) == 3
