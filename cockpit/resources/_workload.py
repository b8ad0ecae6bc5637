"""What the workload kinds (Deployments, ReplicaSets, StatefulSets, DaemonSets, CronJobs) share:
their pods chosen by a label selector, the objects their own feeds keep, what a pod template
asks of GPUs, and a row's colour from ready counts.

Not a kind (the registry skips modules whose name starts with "_").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.kube.gpu import gpu_requests
from cockpit.kube.model import Row
from cockpit.kube.selector import Requirement, Selector
from cockpit.kube.store import RowStore
from cockpit.resources.base import Kind, KindAction

# A LabelSelector's matchExpressions operators, as the label-selector grammar spells them.
_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}



class AppsWorkload(Kind):
    """Deployments, ReplicaSets, StatefulSets, DaemonSets (apps/v1): rows that move only with
    AGE (no durations), deleting one takes its pods, Enter opens what it controls."""

    group = "apps"
    rebuild_as_time_passes = False
    delete_note = " (and their pods)"
    opens = True

def selector_of(label_selector: Mapping[str, Any] | None) -> Selector | None:
    """The selector an object's spec.selector means; None when it selects nothing (empty or an
    operator this cockpit does not know: showing every pod would be wrong)."""
    if not isinstance(label_selector, Mapping):
        return None
    reqs = [Requirement(str(k), "=", (str(v),)) for k, v in (label_selector.get("matchLabels") or {}).items()]
    for e in label_selector.get("matchExpressions") or ():
        op = _OPS.get(str((e or {}).get("operator") or ""))
        if op is None:
            return None
        reqs.append(Requirement(str(e.get("key") or ""), op, tuple(str(v) for v in e.get("values") or ())))
    return Selector(tuple(reqs)) if reqs else None


def selector_text(label_selector: Mapping[str, Any] | None) -> str:
    """The same selector as the `labelSelector` query parameter of a list or watch."""
    sel = selector_of(label_selector)
    if sel is None:
        return ""
    parts = []
    for r in sel.requirements:
        if r.op == "=":
            parts.append(f"{r.key}={r.values[0]}")
        elif r.op in ("in", "notin"):
            parts.append(f"{r.key} {r.op} ({','.join(r.values)})")
        elif r.op == "exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(parts)


def kept_object(nav, kind, key: str) -> dict | None:
    """The object behind `key` from any running feed of `kind` (its pane's, or a drill-down's)."""
    hub = nav.hub
    if hub is None:
        return None
    feeds = [hub.feeds.get(kind.id)] + [f for fid, f in list(hub.feeds.items()) if fid != kind.id]
    for feed in feeds:
        if feed is not None and feed.kind is kind:
            obj = feed.get_object(key)
            if obj is not None:
                return obj
    return None


def controlled_by(obj: Mapping[str, Any], api_kind: str, name: str, uid: str = "") -> bool:
    """Whether `obj`'s controller is that object (by uid when known: a same-named replacement is
    another owner)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") and ref.get("kind") == api_kind:
            return ref.get("uid") == uid if uid else ref.get("name") == name
    return False


def template_gpus(obj: Mapping[str, Any], pods: int, names: Iterable[str], prefixes: Iterable[str]) -> dict[str, float]:
    """What `pods` pods of the object's pod template request of GPUs."""
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {r: n * pods for r, n in gpu_requests({"spec": template}, names, prefixes).items()}


def ready_hint(ready: int, desired: int, deleting: bool) -> str:
    if deleting:
        return "warn"
    if desired == 0:
        return ""
    return "ok" if ready >= desired else "pending"


def open_pods(nav, view_id: str, title: str, namespace: str, selector: Selector | None) -> None:
    """A drill-down of the pods `selector` chooses in `namespace`, live from the pods feed."""
    from cockpit.resources import registry
    from cockpit.ui.views import View

    def pod_rows() -> list[Row]:
        if selector is None:
            return []
        return nav.pod_rows(lambda r: r.namespace == namespace and selector.matches(r.labels))

    if selector is None:
        nav.notify("no pod selector: its pods cannot be told apart", severity="warning", timeout=4)
    nav.push_view(View(view_id, title, registry.get("pods").columns, RowStore(), rows_fn=pod_rows,
                       depends_on=("pods",), kind_id="pods"))


def scale_action(resource) -> KindAction:
    """shift+s: asks the replica count, then patches spec.replicas."""
    from cockpit.kube import actions

    return KindAction("scale", lambda api, ns, name, n: actions.scale(api, resource, ns, name, n), "patch",
                      ask="Replicas", done="scaled")


def restart_action(resource, effect: str) -> KindAction:
    """R: a rollout restart (the restartedAt template annotation), after asking; `effect` says
    how the pods are replaced."""
    from cockpit.kube import actions

    return KindAction("retry", lambda api, ns, name: actions.rollout_restart(api, resource, ns, name), "patch",
                      confirm=("restart", effect), done="restarted")
