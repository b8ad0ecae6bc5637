"""The read-only guard is an allow-list: reads, the self-access reviews, and dcgm-exporter's
metrics through the proxy; everything else is refused before it leaves the process."""

from __future__ import annotations

import pytest

from cockpit.kube.connection import ReadOnlyRefused, guard_read_only, read_only_refusal

ALLOWED = [
    ("GET", "/api/v1/pods"),
    ("GET", "/api/v1/namespaces/a/pods?watch=true&resourceVersion=5"),
    ("HEAD", "/version"),
    ("GET", "/api/v1/namespaces/gpu-operator/pods/dcgm-exporter-x:9400/proxy/metrics"),
    ("GET", "/api/v1/namespaces/gpu-operator/services/dcgm-exporter:9400/proxy/metrics"),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"),
    ("post", "/apis/authentication.k8s.io/v1/selfsubjectreviews/"),
]
REFUSED = [
    ("POST", "/api/v1/namespaces"),
    ("POST", "/api/v1/namespaces/a/pods?dryRun=All"),
    ("PUT", "/api/v1/namespaces/a/pods/p"),
    ("PATCH", "/apis/argoproj.io/v1alpha1/namespaces/a/workflows/w"),
    ("DELETE", "/api/v1/namespaces/a/persistentvolumeclaims/c"),
    ("GET", "/api/v1/namespaces/a/pods/p/exec?command=sh"),
    ("POST", "/api/v1/namespaces/a/pods/p/attach"),
    ("GET", "/api/v1/namespaces/a/pods/p/portforward?ports=80"),
    ("GET", "/api/v1/namespaces/a/pods/p:8080/proxy/admin/reset"),
    ("GET", "/api/v1/namespaces/a/services/web/proxy/"),
    ("GET", "/api/v1/nodes/n/proxy/metrics/../configz"),
    ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"),
    ("POST", "/apis/authorization.k8s.io/v1/namespaces/a/localsubjectaccessreviews"),
    ("CONNECT", "/api/v1/namespaces/a/pods/p"),
]


@pytest.mark.parametrize("method, path", ALLOWED)
def test_reads_and_reviews_pass(method, path):
    assert read_only_refusal(method, path) is None


@pytest.mark.parametrize("method, path", REFUSED)
def test_everything_else_is_refused(method, path):
    why = read_only_refusal(method, path)
    assert why and why.startswith("read-only: refused")


class Recorder:
    def __init__(self):
        self.sent = []

    def call_api(self, resource_path, method, *args, **kwargs):
        self.sent.append((method, resource_path))
        return "ok"


def test_the_guard_refuses_before_the_request_leaves():
    api = Recorder()
    guard_read_only(api, True)
    with pytest.raises(ReadOnlyRefused):
        api.call_api("/api/v1/namespaces", "POST")
    assert api.call_api("/api/v1/pods", "GET") == "ok"
    assert api.sent == [("GET", "/api/v1/pods")]
    guard_read_only(api, False)  # switching to a writable context lifts it, without wrapping twice
    assert api.call_api("/api/v1/namespaces", "POST") == "ok"
