"""The cluster, launch and demo layers never import the UI (import-linter contract in
pyproject.toml), so they stay usable from the command line and testable without Textual."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    exe = Path(sys.executable).parent / "lint-imports"
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_cluster_modules_load_without_textual():
    code = ("import sys, cockpit.kube.hub, cockpit.kube.actions, cockpit.kube.logs, cockpit.launch.apply, "
            "cockpit.demo.cluster; bad = [m for m in sys.modules if m.startswith(('textual', 'cockpit.ui'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_every_request_goes_through_the_connection_module():
    """One request helper (kube/connection.py) for the app, `cockpit launch`, doctor and every
    other entry point: no module sends with call_api itself (the demo's own seeding aside)."""
    root = Path(__file__).parents[2] / "cockpit"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if ".call_api(" in p.read_text() and p.name != "connection.py" and p.parent.name != "demo"]
    assert offenders == []
