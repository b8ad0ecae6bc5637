"""RowStore: keyed rows, filtered and sorted view, deltas. No Textual here."""

from __future__ import annotations

import subprocess
import sys

from cockpit.kube.model import Row
from cockpit.kube.store import RowStore


def pod(
    name: str,
    ns: str = "default",
    status: str = "Running",
    restarts: int = 0,
    age: int = 60,
    labels: dict[str, str] | None = None,
) -> Row:
    return Row(
        key=f"{ns}/{name}",
        cells=(name, status, str(restarts), f"{age}s"),
        sort=(name, status, restarts, age),
        labels=labels or {},
        namespace=ns,
        name=name,
    )


def test_store_does_not_import_textual() -> None:
    code = "import sys, cockpit.kube.store; assert not [m for m in sys.modules if m.startswith('textual')]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_sort_is_by_key_and_counts() -> None:
    store = RowStore([pod("b"), pod("a", ns="kube-system"), pod("a")])
    assert store.view() == ["default/a", "default/b", "kube-system/a"]
    assert len(store) == store.total == 3
    assert store.get("default/b") is not None and store.get("nope") is None
    assert store.index("default/b") == 1 and store.index("nope") is None


def test_apply_reports_delta() -> None:
    store = RowStore()
    delta = store.apply([pod("a"), pod("b")], [])
    assert delta.changed_keys == {"default/a", "default/b"} and delta.order_changed
    delta = store.apply([pod("a", status="Failed")], ["default/b", "default/missing"])
    assert delta.changed_keys == {"default/a"}
    assert delta.removed_keys == {"default/b"}
    assert delta.order_changed
    assert store.view() == ["default/a"]


def test_the_very_rows_it_holds_change_nothing() -> None:
    # The end of a list that arrived in pages hands every row over again.
    a, b = pod("a", age=1), pod("b", age=2)
    store = RowStore([a, b])
    store.set_sort(3)
    before = store.view()
    delta = store.apply([a, b], [])
    assert not delta.changed_keys and not delta.order_changed
    assert store.view() is before
    # An equal row that is a new object is still a change (its cells may be drawn anew).
    delta = store.apply([pod("a", age=1)], [])
    assert delta.changed_keys == {"default/a"} and not delta.order_changed


def test_upsert_with_same_sort_value_keeps_order() -> None:
    store = RowStore([pod("a", age=1), pod("b", age=2), pod("c", age=3)])
    store.set_sort(3)
    before = store.view()
    delta = store.apply([pod("b", status="Failed", age=2)], [])
    assert not delta.order_changed
    assert store.view() is before  # not even rebuilt


def test_upsert_with_new_sort_value_reorders_lazily() -> None:
    store = RowStore([pod("a", age=1), pod("b", age=2), pod("c", age=3)])
    store.set_sort(3)
    assert store.view() == ["default/a", "default/b", "default/c"]
    snapshot = store.view()
    delta = store.apply([pod("a", age=10)], [])
    assert delta.order_changed
    assert store.view() == ["default/b", "default/c", "default/a"]
    assert snapshot == ["default/a", "default/b", "default/c"]  # old snapshots are never mutated


def test_sort_is_numeric_and_reversible() -> None:
    store = RowStore([pod("a", restarts=10), pod("b", restarts=9), pod("c", restarts=100)])
    store.set_sort(2)
    assert store.view() == ["default/b", "default/a", "default/c"]
    store.set_sort(2, reverse=True)
    assert store.view() == ["default/c", "default/a", "default/b"]
    assert store.sort_column == 2 and store.sort_reverse


def test_sort_by_cells_when_row_has_no_sort_values() -> None:
    rows = [Row(key=k, cells=(k, v)) for k, v in [("x", "b"), ("y", ""), ("z", "A")]]
    store = RowStore(rows)
    store.set_sort(1)
    assert store.view() == ["z", "x", "y"]  # case-insensitive, empty last


