"""A Service's ports on the pod a forward goes to, and which of its pods that is (shift+f on a
Service): recorded objects, no cluster."""

from __future__ import annotations

from cockpit.kube.portforward import endpoint_pod, service_ports
from cockpit.ui.screens.portforward import service_offer


def pod(name: str, *, phase="Running", ready=True, created="2026-12-01T10:00:00Z", deleting=False, ports=()):
    meta = {"name": name, "namespace": "team-nlp", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T11:00:00Z"
    return {"metadata": meta,
            "spec": {"containers": [{"name": "main", "ports": [{"name": n, "containerPort": p} for n, p in ports]}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SVC = {"metadata": {"name": "tb", "namespace": "team-nlp"}, "spec": {"selector": {"app": "tb", "tier": "ui"}, "ports": [
    {"name": "web", "port": 80, "targetPort": "http"},   # named: the pod's port of that name
    {"name": "grpc", "port": 9000, "targetPort": 9001},  # a number
    {"port": 6006},                                      # no targetPort: the same as port
    {"name": "metrics", "port": 9100, "targetPort": "prom"},  # a name the pod does not declare
    {"name": "dns", "port": 53, "protocol": "UDP"},      # not TCP: cannot be forwarded
]}}


def test_service_ports_resolve_named_target_ports_on_the_pod():
    p = pod("tb-1", ports=[("http", 8080), ("grpc", 9001)])
    assert service_ports(SVC, p) == [("web", 80, 8080), ("grpc", 9000, 9001), ("", 6006, 6006)]


def test_the_endpoint_pod_is_running_and_ready_first_then_newest():
    older = pod("a", created="2026-12-01T09:00:00Z")
    newer = pod("b", created="2026-12-01T10:00:00Z")
    unready = pod("c", created="2026-12-01T12:00:00Z", ready=False)
    assert endpoint_pod([older, newer, unready])["metadata"]["name"] == "b"
    assert endpoint_pod([unready, pod("d", phase="Pending")])["metadata"]["name"] == "c"
    assert endpoint_pod([pod("e", deleting=True), pod("f", phase="Succeeded")]) is None
    assert endpoint_pod([]) is None


def test_the_offer_names_the_service_and_follows_its_selector():
    offer = service_offer(SVC, pod("tb-1", ports=[("http", 8080)]))
    assert offer.title == "Port-forward service team-nlp/tb (pod tb-1)"
    assert (offer.namespace, offer.pod) == ("team-nlp", "tb-1")
    assert offer.owner == {"kind": "Service", "name": "tb", "selector": "app=tb,tier=ui"}
    assert [(t.port, t.service_port) for t in offer.targets] == [(8080, 80), (9001, 9000), (6006, 6006)]
    assert offer.targets[0].label() == " 8080  web  (service port 80 → pod port 8080)"
