"""The `:` and `/` prompts as a terminal drives them: keys in one burst (posted before the app
reads any of them, as SSH or a paste delivers them), history, completion, and text that looks
like markup. Over recorded objects, so no cluster is needed."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from textual import events
from textual.widgets import Footer

from cockpit.ui.main_screen import ALL_NAMESPACES
from cockpit.ui.prompt import Prompt, complete
from cockpit.ui.screens.confirm import ConfirmScreen
from cockpit.ui.screens.help import HelpScreen
from cockpit.ui.screens.text import TextScreen
from tests.ui.recorded_app import recorded_app, recorded_objects

_KEY_NAMES = {":": "colon", "/": "slash", " ": "space", "[": "left_square_bracket", "]": "right_square_bracket",
              "?": "question_mark", "!": "exclamation_mark", "(": "left_parenthesis", ")": "right_parenthesis",
              ",": "comma", "-": "minus", "=": "equals_sign", "@": "at", ".": "full_stop", "<": "less_than_sign",
              ">": "greater_than_sign"}


def burst(app, text: str) -> None:
    """Queue every key of `text` at once; `\\r` is Enter, `\\t` tab, `\\x1b` escape."""
    for ch in text:
        if ch == "\r":
            app.post_message(events.Key("enter", "\r"))
        elif ch == "\t":
            app.post_message(events.Key("tab", "\t"))
        elif ch == "\x1b":
            app.post_message(events.Key("escape", "\x1b"))
        else:
            app.post_message(events.Key(_KEY_NAMES.get(ch, ch), ch))


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


def screen_lines(app) -> list[str]:
    """What the terminal shows, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def spy(app, name: str) -> list:
    """Record calls of one of the main screen's actions (the action still runs)."""
    calls: list = []
    real = getattr(app.main, name)

    def wrapper(*args, **kw):
        calls.append(args)
        return real(*args, **kw)

    setattr(app.main, name, wrapper)
    return calls


async def test_burst_colon_jobs_enter_on_pods_opens_jobs_and_no_shell():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shells, describes = spy(app, "action_shell"), spy(app, "action_describe")
        burst(app, ":jobs\r")
        await settle(pilot)
        assert app.main.current.id == "jobs"
        assert shells == [] and describes == []
        assert len(app.screen_stack) == 1 and app.focused is app.main.table


async def test_burst_colon_exp_on_workflows_stops_nothing():
    app = recorded_app("workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        stops = spy(app, "action_kind_action")
        burst(app, ":exp\r")
        await settle(pilot)
        assert app.main.current.id == "experiments"
        assert stops == [] and len(app.screen_stack) == 1


async def test_unknown_command_with_a_hotkey_letter_opens_nothing():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        describes = spy(app, "action_describe")
        burst(app, ":xxxd\r")
        await settle(pilot)
        assert describes == [] and len(app.screen_stack) == 1
        assert any("unknown command" in m and "xxxd" in m for m in messages(app))


async def test_hotkeys_of_the_app_do_nothing_while_the_prompt_is_open():
    app = recorded_app("workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        resubmits = spy(app, "action_kind_action")
        burst(app, ":")
        await settle(pilot)
        await pilot.press("ctrl+r", "ctrl+k", "R")
        await settle(pilot)
        assert resubmits == [] and len(app.screen_stack) == 1
        assert app.query_one("#prompt", Prompt).value == "R"


async def test_prompt_shows_above_the_footer_with_what_was_typed():
    for size in ((80, 24), (120, 40)):
        app = recorded_app("pods")
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            burst(app, ":jobs")
            await settle(pilot)
            prompt = app.query_one("#prompt", Prompt)
            footer = app.query_one(Footer)
            assert prompt.region.height == 1 and prompt.region.bottom <= footer.region.y
            lines = screen_lines(app)
            assert prompt.value == "jobs" and lines[size[1] - 2].strip() == ":jobs"
            footer_line = lines[size[1] - 1]
            # The footer offers what works in the prompt, and none of the table's keys.
            assert "Run" in footer_line and "Cancel" in footer_line and "Complete" in footer_line
            assert "Filter" not in footer_line and "Logs" not in footer_line


async def test_history_walks_back_and_forth_per_prompt():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, ":jobs\r:pods\r/dev\r")
        await settle(pilot)
        burst(app, ":draft")
        await settle(pilot)
        prompt = app.query_one("#prompt", Prompt)
        seen = []
        for key in ("up", "up", "up", "down", "down"):
            await pilot.press(key)
            seen.append(prompt.value)
        assert seen == ["pods", "jobs", "jobs", "pods", "draft"]
        await pilot.press("escape")
        burst(app, "/")
        await settle(pilot)
        await pilot.press("up")
        assert prompt.value == "dev"


async def test_tab_completes_commands_namespaces_and_contexts():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        prompt = app.query_one("#prompt", Prompt)
        for typed, expected in ((":clea\t", "cleanup "), (":jo\t", "job"), (":ns team-v\t", "ns team-vision "),
                                (":ctx cockpit-demo-v\t", "ctx cockpit-demo-viewer "), (":ns team-\t", "ns team-")):
            burst(app, typed)
            await settle(pilot)
            assert prompt.value == expected, typed
            assert app.focused is prompt  # tab did not move focus away
            await pilot.press("escape")
        assert prompt.last_matches == ["team-nlp", "team-vision"]


def test_complete_is_a_common_prefix_then_the_word():
    assert complete("ns te", ["team-a", "team-b", "x"]) == ("ns team-", ["team-a", "team-b"])
    assert complete("ns team-a", ["team-a", "team-b"]) == ("ns team-a ", ["team-a"])
    assert complete("zz", ["a"]) == ("zz", [])


async def test_selector_filter_gives_the_rows_the_labels_say():
    objs = recorded_objects()
    expected = sum((p["metadata"].get("labels") or {}).get("team") in ("vision", "nlp") for p in objs["pods"])
    assert expected > 0
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "/-l team in (vision,nlp)\r")
        await settle(pilot)
        assert len(app.main.table.store) == expected
        assert app.main.table.store.filter_error == ""


