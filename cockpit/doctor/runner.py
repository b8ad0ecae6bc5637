"""Run every doctor check against one context: connect read-only, gather, check.

    report = run_doctor(Kubeconfig.load(), "cockpit-demo")   # DoctorReport, or raises Unreachable

Blocking (network): call it from a worker thread or the CLI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit import USER_AGENT
from cockpit.doctor import checks
from cockpit.doctor.checks import FAILED, OK, WARNING, CheckResult
from cockpit.doctor.gather import ClusterFacts, Unreachable, gather
from cockpit.kube.text import clean

__all__ = ["DoctorReport", "Unreachable", "exit_code", "preset_tolerations", "run_doctor", "run_checks"]

# What the audit log shows for doctor's requests, so an admin can tell them apart.
DOCTOR_AGENT = f"{USER_AGENT} (doctor)"


@dataclass
class DoctorReport:
    context: str
    namespace: str
    server: str
    version: str
    results: list[CheckResult]
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def summary(self) -> str:
        ok, warn, fail = self.count(OK), self.count(WARNING), self.count(FAILED)
        verdict = ("is not ready for GPU experiments" if fail else "is ready for GPU experiments"
                   + (" (see the warnings)" if warn else ""))
        return f"{len(self.results)} checks: {ok} ok, {warn} warnings, {fail} failed - {self.context} {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {"context": self.context, "namespace": self.namespace, "server": self.server,
                "version": self.version,
                "summary": {"ok": self.count(OK), "warning": self.count(WARNING), "failed": self.count(FAILED),
                            "text": self.summary},
                "checks": [r.to_dict() for r in self.results], "notes": list(self.notes)}


def exit_code(report: DoctorReport) -> int:
    return 1 if report.count(FAILED) else 0


def _pod_specs(doc: Any):
    """Every pod spec inside a rendered manifest (Job templates, Workflow templates, trialSpec)."""
    if isinstance(doc, dict):
        if isinstance(doc.get("containers"), list):
            yield doc
        for v in doc.values():
            yield from _pod_specs(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _pod_specs(v)


def _wants_gpu(spec: dict) -> bool:
    from cockpit.kube.gpu import gpu_requests

    return bool(gpu_requests({"spec": spec}))


def preset_tolerations(library=None) -> tuple[dict[str, list[dict]], list[str]]:
    """(GPU preset -> the tolerations its GPU pods get with default values, presets that take
    a `gpu_toleration` value). Presets that do not render with defaults are left out."""
    from cockpit.launch.library import PresetLibrary

    library = library or PresetLibrary(builtin=True)
    tolerations: dict[str, list[dict]] = {}
    takes: list[str] = []
    for name, preset in sorted(library.presets.items()):
        try:
            docs = preset.render({})
        except Exception:  # noqa: BLE001 - a preset that needs values has no default tolerations to judge
            continue
        specs = [s for d in docs for s in _pod_specs(d) if _wants_gpu(s)]
        if not specs:
            continue
        # The preset reaches a node only if every GPU pod of it tolerates the taint.
        common = [t for t in (specs[0].get("tolerations") or [])
                  if all(t in (s.get("tolerations") or []) for s in specs)]
        tolerations[name] = common
        if "gpu_toleration" in preset.parameters:
            takes.append(name)
    return tolerations, takes


def run_checks(facts: ClusterFacts, *, registry_probe=None, registry_configured: bool = False,
               presets: tuple[dict[str, list[dict]], list[str]] | None = None,
               now: dt.datetime | None = None, read_only: bool = False) -> list[CheckResult]:
    """The checks over gathered facts (pure: no network)."""
    now = now or dt.datetime.now(dt.UTC)
    u = facts.unreadable
    out: list[CheckResult] = [CheckResult(
        "cluster", "Cluster reachable", OK,
        f"{facts.server} ({facts.version or 'version hidden'}), context {clean(facts.context, 200)}")]
    if "nodes" in u:
        for id_, title in (("gpu-capacity", "GPU nodes advertise GPUs"), ("gfd-labels", "GPU Feature Discovery labels"),
                           ("mig-strategy", "MIG strategy"), ("time-slicing", "GPU sharing (time-slicing, MPS)"),
                           ("gpu-taints", "Tainted GPU nodes vs preset tolerations"),
                           ("gpu-cordoned", "GPU nodes Ready and schedulable")):
            out.append(checks.cannot_read(id_, title, u["nodes"]))
        gpu_names: list[str] = []
    else:
        plugin_nodes = {(p.get("spec") or {}).get("nodeName", "") for p in facts.pods
                        if "device-plugin" in str((p.get("metadata") or {}).get("name", ""))
                        and "validator" not in str((p.get("metadata") or {}).get("name", ""))}
        gpu_names = [checks.name_of(n) for n in checks.gpu_nodes(facts.nodes, plugin_nodes)]
        tolerations, takes = presets if presets is not None else preset_tolerations()
        out += [checks.gpu_capacity(facts.nodes, plugin_nodes), checks.gfd_labels(facts.nodes, plugin_nodes),
                checks.mig_strategy(facts.nodes), checks.time_slicing(facts.nodes)]
    for comp in checks.COMPONENTS:
        if "daemonsets" in u or "pods" in u:
            out.append(checks.cannot_read(comp.id, comp.title, u.get("daemonsets") or u["pods"]))
        else:
            out.append(checks.gpu_daemonset(comp, facts.daemonsets, facts.pods, gpu_names))
    out.append(checks.dcgm_answers(facts.metrics))
    if "nodes" not in u:
        out += [checks.tainted_gpu_nodes(facts.nodes, tolerations, takes), checks.gpu_nodes_schedulable(facts.nodes)]
    out.append(checks.cannot_read("pending-gpu-pods", "Pods Pending for GPUs", u["pods"]) if "pods" in u
               else checks.pending_gpu_pods(facts.pods, now))
    out.append(checks.cannot_read("default-storageclass", "Default StorageClass", u["storageclasses"])
               if facts.storageclasses is None else checks.default_storage_class(facts.storageclasses))
    out.append(checks.cannot_read("pending-pvcs", "PVCs Pending", u["persistentvolumeclaims"])
               if "persistentvolumeclaims" in u else
               checks.pending_pvcs(facts.pvcs, facts.storageclasses, facts.pvc_events))
    controllers = checks.find_deployments(facts.deployments, "workflow-controller")
    out.append(checks.argo_controller(facts.groups, facts.deployments, facts.workflows, now))
    out.append(checks.argo_configmap(facts.groups, facts.argo_namespace, facts.argo_configmap_name,
                                     facts.argo_configmap, u.get("configmaps")))
    out.append(checks.argo_executor(facts.groups, facts.argo_configmap, controllers[0] if controllers else None))
    out.append(checks.katib(facts.groups, facts.katib_resources, facts.deployments))
    out.append(checks.kueue(facts.groups, facts.deployments, facts.cluster_queues))
    if facts.access is not None:
        out.append(checks.own_access(facts.access, read_only))
    out.append(checks.registry(registry_probe if registry_configured else None, facts.context))
    return out


def run_doctor(kubeconfig, context: str, namespace: str | None = None, *, settings=None,
               progress: Callable[[str], Any] | None = None) -> DoctorReport:
    """Connect to `context` read-only and run every check. Raises Unreachable (naming the
    context and file) when the cluster cannot be asked anything."""
    from cockpit.config import load_settings
    from cockpit.doctor.registry import probe_registry
    from cockpit.kube.connection import ConnectionProblem, make_api_client

    say = progress or (lambda _text: None)
    if settings is None:
        settings, _problems = load_settings()
    ctx_settings = settings.for_context(context)
    info = kubeconfig.contexts.get(context)
    namespace = namespace or ctx_settings.namespace or (info.namespace if info else "") or "default"
    api = make_api_client(kubeconfig, context, read_only=True)  # doctor only reads, whatever the config says
    if isinstance(api, ConnectionProblem):
        raise Unreachable(str(api))
    api.user_agent = DOCTOR_AGENT
    try:
        say("reading the cluster")
        try:
            facts = gather(api, context, namespace)
        except Unreachable as e:
            where = f"context {context}, file {kubeconfig.path_string}" if kubeconfig.files else f"context {context}"
            raise Unreachable(f"cannot reach the cluster at {api.configuration.host}: {e} ({where})") from None
        probe = None
        if ctx_settings.registry:
            say(f"asking the registry {ctx_settings.registry}")
            probe = probe_registry(ctx_settings.registry)
        say("checking")
        results = run_checks(facts, registry_probe=probe, registry_configured=bool(ctx_settings.registry),
                             read_only=ctx_settings.read_only)
    finally:
        api.close()
    return DoctorReport(clean(context, 200), clean(namespace, 63), facts.server, facts.version, results,
                        [clean(n, 300) for n in facts.notes])
