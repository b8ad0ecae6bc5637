"""GPU-hours per product, namespace, user and owner, from the pods holding GPUs now."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.kube.gpuhours import USER_LABEL, GpuHours, gpu_hours_rows
from cockpit.kube.utilization import idle_share

NOW = 1_800_000_000.0


def pod(name, ns="team-nlp", gpus=2, phase="Running", started=NOW - 7200, owner=None, user=None, node="gpu-a100-01"):
    meta = {"name": name, "namespace": ns, "labels": {USER_LABEL: user} if user else {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]},
            "status": {"phase": phase,
                       "startTime": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}


def rows_by_key(held, idle=lambda key: None):
    return {f"{r.cells[0]}|{r.cells[1]}": r
            for r in gpu_hours_rows(held, NOW, lambda node: "A100" if "a100" in node else "T4", idle)}


def test_hours_add_up_per_group_and_only_running_gpu_pods_count():
    h = GpuHours(["nvidia.com/gpu"], [])
    h.pod_seen(pod("a", owner=("Job", "bert"), user="alice"))           # 2 GPUs × 2 h
    h.pod_seen(pod("b", gpus=4, started=NOW - 1800, owner=("Job", "bert")))  # 4 × 0.5 h
    h.pod_seen(pod("c", ns="team-vision", gpus=1, node="gpu-t4-01"))     # 1 × 2 h, bare pod
    h.pod_seen(pod("d", phase="Pending"))
    h.pod_seen(pod("e", gpus=0))
    rows = rows_by_key(h.snapshot())
    assert rows["namespace|team-nlp"].cells[2:4] == ("6", "6.0")
    assert rows["owner|Job team-nlp/bert"].cells[2:4] == ("6", "6.0")
    assert rows["owner|Pod team-vision/c"].cells[2:4] == ("1", "2.0")
    assert rows["user|alice"].cells[2:4] == ("2", "4.0")
    assert rows["product|A100"].cells[3] == "6.0" and rows["product|T4"].cells[3] == "2.0"
    assert not any("|team-nlp/d" in k or "/e" in k for k in rows)
    keys = sorted(r.key for r in gpu_hours_rows(h.snapshot(), NOW, lambda node: "A100", lambda key: None))
    assert [k.split(":", 1)[1].split("|")[0] for k in keys][:2] == ["product", "namespace"]
    assert keys[-1].split(":", 1)[1].startswith("owner|")
    h.pod_seen(pod("a", phase="Succeeded"))  # done: no longer held
    assert rows_by_key(h.snapshot())["namespace|team-nlp"].cells[2] == "4"


def test_idle_share_weighs_hours_where_utilisation_is_known():
    h = GpuHours(["nvidia.com/gpu"], [])
    h.pod_seen(pod("a"))  # 4 GPU-h, idle half the samples
    h.pod_seen(pod("b"))  # 4 GPU-h, utilisation unknown: left out of the share
    shares = {"team-nlp/a": idle_share([0.0, 0.0, 55.0, 60.0]), "team-nlp/b": None}
    rows = rows_by_key(h.snapshot(), shares.get)
    assert rows["namespace|team-nlp"].cells[4] == "50%"
    assert rows["namespace|team-nlp"].status == "warn"
    assert idle_share([None, None]) is None and idle_share([0.0]) == 1.0
