"""The cockpit over recorded objects with a fixed clock: deterministic screens for snapshots."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.kube.connection import ContextInfo, Kubeconfig

RECORDED = Path(__file__).parent / "recorded" / "demo-cluster.json"
# A moment after the recording: ages and durations render the same on every run.
FIXED_NOW = dt.datetime(2026, 11, 23, 2, 30, tzinfo=dt.UTC).timestamp()


def recorded_objects() -> dict[str, list[dict]]:
    return json.loads(RECORDED.read_text())


def recorded_kubeconfig() -> Kubeconfig:
    return Kubeconfig([], {
        "cockpit-demo": ContextInfo("cockpit-demo", "cockpit-demo", "cockpit-demo-admin", "default"),
        "cockpit-demo-viewer": ContextInfo("cockpit-demo-viewer", "cockpit-demo", "cockpit-viewer", "default"),
    }, "cockpit-demo", [])


def recorded_app(pane: str = "pods", objects: dict | None = None, **kw) -> CockpitApp:
    return CockpitApp(recorded_kubeconfig(), recorded=objects if objects is not None else recorded_objects(),
                      clock=lambda: FIXED_NOW, start_pane=pane, **kw)
