"""The informer against the demo cluster's real API server.

A list is streamed in one watch request (the server's WatchList): its rows reach the sink a page
at a time with the server's estimate of the whole, then the whole, then the changes on the same
stream. A server that refuses the streaming request, or takes it as a plain watch, gets the paged
list instead, and the informer remembers that.
"""

from __future__ import annotations

from kubernetes import client

from cockpit.kube.informer import LIVE, Informer, Resource
from tests.conftest import wait_for
from tests.support.sinks import Recorder

PODS = Resource("", "v1", "pods")
CONFIGMAPS = Resource("", "v1", "configmaps")


def _listed_pods(api) -> set[str]:
    return {f"{p.metadata.namespace}/{p.metadata.name}"
            for p in client.CoreV1Api(api).list_pod_for_all_namespaces().items}


def _run(informer: Informer, sink: Recorder, what: str) -> None:
    informer.start()
    wait_for(lambda: LIVE in sink.states, 60, what=what)


def test_a_streamed_list_hands_over_pages_with_the_servers_estimate_then_the_whole(kube_admin):
    sink = Recorder()
    informer = Informer(kube_admin, PODS, sink, lambda obj: obj, name="pods-streamed")
    informer.PAGE = informer.FIRST_PAGE = 4
    try:
        _run(informer, sink, "the streamed list")
        assert informer.streaming  # the demo's server streams lists: this was not the paged fallback
        assert informer.resource_version  # from the bookmark that ended the initial events
        with sink.lock:
            pages, keys, resets = list(sink.pages), set(sink.items), sink.resets
        assert resets == 1
        total = len(keys)
        assert total > 4 * 3, total  # several pages
        assert len(pages) == total // 4, (pages, total)  # every full page, before the whole
        assert [p[0] for p in pages] == [4] * len(pages)
        assert [p[1] for p in pages] == [4 * (i + 1) for i in range(len(pages))]
        assert all(p[3] == 0 for p in pages)
        # The estimate comes from a list of one beside the stream; pages before it came have none.
        # Pods the demo starts or ends meanwhile move it a little.
        assert all(p[2] is None or abs(p[2] - total) <= 5 for p in pages), (pages, total)
        assert informer._estimate is not None and abs(informer._estimate - total) <= 5
        listed = _listed_pods(kube_admin)
        assert len(keys ^ listed) <= 5, keys ^ listed
    finally:
        informer.stop()
        informer.join(5)


def test_a_streamed_list_goes_on_as_the_watch(kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    ns, name = "default", unique_name[:60]
    sink = Recorder()
    informer = Informer(kube_admin, CONFIGMAPS, sink, lambda obj: obj, namespace=ns, name="cm-streamed")
    try:
        _run(informer, sink, "the streamed list")
        assert informer.streaming
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                                                 data={"a": "1"}))
        wait_for(lambda: sink.get(f"{ns}/{name}") is not None, 30, what="the new ConfigMap's event")
        core.patch_namespaced_config_map(name, ns, {"data": {"a": "2"}})
        wait_for(lambda: (sink.get(f"{ns}/{name}") or {}).get("data") == {"a": "2"}, 30, what="the change")
        core.delete_namespaced_config_map(name, ns)
        wait_for(lambda: f"{ns}/{name}" in sink.deleted, 30, what="the delete")
        assert sink.resets == 1  # one list; everything after it came on the watch
    finally:
        informer.stop()
        informer.join(5)
        try:
            core.delete_namespaced_config_map(name, ns)
        except client.ApiException:
            pass


class Refused(Informer):
    """Asks for a streaming list the way the server refuses (no resourceVersionMatch), as a server
    without the feature refuses every streaming request."""

    def _stream_query(self):
        return [(k, v) for k, v in super()._stream_query() if k != "resourceVersionMatch"]


class TakenAsAWatch(Informer):
    """Asks in a way the server takes as a plain watch without bookmarks (as a server that ignores
    sendInitialEvents would): every object comes as ADDED, no bookmark ends them, and the server
    ends the stream after a second."""

    def _stream_query(self):
        return [(k, v if k != "timeoutSeconds" else 1) for k, v in super()._stream_query()
                if k not in ("sendInitialEvents", "resourceVersionMatch", "allowWatchBookmarks")]


def test_a_server_that_refuses_the_streaming_request_gets_the_paged_list(kube_admin):
    for cls in (Refused, TakenAsAWatch):
        sink = Recorder()
        informer = cls(kube_admin, PODS, sink, lambda obj: obj, name=f"pods-{cls.__name__}")
        informer.PAGE = 50
        try:
            _run(informer, sink, f"the list after {cls.__name__}")
            assert not informer.streaming, cls
            with sink.lock:
                keys, resets, pages = set(sink.items), sink.resets, list(sink.pages)
            assert resets == 1, cls  # the paged list's; the streaming attempt handed over no whole
            assert pages and pages[0][0] == 50, (cls, pages)  # pages of the paged list
            assert len(keys ^ _listed_pods(kube_admin)) <= 5, cls
        finally:
            informer.stop()
            informer.join(5)

