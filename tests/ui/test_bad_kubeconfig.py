"""A kubeconfig that breaks while the cockpit runs, and a credential plugin that fails: the
cockpit says so in words (cleaned), keeps running, and keeps following the file."""

from __future__ import annotations

import yaml

from cockpit.app import CockpitApp
from cockpit.kube.connection import Kubeconfig
from tests.support.pilot import until
from tests.ui.test_untrusted_text import assert_terminal_safe
from tests.unit.test_kubeconfig import failing_plugin, good


async def test_a_failing_plugin_is_shown_cleaned_and_the_watcher_survives_broken_files(tmp_path):
    plugin = failing_plugin(tmp_path)
    path = tmp_path / "config"
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}
    path.write_text(yaml.safe_dump(good(("lab",), exec_user)))
    app = CockpitApp(Kubeconfig.load(path), context="lab", start_pane="contexts")
    async with app.run_test(size=(160, 24)) as pilot:
        await until(pilot, lambda: app.problem is not None, what="the plugin's failure")
        await pilot.pause(0.2)
        top = str(app.main._bars["#topbar"])
        assert "credential plugin failed" in top and "token expired for alice" in top, top
        assert "context lab" in top and str(path) in top
        toasts = [n.message for n in app._notifications]
        assert any("token expired for alice" in m for m in toasts), toasts
        assert "token expired for alice" in app.main.table.placeholder
        for text in [top, app.main.table.placeholder, *toasts]:
            assert "\x1b" not in text and "\x07" not in text and "owned" not in text
        # The top bar, the placeholder and the toast as the terminal would get them.
        shown = assert_terminal_safe(app)
        assert "token expired for alice" in shown and "owned" not in shown

        for broken, words in [("apiVersion: v1\ncontexts: 5\n", "contexts: expected a list"),
                              (b"apiVersion: v1\ncurrent-context: caf\xe9\n", "not UTF-8"),
                              ("contexts:\n- name: [a]\n", "contexts[0].name: expected a string"),
                              ("contexts:\n- name: lab\n  context: oops\n", "context: expected a mapping")]:
            if isinstance(broken, bytes):
                path.write_bytes(broken)
            else:
                path.write_text(broken)
            await until(pilot, lambda words=words: any(words in n.message and str(path) in n.message
                                                       for n in app._notifications), what=words)
            assert app.is_running

        # The watcher is still there: a repaired file shows its contexts.
        path.write_text(yaml.safe_dump(good(("lab", "lab-b"))))
        await until(pilot, lambda: set(app.main.current.store.keys()) == {"lab", "lab-b"}, what="repaired contexts")
        assert app.is_running
