"""Journeys in the installed `cockpit`, in tmux at 80x24 against the demo cluster: launching from
the form onto a chosen GPU product, the YAML preview on ctrl+p, Argo stop/retry/resubmit with
their confirmations, a mistyped --context, and long pod names at 80 columns.

Assertions read the terminal (`tmux capture-pane`) and the cluster (the API)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.conftest import wait_for
from tests.support.tmux import cockpit_command

PRODUCT_LABEL = "nvidia.com/gpu.product"
A100 = "NVIDIA-A100-SXM4-80GB"
WF = ("argoproj.io", "v1alpha1")


def squeezed(screen: str) -> str:
    """The screen without spaces, line ends and box edges: a toast's wrapped text reads whole."""
    return re.sub(r"[\s▌▐│▎▊▔▁]", "", screen)


def filter_to(term, text: str) -> None:
    """`/text` Enter, typed at a person's pace."""
    term.keys("/")
    time.sleep(1.0)
    term.type_slowly(text)
    term.keys("Enter")
    term.wait_for(r"filter: ", timeout=30)


def short_name(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 100000:05d}"


@pytest.fixture
def undo():
    todo: list = []
    yield todo.append
    for fn in reversed(todo):
        try:
            fn()
        except ApiException as e:
            if e.status != 404:
                raise


def schedulable_free(api, product: str) -> int:
    """Free GPUs of `product` for a new pod, counted here from the API on its own: Ready,
    uncordoned nodes without a NoSchedule/NoExecute taint, minus what running pods ask for."""
    v1 = client.CoreV1Api(api)
    free = 0
    for node in v1.list_node(label_selector=f"{PRODUCT_LABEL}={product}").items:
        ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or ())
        tainted = any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints or ())
        if not ready or node.spec.unschedulable or tainted:
            continue
        pods = v1.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node.metadata.name}").items
        used = sum(int((c.resources.limits or {}).get("nvidia.com/gpu", 0)) for p in pods
                   if p.status.phase not in ("Succeeded", "Failed") for c in p.spec.containers if c.resources)
        free += int(node.status.allocatable.get("nvidia.com/gpu", 0)) - used
    return free


class RunningPods:
    """Every pod seen Running for a label selector (name -> (node, its Job)), from a watch: a
    demo Job pod runs only seconds, and a poll could miss it."""

    def __init__(self, api, namespace: str, selector: str):
        self.seen: dict[str, tuple[str, str]] = {}
        self._w = watch.Watch()
        v1 = client.CoreV1Api(api)

        def run():
            try:
                for event in self._w.stream(v1.list_namespaced_pod, namespace, label_selector=selector,
                                            timeout_seconds=300):
                    pod = event["object"]
                    if pod.status.phase == "Running" and pod.spec.node_name:
                        job = (pod.metadata.labels or {}).get("job-name", "")
                        self.seen[pod.metadata.name] = (pod.spec.node_name, job)
            except Exception:  # noqa: BLE001 - the watch ends with the test
                pass

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self):
        self._w.stop()


