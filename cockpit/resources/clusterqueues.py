"""Kueue ClusterQueues: a team's GPU quota per flavor, what its workloads use of it, what they
borrow from the cohort, and how many wait."""

from __future__ import annotations

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _int, _meta
from cockpit.kube.text import clean
from cockpit.resources import _kueue
from cockpit.resources.base import Kind

CLUSTER_QUEUE_COLUMNS = (
    Column("NAME", 14, min_width=10),
    Column("GPU USED", 9, "right"),
    Column("BORROWED", 8, "right", priority=1),
    Column("PENDING", 7, "right"),
    Column("ADMITTED", 8, "right"),
    Column("PER FLAVOR (used/quota+borrowed)", 34, cut="end"),
    Column("COHORT", 10, priority=2),
    Column("AGE", 5, "right", priority=3),
)


class ClusterQueues(Kind):
    id, title, api_kind, group, version, plural = ("clusterqueues", "ClusterQueues", "ClusterQueue",
                                                   _kueue.GROUP, _kueue.VERSION, "clusterqueues")
    namespaced = False
    aliases = ("cq",)
    commands = ("clusterqueues", "cq", "clusterqueue")
    columns = CLUSTER_QUEUE_COLUMNS
    help = "Kueue cluster queues: GPU quota per flavor, used, borrowed"
    type_to_confirm = True  # every workload of the team's queue loses its quota
    rebuild_as_time_passes = False
    not_served = _kueue.NOT_INSTALLED

    adds_to_gpu_pane = True

    def gpu_pane_note(self, objects):
        """"Kueue quota: team-nlp 6/20 (+2 borrowed) · team-vision 4/10": GPUs each team's
        queue holds against its quota."""
        from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES

        parts = []
        for cq in sorted(objects, key=lambda o: (o.get("metadata") or {}).get("name", "")):
            quotas = _kueue.gpu_quotas(cq, DEFAULT_GPU_RESOURCES, DEFAULT_GPU_PREFIXES)
            if not quotas:
                continue
            used, nominal = sum(q.used for q in quotas), sum(q.nominal for q in quotas)
            borrowed = sum(q.borrowed for q in quotas)
            name = clean((cq.get("metadata") or {}).get("name"), 40)
            parts.append(f"{name} {used:g}/{nominal:g}" + (f" (+{borrowed:g} borrowed)" if borrowed else ""))
        return "Kueue GPU quota: " + " · ".join(parts) if parts else ""

    def build(self, obj, hub):
        _, name, labels = _meta(obj)
        quotas = _kueue.gpu_quotas(obj, hub.gpu.index.names, hub.gpu.index.prefixes)
        used = sum(q.used for q in quotas)
        nominal = sum(q.nominal for q in quotas)
        borrowed = sum(q.borrowed for q in quotas)
        status = obj.get("status") or {}
        pending, admitted = _int(status.get("pendingWorkloads")), _int(status.get("admittedWorkloads"))
        age, age_s = _age(obj, hub.clock())
        active = (_kueue.condition(obj, "Active") or {}).get("status")
        return Row(
            key=name,
            cells=(name, f"{used:g}/{nominal:g}", f"{borrowed:g}" if borrowed else "", str(pending), str(admitted),
                   _kueue.quota_text(quotas), clean((obj.get("spec") or {}).get("cohortName") or "", 63), age),
            sort=(name, used, borrowed, pending, admitted, nominal - used,
                  (obj.get("spec") or {}).get("cohortName") or "", age_s),
            status="error" if active == "False" else "warn" if pending else "ok",
            labels=labels, name=name)


KIND = ClusterQueues()
