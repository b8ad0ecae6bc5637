"""Nothing half-done: a launch that is cancelled, interrupted or loses an answer leaves nothing
behind, on the demo cluster. Every object it creates carries its launch id, and the rollback
finds by that label what a request created whose answer never arrived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.launch.apply import LAUNCH_ID_LABEL, create, plan
from cockpit.launch.errors import LaunchCancelled, LaunchError
from cockpit.launch.library import PresetLibrary
from tests.conftest import api_client, wait_for


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    return PresetLibrary(tmp_path_factory.mktemp("user-presets"))


@pytest.fixture
def name():
    return f"rb-{uuid.uuid4().hex[:8]}"


def gone(read) -> bool:
    try:
        obj = read()
    except ApiException as e:
        return e.status == 404
    return getattr(getattr(obj, "status", None), "phase", None) == "Terminating"


def labelled(kube_admin, launch_id: str) -> list[str]:
    """Everything in the cluster still carrying this launch's id (namespaces terminating aside)."""
    sel = f"{LAUNCH_ID_LABEL}={launch_id}"
    v1, batch = client.CoreV1Api(kube_admin), client.BatchV1Api(kube_admin)
    out = [f"job/{j.metadata.name}" for j in batch.list_job_for_all_namespaces(label_selector=sel).items
           if not j.metadata.deletion_timestamp]
    out += [f"pvc/{c.metadata.name}" for c in
            v1.list_persistent_volume_claim_for_all_namespaces(label_selector=sel).items
            if not c.metadata.deletion_timestamp]
    out += [f"namespace/{n.metadata.name}" for n in v1.list_namespace(label_selector=sel).items
            if n.status.phase != "Terminating"]
    return out


def hooked_client(demo_cluster, after_post):
    """A real client of the demo cluster whose create requests are sent for real; `after_post`
    runs once each answer is back (it may raise, as an interruption or a lost answer would)."""
    api = api_client(demo_cluster, "cockpit-demo")
    real = api.call_api

    def call_api(path, method, *args, **kwargs):
        answer = real(path, method, *args, **kwargs)
        if method == "POST":
            after_post(path)
        return answer

    api.call_api = call_api
    return api


def test_every_created_object_carries_the_launch_id(presets, demo_cluster, kube_admin, name):
    api = api_client(demo_cluster, "cockpit-demo")
    p = plan(presets.get("pytorch-train"), {"name": name, "pvc": name}, name, api)
    assert len(p.launch_id) == 16
    result = create(p)
    assert [c.ref for c in result.created] == [f"namespace/{name}", f"persistentvolumeclaim/{name}", f"job/{name}"]
    assert sorted(labelled(kube_admin, p.launch_id)) == sorted([f"namespace/{name}", f"pvc/{name}", f"job/{name}"])
    client.CoreV1Api(kube_admin).delete_namespace(name)


def test_cancel_while_creating_rolls_back(presets, demo_cluster, kube_admin, name):
    cancel = threading.Event()
    api = hooked_client(demo_cluster, lambda path: cancel.set())  # cancelled once the first object exists
    p = plan(presets.get("pytorch-train"), {"name": name, "pvc": name}, "team-vision", api)
    with pytest.raises(LaunchCancelled, match=rf"launch cancelled\. Rolled back: deleted persistentvolumeclaim/{name}"):
        create(p, cancel=cancel)
    v1 = client.CoreV1Api(kube_admin)
    wait_for(lambda: gone(lambda: v1.read_namespaced_persistent_volume_claim(name, "team-vision")), what="pvc gone")
    assert gone(lambda: client.BatchV1Api(kube_admin).read_namespaced_job(name, "team-vision"))
    assert labelled(kube_admin, p.launch_id) == []


def test_a_create_whose_answer_was_lost_is_found_by_its_label(presets, demo_cluster, kube_admin, name):
    def lose_job_answers(path):
        if path.endswith("/jobs"):
            raise urllib3.exceptions.ReadTimeoutError(None, path, "read timed out")

    api = hooked_client(demo_cluster, lose_job_answers)
    p = plan(presets.get("pytorch-train"), {"name": name}, name, api)  # a new namespace, then the Job
    with pytest.raises(LaunchError) as e:
        create(p)
    assert f"creating job/{name} failed: cannot reach the cluster" in str(e.value)
    assert f"Rolled back: deleted namespace/{name}, job/{name}" in str(e.value)
    batch = client.BatchV1Api(kube_admin)
    wait_for(lambda: gone(lambda: batch.read_namespaced_job(name, name)), what="job gone")
    wait_for(lambda: gone(lambda: client.CoreV1Api(kube_admin).read_namespace(name)), what="namespace gone")
    assert labelled(kube_admin, p.launch_id) == []


