"""KindFeed: what an informer hands the UI, and when it asks the UI not to wait for its tick."""

from __future__ import annotations

from cockpit.kube.hub import ClusterHub
from cockpit.kube.store import RowStore
from cockpit.resources import registry


def _pod(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "team-a", "uid": name, "creationTimestamp": "2026-12-01T00:00:00Z"},
            "spec": {"nodeName": "gpu-1", "containers": [{"name": "main"}]},
            "status": {"phase": "Running"}}


def test_a_list_wakes_the_ui_for_its_first_rows_and_its_end_only() -> None:
    woken: list[int] = []
    hub = ClusterHub(None, offline=True, wake=lambda: woken.append(1))
    kind = registry.get("pods")
    feed = hub.ensure(kind)
    t = hub._transform(kind, True)
    items = {f"team-a/p{i}": t(_pod(f"p{i}")) for i in range(6)}
    keys = list(items)
    feed.page({k: items[k] for k in keys[:2]}, 2, 6)
    assert len(woken) == 1  # the first rows
    feed.page({k: items[k] for k in keys[2:4]}, 4, 6)
    assert len(woken) == 1  # a later page waits for the tick
    store = RowStore()
    for ch in hub.drain():
        store.apply(ch.upserts, ch.deletes)
    feed.reset(items)
    assert len(woken) == 2  # the whole list
    (ch,) = hub.drain()
    assert ch.reset and len(ch.upserts) == 6
    delta = store.apply(ch.upserts, [])
    # The rows that came in pages are handed over again as the same objects: only the rest changes.
    assert delta.changed_keys == set(keys[4:])
