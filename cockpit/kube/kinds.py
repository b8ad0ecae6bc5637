"""The kinds the cockpit shows, as data: where they live in the API, what a row shows, the
names the `:` command knows them by. A new kind is one entry here plus, at most, a row builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cockpit.kube import rows
from cockpit.kube.informer import Resource
from cockpit.kube.model import Column, Row


@dataclass(frozen=True)
class Kind:
    id: str
    title: str
    aliases: tuple[str, ...]
    resource: Resource
    columns: tuple[Column, ...]
    build: Callable[..., Row]
    # Keep the raw object (small kinds) so rows can be rebuilt as time passes (durations).
    keep_objects: bool = True
    api_kind: str = ""

    @property
    def namespaced(self) -> bool:
        return self.resource.namespaced

    @property
    def age_column(self) -> int | None:
        for i, c in enumerate(self.columns):
            if c.title == "AGE":
                return i
        return None


def _k(id, title, aliases, group, version, plural, namespaced=True, keep=True, api_kind=""):
    columns, build = rows.BUILDERS[id]
    return Kind(id, title, aliases, Resource(group, version, plural, namespaced), tuple(columns), build,
                keep, api_kind)


KINDS: dict[str, Kind] = {k.id: k for k in (
    _k("pods", "Pods", ("pods", "pod", "po"), "", "v1", "pods", keep=False, api_kind="Pod"),
    _k("jobs", "Jobs", ("jobs", "job"), "batch", "v1", "jobs", api_kind="Job"),
    _k("pvcs", "PVCs", ("pvc", "pvcs", "persistentvolumeclaims"), "", "v1", "persistentvolumeclaims",
       api_kind="PersistentVolumeClaim"),
    _k("nodes", "Nodes", ("nodes", "node", "no"), "", "v1", "nodes", namespaced=False, api_kind="Node"),
    _k("workflows", "Workflows", ("wf", "workflows", "workflow"), "argoproj.io", "v1alpha1", "workflows",
       api_kind="Workflow"),
    _k("experiments", "Experiments", ("exp", "experiments", "experiment"), "kubeflow.org", "v1beta1",
       "experiments", api_kind="Experiment"),
    _k("trials", "Trials", ("trials", "trial"), "kubeflow.org", "v1beta1", "trials", api_kind="Trial"),
    _k("namespaces", "Namespaces", ("ns", "namespaces", "namespace"), "", "v1", "namespaces", namespaced=False,
       api_kind="Namespace"),
)}


def kind_by_alias(name: str) -> Kind | None:
    name = name.strip().lower()
    for k in KINDS.values():
        if name == k.id or name in k.aliases:
            return k
    return None
