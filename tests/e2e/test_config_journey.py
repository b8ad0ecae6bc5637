"""A journey through Events and Secrets in the installed `cockpit`, in tmux at 80x24 against the
demo cluster: the Warning the test emits leads `:events`; `:secrets` shows a Secret's key names
but never its value, until `v` reveals it."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime

from kubernetes import client

from tests.support.tmux import Tmux

FIRST_ROW = 3  # top bar, pane bar, column titles, then the rows


def command(term: Tmux, text: str) -> None:
    term.keys(":")
    term.type_slowly(text)
    term.keys("Enter")


def test_events_then_secrets_at_80x24(tmux_cockpit, kube_admin, unique_name):
    core = client.CoreV1Api(kube_admin)
    value = f"s3cr3t-{uuid.uuid4().hex[:16]}"
    encoded = base64.b64encode(value.encode()).decode()
    secret = f"{unique_name}-creds"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.create_namespaced_secret("team-nlp", {"metadata": {"name": secret}, "type": "Opaque",
                                               "data": {"db-password": encoded}})
    core.create_namespaced_event("default", {
        "metadata": {"name": unique_name}, "type": "Warning", "reason": "GpuXidError",
        "message": f"Xid 79 {unique_name}: GPU has fallen off the bus", "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "involvedObject": {"kind": "Node", "name": "gpu-a100-01"}, "source": {"component": "e2e"}})
    try:
        term = tmux_cockpit("--context cockpit-demo -A", size=(80, 24))
        term.wait_for(r"● live")

        command(term, "events")
        events = term.wait_for(r"GpuXidError")
        lines = events.splitlines()
        header = lines[FIRST_ROW - 1]
        assert "LAST SEEN" in header and "TYPE" in header and "REASON" in header
        ours = next(i for i, line in enumerate(lines) if "GpuXidError" in line)
        assert "Warning" in lines[ours] and "Node/gpu-a100-01" in lines[ours]
        sorted_by_type = "TYPE▲" in header or "TYP▲" in header

        command(term, "secrets")
        term.wait_for(r"Secrets \(\d+")
        term.keys("/")
        term.type_slowly(secret)
        term.keys("Enter")
        screen = term.wait_for(r"db-password")
        assert secret[:12] in screen and "Opaque" in screen
        assert value not in screen and encoded not in screen

        term.keys("v")
        screen = term.wait_for(rf"db-password: {re.escape(value)}")
        assert f"Reveal Secret team-nlp/{secret}" in screen
        term.keys("Escape")
        screen = term.wait_gone(re.escape(value))
        assert "Secrets (" in screen
    finally:
        core.delete_namespaced_secret(secret, "team-nlp")
        core.delete_namespaced_event(unique_name, "default")

    # Warnings first, newest first: the pane opens sorted by TYPE (Events.default_sort).
    assert sorted_by_type, events
    # Above ours only Warnings seen after it (other tests' jobs keep the session cluster busy).
    from cockpit.kube.table_rows import parse_duration

    def last_seen(line: str) -> float:
        return parse_duration(line.split()[0]) or 0.0

    assert all("Warning" in line and last_seen(line) <= last_seen(lines[ours])
               for line in lines[FIRST_ROW:ours]), events
