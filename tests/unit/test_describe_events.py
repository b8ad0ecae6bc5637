"""Describe's event lines: when each event was last seen fits its column, whichever timestamp
field the event uses (events.k8s.io eventTime has microseconds)."""

from __future__ import annotations

from cockpit.kube.describe import describe_text, event_age
from cockpit.kube.rows import parse_time

NOW = parse_time("2026-12-01T21:30:00Z")
POD = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "train-0", "namespace": "team-vision"}}


def test_event_age_from_each_timestamp_field():
    assert event_age({"lastTimestamp": "2026-12-01T21:25:00Z"}, NOW) == "5m"
    assert event_age({"eventTime": "2026-12-01T21:29:29.923456Z"}, NOW) == "30s"
    assert event_age({"series": {"lastObservedTime": "2026-12-01T16:29:59.500001Z"}}, NOW) == "5h"
    assert event_age({}, NOW) == "-"


def test_event_lines_show_the_whole_time_and_the_message():
    events = [{"type": "Warning", "reason": "FailedScheduling", "eventTime": "2026-12-01T21:29:29.923456Z",
               "reportingComponent": "default-scheduler", "message": "0/8 nodes are available"}]
    text = describe_text(POD, events, now=NOW)
    line = next(x for x in text.splitlines() if "FailedScheduling" in x)
    # before: "2026-12-01T21:29:30.1234…" cut in the middle of the time
    assert "…" not in line
    assert line.split() == ["Warning", "FailedScheduling", "30s", "x1", "default-scheduler:", "0/8", "nodes", "are",
                            "available"]
    assert line.index("30s") + 3 < 40  # the age sits early in the line, in view at 80 columns
