"""While a big list pages in, the pane's title says how far it is; the rows of the pages that
arrived are on the table already (recorded objects, the hub offline)."""

from __future__ import annotations

from cockpit.kube.hub import Item
from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app
from tests.ui.test_prompt import screen_lines


async def test_title_counts_the_pages_arrived_until_the_list_is_whole():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        feed = app.hub.feeds["pods"]
        rows = {k: feed.items[k] for k in list(feed.items)}
        first = dict(list(rows.items())[:20])
        feed.reset({})
        feed.page({k: Item(i.row, i.created) for k, i in first.items()}, 4000, 10057)
        await until(pilot, lambda: "Pods (loading 4,000 of ~10,057)" in screen_lines(app)[1], what="progress")
        # The arrived rows show before the list is whole (the title reads the feed's progress
        # directly, the rows come with the next repaint tick).
        await until(pilot, lambda: len(app.main.current.store) == 20, what="the arrived page's rows")
        assert "loading 4,000" in screen_lines(app)[1]
        feed.reset(rows)
        await until(pilot, lambda: screen_lines(app)[1].startswith(f" Pods ({len(rows)})"), what="whole")
        assert "loading" not in screen_lines(app)[1]


async def test_a_list_ending_with_the_items_its_pages_brought_shows_whole_without_a_reset():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        feed = app.hub.feeds["pods"]
        rows = {k: Item(i.row, i.created) for k, i in feed.items.items()}
        feed.reset({})
        await until(pilot, lambda: len(app.main.current.store) == 0, what="emptied")
        keys = list(rows)
        half = len(keys) // 2
        feed.page({k: rows[k] for k in keys[:half]}, half, len(keys))
        feed.page({k: rows[k] for k in keys[half:]}, len(keys), len(keys))
        await until(pilot, lambda: len(app.main.current.store) == len(rows), what="the pages' rows")
        assert "loading" in screen_lines(app)[1]
        feed.reset(dict(rows))  # the end of the list: the very items the pages brought
        assert not feed._reset and feed.synced and feed.loading is None
        await until(pilot, lambda: screen_lines(app)[1].startswith(f" Pods ({len(rows)})"), what="whole")
        assert sorted(app.main.current.store.keys()) == sorted(rows)
        # A list that ends without some of them is still a reset: the missing rows go.
        feed.reset({k: rows[k] for k in keys[1:]})
        await until(pilot, lambda: len(app.main.current.store) == len(rows) - 1, what="the gone row removed")
