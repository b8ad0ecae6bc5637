"""Why-pending on objects recorded from the demo cluster (real scheduler and Kueue messages)."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.kube import why

REC = json.loads((Path(__file__).parent / "fixtures" / "why_pending.json").read_text())
NODES = [{"metadata": {"labels": labels}} for labels in REC["node_labels"]]


def _workload(part: str) -> dict:
    return next(w for w in REC["workloads"] if part in w["metadata"]["name"])


def test_a_workload_over_quota_says_what_quota_is_short_and_its_place():
    line = why.why_workload(_workload("sam-finetune"), (1, 3))
    assert line == "Kueue: needs 2 more nvidia.com/gpu of a100-80gb quota; position 1 of 3 in gpu-queue"


def test_a_preempted_workload_says_by_what_then_what_it_waits_for():
    line = why.why_workload(_workload("embed-corpus"))
    assert line.startswith("Kueue: preempted by a higher-priority workload of the same queue; needs ")
    assert "of t4-shared quota" in line and "UID" not in line


def test_an_admitted_workload_has_no_reason():
    assert why.why_workload(_workload("detr-train")) == ""


def test_the_schedulers_message_is_cut_to_the_node_reasons():
    pod = REC["pods"][0]
    line = why.why_pod(pod, nodes=NODES, pvcs={}, storage_classes=[])
    assert line.startswith("no node fits (of 7): ") and "Insufficient nvidia.com/gpu" in line
    assert "preemption" not in line and "claims" not in line and not line.endswith((",", "."))


def test_a_product_no_node_has_is_named_before_the_schedulers_words():
    pod = json.loads(json.dumps(REC["pods"][0]))
    pod["spec"]["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-B200"}
    assert why.why_pod(pod, nodes=NODES) == "no node has nvidia.com/gpu.product=NVIDIA-B200"


def test_claims_and_storage_classes():
    sc = [{"metadata": {"name": "local", "annotations": {why.DEFAULT_CLASS_ANNOTATIONS[0]: "true"}},
           "volumeBindingMode": "WaitForFirstConsumer"}]
    pvc = {"metadata": {"name": "data"}, "spec": {}, "status": {"phase": "Pending"}}
    assert "WaitForFirstConsumer" in why.why_pvc(pvc, sc)
    assert "none is the default" in why.why_pvc(pvc, [{"metadata": {"name": "slow"}}])
    assert why.why_pvc({**pvc, "status": {"phase": "Bound"}}, sc) == ""
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Pending"},
           "spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "gone"}}]}}
    assert why.why_pod(pod, pvcs={}) == "claim gone does not exist"


def test_a_suspended_job_without_a_workload_names_its_queue():
    job = {"metadata": {"labels": {why.QUEUE_LABEL: "gpu-queue"}}, "spec": {"suspend": True}, "status": {}}
    assert why.why_job(job) == "suspended until Kueue admits it to queue gpu-queue"


def test_cluster_text_is_cleaned():
    assert "\x1b" not in why.scheduler_summary("0/3 nodes are available: 3 \x1b[31mInsufficient\x1b[0m gpu.")
