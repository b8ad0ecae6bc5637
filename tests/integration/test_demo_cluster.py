"""The demo cluster, checked through the real API server it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

from tests.conftest import wait_for


def core(api):
    return client.CoreV1Api(api)


def test_nodes_expose_gpu_resources_and_gfd_labels(kube_admin):
    nodes = {n.metadata.name: n for n in core(kube_admin).list_node().items}
    a100 = nodes["gpu-a100-01"]
    assert a100.status.allocatable["nvidia.com/gpu"] == "8"
    assert a100.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert a100.metadata.labels["nvidia.com/gpu.count"] == "8"
    assert nodes["gpu-h100-01"].metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"

    mig = nodes["gpu-a100-mig-01"]
    assert mig.metadata.labels["nvidia.com/mig.strategy"] == "mixed"
    mig_pools = {k: v for k, v in mig.status.allocatable.items() if k.startswith("nvidia.com/mig-")}
    assert len(mig_pools) >= 3 and "nvidia.com/gpu" not in mig.status.allocatable

    t4 = nodes["gpu-t4-shared-01"]
    assert t4.metadata.labels["nvidia.com/gpu.replicas"] == "4"
    assert t4.metadata.labels["nvidia.com/gpu.sharing-strategy"] == "time-slicing"
    assert t4.status.allocatable["nvidia.com/gpu"] == "16"

    assert not any(k.endswith("/gpu") for k in nodes["cpu-01"].status.allocatable)
    assert nodes["gpu-a100-03"].spec.unschedulable is True
    for name, n in nodes.items():
        if name != "cpu-01":
            assert n.metadata.labels.get("nvidia.com/gpu.present") == "true", name
        ready = {c.type: c.status for c in n.status.conditions or []}
        assert ready.get("Ready") == "True", name


def test_seeded_workloads_cover_the_cases(kube_admin):
    pods = core(kube_admin).list_pod_for_all_namespaces().items
    by_name = {(p.metadata.namespace, p.metadata.name): p for p in pods}
    dev = by_name[("team-vision", "dev-box-alice")]
    assert dev.status.phase == "Running"
    assert dev.spec.volumes[0].persistent_volume_claim.claim_name == "alice-data"
    assert dev.spec.containers[0].volume_mounts[0].mount_path == "/data"

    pending = [p for p in pods if p.metadata.name.startswith("llama-pretrain-16gpu")]
    assert pending and pending[0].status.phase == "Pending"
    cond = next(c for c in pending[0].status.conditions if c.type == "PodScheduled")
    assert cond.reason == "Unschedulable" and "Insufficient nvidia.com/gpu" in cond.message

    assert any(p.metadata.namespace == "gpu-operator" and p.metadata.name.startswith("nvidia-dcgm-exporter")
               for p in pods)

    def job_states():
        states = set()
        for j in client.BatchV1Api(kube_admin).list_job_for_all_namespaces().items:
            conds = {c.type for c in j.status.conditions or [] if c.status == "True"}
            states |= {"Complete"} & conds or {"Failed"} & conds or {"Running"}
        return {"Complete", "Failed", "Running"} <= states

    wait_for(job_states, 30, what="seeded jobs running, complete and failed")
    pvcs = {p.metadata.name: p.status.phase for p in core(kube_admin).list_persistent_volume_claim_for_all_namespaces().items}
    assert pvcs["alice-data"] == "Bound" and pvcs["scratch-fast"] == "Pending"
    custom = client.CustomObjectsApi(kube_admin)
    exps = custom.list_cluster_custom_object("kubeflow.org", "v1beta1", "experiments")["items"]
    conds = {e["metadata"]["name"]: e["status"]["conditions"][-1]["type"] for e in exps}
    assert conds == {"bert-lr-search": "Running", "resnet-bs-search": "Succeeded"}
    running = next(e for e in exps if e["metadata"]["name"] == "bert-lr-search")
    assert running["status"]["currentOptimalTrial"]["bestTrialName"]
    trials = custom.list_namespaced_custom_object("kubeflow.org", "v1beta1", "team-nlp", "trials",
                                                  label_selector="katib.kubeflow.org/experiment=bert-lr-search")
    assert {t["status"]["conditions"][-1]["type"] for t in trials["items"]} >= {"Succeeded", "Running", "Failed"}


def gpu_job(name: str, gpus: int, run_for: str = "1s") -> dict:
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": run_for}},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "train", "image": "nvcr.io/nvidia/pytorch:24.08-py3", "command": ["python", "train.py"],
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}},
    }


def test_gpu_job_is_scheduled_on_a_gpu_node_and_completes(kube_admin, unique_name):
    batch = client.BatchV1Api(kube_admin)
    batch.create_namespaced_job("team-vision", gpu_job(unique_name, 1))

    def complete():
        j = batch.read_namespaced_job(unique_name, "team-vision")
        return any(c.type == "Complete" and c.status == "True" for c in j.status.conditions or [])

    wait_for(complete, 60, what="job Complete")
    pods = core(kube_admin).list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items
    node = core(kube_admin).read_node(pods[0].spec.node_name)
    assert int(node.status.allocatable.get("nvidia.com/gpu", "0")) > 0
    assert pods[0].status.phase == "Succeeded"


def test_job_wanting_more_gpus_than_any_node_stays_pending(kube_admin, unique_name):
    client.BatchV1Api(kube_admin).create_namespaced_job("team-vision", gpu_job(unique_name, 64))

    def unschedulable():
        pods = core(kube_admin).list_namespaced_pod("team-vision", label_selector=f"job-name={unique_name}").items
        for p in pods:
            for c in p.status.conditions or []:
                if c.type == "PodScheduled" and c.status == "False" and "Insufficient nvidia.com/gpu" in (c.message or ""):
                    return p
        return None

    pod = wait_for(unschedulable, 30, what="Unschedulable condition")
    assert pod.status.phase == "Pending" and not pod.spec.node_name


def test_logs_stream_and_follow(kube_admin, demo_cluster, unique_name):
    from cockpit.demo.simulator import append_lines

    api = core(kube_admin)
    api.create_namespaced_pod("team-vision", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique_name},
        "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"]}]}})
    logfile = demo_cluster.logs_dir / f"{unique_name}.log"
    append_lines(logfile, ["epoch 1 started"])
    client.CustomObjectsApi(kube_admin).create_namespaced_custom_object(
        "kwok.x-k8s.io", "v1alpha1", "team-vision", "logs",
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": unique_name},
         "spec": {"logs": [{"containers": ["main"], "logsFile": str(logfile), "follow": True}]}})
    wait_for(lambda: api.read_namespaced_pod(unique_name, "team-vision").status.phase == "Running", 30,
             what="pod Running")

    def first_line():
        try:
            return "epoch 1 started" in api.read_namespaced_pod_log(unique_name, "team-vision", container="main")
        except ApiException:
            return False

    wait_for(first_line, 30, what="log served")
    resp = api.read_namespaced_pod_log(unique_name, "team-vision", container="main", follow=True,
                                       _preload_content=False)
    seen: list[str] = []
    try:
        append_lines(logfile, ["epoch 2 started", "epoch 3 started"])
        deadline = time.monotonic() + 20
        for chunk in resp.stream(1024):
            seen.extend(chunk.decode().splitlines())
            if "epoch 3 started" in seen or time.monotonic() > deadline:
                break
    finally:
        resp.release_conn()
    assert seen[0] == "epoch 1 started"
    assert "epoch 3 started" in seen, seen


def test_exec_returns_output(kube_admin):
    out = stream(core(kube_admin).connect_get_namespaced_pod_exec, "dev-box-alice", "team-vision",
                 container="jupyter", command=["sh", "-c", "echo hello-from-$((6*7))"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out.strip() == "hello-from-42"


def test_port_forward_carries_an_http_request(kube_admin):
    pf = portforward(core(kube_admin).connect_get_namespaced_pod_portforward, "dev-box-alice", "team-vision",
                     ports="8888")
    sock = pf.socket(8888)
    sock.setblocking(True)
    sock.settimeout(10)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            part = sock.recv(4096)
            if not part:
                break
            data += part
    except TimeoutError:
        pass
    finally:
        sock.close()
        pf.close()
    assert data.startswith(b"HTTP/1.") and b"Jupyter" in data


def test_argo_workflow_is_driven_to_succeeded_by_the_real_controller(kube_admin, unique_name):
    custom = client.CustomObjectsApi(kube_admin)
    wf = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": unique_name},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "prepare", "template": "work"}],
                                       [{"name": "train", "template": "work"}]]},
            {"name": "work", "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "1s"}},
             "container": {"image": "busybox", "command": ["true"]}},
        ]},
    }
    custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "team-nlp", "workflows", wf)

    def phase():
        got = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "team-nlp", "workflows", unique_name)
        p = (got.get("status") or {}).get("phase")
        return p if p in ("Succeeded", "Failed", "Error") else None

    assert wait_for(phase, 90, what="workflow finished") == "Succeeded"


def test_viewer_can_list_pods_and_may_not_delete_them(kube_viewer):
    api = core(kube_viewer)
    assert api.list_pod_for_all_namespaces(limit=5).items
    assert api.list_node(limit=1).items
    with pytest.raises(ApiException) as e:
        api.delete_namespaced_pod("dev-box-alice", "team-vision")
    assert e.value.status == 403
    with pytest.raises(ApiException) as e:
        api.list_namespaced_secret("team-vision")
    assert e.value.status == 403


def test_audit_log_records_requests_with_user_agent(demo_cluster):
    from tests.conftest import api_client

    own = api_client(demo_cluster, "cockpit-demo")  # not the shared kube_admin: its agent stays the client's
    own.user_agent = "gpu-cockpit-test/1"
    core(own).list_namespace()
    def found():
        if not demo_cluster.audit_log.exists():
            return False
        for line in demo_cluster.audit_log.read_text().splitlines()[-2000:]:
            ev = json.loads(line)
            if ev.get("userAgent") == "gpu-cockpit-test/1" and ev.get("verb") == "list":
                return True
        return False
    wait_for(found, 20, what="audit event")


def test_cli_status_and_env(demo_cluster):
    env = {**os.environ, "COCKPIT_DEMO_DIR": str(demo_cluster.workdir)}
    out = subprocess.run([sys.executable, "-m", "cockpit.cli", "demo", "status"], env=env, capture_output=True,
                         text=True, check=True).stdout
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    for comp in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller",
                 "workflow-controller"):
        assert lines[comp].startswith("running"), out
    assert lines["audit-log"] == str(demo_cluster.audit_log)
    env_out = subprocess.run([sys.executable, "-m", "cockpit.cli", "demo", "env"], env=env, capture_output=True,
                             text=True, check=True).stdout
    assert env_out.strip() == f"export KUBECONFIG={demo_cluster.kubeconfig}"


def test_up_twice_is_harmless(demo_cluster, kube_admin):
    before = sorted((p.metadata.namespace, p.metadata.name, p.metadata.uid)
                    for p in core(kube_admin).list_pod_for_all_namespaces().items
                    if p.metadata.namespace in ("team-vision", "team-nlp") and p.status.phase == "Running")
    demo_cluster.up(log=lambda *_: None)
    after = sorted((p.metadata.namespace, p.metadata.name, p.metadata.uid)
                   for p in core(kube_admin).list_pod_for_all_namespaces().items
                   if p.metadata.namespace in ("team-vision", "team-nlp") and p.status.phase == "Running")
    assert ("team-vision", "dev-box-alice") in {(ns, n) for ns, n, _ in before}
    assert set(before) <= set(after)  # same objects, same uids: nothing recreated
    assert len({n for _, n, _ in after if n.startswith("resnet50-train")}) == 1


def test_taken_port_gives_a_clear_message(demo_cluster, tmp_path):
    from cockpit.demo.cluster import DemoCluster, DemoError

    other = DemoCluster(workdir=tmp_path / "other")
    with pytest.raises(DemoError, match=rf"port {demo_cluster.port} .* taken"):
        other.up(port=demo_cluster.port, log=lambda *_: None)
    assert not other.exists()


def test_missing_go_toolchain_gives_a_clear_message(tmp_path, monkeypatch):
    from cockpit.demo.cluster import DemoError, build_binaries

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DemoError, match="no `go` is on PATH"):
        build_binaries(tmp_path / "empty-cache")


def test_down_leaves_no_process_behind(tmp_path):
    from cockpit.demo.cluster import DemoCluster, free_port

    cluster = DemoCluster(workdir=tmp_path / "short-lived")
    cluster.up(port=free_port(), seed=False, log=lambda *_: None)
    assert cluster.api_ready()
    marker = str(cluster.workdir).encode()
    cluster.down(log=lambda *_: None)

    def ours():
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if marker in open(f"/proc/{pid}/cmdline", "rb").read():
                    found.append(pid)
            except OSError:
                pass
        return found

    time.sleep(1)
    assert ours() == []


def test_image_is_built_pushed_and_listed(docker_engine):
    import docker

    from tests.support.engine import busybox_base_image

    c = docker.DockerClient(base_url=docker_engine.docker_host)
    base = busybox_base_image(c)
    repo = f"{docker_engine.registry}/team-vision/smoke"
    c.images.get(base).tag(repo, "v1")
    for line in c.images.push(repo, tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    catalog = json.loads(urllib.request.urlopen(f"http://{docker_engine.registry}/v2/_catalog").read())
    assert "team-vision/smoke" in catalog["repositories"]
    tags = json.loads(urllib.request.urlopen(f"http://{docker_engine.registry}/v2/team-vision/smoke/tags/list").read())
    assert tags["tags"] == ["v1"]
