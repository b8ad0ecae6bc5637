"""Files edited while the cockpit runs: the kubeconfig's contexts pane follows without a
restart. (Theme reload is covered in test_theme_reload.py, presets in the launch tests.)"""

from __future__ import annotations

import time

import yaml

from cockpit.app import CockpitApp
from cockpit.kube.connection import Kubeconfig


def kubeconfig(names: list[str]) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": names[0],
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in names],
    }


async def until(pilot, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("timed out")


async def test_contexts_follow_the_kubeconfig_file(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig(["lab-a", "lab-b"])))
    app = CockpitApp(Kubeconfig.load(path), start_pane="contexts")
    async with app.run_test(size=(100, 20)) as pilot:
        await until(pilot, lambda: set(app.main.current.store.keys()) == {"lab-a", "lab-b"})
        await pilot.pause(0.5)  # the watcher is running
        path.write_text(yaml.safe_dump(kubeconfig(["lab-a", "lab-c", "prod-gpu"])))
        await until(pilot, lambda: set(app.main.current.store.keys()) == {"lab-a", "lab-c", "prod-gpu"})
        path.write_text("contexts: [unterminated\n")  # broken: reported, app keeps running
        await until(pilot, lambda: any("cannot read kubeconfig" in n.message for n in app._notifications))
        assert app.is_running


async def test_broken_kubeconfig_is_reported_in_the_app(tmp_path):
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\ncontexts:\n  - name: x\n   bad-indent: 1\n")
    kc = Kubeconfig.load(path)
    assert kc.problems and str(path) in str(kc.problems[0]) and "line" in str(kc.problems[0])
    app = CockpitApp(kc)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause(0.3)
        assert any(str(path) in n.message for n in app._notifications)
        assert "Not connected" in app.main.table.placeholder


async def test_the_cockpit_applies_an_edited_user_theme_and_keeps_it_when_broken(tmp_path, monkeypatch):
    from tests.ui.recorded_app import recorded_app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    themes = tmp_path / "gpu-cockpit" / "themes"
    themes.mkdir(parents=True)
    (themes / "lab.yaml").write_text('name: lab\ndark: true\nprimary: "#112233"\n')
    app = recorded_app("gpu", watch_themes=True)
    async with app.run_test(size=(100, 24)) as pilot:
        app.main.run_command("theme lab")
        await until(pilot, lambda: app.theme == "lab")
        assert app.current_theme.primary.lower() == "#112233"
        await pilot.pause(0.5)  # the watcher is in place
        (themes / "lab.yaml").write_text('name: lab\ndark: true\nprimary: "#445566"\n')
        await until(pilot, lambda: app.current_theme.primary.lower() == "#445566")
        (themes / "lab.yaml").write_text('name: lab\ndark: true\nprimary: "not a colour"\n')
        await until(pilot, lambda: any("lab.yaml" in n.message for n in app._notifications))
        assert app.theme == "lab" and app.current_theme.primary.lower() == "#445566"