async def test_invalid_regex_and_selector_say_so():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "/[\r")
        await settle(pilot)
        assert "invalid regex" in app.main.table.render_line(1).text
        burst(app, "\x1b")  # clears the filter; the next / starts empty
        await settle(pilot)
        burst(app, "/-l team in (vision\r")
        await settle(pilot)
        text = app.main.table.render_line(1).text
        assert "invalid label selector" in text and "No rows match" not in text


async def test_ctrl_c_hint_is_plain_text():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert messages(app)[-1] == "press q (or ctrl+q) to quit" and app.is_running


async def test_paste_of_a_command_onto_the_table_opens_the_prompt():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.post_message(events.Paste(":jobs"))
        await settle(pilot)
        prompt = app.query_one("#prompt", Prompt)
        assert prompt.value == "jobs" and app.focused is prompt
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.current.id == "jobs"
        # Into an open prompt, with Enter read right after the paste.
        burst(app, ":")
        app.post_message(events.Paste("pvc"))
        burst(app, "\r")
        await settle(pilot)
        assert app.main.current.id == "pvcs"


async def test_unknown_namespace_is_refused_and_a_known_one_switches():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, ":ns nosuchns\r")
        await settle(pilot)
        assert app.namespace is None
        assert any("no namespace named 'nosuchns'" in m for m in messages(app))
        burst(app, ":ns team-nlp\r")
        await settle(pilot)
        assert app.namespace == "team-nlp"


