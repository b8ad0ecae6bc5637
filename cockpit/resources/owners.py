"""Who controls an object: the ownerReferences chain (pod → ReplicaSet → Deployment), resolved
through the kind registry. Blocking: run in a worker."""

from __future__ import annotations

from cockpit.kube import describe
from cockpit.resources import registry
from cockpit.resources.base import Kind


def controller_ref(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def kind_of_ref(ref: dict) -> Kind | None:
    api_version = str(ref.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return registry.by_api_kind(str(ref.get("kind") or ""), group)


def owner_chain(api, obj: dict, *, depth: int = 6) -> list[tuple[Kind | None, str, str, str]]:
    """[(kind or None, api_kind, namespace, name)] from the object's controller up; an owner of a
    kind the cockpit does not know (or cannot read) ends the chain with its name only."""
    out: list[tuple[Kind | None, str, str, str]] = []
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    current = obj
    for _ in range(depth):
        ref = controller_ref(current)
        if ref is None:
            break
        kind = kind_of_ref(ref)
        owner_ns = ns if kind is None or kind.namespaced else ""
        out.append((kind, str(ref.get("kind") or ""), owner_ns, str(ref.get("name") or "")))
        if kind is None:
            break
        try:
            current = describe.fetch(api, kind.resource, owner_ns, str(ref.get("name") or ""))
        except Exception:  # gone, forbidden, network: the chain stops at what is known
            break
    return out
