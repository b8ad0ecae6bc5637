"""Without Kueue the queue panes say so in words, on a real API server that does not serve the
kind (the Kueue kinds pointed at an API group the demo cluster lacks)."""

from __future__ import annotations


from cockpit.resources import registry
from tests.support.pilot import until
from tests.ui.test_app_live import live_app


async def test_a_queue_pane_on_a_cluster_without_kueue_says_kueue_is_not_installed(demo_cluster, monkeypatch):
    # The demo runs Kueue; a group it does not serve stands for a cluster without it: the
    # request really goes to the API server and really comes back 404.
    for kind_id in ("workloads", "clusterqueues", "localqueues"):
        monkeypatch.setattr(registry.get(kind_id), "group", "kueue.not-installed.example")
    app = live_app(demo_cluster, start_pane="pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.hub is not None, what="connected")
        for name in ("wl", "cq", "lq"):
            app.main.run_command(name)
            await until(pilot, lambda: app.main.table.placeholder == "Kueue is not installed on this cluster",
                        what=f":{name} says Kueue is missing", timeout=30)
        assert len(app.main.current.store) == 0