def test_filter_substring_is_case_insensitive_over_all_cells() -> None:
    store = RowStore([pod("web-1"), pod("db-1", status="CrashLoopBackOff"), pod("web-2")])
    delta = store.set_filter("WEB")
    assert delta.order_changed
    assert store.view() == ["default/web-1", "default/web-2"]
    store.set_filter("crashloop")
    assert store.view() == ["default/db-1"]
    assert len(store) == 1 and store.total == 3
    store.set_filter("")
    assert len(store) == 3


def test_filter_regex_and_invalid_regex_fallback() -> None:
    store = RowStore([pod("web-1"), pod("web-22"), pod("a[b")])
    store.set_filter(r"^web-\d$")
    assert store.view() == ["default/web-1"]
    store.set_filter("a[")  # not a valid regex: plain substring
    assert store.view() == ["default/a[b"]


def test_filter_label_selectors() -> None:
    store = RowStore(
        [
            pod("a", labels={"app": "web", "tier": "front"}),
            pod("b", labels={"app": "web"}),
            pod("c", labels={"app": "db", "tier": "back"}),
        ]
    )
    store.set_filter("-l app=web")
    assert store.view() == ["default/a", "default/b"]
    store.set_filter("-l app==web,tier")
    assert store.view() == ["default/a"]
    store.set_filter("-l app!=web")
    assert store.view() == ["default/c"]
    store.set_filter("-l !tier")
    assert store.view() == ["default/b"]
    store.set_filter("b -l app=web")  # combined with text
    assert store.view() == ["default/b"]


def test_filter_applies_to_upserts() -> None:
    store = RowStore([pod("web-1")])
    store.set_filter("web")
    delta = store.apply([pod("db-1"), pod("web-2")], [])
    assert store.view() == ["default/web-1", "default/web-2"]
    assert delta.order_changed
    # A shown row that stops matching leaves the view.
    delta = store.apply([Row(key="default/web-1", cells=("renamed",))], [])
    assert delta.order_changed and store.view() == ["default/web-2"]
    # A hidden row going away does not change the view.
    assert not store.apply([], ["default/db-1"]).order_changed


def test_clear() -> None:
    store = RowStore([pod("a"), pod("b")])
    delta = store.clear()
    assert delta.removed_keys == {"default/a", "default/b"}
    assert store.total == 0 and store.view() == []


def test_reverse_then_incremental_updates() -> None:
    store = RowStore([pod(n, age=a) for n, a in [("a", 5), ("b", 1), ("c", 3)]])
    store.set_sort(3, reverse=True)
    assert store.view() == ["default/a", "default/c", "default/b"]
    store.apply([pod("d", age=4), pod("b", age=9)], ["default/c"])
    assert store.view() == ["default/b", "default/a", "default/d"]
    store.set_sort(3)
    assert store.view() == ["default/d", "default/a", "default/b"]


def test_random_mutations_match_a_naive_model() -> None:
    import random

    rng = random.Random(7)
    store = RowStore()
    rows: dict[str, Row] = {}
    filters = ["", "1", "-l app=web", "run", r"-\d$", "-l !app"]
    for step in range(400):
        op = rng.random()
        if op < 0.6:
            batch = [
                pod(
                    f"p{rng.randint(0, 60)}",
                    status=rng.choice(["Running", "Failed"]),
                    restarts=rng.randint(0, 5),
                    age=rng.randint(0, 9),
                    labels=rng.choice([{}, {"app": "web"}, {"app": "db"}]),
                )
                for _ in range(rng.randint(1, 5))
            ]
            deletes = [f"default/p{rng.randint(0, 60)}" for _ in range(rng.randint(0, 3))]
            store.apply(batch, deletes)
            rows.update((r.key, r) for r in batch)
            for key in deletes:
                rows.pop(key, None)
        elif op < 0.8:
            store.set_sort(rng.choice([None, 0, 1, 2, 3]), rng.random() < 0.5)
        else:
            store.set_filter(rng.choice(filters))
        if rng.random() < 0.5:  # let mutations pile up between reads
            continue
        fresh = RowStore(rows.values())
        fresh.set_filter(store.filter_text)
        fresh.set_sort(store.sort_column, store.sort_reverse)
        assert store.view() == fresh.view(), step
        assert len(store) == len(fresh.view())
