"""CustomResourceDefinitions (apiextensions.k8s.io/v1, cluster-scoped): the kinds installed on
top of Kubernetes (Argo, Katib, Kueue...). Deleting one deletes every object of that kind in
the cluster, so it needs the name typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _meta
from cockpit.kube.text import clean
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAME", 40, min_width=20, cut="middle"),
    Column("GROUP", 24, priority=2),
    Column("KIND", 20, priority=1),
    Column("VERSIONS", 16, priority=3),
    Column("SCOPE", 10, priority=2),
    Column("AGE", 6, "right", priority=2),
)


def versions_text(spec: Mapping[str, Any]) -> str:
    """The served versions, the storage one marked with "*" ("v1beta1*,v1")."""
    out = []
    for v in spec.get("versions") or ():
        if not isinstance(v, Mapping) or not v.get("served", True):
            continue
        out.append(f"{v.get('name', '')}{'*' if v.get('storage') else ''}")
    return ",".join(out)


def _established(crd: Mapping[str, Any]) -> bool | None:
    for c in (crd.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == "Established":
            return c.get("status") == "True"
    return None


def crd_row(crd: Mapping[str, Any], now: float) -> Row:
    _, name, labels = _meta(crd)
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = clean(spec.get("group") or "", 253)
    kind = clean(names.get("kind") or "", 64)
    versions = clean(versions_text(spec), 128)
    scope = clean(spec.get("scope") or "", 16)
    age, age_s = _age(crd, now)
    established = _established(crd)
    terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=name,
        cells=(name, group, kind, versions, scope, age),
        sort=(name, group, kind, versions, scope, age_s),
        status="warn" if terminating else "pending" if established is False else "",
        labels=labels,
        name=name,
    )


class Crds(Kind):
    id, title, api_kind, group, plural = (
        "crds", "CRDs", "CustomResourceDefinition", "apiextensions.k8s.io", "customresourcedefinitions")
    namespaced = False
    aliases = ("crd",)
    commands = ("crd", "crds", "customresourcedefinitions")
    columns = COLUMNS
    help = "custom resource definitions"
    type_to_confirm = True
    delete_note = " (and every object of that kind, in every namespace)"
    # A CRD carries its whole schema (hundreds of KB for some): nothing kept, rows need only AGE.
    keep_objects = False
    rebuild_as_time_passes = False

    opens = True  # Enter: the objects of that kind, with the server's columns

    def build(self, obj, hub):
        return crd_row(obj, hub.clock())

    def open(self, nav, row):
        nav.open_by_name(row.name)  # "plural.group", which discovery resolves


KIND = Crds()
