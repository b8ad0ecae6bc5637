"""The cockpit's own API client (cockpit.kube.rest) against the demo cluster's API server:
client certificates, error statuses, the read-only guard, a token from an exec credential
plugin asked for again after a 401, and an app that runs without ever importing the official
client's package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from cockpit.kube.connection import (ConnectionProblem, Kubeconfig, ReadOnlyRefused, can_i, make_api_client,
                                     request_json)
from cockpit.kube.rest import ApiError, RestClient

ROOT = Path(__file__).resolve().parents[2]


def test_client_certificates_lists_errors_and_the_read_only_guard(demo_cluster):
    kc = Kubeconfig.load(demo_cluster.kubeconfig)
    api = make_api_client(kc, "cockpit-demo")
    assert isinstance(api, RestClient), api
    names = {n["metadata"]["name"] for n in request_json(api, "GET", "/api/v1/namespaces")["items"]}
    assert {"default", "kube-system"} <= names
    with pytest.raises(ApiError) as err:
        request_json(api, "GET", "/api/v1/namespaces/default/pods/no-such-pod")
    assert err.value.status == 404 and b"not found" in err.value.body
    assert can_i(api, "list", "pods") is True

    viewer = make_api_client(kc, "cockpit-demo-viewer", read_only=True)
    assert isinstance(viewer, RestClient)
    assert can_i(viewer, "delete", "pods", namespace="default") is False  # a review is a read
    with pytest.raises(ReadOnlyRefused):
        request_json(viewer, "DELETE", "/api/v1/namespaces/default/pods/anything")
    api.close()
    viewer.close()


def _token(kube_admin, unique_name: str) -> str:
    from kubernetes import client

    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_service_account("default", {"metadata": {"name": unique_name}})
    client.RbacAuthorizationV1Api(kube_admin).create_cluster_role_binding({
        "metadata": {"name": unique_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": unique_name, "namespace": "default"}]})
    review = core.create_namespaced_service_account_token(unique_name, "default",
                                                          {"spec": {"expirationSeconds": 3600}})
    return review.status.token


def test_an_exec_plugin_token_is_asked_for_again_after_a_401(demo_cluster, kube_admin, unique_name, tmp_path):
    token = _token(kube_admin, unique_name)
    runs, seen_info = tmp_path / "runs", tmp_path / "info"
    plugin = tmp_path / "get-token"
    # The first credential is stale (the server refuses it); the plugin's next answer is good.
    plugin.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo x >> {runs}
        printf '%s' "$KUBERNETES_EXEC_INFO" > {seen_info}
        if [ "$(wc -l < {runs})" -eq 1 ]; then t=stale; else t={token}; fi
        printf '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"%s"}}}}' "$t"
        """))
    plugin.chmod(0o755)
    admin = yaml.safe_load(demo_cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "plugin",
        "clusters": admin["clusters"],
        "users": [{"name": "plugin-user", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never",
            "provideClusterInfo": True}}}],
        "contexts": [{"name": "plugin", "context": {"cluster": admin["clusters"][0]["name"], "user": "plugin-user"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    api = make_api_client(Kubeconfig.load(path), "plugin", read_only=True)
    assert isinstance(api, RestClient), api
    assert runs.read_text().count("x") == 1
    pods = request_json(api, "GET", "/api/v1/namespaces/default/pods")  # 401 with "stale", then the good one
    assert pods["kind"] == "PodList"
    assert runs.read_text().count("x") == 2
    info = json.loads(seen_info.read_text())
    assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == admin["clusters"][0]["cluster"]["server"]
    api.close()


def test_a_kubeconfig_naming_a_cluster_that_is_not_there_is_a_problem(tmp_path, demo_cluster):
    admin = yaml.safe_load(demo_cluster.kubeconfig.read_text())
    admin["contexts"][0]["context"]["cluster"] = "nowhere"
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(admin))
    problem = make_api_client(Kubeconfig.load(path), admin["contexts"][0]["name"])
    assert isinstance(problem, ConnectionProblem) and "nowhere" in str(problem) and str(path) in str(problem)


def test_the_app_shows_every_pod_without_importing_the_official_client(demo_cluster):
    """The whole app, headless in a process of its own: pods and nodes listed and watched, the
    GPU pane's allocation computed, and `kubernetes` never imported."""
    script = textwrap.dedent(f"""\
        import asyncio, sys
        from cockpit.app import CockpitApp
        from cockpit.kube.connection import Kubeconfig

        async def main():
            app = CockpitApp(Kubeconfig.load({str(demo_cluster.kubeconfig)!r}), context="cockpit-demo")
            async with app.run_test(size=(160, 50)) as pilot:
                for _ in range(300):
                    await pilot.pause(0.1)
                    feed = app.hub and app.hub.feeds.get("pods")
                    if feed is not None and feed.synced and len(app.main.current.store.keys()) > 10:
                        break
                else:
                    print("no pods", file=sys.stderr); sys.exit(2)
                rows = len(app.main.current.store.keys())
                await pilot.press("1")  # the GPU pane: allocation from every pod
                await pilot.pause(1.0)
                print(rows, sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes"))
        asyncio.run(main())
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    rows, modules = done.stdout.strip().split(" ", 1)
    assert int(rows) > 0 and modules == "[]", done.stdout
