"""A mistyped kubeconfig context is refused with the known ones listed, before anything connects
(`cockpit --context`, `cockpit launch --context`, and `:ctx` use the same message)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cockpit.cli import main
from cockpit.kube.connection import Kubeconfig


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    # The current context is the admin one: falling back to it is exactly the danger.
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab-admin",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "admin", "user": {"token": "x"}}, {"name": "viewer", "user": {"token": "y"}}],
        "contexts": [{"name": "lab-admin", "context": {"cluster": "lab", "user": "admin"}},
                     {"name": "lab-viewer", "context": {"cluster": "lab", "user": "viewer"}}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_unknown_context_names_the_known_ones(kubeconfig: Path):
    kc = Kubeconfig.load(kubeconfig)
    assert kc.unknown_context("lab-viewer") is None
    why = kc.unknown_context("nosuch")
    assert why == f"no context named 'nosuch' in {kubeconfig}; known contexts: lab-admin, lab-viewer"


def test_cockpit_refuses_an_unknown_context_before_the_ui(kubeconfig: Path, capsys, monkeypatch):
    import cockpit.app

    # Were the UI started, this would say so instead of hanging the test.
    monkeypatch.setattr(cockpit.app.CockpitApp, "run", lambda self, *a, **k: pytest.fail("the UI opened"))
    rc = main(["--kubeconfig", str(kubeconfig), "--context", "nosuch"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "no context named 'nosuch'" in err and "known contexts: lab-admin, lab-viewer" in err


def test_cockpit_launch_refuses_an_unknown_context(kubeconfig: Path, capsys, monkeypatch):
    monkeypatch.setenv("COCKPIT_CONFIG", str(kubeconfig.parent / "no-config.yaml"))
    rc = main(["launch", "pytorch-train", "--kubeconfig", str(kubeconfig), "--context", "nosuch", "--dry-run"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "nosuch" in err and "lab-admin, lab-viewer" in err