def test_an_interruption_between_request_and_answer_rolls_back(presets, demo_cluster, kube_admin, name):
    def interrupt(path):
        if path.endswith("/jobs"):
            raise KeyboardInterrupt

    api = hooked_client(demo_cluster, interrupt)
    p = plan(presets.get("pytorch-train"), {"name": name, "pvc": name}, "team-nlp", api)
    with pytest.raises(LaunchCancelled, match="launch interrupted. Rolled back: deleted"):
        create(p)
    batch, v1 = client.BatchV1Api(kube_admin), client.CoreV1Api(kube_admin)
    wait_for(lambda: gone(lambda: batch.read_namespaced_job(name, "team-nlp")), what="job gone")
    wait_for(lambda: gone(lambda: v1.read_namespaced_persistent_volume_claim(name, "team-nlp")), what="pvc gone")


def test_sigterm_during_cockpit_launch_leaves_nothing_half_done(demo_cluster, kube_admin, tmp_path):
    """SIGTERM lands at a different point of each run (starting, planning, creating, done): each
    run ends either with the whole launch there or with nothing of it."""
    exe = str(Path(sys.executable).parent / "cockpit")
    env = {**os.environ, "COCKPIT_CONFIG": str(tmp_path / "none.yaml")}
    env.pop("COCKPIT_READ_ONLY", None)
    v1, batch = client.CoreV1Api(kube_admin), client.BatchV1Api(kube_admin)

    def launch(name):
        return subprocess.Popen([exe, "launch", "pytorch-train", "--kubeconfig", str(demo_cluster.kubeconfig),
                                 "--context", "cockpit-demo", "-n", name, "--set", f"name={name}",
                                 "--set", f"pvc={name}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    # How long a whole launch takes here; the signals then land across its last part, where the
    # namespace, the claim and the Job are created one after the other.
    started = time.monotonic()
    first = f"rb-term-{uuid.uuid4().hex[:6]}"
    out, err = launch(first).communicate(timeout=120)
    assert f"job/{first} created in {first}" in out, err
    total = time.monotonic() - started
    v1.delete_namespace(first)
    outcomes = []
    # Signals at fractions of that time, then twice the moment the namespace appears (the
    # command is then between its first create and its last).
    for when in (0.5, 0.9, 1.1, "namespace", "namespace"):
        name = f"rb-term-{uuid.uuid4().hex[:6]}"
        proc = launch(name)
        if when == "namespace":
            delay = _signal_when_namespace_appears(kube_admin, name, proc)
        else:
            delay = total * when
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err
        ns_there = not gone(lambda name=name: v1.read_namespace(name))
        job_there = not gone(lambda name=name: batch.read_namespaced_job(name, name))
        if proc.returncode == 0 or job_there:
            # Complete: the signal came after the create (it then just ends the command).
            assert proc.returncode in (0, -signal.SIGTERM), (proc.returncode, err)
            assert ns_there and job_there
            assert not gone(lambda name=name: v1.read_namespaced_persistent_volume_claim(name, name))
            v1.delete_namespace(name)
        else:
            # Interrupted before the create ended (or before the command had started): nothing of it.
            assert proc.returncode in (130, -signal.SIGTERM), (proc.returncode, err)
            if proc.returncode == 130:
                assert "interrupted" in err
            wait_for(lambda name=name: gone(lambda: v1.read_namespace(name)), what=f"namespace {name} gone")
        outcomes.append((round(delay, 2), proc.returncode, err.strip().splitlines()[-1][:90] if err.strip() else ""))
    print(f"whole launch {total:.2f} s; (delay, exit, last line):")
    for o in outcomes:
        print("  ", o)


def _signal_when_namespace_appears(kube_admin, name: str, proc) -> float:
    from kubernetes import watch

    started = time.monotonic()
    w = watch.Watch()
    for event in w.stream(client.CoreV1Api(kube_admin).list_namespace, field_selector=f"metadata.name={name}",
                          timeout_seconds=60):
        if event["type"] == "ADDED":
            proc.send_signal(signal.SIGTERM)
            break
    w.stop()
    return time.monotonic() - started
