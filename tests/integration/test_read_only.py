"""Read-only from every source and every entry point, checked in the API server's audit log.

The four sources: `--read-only`, the config's `read_only`, its `contexts.<name>.read_only`, and
COCKPIT_READ_ONLY. The entry points: the installed `cockpit launch` (plain, `--dry-run`,
`--from-dir`) as a separate process, and the TUI pressing every action key on every pane.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, UTC
from pathlib import Path

import pytest
from kubernetes import client

from tests.conftest import wait_for

SOURCES = ["flag", "config", "context", "env"]
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}


def source_setup(source: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """(extra command-line flags, environment) that make `source` say read-only."""
    config = tmp_path / "config.yaml"
    env = {**os.environ, "COCKPIT_CONFIG": str(config)}
    env.pop("COCKPIT_READ_ONLY", None)
    config.write_text({"config": "read_only: true\n",
                       "context": "contexts:\n  cockpit-demo:\n    read_only: true\n"}.get(source, "theme: cockpit-dark\n"))
    if source == "env":
        env["COCKPIT_READ_ONLY"] = "1"
    return (["--read-only"] if source == "flag" else []), env


def cockpit_exe() -> str:
    return str(Path(sys.executable).parent / "cockpit")


def audit_writes(cluster, since: datetime, agent_prefix: str = "gpu-cockpit/") -> list[tuple[str, str]]:
    """Requests that change something, sent by a cockpit since `since` (self-access reviews are
    questions, not changes)."""
    time.sleep(1.5)  # the audit backend writes in batches
    out = []
    for line in cluster.audit_log.read_text().splitlines():
        e = json.loads(line)
        if not e.get("userAgent", "").startswith(agent_prefix) or e.get("stage") != "ResponseComplete":
            continue
        when = datetime.fromisoformat(e["requestReceivedTimestamp"].replace("Z", "+00:00"))
        if when < since:
            continue
        ref = e.get("objectRef") or {}
        if ref.get("resource") in REVIEWS and e["verb"] == "create":
            continue
        if e["verb"] in WRITE_VERBS or ref.get("subresource") in ("exec", "attach", "portforward", "proxy"):
            out.append((e["verb"], e.get("requestURI", "")))
    return out


class Tripwire:
    """A socket that counts connections: DOCKER_HOST points here, so any contact with an image
    engine (a build or push) shows up as a connection."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.hits = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("mode", ["create", "dry-run", "from-dir"])
def test_cockpit_launch_refuses_in_read_only(demo_cluster, kube_admin, tmp_path, source, mode):
    flags, env = source_setup(source, tmp_path)
    name = f"ro-{source}-{mode}-{int(time.time()) % 100000}"
    ns = f"ro-{source}-{mode}"  # a namespace that does not exist: a launch would create it
    wire = Tripwire(tmp_path / "docker.sock")
    env["DOCKER_HOST"] = f"unix://{tmp_path / 'docker.sock'}"
    extra = {"create": [], "dry-run": ["--dry-run"],
             "from-dir": ["--from-dir", str(tmp_path), "--registry", "127.0.0.1:5999", "--base-image", "busybox"]}[mode]
    since = datetime.now(UTC)
    proc = subprocess.run([cockpit_exe(), *flags, "launch", "pytorch-train", "--kubeconfig",
                           str(demo_cluster.kubeconfig), "--context", "cockpit-demo", "-n", ns,
                           "--set", f"name={name}", *extra], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: read-only because " in proc.stderr and "Traceback" not in proc.stderr
    reason = {"flag": "--read-only was given", "config": "read_only is true in",
              "context": "contexts.cockpit-demo.read_only is true in", "env": "COCKPIT_READ_ONLY is set"}[source]
    assert reason in proc.stderr
    if mode == "dry-run":
        assert "the server-side dry run was not sent" in proc.stderr
        assert f"job/{name}" in proc.stdout  # the plan, read with GETs, is still shown
    assert wire.hits == 0, "an image engine was contacted"
    names = {n.metadata.name for n in client.CoreV1Api(kube_admin).list_namespace().items}
    assert ns not in names
    assert audit_writes(demo_cluster, since) == []


@pytest.mark.parametrize("text", ['read_only: "yes"\n', "readonly: true\n", "contexts: 5\n", "read_only: [\n"])
def test_cockpit_launch_fails_closed_on_a_doubtful_config(demo_cluster, kube_admin, tmp_path, text):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    env = {**os.environ, "COCKPIT_CONFIG": str(config)}
    env.pop("COCKPIT_READ_ONLY", None)
    since = datetime.now(UTC)
    proc = subprocess.run([cockpit_exe(), "launch", "pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig),
                           "--context", "cockpit-demo", "-n", "ro-doubtful", "--set", "name=ro-doubtful"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"read-only because of {config}:" in proc.stderr
    assert audit_writes(demo_cluster, since) == []


def test_a_writable_context_still_launches(demo_cluster, kube_admin, tmp_path):
    """The other side of the tests above: without any source, the same command creates the Job
    (so the refusals are the guard's doing, not a broken command)."""
    flags, env = source_setup("none", tmp_path)
    name = f"rw-{int(time.time()) % 100000}"
    since = datetime.now(UTC)
    proc = subprocess.run([cockpit_exe(), "launch", "pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig),
                           "--context", "cockpit-demo", "-n", "team-vision", "--set", f"name={name}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: client.BatchV1Api(kube_admin).read_namespaced_job(name, "team-vision"), what="job")
    assert ("create", "/apis/batch/v1/namespaces/team-vision/jobs") in [
        (v, u.split("?")[0]) for v, u in audit_writes(demo_cluster, since)]
    client.BatchV1Api(kube_admin).delete_namespaced_job(name, "team-vision", propagation_policy="Background")
