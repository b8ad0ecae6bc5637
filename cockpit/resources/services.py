"""Services (core/v1): how pods are reached. Enter lists the pods the Service's selector matches,
in its namespace: the pods its endpoints would hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _key, _meta
from cockpit.kube.selector import labels_text
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 30, min_width=16, cut="middle"),
    Column("TYPE", 12, priority=1),
    Column("CLUSTER-IP", 15, priority=3),
    Column("PORTS", 18, priority=1),
    Column("SELECTOR", 24, priority=4),
    Column("AGE", 6, "right", priority=2),
)


def ports_text(spec: Mapping[str, Any]) -> str:
    """kubectl's PORTS: "80/TCP", "443:30443/TCP" (port:nodePort/protocol), comma-joined."""
    parts = []
    for p in spec.get("ports") or ():
        if not isinstance(p, Mapping):
            continue
        node_port = f":{p['nodePort']}" if p.get("nodePort") else ""
        parts.append(f"{p.get('port', '')}{node_port}/{p.get('protocol') or 'TCP'}")
    return ",".join(parts)


def selector_of(svc: Mapping[str, Any]) -> dict[str, str]:
    sel = (svc.get("spec") or {}).get("selector") or {}
    return {str(k): str(v) for k, v in sel.items()} if isinstance(sel, Mapping) else {}


def service_row(svc: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(svc)
    spec = svc.get("spec") or {}
    kind = clean(spec.get("type") or "ClusterIP", 16)
    ip = clean(spec.get("clusterIP") or "", 64)
    ports = clean(ports_text(spec), 256)
    sel = selector_of(svc)
    selector = clean(labels_text(sel), 256) or "<none>"
    age, age_s = _age(svc, now)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, kind, ip, ports, selector, age),
        sort=(ns, name, kind, ip, ports, selector, age_s),
        labels=labels,
        namespace=ns,
        name=name,
    )


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selects the pods carrying every one of its labels; an empty selector selects
    none (its endpoints are managed by hand)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class Services(Kind):
    id, title, api_kind, plural = "services", "Services", "Service", "services"
    aliases = ("svc",)
    commands = ("svc", "services", "service")
    columns = COLUMNS
    help = "services (⏎ their pods)"
    # Kept (small objects): Enter reads the selector from it. Only AGE changes as time passes.
    keep_objects = True
    rebuild_as_time_passes = False
    opens = True
    ui_actions = frozenset({"port_forward"})

    def build(self, obj, hub):
        return service_row(obj, hub.clock())

    def forward_offer(self, api, namespace, name):
        """shift+f on a Service: its ports, forwarded to one of the pods it selects (as kubectl
        port-forward svc/NAME does); the forward moves to another of them when that pod goes."""
        from cockpit.kube import actions
        from cockpit.kube.connection import request_json
        from cockpit.kube.portforward import endpoint_pod
        from cockpit.resources import registry
        from cockpit.ui.screens.portforward import service_offer

        svc = actions.get(api, self.resource, namespace, name)
        sel = selector_of(svc)
        if not sel:
            raise LookupError(f"service {clean(name, 80)} has no selector: no pod to forward to")
        selector = labels_text(sel)
        pods = request_json(api, "GET", registry.get("pods").resource.path(namespace),
                            query=[("labelSelector", selector)], timeout=(10, 30)).get("items") or []
        pod = endpoint_pod(pods)
        if pod is None:
            raise LookupError(f"service {clean(name, 80)} selects no running pod ({clean(selector, 120)})")
        offer = service_offer(svc, pod)
        if not offer.targets:
            raise LookupError(f"service {clean(name, 80)} has no TCP port its pod declares")
        return offer

    def open(self, nav, row):
        from cockpit.resources import registry
        from cockpit.ui.views import View

        key, ns = row.key, row.namespace

        def selector() -> dict[str, str]:
            feed = nav.hub.feeds.get(self.id) if nav.hub else None
            obj = feed.get_object(key) if feed else None
            return selector_of(obj or {})

        def pod_rows():
            sel = selector()  # read again each time: the Service's selector may change
            return nav.pod_rows(lambda r: r.namespace == ns and matches(sel, r.labels)) if sel else []

        sel = selector()
        title = f"Pods of service {key}"
        shown = labels_text(sel) or "no selector"
        if not sel or len(title) + len(shown) < 60:  # the selector, where it fits on one line at 80
            title += f" ({shown})"
        nav.push_view(View(f"svc:{key}", clean(title, 200),
                           registry.get("pods").columns, RowStore(), rows_fn=pod_rows,
                           depends_on=("pods", self.id), kind_id="pods"))


KIND = Services()