async def test_enter_on_a_namespace_opens_its_pods_and_all_namespaces_is_a_row():
    app = recorded_app("namespaces")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.main.table
        assert table.store.index(ALL_NAMESPACES) == 0
        table.move_cursor(table.store.index("team-vision"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.current.id == "pods" and app.namespace == "team-vision"
        burst(app, ":ns\r")
        await settle(pilot)
        table.move_cursor(table.store.index(ALL_NAMESPACES))
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.current.id == "pods" and app.namespace is None


async def test_footer_offers_enter_only_where_it_opens_something():
    app = recorded_app("pods")
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        assert "enter" not in app.screen.active_bindings
        burst(app, ":jobs\r")
        await settle(pilot)
        assert app.screen.active_bindings["enter"].binding.description == "Open"


async def test_sorting_keeps_the_cursor_on_the_same_object():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.main.table
        table.move_cursor(3)
        key = table.cursor_key
        for keys in (">", ">", "!", "<"):
            burst(app, keys)
            await settle(pilot)
            assert table.cursor_key == key
            assert table.store.view()[table.cursor_index] == key


async def test_help_lists_the_tables_keys_first_with_readable_names():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "?")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        sections = app.screen.sections
        assert [title for title, _ in sections][0] == "Keys"
        keys = [k for k, _, _ in sections[0][1]]
        assert keys[0] == ":" and "<, shift+←" in keys
        assert not any("_sign" in k or "_mark" in k for _, rows in sections for k, _, _ in rows)


async def test_a_wrongly_typed_name_keeps_the_confirmation_open_and_says_so():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        results = []
        app.push_screen(ConfirmScreen("Delete 1 namespace?", ["Namespace team-nlp"], type_to_confirm="team-nlp"),
                        results.append)
        await settle(pilot)
        await pilot.press(*"team-nl", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and results == []
        hint = str(app.screen.query_one("#hint").render())
        assert "'team-nl' is not 'team-nlp'" in hint and "nothing deleted" in hint
        await pilot.press(*"team-nlp", "enter")
        await settle(pilot)
        assert results == [True]


async def test_yaml_does_not_stack_on_describe():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(TextScreen("Describe Pod x"))
        await settle(pilot)
        yamls = spy(app, "action_yaml")
        burst(app, "yld:")
        await settle(pilot)
        assert yamls == [] and len(app.screen_stack) == 2
        burst(app, "\x1b")
        await settle(pilot)
        assert len(app.screen_stack) == 1


PROMPTS = (":", ":ctx ", ":ns ", ":theme ", "/", "/-l ")
MARKUPISH = st.text(alphabet=st.sampled_from(list("[]/@=.a:() ")), min_size=1, max_size=12) | st.sampled_from(
    ["[", "]", "[/]", "[@click=app.quit]", "[bold]x[/bold]", "[/", "[]", "a[b]c"])


@settings(max_examples=5, deadline=None)
@given(typed=st.lists(st.tuples(st.sampled_from(PROMPTS), MARKUPISH), min_size=len(PROMPTS), max_size=8))
def test_markup_like_text_in_every_prompt_is_shown_literally(typed):
    asyncio.run(_feed_prompts(typed))


async def _feed_prompts(typed: list[tuple[str, str]]) -> None:
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # Every prompt gets one of the texts, whatever hypothesis drew.
        typed = [(prefix, text) for prefix, (_, text) in zip(PROMPTS, typed, strict=False)] + typed[len(PROMPTS):]
        for prefix, text in typed:
            app.post_message(events.Paste(prefix + text))
            await pilot.pause()
            assert app.query_one("#prompt", Prompt).value == (prefix + text)[1:]
            await pilot.press("enter")
            await pilot.pause()
            assert app.is_running, f"{prefix}{text!r} ended the app"
            await pilot.press("escape")
            app.clear_notifications()  # a pile of toasts only slows the test down
        # The confirmation's typed name.
        app.push_screen(ConfirmScreen("Delete?", ["x"], type_to_confirm="x"))
        await settle(pilot)
        app.screen.query_one("#typed").value = typed[0][1]
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running


async def test_a_key_rbac_refuses_says_why():
    app = recorded_app("pods")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.permissions[("delete", "pods")] = False  # what the viewer context's probe finds
        app.main.refresh_bindings()
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert len(app.screen_stack) == 1
        assert any(m.startswith("forbidden: context cockpit-demo may not delete pods") and m.endswith("(RBAC)")
                   for m in messages(app))


async def test_a_live_filter_update_pending_at_enter_does_not_undo_the_filter():
    """Under load the filter's Changed messages trail the keys: Enter submitted `resnet50-train`,
    then the update queued for `res` (typed earlier) fired and set the filter back to `res`."""
    app = recorded_app("pods")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        burst(app, "/res")
        await settle(pilot)  # the update for "res" is now pending (its short timer not yet run)
        prompt = app.query_one("#prompt", Prompt)
        for ch in "net50-train":  # the rest of the burst, and Enter, before any Changed is handled
            prompt.type_key(ch)
        app.main._submit_prompt(prompt.value)
        await pilot.pause(0.4)  # longer than the live filter's delay
        assert app.main.current.store.filter_text == "resnet50-train"
