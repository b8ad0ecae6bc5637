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
