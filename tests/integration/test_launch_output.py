"""`cockpit launch --wait` prints what the cluster says about the workload: the bytes it writes
carry none of the escape sequences a controller copied into a status message."""

from __future__ import annotations

import datetime as dt
import threading

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.ui.test_untrusted_text import CORPUS, MARKUP, PAYLOADS

NS = "team-nlp"
GROUP, VERSION, PLURAL = "kubeflow.org", "v1beta1", "experiments"


def _condition(kind: str, message: str) -> dict:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": kind, "status": "True", "reason": f"Experiment{kind}", "message": message,
            "lastTransitionTime": now, "lastUpdateTime": now}


def act_as_katib(api, name: str, message: str, stop: threading.Event) -> None:
    """Katib's controller copies its trials' and suggestion's messages into the experiment's
    status; the demo has no Katib controller, so the test writes that status through the API."""
    custom = client.CustomObjectsApi(api)
    while not stop.is_set():
        try:
            exp = custom.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
        except ApiException:
            stop.wait(0.2)
            continue
        exp["status"] = {"trials": 2, "trialsFailed": 2, "trialsRunning": 0, "trialsSucceeded": 0,
                         "conditions": [_condition("Created", "created"), _condition("Failed", message)]}
        try:
            custom.replace_namespaced_custom_object_status(GROUP, VERSION, NS, PLURAL, name, exp)
            return
        except ApiException:
            stop.wait(0.2)


def test_launch_wait_prints_a_failed_status_message_inert(demo_cluster, kube_admin, unique_name, capfdbinary):
    from cockpit.launch.cli import launch_main

    name = unique_name[:40]
    message = "trial failed: " + "".join(CORPUS) + "\rOK"
    stop = threading.Event()
    katib = threading.Thread(target=act_as_katib, args=(kube_admin, name, message, stop), daemon=True)
    katib.start()
    try:
        rc = launch_main(["katib-random-search", "--kubeconfig", str(demo_cluster.kubeconfig), "--context",
                          "cockpit-demo", "-n", NS, "--set", f"name={name}", "--wait", "--timeout", "60"])
    finally:
        stop.set()
        katib.join(5)
    out, err = capfdbinary.readouterr()
    assert rc == 1, (out, err)
    text = (out + err).decode("utf-8")
    assert f"experiment/{name}: Failed: trial failed: " in text, text
    bad = {hex(ord(c)) for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F}
    assert not bad, (bad, text)
    for payload in PAYLOADS:
        assert payload not in text
    for literal in MARKUP:
        assert literal in text
    assert "\u202e" not in text and "\u200b" not in text
