"""At an 80x24 terminal: a command typed while the cockpit starts runs; the Kueue panes answer
"why is my job not running?" and "who holds the GPUs?" against the real Kueue controller."""

from __future__ import annotations

import re

from kubernetes import client

from cockpit.launch.apply import launching_user
from tests.integration.test_launch_queue import launch



def test_a_command_typed_while_the_cockpit_starts_runs(tmux_cockpit):
    term = tmux_cockpit("--context cockpit-demo")
    term.burst(":jobs", then="Enter")  # before the first frame: the terminal is still in cooked mode
    screen = term.wait_for(r"Jobs \(\d+\)", timeout=60)
    assert ":jobs" not in screen.splitlines()[-2], screen


def load_preset_text(text: str):
    from cockpit.launch.preset import parse_preset

    return parse_preset(text, "pytorch-train.yaml", origin="builtin")


def _workload_of(custom, namespace: str, job: str) -> dict | None:
    for wl in custom.list_namespaced_custom_object("kueue.x-k8s.io", "v1beta2", namespace, "workloads")["items"]:
        if any(r.get("name") == job for r in wl["metadata"].get("ownerReferences") or ()):
            return wl
    return None


def test_queue_panes_say_why_a_job_waits_and_what_each_team_holds(tmux_cockpit, kube_admin, demo_cluster,
                                                                  unique_name):
    custom = client.CustomObjectsApi(kube_admin)
    # The seeded over-quota job is pending in Kueue itself.
    wl = _workload_of(custom, "team-vision", "sam-finetune-8gpu")
    assert wl is not None
    reserved = next(c for c in wl["status"]["conditions"] if c["type"] == "QuotaReserved")
    assert reserved["status"] == "False" and "insufficient unused quota" in reserved["message"]

    term = tmux_cockpit("--context cockpit-demo")
    term.wait_for(r"● live", timeout=60)
    term.burst(":wl", then="Enter")
    screen = term.wait_for(r"sam-finetune-8gpu\s+Pending\s+1/1\s+8 needs 2 more nvidia\.com/gpu", timeout=60)
    assert "Workloads (" in screen
    assert "embed-corpus" in screen and "preempted by a higher-priority" in screen
    term.burst(":cq", then="Enter")
    screen = term.wait_for(r"team-vision\s+\d+/\d+.*a100-80gb \d+/4", timeout=60)
    assert "ClusterQueues (2)" in screen and "GPU USED" in screen
    term.burst(":gpu", then="Enter")
    term.wait_for(r"Kueue GPU quota: team-nlp \d+/\d+ · team-vision \d+/\d+", timeout=60)
    # Who holds the GPUs: hours per namespace, user and owner, from the pods running now. A job
    # launched from the shell carries its user's name.
    out = launch(demo_cluster, "pytorch-train", "-n", "team-nlp", "--set", f"name={unique_name}",
                 "--set", "pod_annotations.pod-complete.stage.kwok.x-k8s.io/delay=10m")
    assert out.returncode == 0, out.stderr
    try:
        term.burst(":gpuhours", then="Enter")
        screen = term.wait_for(rf"user\s+{re.escape(launching_user())}\s+1\s", timeout=60)
        assert re.search(r"namespace\s+team-nlp\s+\d+\s+[\d.,]+", screen), screen
        assert f"Job team-nlp/{unique_name}" in screen or "product" in screen
        pods = client.CoreV1Api(kube_admin).list_namespaced_pod(
            "team-nlp", label_selector=f"job-name={unique_name},gpu-cockpit.io/user={launching_user()}").items
        assert [p.status.phase for p in pods] == ["Running"]
    finally:
        client.BatchV1Api(kube_admin).delete_namespaced_job(unique_name, "team-nlp", propagation_policy="Background")



def test_launch_form_offers_the_namespaces_queues_with_free_quota_and_submits_through_one(tmux_cockpit, kube_admin):
    import time

    from tests.conftest import wait_for
    from tests.e2e.test_launch_argo_tmux import RunningPods

    ns = "team-vision"
    batch = client.BatchV1Api(kube_admin)
    custom = client.CustomObjectsApi(kube_admin)
    running = RunningPods(kube_admin, ns, "app.kubernetes.io/name=pytorch-train")
    before = {j.metadata.name for j in batch.list_namespaced_job(ns).items}
    term = tmux_cockpit(f"--context cockpit-demo -n {ns}")
    term.wait_for(r"● live", timeout=60)
    term.keys("n")
    term.wait_for(r"pytorch-train  PyTorch", timeout=60)
    term.keys("End", "Up", "Enter")  # pytorch-train: the one before the last (tensorboard)
    term.wait_for(rf"Launch pytorch-train into {ns}", timeout=60)
    # From the namespace field past every parameter of the preset to the queue field.
    from cockpit.launch.library import builtin_preset_files

    text = next(t for f, t in builtin_preset_files() if f.endswith("/pytorch-train.yaml"))
    params = len(load_preset_text(text).parameters)
    term.keys(*["Tab"] * (params + 1))
    term.wait_for(r"queue\s+\S\s+no queue \(runs at once\)", timeout=30)
    screen = ""
    for _ in range(4):  # Enter reaches the Select once the Tabs have been taken in
        time.sleep(2)
        term.keys("Enter")
        try:
            screen = term.wait_for(r"gpu-queue → team-vision: .*free", timeout=15)
            break
        except AssertionError:
            continue
    assert re.search(r"a100-80gb \d+ free", screen), screen
    term.keys("Down")
    time.sleep(1)
    term.keys("Enter")
    term.wait_for(r"queue\s+\S\s+gpu-queue →", timeout=30)
    term.keys("C-s")
    term.wait_for(r"created Job", timeout=60)
    try:
        (name,) = wait_for(lambda: [j.metadata.name for j in batch.list_namespaced_job(
            ns, label_selector="app.kubernetes.io/name=pytorch-train").items if j.metadata.name not in before],
            timeout=30, what="the new Job")
        try:
            assert batch.read_namespaced_job(name, ns).metadata.labels["kueue.x-k8s.io/queue-name"] == "gpu-queue"
            wait_for(lambda: _workload_of(custom, ns, name) is not None and any(
                c["type"] == "Admitted" and c["status"] == "True"
                for c in _workload_of(custom, ns, name)["status"].get("conditions") or ()),
                timeout=60, what="Kueue admits it")
            wait_for(lambda: [p for p, (_, job) in running.seen.items() if job == name], timeout=90,
                     what="its pod Running")
        finally:
            batch.delete_namespaced_job(name, ns, propagation_policy="Background")
    finally:
        running.stop()
