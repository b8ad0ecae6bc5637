"""Pods streamed as protobuf by the demo cluster's real API server (cockpit/kube/proto.py).

Every pod decodes as its JSON does, and the informer of a kind with a protobuf schema reads its
list and watch that way, while kinds the server has no protobuf for (custom resources) come as
JSON on the same request.
"""

from __future__ import annotations

from kubernetes import client

from cockpit.kube import typed
from cockpit.kube.connection import request
from cockpit.kube.informer import LIVE, Informer, Resource
from cockpit.kube.proto import ACCEPT_WATCH, PROTOBUF_WATCH, EventDecoder, frames
from tests.conftest import wait_for
from tests.support.sinks import Recorder

PODS = Resource("", "v1", "pods")
WORKFLOWS = Resource("argoproj.io", "v1alpha1", "workflows")
STREAM = [("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"),
          ("allowWatchBookmarks", "true"), ("timeoutSeconds", "30")]


def _stream(api, accept: str) -> tuple[str, list[tuple[str, dict]]]:
    """(Content-Type, events) of a streaming list of every pod, up to the bookmark that ends it."""
    resp = request(api, "GET", PODS.path(), query=STREAM, accept=accept, timeout=(10, 60))
    ctype = resp.headers.get("Content-Type", "")
    events: list[tuple[str, dict]] = []
    try:
        if ctype.startswith(PROTOBUF_WATCH):
            decoder, buffer = EventDecoder("Pod"), bytearray()
            for chunk in resp.stream(1 << 16):
                buffer += chunk
                events.extend(decoder.decode(f) for f in frames(buffer))
                if events and events[-1][0] == "BOOKMARK":
                    break
        else:
            json_events, rest = typed.Decoders(typed.Pod).event, b""
            for chunk in resp.stream(1 << 16):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                done = False
                for line in lines:
                    if line.startswith(b'{"type":"BOOKMARK"'):
                        done = True
                        break
                    ev = json_events.decode(line)
                    events.append((ev.type, ev.object))
                if done:
                    break
    finally:
        resp.release_conn()
    return ctype, events


def _by_version(events) -> dict[tuple[str, str], dict]:
    return {(o["metadata"]["namespace"] + "/" + o["metadata"]["name"], o["metadata"]["resourceVersion"]): o
            for kind, o in events if kind == "ADDED"}


def test_every_pod_of_the_cluster_decodes_from_protobuf_as_from_json(kube_admin):
    ctype, pb = _stream(kube_admin, ACCEPT_WATCH)
    assert ctype.startswith(PROTOBUF_WATCH)  # the server chose protobuf for pods
    ctype_json, js = _stream(kube_admin, "application/json")
    assert ctype_json.startswith("application/json")
    pb_pods, js_pods = _by_version(pb), _by_version(js)
    same = pb_pods.keys() & js_pods.keys()  # the demo's jobs change a few pods between the reads
    assert len(same) >= 0.9 * len(js_pods) and len(js_pods) > 20, (len(same), len(js_pods))
    for key in same:
        assert pb_pods[key] == js_pods[key], key


def test_the_pods_informer_lists_and_watches_in_protobuf(kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    ns, name = "default", unique_name[:60]
    sink = Recorder()
    informer = Informer(kube_admin, PODS, sink, lambda obj: obj, namespace=ns, name="pods-proto", typed=typed.Pod)
    try:
        informer.start()
        wait_for(lambda: LIVE in sink.states, 60, what="the streamed list")
        assert informer.streaming and informer.encoding == "protobuf"
        core.create_namespaced_pod(ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"proto": "yes"}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
                     "nodeSelector": {"proto-test": "nowhere"}}})
        key = f"{ns}/{name}"
        wait_for(lambda: sink.get(key) is not None, 30, what="the new pod's event")
        pod = sink.get(key)
        assert pod["metadata"]["labels"] == {"proto": "yes"}
        assert pod["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
        core.patch_namespaced_pod(name, ns, {"metadata": {"labels": {"proto": "changed"}}})
        wait_for(lambda: (sink.get(key) or {}).get("metadata", {}).get("labels") == {"proto": "changed"}, 30,
                 what="the change")
        core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
        wait_for(lambda: key in sink.deleted, 30, what="the delete")
        assert sink.resets == 1  # one list; everything after it came on the same stream
    finally:
        informer.stop()
        informer.join(5)
        try:
            core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
        except client.ApiException:
            pass


def test_custom_resources_come_as_json_on_the_same_request(kube_admin):
    resp = request(kube_admin, "GET", WORKFLOWS.path(), query=STREAM, accept=ACCEPT_WATCH, timeout=(10, 30))
    try:
        assert resp.headers.get("Content-Type", "").startswith("application/json")
    finally:
        resp.release_conn()
