"""What the log view says when there is nothing to stream: a Pending pod, or a previous log of
a container that never restarted; and how saved lines of several pods are ordered."""

from __future__ import annotations

from cockpit.kube.logs import LogLine, merge_by_time, no_previous_run, pod_not_started


def pending_pod(**status) -> dict:
    return {"metadata": {"name": "train-0", "namespace": "team"},
            "spec": {"containers": [{"name": "train"}]},
            "status": {"phase": "Pending", **status}}


def test_an_unschedulable_pod_has_no_log_yet():
    pod = pending_pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                   "message": "0/8 nodes are available: 8 Insufficient nvidia.com/gpu."}])
    assert pod_not_started(pod, "train") == (
        "pod Pending (Unschedulable): 0/8 nodes are available: 8 Insufficient nvidia.com/gpu.")


def test_a_creating_container_has_no_log_yet():
    pod = pending_pod(containerStatuses=[{"name": "train", "state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert pod_not_started(pod, "train") == "pod Pending (ContainerCreating)"


def test_a_running_pod_has_a_log():
    running = {**pending_pod(), "status": {"phase": "Running"}}
    assert pod_not_started(running, "train") == ""
    # a pod still Pending overall whose container already runs (an init sidecar pattern)
    started = pending_pod(containerStatuses=[{"name": "train", "state": {"running": {}}}])
    assert pod_not_started(started, "train") == ""


def test_previous_log_needs_a_restart():
    fresh = {"status": {"containerStatuses": [{"name": "train", "restartCount": 0, "state": {"running": {}}}]}}
    assert no_previous_run(fresh, "train") == "container train has not restarted: no previous log"
    restarted = {"status": {"containerStatuses": [{"name": "train", "restartCount": 2}]}}
    assert no_previous_run(restarted, "train") == ""
    assert no_previous_run(fresh, "other") == ""  # unknown container: let the server say


def test_lines_of_several_pods_are_saved_in_time_order():
    a = [LogLine("a1", "2026-12-01T10:00:01Z", "a"), LogLine("a2", "2026-12-01T10:00:03Z", "a")]
    b = [LogLine("b1", "2026-12-01T10:00:02.5Z", "b")]
    assert [line.text for line in merge_by_time([a, b])] == ["a1", "b1", "a2"]
    assert merge_by_time([a]) is a
