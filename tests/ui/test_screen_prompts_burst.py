"""Keys in one burst (queued before the app reads any of them, as SSH or a paste delivers them)
on the screens pushed over the table: the log view's search and save prompts, the typed-name
delete confirmation and the launch form's Tab. Over recorded objects and recorded log lines,
so no cluster is needed; tests/e2e/test_screen_prompts_tmux.py does the same in a terminal."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events

from cockpit.kube.gpu import free_by_product
from cockpit.kube.logs import LogTarget
from cockpit.launch.library import PresetLibrary
from cockpit.ui.prompt import TextPrompt
from cockpit.ui.screens.confirm import ConfirmScreen
from cockpit.ui.screens.launch import LaunchScreen
from cockpit.ui.screens.logs import LogScreen
from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app
from tests.ui.test_dialog_snapshots import RecordedFollower
from tests.ui.test_prompt import burst, screen_lines, settle

POD = "resnet50-train-7x2kq"


async def log_screen(pilot) -> LogScreen:
    screen = LogScreen(object(), [LogTarget("team-vision", POD, "train")], title=f"Logs Pod team-vision/{POD}",
                       follower_factory=RecordedFollower)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.view.line_count == 120, what="the recorded lines")
    await settle(pilot)
    return screen


def toggles(screen: LogScreen) -> tuple:
    """What a stray hotkey would change: wrap, timestamps, follow, previous, a pushed picker."""
    view = screen.view
    return view.wrap, view.show_timestamps, view.following, screen.previous, screen.app.screen is screen


def status_line(app) -> str:
    status = app.screen.query_one("#logs-status")
    return screen_lines(app)[status.region.y]


async def test_log_search_typed_in_one_burst_fires_no_hotkey():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        before = toggles(screen)
        # s (save), p (previous), / (search), t/w would all act on the view if they escaped.
        burst(app, "/samples/s\r")
        await settle(pilot)
        assert screen.view.search_text == "samples/s"
        prompt = screen.query_one("#logs-prompt", TextPrompt)
        assert not prompt.is_open and app.focused is screen.view
        # Searching pauses on the first match; nothing else changed.
        assert toggles(screen) == (before[0], before[1], False, before[3], True)


async def test_keys_after_enter_in_the_same_burst_reach_the_view():
    """Before: Enter closed the prompt only once its message was handled, so the `w` behind it
    was typed into the closed prompt (the search became 'lossw') and wrap never toggled."""
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        burst(app, "/loss\rw")
        await settle(pilot)
        assert screen.view.search_text == "loss" and screen.view.wrap


async def test_log_search_pasted_then_enter_in_one_read():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        before = toggles(screen)
        burst(app, "/")
        app.post_message(events.Paste("samples/s"))
        burst(app, "\r")
        await settle(pilot)
        assert screen.view.search_text == "samples/s"
        assert toggles(screen)[:2] == before[:2] and toggles(screen)[3:] == before[3:]


async def test_a_pasted_slash_word_on_the_log_view_searches_for_it():
    """A paste of `/loss` onto the view (no prompt open) opens the search with the word, as on
    the main table; Enter right after it searches. Before, the paste was dropped."""
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        before = toggles(screen)
        app.post_message(events.Paste("/loss"))
        burst(app, "\r")
        await settle(pilot)
        assert screen.view.search_text == "loss"
        # No letter of it ran a hotkey (s saves, w wraps); a search stops following, as typed.
        after = toggles(screen)
        assert after[:2] == before[:2] and after[3:] == before[3:]
        app.post_message(events.Paste("plain words"))  # not a search: nothing happens
        await settle(pilot)
        assert screen.view.search_text == "loss" and toggles(screen) == after


async def test_log_save_name_typed_in_one_burst_is_the_file_written(tmp_path):
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        before = toggles(screen)
        target = tmp_path / "tw-p s.log"  # hotkey letters and a space in the name
        burst(app, "s")
        app.post_message(events.Key("ctrl+u", None))  # clear the offered name
        burst(app, f"{target}\r")
        await until(pilot, lambda: target.exists() and target.read_text().count("\n") == 120, what="the file")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tw-p s.log"]
        assert toggles(screen) == before


async def test_log_prompt_offers_no_tab_and_tab_stays_in_it():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        burst(app, "/lo\tss")
        await settle(pilot)
        prompt = screen.query_one("#logs-prompt", TextPrompt)
        assert app.focused is prompt and prompt.value == "loss"
        footer = screen_lines(app)[-1]
        assert "Complete" not in footer and "Container" not in footer and "Save" not in footer
        assert "Run" in footer and "Cancel" in footer


async def test_status_line_keeps_the_search_at_80_columns():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        burst(app, "/samples/s\rw")
        await settle(pilot)
        line = status_line(app).strip()
        assert line.endswith("/samples/s"), line
        assert "streaming" in line and "paused" in line and "wrap" in line
        full = screen.status_text()
        assert cell_len(full) > 78 and POD in full  # the whole text would not have fitted
        assert cell_len(screen.status_text(78)) <= 78


async def test_status_line_shortens_a_long_error_and_keeps_the_rest():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        burst(app, "/loss\r")
        await settle(pilot)
        screen._show_problem("cannot look up the pods: " + "very long reason " * 10)
        await settle(pilot)
        line = status_line(app).strip()
        assert line.startswith("✖ cannot look up the pods") and "…" in line and line.endswith("/loss"), line


async def test_typed_name_confirmation_field_looks_empty_and_the_dialog_says_what_to_type():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ConfirmScreen("Delete 1 persistentvolumeclaims?",
                                      ["PersistentVolumeClaim team-vision/alice-data"], type_to_confirm="alice-data"))
        await settle(pilot)
        field = app.screen.query_one("#typed")
        lines = screen_lines(app)
        inside = lines[field.region.y + 1][field.region.x:field.region.right]
        assert inside.strip(" ▊▎▌▐│") == "", inside  # no name shown in the field
        assert any("Type 'alice-data' and press enter to delete" in line for line in lines)
        burst(app, "alice-dat")
        await settle(pilot)
        assert "alice-dat" in screen_lines(app)[field.region.y + 1]


async def test_text_typed_right_after_tab_lands_in_the_next_field(tmp_path):
    app = recorded_app("gpu")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = LaunchScreen(None, namespace="team-vision", gpu_offer=free_by_product(app.hub.gpu.all_allocations()),
                              read_only=False, on_created=lambda r: None,
                              library=PresetLibrary(tmp_path / "user-presets"))
        await app.push_screen(screen)
        options = screen.query_one("#presets")
        await until(pilot, lambda: options.option_count > 0, what="presets listed")
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == "pytorch-train")
        await pilot.press("enter")
        await until(pilot, lambda: screen.preset is not None and screen.query("#f-gpu_product"), what="form")
        await settle(pilot)
        burst(app, "\tmy-run\tbusybox")
        await settle(pilot)
        assert screen.query_one("#f-namespace").value == "team-vision"
        assert screen.query_one("#f-name").value == "my-run"
        assert screen.query_one("#f-image").value.endswith("busybox")
        assert app.focused is screen.query_one("#f-image")


async def test_a_second_search_starts_empty_and_up_brings_the_last_back():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await log_screen(pilot)
        burst(app, "/loss\r/lr\r")
        await settle(pilot)
        assert screen.view.search_text == "lr"
        burst(app, "/")
        app.post_message(events.Key("up", None))
        app.post_message(events.Key("up", None))
        await settle(pilot)
        assert screen.query_one("#logs-prompt", TextPrompt).value == "loss"
