"""A person at an 80x24 terminal scales a Deployment: `:deploy`, Enter shows its ReplicaSet,
back, shift+s and the count typed in one burst; the screen and the API agree on 2 pods."""

from __future__ import annotations

import re

from kubernetes import client

from tests.conftest import wait_for

NS = "team-vision"


def test_deploy_drill_down_and_scale_in_one_burst(tmux_cockpit, kube_admin, unique_name):
    name = unique_name[:24].rstrip("-")  # the whole name fits the NAME column at 80 columns
    apps = client.AppsV1Api(kube_admin)
    apps.create_namespaced_deployment(NS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": "cpu-01"},
                     "containers": [{"name": "c", "image": "busybox"}]}}}})
    try:
        term = tmux_cockpit(f"--context cockpit-demo -n {NS}")
        term.wait_for(r"● live")
        term.keys(":")
        term.burst("deploy", then="Enter")
        term.wait_for(rf"Deployments.*\n(.*\n)*.*{re.escape(name)}\s+1/1\s", timeout=60)
        term.burst("/" + name, then="Enter")  # the filter leaves its row under the cursor
        term.wait_for(r"Deployments \(1", timeout=10)
        term.keys("Enter")
        screen = term.wait_for(rf"ReplicaSets of deployment {NS}/{re.escape(name)}\s*\(1\)", timeout=30)
        rs = apps.list_namespaced_replica_set(NS, label_selector=f"app={name}").items
        assert len(rs) == 1
        term.wait_for(rf"{re.escape(rs[0].metadata.name)}\s+1\s+1\s+1\s", timeout=30)
        term.keys("Escape")
        term.wait_for(r"Deployments \(1", timeout=10)
        term.burst("S2", then="Enter")  # shift+s, the answer and Enter as one write
        screen = term.wait_for(rf"{re.escape(name)}\s+2/2\s", timeout=60)
        def running() -> int:
            return sum(1 for p in client.CoreV1Api(kube_admin).list_namespaced_pod(NS, label_selector=f"app={name}")
                       .items if p.status.phase == "Running" and not p.metadata.deletion_timestamp)

        wait_for(lambda: running() == 2, what="2 running pods")
        assert apps.read_namespaced_deployment(name, NS).spec.replicas == 2
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    finally:
        apps.delete_namespaced_deployment(name, NS)