def test_launch_from_the_form_onto_the_chosen_gpu_product(tmux_cockpit, kube_admin, undo):
    ns = "team-vision"
    batch = client.BatchV1Api(kube_admin)
    running = RunningPods(kube_admin, ns, "app.kubernetes.io/name=pytorch-train")
    term = tmux_cockpit(f"--context cockpit-demo -n {ns}")
    term.wait_for(r"● live", timeout=60)
    term.keys(":", "gpu", "Enter")
    term.wait_for(r"gpu-a100-01\s+gpu", timeout=60)
    term.keys("n")
    term.wait_for(r"pytorch-train  PyTorch", timeout=60)
    term.keys("End", "Up", "Enter")  # pytorch-train: the one before the last (tensorboard)
    term.wait_for(rf"Launch pytorch-train into {ns}", timeout=60)
    # The name stays empty (pytorch-train-<UTC time>): typing right after a Tab is not safe on a
    # loaded machine, as a key goes to the field focused when it arrives, before the Tab moves on.
    term.keys(*["Tab"] * 7)  # name, image, command, args, gpus, gpu_resource -> gpu_product
    term.wait_for(r"gpu_product\s+\S\s+any GPU product", timeout=30)
    screen = ""
    for _ in range(4):  # Enter reaches the Select once the Tabs have been taken in
        time.sleep(3)
        term.keys("Enter")  # the product list opens: each product with what a new pod can get
        try:
            screen = term.wait_for(rf"{A100}\s+\(\d+ free", timeout=15)
            break
        except AssertionError:
            continue
    shown = int(re.search(rf"{A100}\s+\((\d+) free", screen).group(1))
    # Cordoned nodes are not counted (before: A100 "13 free" with 5 schedulable).
    assert shown == schedulable_free(kube_admin, A100)
    term.keys("Down")
    time.sleep(1)
    term.keys("Enter")
    term.wait_for(rf"gpu_product\s+\S\s+{A100}", timeout=30)
    term.keys("C-p")  # the YAML preview, not the command palette
    screen = term.wait_for(r"Preview pytorch-train", timeout=30)
    assert "kind: Job" in screen and "Search for commands" not in screen
    term.keys("Escape")
    term.wait_for(rf"Launch pytorch-train into {ns}", timeout=30)
    before = {j.metadata.name for j in batch.list_namespaced_job(ns).items}
    term.keys("C-s")
    term.wait_for(r"created Job", timeout=60)
    (name,) = wait_for(lambda: [j.metadata.name for j in batch.list_namespaced_job(
        ns, label_selector="app.kubernetes.io/name=pytorch-train").items if j.metadata.name not in before],
        timeout=30, what="the new Job")
    undo(lambda: batch.delete_namespaced_job(name, ns, propagation_policy="Background"))
    assert name in squeezed(term.screen())  # the toast names it
    try:
        wait_for(lambda: [p for p, (_, job) in running.seen.items() if job == name], timeout=90,
                 what="the launched pod Running")
    finally:
        running.stop()
    v1 = client.CoreV1Api(kube_admin)
    for pod, (node, job) in running.seen.items():
        if job == name:
            assert v1.read_node(node).metadata.labels.get(PRODUCT_LABEL) == A100, (pod, node)
    job = batch.read_namespaced_job(name, ns)
    assert job.spec.template.spec.node_selector == {PRODUCT_LABEL: A100}


def argo_workflow(custom, ns: str, name: str) -> None:
    ann = {"pod-complete.stage.kwok.x-k8s.io/delay": "87600h"}  # the step runs until stopped
    custom.create_namespaced_custom_object(*WF, ns, "workflows", {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "preprocess", "template": "work"}]]},
            {"name": "work", "metadata": {"annotations": ann},
             "container": {"image": "busybox", "command": ["sh", "-c", "preprocess"]}}]}})


