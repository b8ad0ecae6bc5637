"""`cockpit why NAMESPACE/NAME` against the demo cluster: the scheduler's, Kueue's and the
storage layer's reasons, in one line each, from the installed command."""

from __future__ import annotations

import subprocess

from kubernetes import client

from tests.conftest import wait_for
from tests.integration.test_read_only import cockpit_exe


def why(cluster, target: str) -> subprocess.CompletedProcess:
    return subprocess.run([cockpit_exe(), "--kubeconfig", str(cluster.kubeconfig), "why", target],
                          capture_output=True, text=True, timeout=60)


def _pod(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "busybox",
                                     "resources": spec.pop("resources", {})}], **spec}}


def test_a_gpu_product_no_node_has(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_pod("team-nlp", _pod(unique_name, nodeSelector={"nvidia.com/gpu.product": "NVIDIA-B200"},
                                                resources={"limits": {"nvidia.com/gpu": "1"}}))
    try:
        def said() -> str:
            out = why(demo_cluster, f"team-nlp/{unique_name}")
            return out.stdout if out.returncode == 0 else ""

        wait_for(lambda: "no node has nvidia.com/gpu.product=NVIDIA-B200" in said(), 30, interval=1,
                 what="the missing product named")
        assert said().startswith(f"Pod team-nlp/{unique_name}: ")
    finally:
        core.delete_namespaced_pod(unique_name, "team-nlp", grace_period_seconds=0)


def test_too_many_gpus_for_any_node_gives_the_schedulers_reason(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_pod("team-nlp", _pod(unique_name, resources={"limits": {"nvidia.com/gpu": "64"}}))
    try:
        wait_for(lambda: "Insufficient nvidia.com/gpu" in why(demo_cluster, f"team-nlp/{unique_name}").stdout,
                 60, interval=1, what="the scheduler's reason")
        line = why(demo_cluster, f"team-nlp/{unique_name}").stdout
        assert line.startswith(f"Pod team-nlp/{unique_name}: no node fits (of ")
        assert "preemption" not in line and line.count("\n") == 1
    finally:
        core.delete_namespaced_pod(unique_name, "team-nlp", grace_period_seconds=0)


def test_a_claim_with_a_storage_class_that_does_not_exist(demo_cluster, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_persistent_volume_claim("team-nlp", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": unique_name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    pod = f"{unique_name}-user"
    core.create_namespaced_pod("team-nlp", _pod(pod, volumes=[{"name": "data", "persistentVolumeClaim": {
        "claimName": unique_name}}]))
    try:
        out = why(demo_cluster, f"team-nlp/{unique_name}")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == (f"PersistentVolumeClaim team-nlp/{unique_name}: claim {unique_name} is "
                                      "Pending: StorageClass no-such-class does not exist")
        # The pod that uses it says the same, not the scheduler's generic words.
        assert "StorageClass no-such-class does not exist" in why(demo_cluster, f"team-nlp/{pod}").stdout
    finally:
        core.delete_namespaced_pod(pod, "team-nlp", grace_period_seconds=0)
        core.delete_namespaced_persistent_volume_claim(unique_name, "team-nlp")


def test_a_job_over_its_teams_quota_gets_kueues_reason_and_its_place(demo_cluster):
    # Seeded by the demo: 8 A100s asked of a team whose quota and borrowing leave 6.
    out = why(demo_cluster, "team-vision/sam-finetune-8gpu")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("Job team-vision/sam-finetune-8gpu: Kueue: ")
    assert "quota" in line and "nvidia.com/gpu" in line
    assert "position 1 of 1 in gpu-queue" in line


def test_nothing_of_that_name_is_an_error_naming_it(demo_cluster):
    out = why(demo_cluster, "team-nlp/no-such-thing")
    assert out.returncode == 1 and "no Job, Workload, pod or PVC named no-such-thing" in out.stderr
    assert out.stdout == ""
