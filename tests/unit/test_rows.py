"""cockpit.kube.rows: table rows built from recorded-like API objects."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cockpit.kube import rows
from cockpit.resources import registry
from cockpit.kube.gpu import PodGpuIndex
from cockpit.kube.model import Row

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1717243200.0  # 2024-06-01T12:00:00Z
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def load(name: str) -> dict[str, dict[str, Any]]:
    items = yaml.safe_load((FIXTURES / name).read_text())["items"]
    return {o["metadata"]["name"]: o for o in items}


def check_shape(row: Row, columns: tuple[Any, ...]) -> None:
    assert len(row.cells) == len(columns) == len(row.sort)
    for cell in row.cells:
        assert isinstance(cell, str) and not CONTROL.search(cell)


# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"), (45, "45s"), (119, "119s"), (125, "2m5s"), (180, "3m"), (7500, "125m"),
        (3 * 3600 + 5 * 60, "3h5m"), (5 * 3600, "5h"), (30 * 3600, "30h"), (52 * 3600, "2d4h"),
        (4 * 86400, "4d"), (100 * 86400, "100d"), (3 * 365 * 86400, "3y"), (-0.5, "0s"),
        (-5, "<invalid>"), (None, ""),
    ],
)  # fmt: skip
def test_fmt_age_like_kubectl(seconds: float | None, text: str) -> None:
    assert rows.fmt_age(seconds) == text


def test_fmt_duration_and_parse_time() -> None:
    assert rows.parse_time("2024-06-01T12:00:00Z") == NOW
    assert rows.parse_time("2024-06-01T12:00:00.500000Z") == NOW + 0.5
    assert rows.parse_time(None) is None and rows.parse_time("garbage") is None
    assert rows.fmt_duration("2024-06-01T11:00:00Z", "2024-06-01T11:03:25Z") == "3m25s"
    assert rows.fmt_duration("2024-06-01T11:00:00Z", NOW) == "60m"
    assert rows.fmt_duration(None, NOW) == ""


# --- pods -------------------------------------------------------------------------------------

PODS = load("pods.yaml")


@pytest.mark.parametrize(
    ("name", "status", "hint"),
    [
        ("train-resnet-7x2kq", "Running", "ok"),
        ("eval-resnet-5hd8s", "Completed", "done"),
        ("notebook-ana-0", "Evicted", "error"),
        ("train-llm-big-q8z2w", "Unschedulable", "warn"),
        ("preprocess-85d6b7c9f-xk2lp", "CrashLoopBackOff", "error"),
        ("tokenize-7pq4n", "OOMKilled", "error"),
        ("dataset-sync-4kq9m", "Init:0/1", "pending"),
        ("migrate-db-2v7xr", "Init:CrashLoopBackOff", "error"),
        ("notebook-bob-0", "Terminating", "warn"),
        ("train-gan-9fj2d", "ContainerCreating", "pending"),
    ],
)
def test_pod_status_reason(name: str, status: str, hint: str) -> None:
    row = rows.pod_row(PODS[name], NOW)
    assert row.cells[3] == status
    assert row.status == hint


def test_pod_row_cells() -> None:
    row = rows.pod_row(PODS["train-resnet-7x2kq"], NOW)
    assert row.cells == (
        "team-vision",
        "train-resnet-7x2kq",
        "1/1",
        "Running",
        "0",
        "2",
        "gpu-node-1",
        "125m",
        "",  # running: nothing pending
    )
    assert row.key == "team-vision/train-resnet-7x2kq"
    assert (row.namespace, row.name) == ("team-vision", "train-resnet-7x2kq")
    assert row.labels["job-name"] == "train-resnet"
    assert row.sort[4] == 0 and row.sort[5] == 2 and row.sort[7] == 2 * 3600 + 5 * 60


def test_pod_row_counts_sidecars() -> None:
    row = rows.pod_row(PODS["sidecar-math"], NOW)
    assert row.cells[2:6] == ("3/3", "Running", "3", "1")


def test_pod_gpu_cells() -> None:
    cell = {name: rows.pod_row(p, NOW).cells[5] for name, p in PODS.items()}
    assert cell["infer-small-6c9f7"] == "1×mig-1g.10gb"
    assert cell["finetune-lora-0"] == "2×mig-3g.40gb"
    assert cell["train-llm-big-q8z2w"] == "8"
    assert cell["preprocess-85d6b7c9f-xk2lp"] == "-"
    assert rows.fmt_gpus({"nvidia.com/gpu": 1, "nvidia.com/mig-1g.10gb": 2}) == "1,2×mig-1g.10gb"


def test_pod_status_message_is_clean() -> None:
    assert "4 Insufficient nvidia.com/gpu" in rows.pod_status_message(PODS["train-llm-big-q8z2w"])
    assert rows.pod_status_message(PODS["migrate-db-2v7xr"]) == "migration failed\ufffdOK"


def test_pod_rows_sort_numerically() -> None:
    built = [rows.pod_row(p, NOW) for p in PODS.values()]
    by_restarts = sorted(built, key=lambda r: r.sort[4])
    assert by_restarts[-1].name == "preprocess-85d6b7c9f-xk2lp"  # 6 restarts
    by_age = sorted(built, key=lambda r: r.sort[7])
    assert by_age[0].name == "train-gan-9fj2d" and by_age[-1].name == "notebook-bob-0"


# --- other kinds ------------------------------------------------------------------------------


def test_job_rows() -> None:
    jobs = load("jobs.yaml")
    cells = {n: rows.job_row(j, NOW).cells for n, j in jobs.items()}
    assert cells["train-resnet"][2:] == ("Running", "0/1", "2", "125m", "125m", "")
    assert cells["sweep-workers"][2:6] == ("Complete", "8/8", "4", "150m")  # 4 in parallel x 1 GPU
    assert cells["tokenize"][2:6] == ("Failed", "0/1", "-", "20m")
    assert cells["nightly-eval"][2:5] == ("Suspended", "0/1 of 2", "2×mig-1g.10gb")
    assert cells["nightly-eval"][7] == "suspended (spec.suspend)"
    assert rows.job_row(jobs["tokenize"], NOW).status == "error"


def test_pvc_rows_with_users() -> None:
    users = rows.pvc_users(PODS.values())
    assert users["team-vision/data-vision"] == ["train-resnet-7x2kq"]  # the Succeeded pod is left out
    assert rows.pvc_users(PODS.values(), include_finished=True)["team-vision/data-vision"] == [
        "eval-resnet-5hd8s",
        "train-resnet-7x2kq",
    ]
    pvcs = load("pvcs.yaml")
    row = rows.pvc_row(pvcs["data-vision"], NOW, users)
    assert row.cells == (
        "team-vision",
        "data-vision",
        "Bound",
        "40Gi",
        "cephfs",
        "RWX",
        "train-resnet-7x2kq",
        "31d",
        "",
    )
    assert row.sort[3] == 40 * 2**30 and row.sort[6] == 1
    assert rows.pvc_row(pvcs["scratch"], NOW).cells[2:6] == ("Pending", "", "local-nvme", "RWOP")


def test_pvc_why_pending_reads_the_storage_classes() -> None:
    pvcs = load("pvcs.yaml")
    scratch = pvcs["scratch"]  # Pending, storageClassName local-nvme

    def classes(*objs):
        return lambda: list(objs)

    nvme = {"metadata": {"name": "local-nvme"}, "volumeBindingMode": "WaitForFirstConsumer"}
    ceph = {"metadata": {"name": "cephfs", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}
    assert rows.pvc_row(scratch, NOW).cells[8] == "no volume bound yet"
    assert rows.pvc_row(scratch, NOW, None, classes(ceph)).cells[8] == "StorageClass local-nvme does not exist"
    assert rows.pvc_row(scratch, NOW, None, classes(ceph, nvme)).cells[8] == (
        "waits for its first pod to be scheduled (WaitForFirstConsumer)")
    no_class = {**scratch, "spec": {k: v for k, v in scratch["spec"].items() if k != "storageClassName"}}
    plain = {"metadata": {"name": "cephfs"}}
    assert rows.pvc_row(no_class, NOW, None, classes(plain)).cells[8] == (
        "names no StorageClass and none is the default")
    # The beta annotation still names the default, as kubectl reads it.
    beta = {"metadata": {"name": "cephfs", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}}
    assert rows.pvc_row(no_class, NOW, None, classes(beta)).cells[8] == "no volume bound yet"
    # A Bound claim never asks for the classes.
    assert rows.pvc_row(pvcs["data-vision"], NOW, None, lambda: 1 / 0).cells[8] == ""
    assert rows.pvc_row(pvcs["notebook-ana-0-home"], NOW).cells[2] == "Terminating"


def test_node_rows() -> None:
    nodes = load("nodes.yaml")
    index = PodGpuIndex()
    for p in PODS.values():
        index.upsert(p)
    cells = {n: rows.node_row(o, NOW, index.allocated(n)).cells for n, o in nodes.items()}
    assert cells["gpu-node-1"] == (
        "gpu-node-1",
        "Ready,Tainted",
        "NVIDIA-H100-80GB-HBM3",
        "3/8",
        "<none>",
        "92d",
    )
    assert cells["gpu-node-2"][1:4] == ("Ready,SchedulingDisabled,Tainted", "NVIDIA-H100-80GB-HBM3", "3/7")
    assert cells["mig-node-1"][3] == "1/28 mig-1g.10gb 2/8 mig-3g.40gb"
    assert cells["cpu-node-1"][1:5] == ("NotReady,Tainted", "-", "-", "control-plane")
    assert rows.node_row(nodes["gpu-node-1"], NOW).cells[3] == "?/8"  # allocation unknown
    assert rows.node_row(nodes["cpu-node-1"], NOW).status == "error"


def test_workflow_rows() -> None:
    wfs = load("workflows.yaml")
    row = rows.workflow_row(wfs["hello-world-abc12"], NOW)
    assert row.cells == (
        "argo", "hello-world-abc12", "Failed", "3/4", "3m25s", "60m", "child 'hello-world-abc12-2883913418' failed",
    )  # fmt: skip
    assert row.status == "error" and row.sort[3] == 0.75
    assert rows.workflow_row(wfs["fresh-5n2lx"], NOW).cells[2] == "Unknown"
    # One word: "Running (Suspended)" was cut to "Running (Su…" in the 12-cell PHASE column.
    assert rows.workflow_row(wfs["whalesay-x7k2p"], NOW).cells[2] == "Suspended"
    assert rows.workflow_row(wfs["whalesay-x7k2p"], NOW).status == "warn"
    assert rows.workflow_row(wfs["sweep-lr-9qz4t"], NOW).cells[3:5] == ("412/1000", "24h")


def test_katib_rows() -> None:
    objs = load("katib.yaml")
    exp = rows.experiment_row(objs["resnet-lr-sweep"], NOW)
    assert exp.cells == (
        "team-vision", "resnet-lr-sweep", "Running", "4/7", "2", "1", "maximize accuracy (goal 0.95)",
        "resnet-lr-sweep-7xk2m9cd 0.9301", "4h",
    )  # fmt: skip
    assert exp.sort[7] == pytest.approx(0.9301)
    done = rows.experiment_row(objs["bert-finetune"], NOW)
    assert done.cells[2:4] == ("Succeeded", "10/10") and done.status == "done"

    trial = rows.trial_row(objs["resnet-lr-sweep-7xk2m9cd"], NOW)
    assert trial.cells == ("resnet-lr-sweep-7xk2m9cd", "Succeeded", "lr=0.0123 bs=64", "0.9301", "3h59m")
    assert trial.key == "team-vision/resnet-lr-sweep-7xk2m9cd"
    running = rows.trial_row(objs["resnet-lr-sweep-p4q8r2zt"], NOW)
    assert running.cells[1:4] == ("Running", "lr=0.0871 bs=128", "")
    assert running.sort[3] == rows.NO_VALUE


def test_namespace_rows() -> None:
    ns = load("namespaces.yaml")
    assert rows.namespace_row(ns["team-vision"], NOW).cells == ("team-vision", "Active", "121d")
    assert rows.namespace_row(ns["old-project"], NOW).status == "warn"


def test_pod_controlled_text_is_cleaned() -> None:
    trial = {
        "metadata": {"name": "t", "namespace": "n", "creationTimestamp": "2024-06-01T11:00:00Z"},
        "spec": {"parameterAssignments": [{"name": "lr", "value": "\x1b]52;c;ZXZpbA==\x070.1"}]},
        "status": {"observation": {"metrics": [{"name": "acc", "latest": "\x9b2J0.5"}]}},
    }
    assert rows.trial_row(trial, NOW).cells[2:4] == ("lr=0.1", "0.5")


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("pods", "pods.yaml"), ("jobs", "jobs.yaml"), ("pvcs", "pvcs.yaml"), ("nodes", "nodes.yaml"),
        ("workflows", "workflows.yaml"), ("namespaces", "namespaces.yaml"),
    ],
)  # fmt: skip
def test_every_builder_matches_its_columns(kind: str, fixture: str) -> None:
    k, hub = registry.get(kind), _offline_hub()
    for obj in load(fixture).values():
        check_shape(k.build(obj, hub), k.columns)


def test_katib_builders_match_columns() -> None:
    hub = _offline_hub()
    for obj in load("katib.yaml").values():
        k = registry.get("experiments" if obj["kind"] == "Experiment" else "trials")
        check_shape(k.build(obj, hub), k.columns)


def _offline_hub():
    from cockpit.kube.hub import ClusterHub

    return ClusterHub(None, clock=lambda: NOW, offline=True)


def test_cluster_layer_never_imports_textual() -> None:
    code = (
        "import sys\n"
        "import cockpit.kube.text, cockpit.kube.quantity, cockpit.kube.gpu, cockpit.kube.argo, cockpit.kube.rows\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_workflow_being_shut_down_says_so_in_one_word() -> None:
    wf = load("workflows.yaml")["whalesay-x7k2p"]
    for shutdown, phase in (("Stop", "Stopping"), ("Terminate", "Terminating")):
        spec = {**wf["spec"], "shutdown": shutdown}
        assert rows.workflow_row({**wf, "spec": spec}, NOW).cells[2] == phase


def test_job_whose_pods_are_not_ready_is_pending_not_running() -> None:
    job = load("jobs.yaml")["train-resnet"]
    # the pod of a Job that the scheduler cannot place: active 1, ready 0 (was "Running 0/1")
    pending = {**job, "status": {**job["status"], "active": 1, "ready": 0}}
    row = rows.job_row(pending, NOW)
    assert row.cells[2] == "Pending" and row.status == "pending"
    assert rows.job_row(job, NOW).cells[2] == "Running"  # ready 1
    without_ready = {**job, "status": {k: v for k, v in job["status"].items() if k != "ready"}}
    assert rows.job_row(without_ready, NOW).cells[2] == "Running"  # no count: no claim


def test_a_pod_the_scheduler_could_not_place_says_why_in_its_row():
    row = rows.pod_row(PODS["train-llm-big-q8z2w"], NOW)
    assert row.cells[3] == "Unschedulable"
    assert row.cells[8].startswith("no node fits") or "Insufficient" in row.cells[8]
    assert "preemption" not in row.cells[8]
