"""`cockpit doctor` against the demo cluster: the default fleet passes; each thing broken on
purpose is named, with its node or object; the viewer sees its limited access; an unreachable
cluster exits 2; and the audit log shows doctor sent no mutating request.

Breaking happens on objects of the test's own (nodes tainted so nothing lands on them) or is
undone at once (the default StorageClass annotation, the Argo ConfigMap), so other tests in the
session see the fleet as seeded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.demo.fleet import _gfd_labels, node
from tests.conftest import unavailable, wait_for

TEST_TAINT = {"key": "demo.gpu-cockpit.dev/doctor-test", "value": "true", "effect": "NoSchedule"}


def run_doctor(cluster, tmp_path: Path, *args: str, config: dict | None = None,
               kubeconfig: Path | None = None) -> subprocess.CompletedProcess:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config or {}))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig or cluster.kubeconfig), "COCKPIT_CONFIG": str(cfg),
           "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cockpit.cli", "doctor", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def doctor_json(cluster, tmp_path: Path, *args: str, **kw) -> tuple[int, dict]:
    out = run_doctor(cluster, tmp_path, "--json", *args, **kw)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def checks_of(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["checks"]}


def _own_node(core, name: str, labels: dict, gpus: int = 8) -> None:
    body = node(name, gpus={"nvidia.com/gpu": gpus}, labels=labels, taints=[TEST_TAINT], fleet="doctor-test")
    core.create_node(body)
    wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                         for c in (core.read_node(name).status.conditions or [])), 30, what=f"{name} Ready")


def _delete_node(core, name: str) -> None:
    try:
        core.delete_node(name)
    except ApiException as e:
        if e.status != 404:
            raise


@pytest.fixture(scope="module", autouse=True)
def settled_fleet(demo_cluster, kube_admin):
    """The seeded fleet once it has settled: operator DaemonSets ready on their nodes, the
    Deployments ready, every seeded workflow picked up by the controller. Right after `demo up`
    on a loaded machine some of that lags, and doctor would rightly report it."""
    apps, custom = client.AppsV1Api(kube_admin), client.CustomObjectsApi(kube_admin)

    def settled():
        sets = apps.list_namespaced_daemon_set("gpu-operator").items
        deps = [d for ns in ("argo", "gpu-operator") for d in apps.list_namespaced_deployment(ns).items]
        wfs = custom.list_cluster_custom_object("argoproj.io", "v1alpha1", "workflows")["items"]
        waiting = [d.metadata.name for d in sets
                   if not d.status.desired_number_scheduled
                   or (d.status.number_ready or 0) < d.status.desired_number_scheduled]
        waiting += [d.metadata.name for d in deps if (d.status.ready_replicas or 0) < 1]
        waiting += [w["metadata"]["name"] for w in wfs if not (w.get("status") or {}).get("phase")]
        return not waiting or None

    wait_for(settled, 180, interval=1, what="the demo fleet to settle")


# -- the default fleet -------------------------------------------------------------------------

def test_default_fleet_passes(demo_cluster, tmp_path):
    out = run_doctor(demo_cluster, tmp_path, "--context", "cockpit-demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert "checks:" in last and "0 failed" in last and "cockpit-demo is ready" in last
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
    assert code == 0, [c for c in doc["checks"] if c["status"] == "failed"]
    checks = checks_of(doc)
    for ok in ("cluster", "gpu-capacity", "gfd-labels", "mig-strategy", "time-slicing", "device-plugin",
               "gpu-feature-discovery", "dcgm-exporter", "default-storageclass", "argo-controller",
               "argo-configmap", "argo-executor", "kueue", "access", "registry"):
        assert checks[ok]["status"] == "ok", checks[ok]
    assert checks["gpu-capacity"]["saw"].startswith("6 GPU nodes")  # cpu-01 is none
    assert checks["default-storageclass"]["saw"].startswith("standard")
    # What the demo fleet has on purpose is reported, naming the object.
    assert checks["gpu-cordoned"]["status"] == "warning" and checks["gpu-cordoned"]["objects"] == ["node/gpu-a100-03"]
    assert checks["gpu-taints"]["status"] == "warning" and checks["gpu-taints"]["objects"] == ["node/gpu-h100-01"]
    assert "gpu_toleration=dedicated=llm:NoSchedule" in checks["gpu-taints"]["fix"]
    assert checks["pending-pvcs"]["objects"] == ["pvc/team-nlp/scratch-fast"]
    assert "StorageClass nvme-local does not exist" in checks["pending-pvcs"]["saw"]
    assert checks["katib"]["status"] == "warning" and "no katib-controller Deployment" in checks["katib"]["saw"]
    assert checks["kueue"]["saw"].startswith("manager running;") and "ClusterQueues active" in checks["kueue"]["saw"]


def test_global_flags_before_doctor_are_honoured(demo_cluster, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("{}\n")
    env = {**os.environ, "KUBECONFIG": "/nonexistent", "COCKPIT_CONFIG": str(cfg)}
    out = subprocess.run([sys.executable, "-m", "cockpit.cli", "--kubeconfig", str(demo_cluster.kubeconfig),
                          "--context", "cockpit-demo", "-n", "team-nlp", "doctor", "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["context"] == "cockpit-demo" and doc["namespace"] == "team-nlp"


# -- one thing broken at a time ----------------------------------------------------------------

def test_gpu_node_with_allocatable_zero_is_named(demo_cluster, kube_admin, tmp_path):
    core = client.CoreV1Api(kube_admin)
    name = "doctor-alloc-zero"
    try:
        _own_node(core, name, _gfd_labels("NVIDIA-A100-SXM4-80GB", 8, 81920, "ampere", "8.0"))
        core.patch_node_status(name, {"status": {"allocatable": {"nvidia.com/gpu": "0"}}})
        wait_for(lambda: core.read_node(name).status.allocatable.get("nvidia.com/gpu") == "0", 10,
                 what="allocatable 0")
        code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
        assert code == 1
        gpu = checks_of(doc)["gpu-capacity"]
        assert gpu["status"] == "failed"
        assert gpu["objects"] == [f"node/{name}"]
        assert f"{name}: nvidia.com/gpu capacity 8, allocatable 0" in gpu["saw"]
    finally:
        _delete_node(core, name)


def test_gpu_node_without_gfd_labels_is_named(demo_cluster, kube_admin, tmp_path):
    core = client.CoreV1Api(kube_admin)
    name = "doctor-no-gfd"
    try:
        _own_node(core, name, {})
        code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
        gfd = checks_of(doc)["gfd-labels"]
        assert gfd["status"] == "warning"
        assert gfd["objects"] == [f"node/{name}"]
        assert gfd["saw"] == f"{name}: no gpu.product, gpu.memory, gpu.count"
        assert checks_of(doc)["gpu-capacity"]["status"] == "ok"  # it does advertise its GPUs
    finally:
        _delete_node(core, name)


def test_no_default_storage_class_is_named(demo_cluster, kube_admin, tmp_path):
    storage = client.StorageV1Api(kube_admin)
    key = "storageclass.kubernetes.io/is-default-class"
    assert storage.read_storage_class("standard").metadata.annotations.get(key) == "true"
    try:
        storage.patch_storage_class("standard", {"metadata": {"annotations": {key: None}}})
        code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
        assert code == 1
        sc = checks_of(doc)["default-storageclass"]
        assert sc["status"] == "failed"
        assert sc["objects"] == ["storageclass/standard"]
        assert "no StorageClass is the default (1: standard)" in sc["saw"]
        assert key in sc["fix"]
    finally:
        storage.patch_storage_class("standard", {"metadata": {"annotations": {key: "true"}}})


def _controller_state(cluster) -> str:
    return dict(cluster.status()).get("workflow-controller", "")


def test_argo_configmap_removed_is_named(demo_cluster, kube_admin, tmp_path):
    core = client.CoreV1Api(kube_admin)
    name, ns = "workflow-controller-configmap", "argo"
    saved = core.read_namespaced_config_map(name, ns)
    try:
        core.delete_namespaced_config_map(name, ns)
        code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
        assert code == 1
        cm = checks_of(doc)["argo-configmap"]
        assert cm["status"] == "failed"
        assert cm["objects"] == [f"configmap/{ns}/{name}"]
        assert f"{ns}/{name} not found: the controller exits without it" in cm["saw"]
        assert cm["fix"] == f"kubectl -n {ns} create configmap {name}"
    finally:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, namespace=ns), data=saved.data))
        # The real controller does exit when its ConfigMap goes (what the check warns about):
        # start it again, as `cockpit demo up` does, so later tests get their workflows run.
        demo_cluster.up(seed=False, log=lambda *_: None)
    assert _controller_state(demo_cluster).startswith("running"), demo_cluster.status()
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo")
    assert checks_of(doc)["argo-configmap"]["status"] == "ok"


# -- who asks, and what it sends ---------------------------------------------------------------

def test_viewer_context_reports_its_limited_access(demo_cluster, tmp_path):
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo-viewer", "-n", "team-vision")
    assert code == 0, [c for c in doc["checks"] if c["status"] == "failed"]
    checks = checks_of(doc)
    access = checks["access"]
    assert access["name"] == "Your access in namespace team-vision"
    assert access["status"] == "warning"
    assert "list pods" in access["saw"] and "watch pods" in access["saw"]
    assert "cannot create jobs, delete pods, create pods/exec, create pods/portforward" in access["saw"]
    assert "launch (n, :launch)" in access["fix"] and "shell (s)" in access["fix"]
    # The viewer may not read StorageClasses: said, not guessed.
    assert checks["default-storageclass"]["status"] == "warning"
    assert checks["default-storageclass"]["saw"].startswith("cannot read storageclasses: 403")
    assert checks["gpu-capacity"]["status"] == "ok"  # nodes are readable to the viewer


def test_unreachable_cluster_exits_2_naming_context_and_file(demo_cluster, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    kc = yaml.safe_load(demo_cluster.kubeconfig.read_text())
    for c in kc["clusters"]:
        c["cluster"]["server"] = f"https://127.0.0.1:{dead_port}"
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(yaml.safe_dump(kc))
    out = run_doctor(demo_cluster, tmp_path, "--context", "cockpit-demo", kubeconfig=dead)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "cannot reach the cluster" in out.stderr
    assert "context cockpit-demo" in out.stderr and str(dead) in out.stderr
    missing = run_doctor(demo_cluster, tmp_path, "--context", "no-such-context")
    assert missing.returncode == 2 and "no-such-context" in missing.stderr


def test_doctor_sends_no_mutating_request(demo_cluster, tmp_path):
    started = time.time()
    for ctx in ("cockpit-demo", "cockpit-demo-viewer"):
        run_doctor(demo_cluster, tmp_path, "--json", "--context", ctx)

    def ours():
        if not demo_cluster.audit_log.exists():
            return []
        events = [json.loads(line) for line in demo_cluster.audit_log.read_text().splitlines() if line.strip()]
        return [e for e in events if "(doctor)" in e.get("userAgent", "")
                and _stamp(e) >= started - 1]

    events = wait_for(lambda: [e for e in ours() if e.get("verb") == "list"] and ours(), 20,
                      what="doctor's requests in the audit log")
    users = {e["user"]["username"] for e in events}
    assert "cockpit-viewer" in users and len(users) == 2
    bad = [(e["verb"], e.get("requestURI")) for e in events
           if e["verb"] not in ("get", "list", "watch")
           and not (e["verb"] == "create" and (e.get("objectRef") or {}).get("resource") == "selfsubjectrulesreviews")]
    assert bad == []
    assert any((e.get("objectRef") or {}).get("resource") == "selfsubjectrulesreviews" for e in events)


def _stamp(event: dict) -> float:
    import datetime as dt

    raw = event.get("requestReceivedTimestamp") or event.get("stageTimestamp") or ""
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# -- the registry from the config --------------------------------------------------------------

@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on loopback; `readonly=True` serves it in read-only maintenance."""
    exe = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.access(exe, os.X_OK):
        unavailable("docker-registry is not installed (Debian package docker-registry)")
    procs = []

    def start(readonly: bool = False) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        root = tmp_path / f"registry-{port}"
        maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
        conf = root / "config.yml"
        root.mkdir()
        conf.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n"
                        f"{maintenance}http:\n  addr: 127.0.0.1:{port}\n")
        procs.append(subprocess.Popen([exe, "serve", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))

        def up():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(up, 20, what="docker-registry")
        return f"127.0.0.1:{port}"

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def test_registry_reachable_and_push_allowed(demo_cluster, tmp_path, registry):
    address = registry()
    config = {"contexts": {"cockpit-demo": {"registry": f"{address}/team-vision"}}}
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo", config=config)
    reg = checks_of(doc)["registry"]
    assert reg["status"] == "ok", reg
    assert f"http://{address}/v2/ answers (HTTP 200)" in reg["saw"] and "push allowed" in reg["saw"]
    # The test upload was cancelled: the registry lists no repository.
    import urllib.request

    with urllib.request.urlopen(f"http://{address}/v2/_catalog", timeout=5) as resp:
        assert json.loads(resp.read())["repositories"] == []


def test_registry_that_refuses_pushes_or_is_down_fails(demo_cluster, tmp_path, registry):
    address = registry(readonly=True)
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo",
                            config={"contexts": {"cockpit-demo": {"registry": address}}})
    reg = checks_of(doc)["registry"]
    assert code == 1 and reg["status"] == "failed" and "push refused" in reg["saw"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    code, doc = doctor_json(demo_cluster, tmp_path, "--context", "cockpit-demo",
                            config={"contexts": {"cockpit-demo": {"registry": f"127.0.0.1:{closed}"}}})
    reg = checks_of(doc)["registry"]
    assert code == 1 and reg["status"] == "failed" and "Connection refused" in reg["saw"]
    assert reg["objects"] == [f"registry/127.0.0.1:{closed}"]
