"""Kueue in the demo cluster: the real controller manager admits, holds and preempts Jobs.

Each quota test has a ClusterQueue of its own (outside the teams' cohort, so nothing is
borrowed) over the T4 flavor, and its own namespace.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.demo import kueue_seed
from cockpit.demo.kueue_seed import API, QUEUE_LABEL, cluster_queue, local_queue, queued_job
from tests.conftest import wait_for

T4 = "Tesla-T4-SHARED"
GROUP, VERSION = API.split("/")


def custom(api) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def workload_of(api, namespace: str, job_name: str) -> dict | None:
    for wl in custom(api).list_namespaced_custom_object(GROUP, VERSION, namespace, "workloads")["items"]:
        if any(r.get("kind") == "Job" and r.get("name") == job_name for r in wl["metadata"].get("ownerReferences") or []):
            return wl
    return None


def cond(wl: dict | None, kind: str) -> dict:
    return kueue_seed.condition(wl, kind) or {}


def running_pod(api, namespace: str, job_name: str):
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    return next((p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp), None)


@pytest.fixture
def t4_queue(kube_admin, unique_name):
    """A namespace with a LocalQueue onto a ClusterQueue holding 2 T4 shares."""
    core = client.CoreV1Api(kube_admin)
    ns = f"kq-{unique_name}"[:63].rstrip("-")
    core.create_namespace({"metadata": {"name": ns}})
    cq = cluster_queue(ns, ns, {"t4-shared": 2}, cohort=None, borrow=None, cpu="16", memory="128Gi")
    custom(kube_admin).create_cluster_custom_object(GROUP, VERSION, "clusterqueues", cq)
    custom(kube_admin).create_namespaced_custom_object(GROUP, VERSION, ns, "localqueues", local_queue(ns, ns))

    def active():
        got = custom(kube_admin).get_cluster_custom_object(GROUP, VERSION, "clusterqueues", ns)
        return cond(got, "Active").get("status") == "True"

    wait_for(active, 30, what=f"ClusterQueue {ns} Active")
    yield ns
    batch = client.BatchV1Api(kube_admin)
    for j in batch.list_namespaced_job(ns).items:
        batch.delete_namespaced_job(j.metadata.name, ns, propagation_policy="Background")
    core.delete_namespace(ns)
    try:
        custom(kube_admin).delete_cluster_custom_object(GROUP, VERSION, "clusterqueues", ns)
    except ApiException as e:
        if e.status != 404:
            raise


def submit(api, ns: str, name: str, gpus: int = 2) -> dict:
    body = queued_job(name, ns, gpus=gpus, product=T4)
    created = client.BatchV1Api(api).create_namespaced_job(ns, body)
    # Kueue's mutating webhook suspends a queued Job as it is created.
    assert created.spec.suspend is True
    return body


def test_a_queued_job_is_admitted_by_kueue_and_its_pod_runs(kube_admin, t4_queue):
    ns = t4_queue
    submit(kube_admin, ns, "train-a")

    wl = wait_for(lambda: (w := workload_of(kube_admin, ns, "train-a")) and cond(w, "Admitted").get("status") == "True"
                  and w, 30, what="Workload admitted")
    assert wl["status"]["admission"]["clusterQueue"] == ns
    flavors = wl["status"]["admission"]["podSetAssignments"][0]["flavors"]
    assert flavors == {"cpu": "default-flavor", "memory": "default-flavor", "nvidia.com/gpu": "t4-shared"}

    pod = wait_for(lambda: running_pod(kube_admin, ns, "train-a"), 30, what="pod Running")
    assert pod.spec.node_name == "gpu-t4-shared-01"
    # The flavor's node labels, added by Kueue as it started the Job.
    assert pod.spec.node_selector["nvidia.com/gpu.product"] == T4
    job = client.BatchV1Api(kube_admin).read_namespaced_job("train-a", ns)
    assert job.spec.suspend is False


def test_a_job_over_quota_stays_suspended_until_quota_is_freed(kube_admin, t4_queue):
    ns = t4_queue
    batch = client.BatchV1Api(kube_admin)
    submit(kube_admin, ns, "first")
    wait_for(lambda: running_pod(kube_admin, ns, "first"), 30, what="first job's pod Running")
    submit(kube_admin, ns, "second")

    def held():
        w = workload_of(kube_admin, ns, "second")
        c = cond(w, "QuotaReserved")
        return c.get("status") == "False" and "insufficient" in c.get("message", "") and w

    wl = wait_for(held, 30, what="second Workload held for quota")
    c = cond(wl, "QuotaReserved")
    assert c["reason"] == "Pending"
    assert "insufficient unused quota for nvidia.com/gpu in flavor t4-shared, 2 more needed" in c["message"], c
    assert cond(wl, "Admitted").get("status") != "True"
    time.sleep(2)  # it stays held: still suspended, no pod
    assert batch.read_namespaced_job("second", ns).spec.suspend is True
    assert not client.CoreV1Api(kube_admin).list_namespaced_pod(ns, label_selector="job-name=second").items

    batch.delete_namespaced_job("first", ns, propagation_policy="Background")
    wait_for(lambda: cond(workload_of(kube_admin, ns, "second"), "Admitted").get("status") == "True", 60,
             what="second Workload admitted once the first is gone")
    pod = wait_for(lambda: running_pod(kube_admin, ns, "second"), 30, what="second job's pod Running")
    assert pod.spec.node_name == "gpu-t4-shared-01"


def test_the_seeded_queues_and_workloads(kube_admin):
    api = custom(kube_admin)
    nodes = client.CoreV1Api(kube_admin).list_node().items
    flavors = {f["metadata"]["name"]: f for f in api.list_cluster_custom_object(GROUP, VERSION, "resourceflavors")["items"]}
    for name in ("a100-80gb", "h100-80gb", "t4-shared", "a100-mig-1g.10gb"):
        labels = flavors[name]["spec"]["nodeLabels"]
        matching = [n.metadata.name for n in nodes
                    if all((n.metadata.labels or {}).get(k) == v for k, v in labels.items())]
        assert matching, f"flavor {name} selects no node"
    assert flavors["h100-80gb"]["spec"]["nodeTaints"][0]["key"] == "dedicated"

    queues = {q["metadata"]["name"]: q for q in api.list_cluster_custom_object(GROUP, VERSION, "clusterqueues")["items"]}
    for team in ("team-vision", "team-nlp"):
        q = queues[team]
        assert q["spec"]["cohortName"] == "gpu-fleet"
        assert cond(q, "Active").get("status") == "True", q["status"]
        gpus = next(g for g in q["spec"]["resourceGroups"] if g["coveredResources"] == ["nvidia.com/gpu"])
        assert [f["name"] for f in gpus["flavors"]] == ["a100-80gb", "h100-80gb", "t4-shared"]
        assert all(f["resources"][0].get("borrowingLimit") for f in gpus["flavors"])
        lq = api.get_namespaced_custom_object(GROUP, VERSION, team, "localqueues", "gpu-queue")
        assert lq["spec"]["clusterQueue"] == team

    def states():
        wl = {(ns, j): workload_of(kube_admin, ns, j) for ns, j in (
            ("team-vision", "detr-train"), ("team-vision", "sam-finetune-8gpu"),
            ("team-nlp", "embed-corpus"), ("team-nlp", "eval-release-candidate"), ("team-nlp", "tokenizer-bench"))}
        admitted = all(cond(wl[k], "Admitted").get("status") == "True" for k in (
            ("team-vision", "detr-train"), ("team-nlp", "eval-release-candidate"), ("team-nlp", "tokenizer-bench")))
        pending = cond(wl[("team-vision", "sam-finetune-8gpu")], "QuotaReserved")
        preempted = cond(wl[("team-nlp", "embed-corpus")], "Preempted")
        return admitted and pending.get("status") == "False" and preempted.get("status") == "True" and wl

    wl = wait_for(states, 60, what="seeded Workloads admitted, pending and preempted")
    pending = cond(wl[("team-vision", "sam-finetune-8gpu")], "QuotaReserved")
    assert "insufficient unused quota for nvidia.com/gpu in flavor a100-80gb" in pending["message"], pending
    preempted = wl[("team-nlp", "embed-corpus")]
    assert cond(preempted, "Preempted")["reason"] == "InClusterQueue"
    assert cond(preempted, "Admitted").get("status") != "True"
    assert client.BatchV1Api(kube_admin).read_namespaced_job("embed-corpus", "team-nlp").spec.suspend is True
    assert wait_for(lambda: running_pod(kube_admin, "team-vision", "detr-train"), 30, what="detr-train Running")
    assert wait_for(lambda: running_pod(kube_admin, "team-nlp", "tokenizer-bench"), 30, what="tokenizer-bench Running")

    # v1beta1 is served through Kueue's conversion webhook (the CRDs store v1beta2).
    old = api.get_cluster_custom_object(GROUP, "v1beta1", "clusterqueues", "team-nlp")
    assert old["apiVersion"] == f"{GROUP}/v1beta1" and old["spec"]["cohort"] == "gpu-fleet"


def test_unqueued_jobs_are_left_alone(kube_admin, unique_name):
    """manageJobsWithoutQueueName is false: a Job without the label runs as it would without Kueue."""
    body = queued_job(unique_name, "team-vision", gpus=1, product=T4)
    del body["metadata"]["labels"][QUEUE_LABEL]
    created = client.BatchV1Api(kube_admin).create_namespaced_job("team-vision", body)
    try:
        assert not created.spec.suspend
        wait_for(lambda: running_pod(kube_admin, "team-vision", unique_name), 30, what="pod Running")
        assert workload_of(kube_admin, "team-vision", unique_name) is None
    finally:
        client.BatchV1Api(kube_admin).delete_namespaced_job(unique_name, "team-vision", propagation_policy="Background")


def test_a_dead_manager_is_restarted_by_up(demo_cluster, kube_admin, t4_queue):
    old = demo_cluster.kueue.pid()
    assert old and ("kueue-manager", f"running (pid {old})") in demo_cluster.status()
    os.killpg(old, signal.SIGKILL)
    wait_for(lambda: demo_cluster.kueue.pid() is None, 10, what="manager gone")
    demo_cluster.up(seed=False, log=lambda *_: None)
    new = demo_cluster.kueue.pid()
    assert new and new != old
    submit(kube_admin, t4_queue, "after-restart")
    wait_for(lambda: running_pod(kube_admin, t4_queue, "after-restart"), 60, what="pod Running after the restart")


def test_webhooks_are_registered_at_the_managers_loopback_address(kube_admin, demo_cluster):
    adm = client.AdmissionregistrationV1Api(kube_admin)
    port = demo_cluster.kueue.ports()["webhook"]
    ca = demo_cluster.kueue.ca_bundle()
    mutating = adm.read_mutating_webhook_configuration("kueue-mutating-webhook-configuration").webhooks
    validating = adm.read_validating_webhook_configuration("kueue-validating-webhook-configuration").webhooks
    names = {h.name for h in mutating + validating}
    assert {"mjob.kb.io", "vjob.kb.io", "mworkload.kb.io", "vworkload.kb.io", "vclusterqueue.kb.io"} <= names
    # Integrations the demo does not enable are not registered: pods are created without Kueue.
    assert not names & {"mpod.kb.io", "vpod.kb.io", "mdeployment.kb.io"}
    for h in mutating + validating:
        assert h.client_config.service is None and h.client_config.url.startswith(f"https://127.0.0.1:{port}/")
        assert h.client_config.ca_bundle == ca and h.failure_policy == "Fail"
    crd = client.ApiextensionsV1Api(kube_admin).read_custom_resource_definition("workloads.kueue.x-k8s.io")
    assert crd.spec.conversion.webhook.client_config.url == f"https://127.0.0.1:{port}/convert"


def test_missing_reports_the_kueue_manager_and_its_manifests(tmp_path):
    from cockpit.demo.cluster import VERSIONS, Binaries

    bins = Binaries(tmp_path)
    missing = bins.missing()
    assert {"kueue-manager", "kueue CRDs", "kueue webhook configurations"} <= set(missing)
    assert bins.path("kueue-manager").name == f"kueue-manager-{VERSIONS['KUEUE_VERSION']}"
    (tmp_path / "bin").mkdir()
    bins.path("kueue-manager").write_text("")
    bins.path("kueue-manager").chmod(0o755)
    for project in ("kueue", "kueue-webhooks"):
        bins.crd_dir(project).mkdir(parents=True)
        (bins.crd_dir(project) / "a.yaml").write_text("{}\n")
    assert not {"kueue-manager", "kueue CRDs", "kueue webhook configurations"} & set(bins.missing())


def test_the_viewer_reads_queues_and_workloads_but_changes_none(kube_viewer):
    api = custom(kube_viewer)
    names = {q["metadata"]["name"] for q in api.list_cluster_custom_object(GROUP, VERSION, "clusterqueues")["items"]}
    assert {"team-vision", "team-nlp"} <= names
    assert api.list_namespaced_custom_object(GROUP, VERSION, "team-nlp", "workloads")["items"]
    assert api.list_cluster_custom_object(GROUP, VERSION, "resourceflavors")["items"]
    with pytest.raises(ApiException) as refused:
        api.delete_cluster_custom_object(GROUP, VERSION, "clusterqueues", "team-nlp")
    assert refused.value.status == 403
