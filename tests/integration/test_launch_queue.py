"""`cockpit launch --queue Q` submits through Kueue: the real controller admits it within the
team's quota and its pod runs on the product asked for; over quota it stays suspended with
Kueue's reason, which `cockpit why` reports."""

from __future__ import annotations

import subprocess

from kubernetes import client

from tests.conftest import wait_for
from tests.integration.test_read_only import cockpit_exe
from tests.integration.test_why import why


def launch(cluster, *args) -> subprocess.CompletedProcess:
    return subprocess.run([cockpit_exe(), "--kubeconfig", str(cluster.kubeconfig), "launch", *args],
                          capture_output=True, text=True, timeout=180)


def test_a_launch_through_a_queue_runs_when_admitted_and_waits_over_quota(demo_cluster, kube_admin, unique_name):
    batch, core = client.BatchV1Api(kube_admin), client.CoreV1Api(kube_admin)
    small, big = f"{unique_name}-s", f"{unique_name}-b"
    try:
        out = launch(demo_cluster, "pytorch-train", "-n", "team-vision", "--queue", "gpu-queue",
                     "--set", f"name={small}", "--set", "gpu_product=Tesla-T4-SHARED",
                     "--set", "pod_annotations.pod-complete.stage.kwok.x-k8s.io/delay=10m")
        assert out.returncode == 0, out.stderr
        assert "submitted through Kueue queue gpu-queue" in out.stdout
        job = batch.read_namespaced_job(small, "team-vision")
        assert job.metadata.labels["kueue.x-k8s.io/queue-name"] == "gpu-queue"

        def running_on_t4() -> bool:
            pods = core.list_namespaced_pod("team-vision", label_selector=f"job-name={small}").items
            return any(p.status.phase == "Running" and p.spec.node_name and "t4" in p.spec.node_name for p in pods)

        wait_for(running_on_t4, 90, interval=1, what="the admitted job's pod Running on a T4 node")
        # 8 A100s: more than the team's quota (4, 2 held by the seeded detr-train) and all it may borrow (4).
        out = launch(demo_cluster, "pytorch-multigpu", "-n", "team-vision", "--queue", "gpu-queue",
                     "--set", f"name={big}", "--set", "gpus=8", "--set", "gpu_product=NVIDIA-A100-SXM4-80GB")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: "quota" in why(demo_cluster, f"team-vision/{big}").stdout, 60, interval=1,
                 what="Kueue's quota reason")
        assert batch.read_namespaced_job(big, "team-vision").spec.suspend is True
        assert core.list_namespaced_pod("team-vision", label_selector=f"job-name={big}").items == []
    finally:
        for name in (small, big):
            try:
                batch.delete_namespaced_job(name, "team-vision", propagation_policy="Background")
            except client.ApiException:
                pass


def test_queue_errors_name_what_is_there(demo_cluster):
    out = launch(demo_cluster, "pytorch-train", "-n", "team-vision", "--queue", "nope", "--set", "name=never")
    assert out.returncode != 0 and "no LocalQueue nope in namespace team-vision (queues there: gpu-queue)" in out.stderr
    out = launch(demo_cluster, "argo-pipeline", "-n", "team-vision", "--queue", "gpu-queue", "--set", "name=never")
    assert out.returncode != 0 and "--queue: Kueue queues Jobs; this preset makes Workflow" in out.stderr
