"""At 80x24 (the recorded demo cluster): names are cut in the middle so each row stays
tellable apart, every GPU product's total shows, and Experiments keeps its NAMESPACE column;
`:ctx` with a mistyped name stays where it is and lists the known contexts."""

from __future__ import annotations

from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app


def screen_lines(app) -> list[str]:
    table = app.main.table
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_long_pod_names_stay_distinct_at_80_columns():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 20, what="pods")
        await pilot.pause()
        table = app.main.table
        x = 1  # the mark cell
        for i, w, _ in table._layout():
            if i == 1:  # NAME
                break
            x += w + 1
        names = []
        for key in table.store.view():
            table.move_cursor(table.store.index(key))
            await pilot.pause()
            line = table.render_line(table.cursor_index - table.scroll_offset.y + 1).text
            names.append(line[x:x + w])
        cut = [n for n in names if "…" in n]
        assert cut, "no name needed cutting: the test shows nothing"
        assert len(set(names)) == len(names), [n for n in names if names.count(n) > 1]


async def test_every_gpu_product_total_is_on_screen():
    app = recorded_app("gpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 0, what="gpu rows")
        await pilot.pause()
        bar = str(app.screen.query_one("#panebar").render())
        # before: one line cut at 80 cells, H100 and T4 never shown
        for product in ("A100-SXM4-80GB", "H100-80GB-HBM3", "Tesla-T4-SHARED"):
            assert product in bar
        assert app.screen.query_one("#panebar").size.height >= 2


async def test_experiments_show_their_namespace_at_80_columns():
    app = recorded_app("experiments")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.main.current.store) > 0, what="experiments")
        await pilot.pause()
        assert "NAMESPACE" in screen_lines(app)[0]


async def test_ctx_with_an_unknown_name_stays_and_lists_the_known_ones():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown: list[str] = []
        app.notify = lambda message, *a, **k: shown.append(str(message))
        app.main.run_command("ctx nosuch")
        await pilot.pause()
        assert app.context == "cockpit-demo"
        assert any("no context named 'nosuch'" in m and "known contexts: cockpit-demo, cockpit-demo-viewer" in m
                   for m in shown), shown