def test_argo_stop_asks_first_then_retry_and_resubmit(tmux_cockpit, kube_admin, undo):
    ns = "team-nlp"
    name = short_name("ux-wf")
    custom = client.CustomObjectsApi(kube_admin)

    def wf():
        return custom.get_namespaced_custom_object(*WF, ns, "workflows", name)

    def delete_all():
        for w in custom.list_namespaced_custom_object(*WF, ns, "workflows")["items"]:
            if w["metadata"]["name"].startswith(name):
                custom.delete_namespaced_custom_object(*WF, ns, "workflows", w["metadata"]["name"])

    undo(delete_all)
    argo_workflow(custom, ns, name)
    wait_for(lambda: any(n.get("type") == "Pod" and n.get("phase") == "Running"
                         for n in ((wf().get("status") or {}).get("nodes") or {}).values()), 60, what="step running")
    term = tmux_cockpit(f"--context cockpit-demo -n {ns}")
    term.wait_for(r"● live")
    term.keys(":", "wf", "Enter")
    term.wait_for(r"Workflows \(", timeout=30)
    filter_to(term, name)
    term.wait_for(rf"{name}\s+Running", timeout=30)

    term.keys("x")
    screen = term.wait_for(r"Stop 1 workflow\?")
    assert f"Workflow {ns}/{name}" in screen
    term.keys("n")
    term.wait_gone(r"Stop 1 workflow\?")
    time.sleep(1.0)
    assert "shutdown" not in wf()["spec"]  # cancelled: untouched
    assert (wf().get("status") or {}).get("phase") == "Running"

    term.keys("x")
    term.wait_for(rf"Workflow {ns}/{name}")
    term.keys("y")
    wait_for(lambda: wf()["spec"].get("shutdown") == "Stop", 15, what="stopped")
    wait_for(lambda: (wf().get("status") or {}).get("phase") in ("Failed", "Error"), 60, what="stop finished")
    term.wait_for(rf"{name}\s+(Failed|Error)")

    retried_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    term.keys("R")  # right after the stop
    term.wait_for(rf"Retry 1 workflow\?[\s\S]*Workflow {ns}/{name}")
    term.keys("y")

    def rerun():
        nodes = (wf().get("status") or {}).get("nodes") or {}
        return [n for n in nodes.values() if n.get("type") == "Pod" and (n.get("startedAt") or "") >= retried_at
                and n.get("phase") == "Running"]

    step = wait_for(rerun, 90, what="the preprocess step running again")[0]
    time.sleep(3)
    step = ((wf().get("status") or {}).get("nodes") or {})[step["id"]]
    assert step.get("phase") == "Running" and "not found" not in (step.get("message") or ""), step
    term.wait_for(rf"{name}\s+Running")

    term.keys("C-r")
    term.wait_for(rf"Resubmit 1 workflow\?[\s\S]*Workflow {ns}/{name}")
    term.keys("y")
    (new,) = wait_for(lambda: [w["metadata"]["name"] for w in custom.list_namespaced_custom_object(
        *WF, ns, "workflows", label_selector=f"workflows.argoproj.io/resubmitted-from-workflow={name}")["items"]],
        30, what="the resubmitted workflow")
    # <name>-xxxxx as argo names it (before: ux-wf2 became ux-xpr98), and the toast says so
    assert re.fullmatch(rf"{name}-[a-z0-9]{{5}}", new), new
    deadline = time.monotonic() + 20
    while f"as{new}" not in squeezed(term.screen()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert f"resubmitted{ns}/{name}as{new}" in squeezed(term.screen()), term.screen()


def test_unknown_context_is_refused_before_the_ui(demo_cluster):
    env = {**os.environ, "KUBECONFIG": str(demo_cluster.kubeconfig)}
    done = subprocess.run([cockpit_command(), "--context", "nosuch"], env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "no context named 'nosuch'" in done.stderr
    assert "known contexts: cockpit-demo, cockpit-demo-viewer" in done.stderr
    launch = subprocess.run([cockpit_command(), "launch", "pytorch-train", "--context", "nosuch", "--dry-run"],
                            env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert launch.returncode != 0 and "nosuch" in launch.stderr and "cockpit-demo-viewer" in launch.stderr


def test_two_long_pod_names_of_one_job_stay_apart_at_80_columns(tmux_cockpit, kube_admin, undo):
    ns = "team-vision"
    name = f"pytorch-train-20261201-223344-resnet50-{int(time.time()) % 100000:05d}"
    batch, v1 = client.BatchV1Api(kube_admin), client.CoreV1Api(kube_admin)
    batch.create_namespaced_job(ns, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"parallelism": 2, "completions": 2, "backoffLimit": 0, "template": {
            "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "87600h"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
    undo(lambda: batch.delete_namespaced_job(name, ns, propagation_policy="Background"))
    pods = wait_for(lambda: [p.metadata.name for p in v1.list_namespaced_pod(ns, label_selector=f"job-name={name}").items]
                    if len(v1.list_namespaced_pod(ns, label_selector=f"job-name={name}").items) == 2 else None,
                    30, what="two pods")
    term = tmux_cockpit(f"--context cockpit-demo -n {ns}")
    term.wait_for(r"● live")
    filter_to(term, name)
    screen = term.wait_for(r"pytorch-train.*\n.*pytorch-train", timeout=30)
    rows = [line for line in screen.splitlines() if "pytorch-train" in line and "filter:" not in line]
    assert len(rows) == 2 and all(len(line) <= 80 for line in screen.splitlines())
    assert all("…" in row for row in rows), rows  # the names did need shortening
    for pod in pods:  # each pod's unique tail is on screen, on its own row
        assert sum(pod[-5:] in row for row in rows) == 1, (pod, rows)
