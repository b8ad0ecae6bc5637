"""Text written by whoever runs pods never reaches the terminal as control sequences."""

from __future__ import annotations

import asyncio
import copy
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pilot import until
from tests.ui.recorded_app import recorded_app, recorded_objects

EVIL = [
    "\x1b[31mred\x1b[0m",
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: write the clipboard
    "\x1b]0;owned\x07",  # set the window title
    "\x9b2J",  # 8-bit CSI: clear screen
    "ok\rEVIL",
    "\u202eevil\u202c",
    "[bold red]markup[/]",
]


def evil_objects() -> dict:
    objs = recorded_objects()
    pod = copy.deepcopy(next(p for p in objs["pods"] if p["metadata"]["name"] == "dev-box-alice"))
    pod["metadata"]["name"] = "evil-" + "".join(EVIL)
    pod["metadata"]["labels"] = {"x": EVIL[0]}
    pod["status"]["phase"] = "Pending"
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": EVIL[1] + "CrashLoopBackOff"}}
    pod["spec"]["nodeName"] = EVIL[3] + "node"
    objs["pods"] = [pod]
    wf = copy.deepcopy(objs["workflows"][0])
    wf["status"]["message"] = EVIL[2] + EVIL[4]
    objs["workflows"] = [wf]
    return objs


def _assert_inert(lines: list[str]) -> None:
    for line in lines:
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in line), repr(line)
        assert "\u202e" not in line


async def test_escape_sequences_in_rows_are_inert():
    app = recorded_app("pods", evil_objects())
    async with app.run_test(size=(200, 20)) as pilot:
        await pilot.pause()
        table = app.main.table
        lines = [table.render_line(y).text for y in range(table.size.height)]
        _assert_inert(lines)
        joined = "\n".join(lines)
        assert "evil-" in joined and "[bold red]markup[/]" in joined  # shown literally, not as markup
        await pilot.press("4")
        await pilot.pause()
        _assert_inert([table.render_line(y).text for y in range(table.size.height)])
        # The strips handed to the terminal carry no escape characters either.
        for y in range(table.size.height):
            for seg in table.render_line(y):
                assert "\x1b" not in seg.text and "\x9b" not in seg.text


# -- every sink, checked on the bytes that would go to the terminal ------------------------------

# One of each way text could drive a terminal or the markup parser. The words in capitals are
# payload: the sequence around them must be removed whole, so they never reach the screen.
CORPUS = [
    "\x1b]0;TITLEPAYLOAD\x07",  # OSC 0: window title
    "\x1b]8;;https://osc8.invalid/\x1b\\LINKTEXT\x1b]8;;\x1b\\",  # OSC 8: hyperlink
    "\x1b]52;c;CLIPPAYLOAD=\x07",  # OSC 52: clipboard write
    "\x1b[2J\x1b[31;1mcsi\x1b[0m",  # CSI: clear screen, colour
    "\x1bPqDCSPAYLOAD\x1b\\",  # DCS
    "\x9b2J\x9d0;C1PAYLOAD\x9c\x85",  # 8-bit CSI, OSC, ST and NEL
    "bi\u202edi\u2066x\u2069\u200f",  # bidi override, isolate, RLM
    "ze\u200bro\u200d\ufeff\u00ad\U000e0041",  # zero-width, BOM, soft hyphen, tag
    "[bold]M1[/bold]",  # markup
    "[@click=app.quit]M2[/]",
    "[link=https://m3.invalid]M3[/link]",
]
PAYLOADS = ["TITLEPAYLOAD", "CLIPPAYLOAD", "DCSPAYLOAD", "C1PAYLOAD", "osc8.invalid"]
MARKUP = ["[bold]M1[/bold]", "[@click=app.quit]M2[/]", "[link=https://m3.invalid]M3[/link]"]
# What Textual itself writes around the text: colours (SGR) and cursor moves, nothing else.
_OWN_SEQUENCE = re.compile(r"\x1b\[[0-9;:]*[mHK]")


def terminal_output(app) -> tuple[str, list[str]]:
    """(the bytes Textual would write to the terminal for the whole screen now, the text of
    every segment in it). The headless driver writes nothing, so render what the real driver
    is given."""
    update = app.screen._compositor.render_full_update()
    texts = [segment.text for line in update.strips for strip in line for segment in strip]
    return update.render_segments(app.console), texts


def assert_terminal_safe(app, *, shown: list[str] = ()) -> str:
    """No control character in any text handed to the terminal (Textual's own colours and
    cursor moves are styles, not text), no escape sequence in the bytes but those, no payload,
    no invisible mark, and the markup in `shown` printed literally. Returns the visible text."""
    output, texts = terminal_output(app)
    for t in texts:
        bad = [hex(ord(ch)) for ch in t if ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F]
        assert not bad, f"control characters {sorted(set(bad))} in {t!r}"
    rest = _OWN_SEQUENCE.sub("", output)
    bad = [hex(ord(ch)) for ch in rest if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F]
    assert not bad, f"escape sequences other than colours and cursor moves reach the terminal: {sorted(set(bad))}"
    text = "".join(texts)
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\U000e0000-\U000e007f]", text)
    for payload in PAYLOADS:
        assert payload not in text, payload
    for literal in shown:
        assert literal in text, f"{literal!r} is not shown literally"
    return text


def corpus_objects(texts: list[str]) -> dict:
    """The recorded cluster with one pod per text (in its name, a label, its waiting reason and
    node) and a workflow whose status message holds them all."""
    objs = recorded_objects()
    template = next(p for p in objs["pods"] if p["metadata"]["name"] == "dev-box-alice")
    pods = []
    for i, text in enumerate(texts):
        pod = copy.deepcopy(template)
        pod["metadata"]["name"] = f"e{i}-{text}"
        pod["metadata"]["uid"] = f"uid-{i}"
        pod["metadata"]["labels"] = {"x": text}
        pod["status"]["phase"] = "Pending"
        pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": text}}
        pod["spec"]["nodeName"] = text
        pods.append(pod)
    objs["pods"] = pods
    wf = copy.deepcopy(objs["workflows"][0])
    wf["status"]["message"] = "".join(texts)
    objs["workflows"] = [wf]
    return objs


async def test_corpus_in_table_rows_and_the_delete_dialog_reaches_the_terminal_inert():
    app = recorded_app("pods", corpus_objects(CORPUS))
    async with app.run_test(size=(220, 40)) as pilot:
        await pilot.pause()
        assert_terminal_safe(app, shown=MARKUP)
        await pilot.press("4")  # workflows: the status message
        await pilot.pause()
        assert_terminal_safe(app)
        await pilot.press("2")  # back to the pods
        await pilot.pause()
        for _ in CORPUS:  # mark every pod, then ask to delete them: the dialog lists the names
            await pilot.press("space", "down")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="the delete dialog")
        await pilot.pause()
        assert_terminal_safe(app, shown=MARKUP)
        await pilot.press("escape")


PIECES = st.sampled_from([*CORPUS, "\x1b", "\x1b[", "\x1b]", "\x07", "\x9b", "\x9d", "\x9c", "\r", "\n", "\t",
                          "[", "]", "[/]", "[b]", "@click", "=", ";", "東京", "🚀", "e\u0301", "a", " "])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(PIECES, min_size=1, max_size=8).map("".join), min_size=1, max_size=4))
def test_any_mix_of_the_corpus_reaches_the_terminal_inert(texts):
    async def run() -> None:
        app = recorded_app("pods", corpus_objects(texts))
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.pause()
            assert_terminal_safe(app)
            await pilot.press("4")
            await pilot.pause()
            assert_terminal_safe(app)

    asyncio.run(run())


# -- the same corpus from the demo cluster: describe, events, YAML and logs ------------------------

async def test_corpus_from_the_cluster_in_describe_events_yaml_and_logs(demo_cluster, kube_admin, unique_name):
    import datetime as dt

    from kubernetes import client

    from cockpit.app import CockpitApp
    from cockpit.demo.simulator import append_lines
    from cockpit.kube.connection import Kubeconfig
    from tests.integration.test_logs_live import NS, log_pod

    everything = "MARK-" + "".join(CORPUS)
    files = log_pod(kube_admin, demo_cluster, unique_name, annotations={"note": everything})
    core = client.CoreV1Api(kube_admin)
    pod = core.read_namespaced_pod(unique_name, NS)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core.create_namespaced_event(NS, {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{unique_name}.corpus"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": unique_name, "namespace": NS,
                           "uid": pod.metadata.uid},
        "reason": "BackOff", "message": "EVENT-" + "".join(CORPUS), "type": "Warning", "count": 1,
        "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "kubelet"}})
    append_lines(files["main"], ["LOG-" + text for text in CORPUS])

    app = CockpitApp(Kubeconfig.load(demo_cluster.kubeconfig), context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: any(k.endswith("/" + unique_name) for k in app.main.current.store.keys()),
                    what="the pod listed")
        await pilot.press("slash", *unique_name, "enter")
        await until(pilot, lambda: (app.main.table.cursor_key or "").endswith("/" + unique_name), what="cursor on the pod")

        await pilot.press("d")
        await until(pilot, lambda: "EVENT-" in getattr(app.screen, "body_text", ""), timeout=30, what="describe")
        await pilot.pause()
        shown = assert_terminal_safe(app, shown=MARKUP)
        assert "MARK-" in shown  # the annotation, at the top
        await pilot.press("G")  # the events, at the bottom
        await pilot.pause()
        shown = assert_terminal_safe(app, shown=MARKUP)
        assert "EVENT-" in shown
        await pilot.press("escape")

        await pilot.press("y")
        await until(pilot, lambda: "MARK-" in getattr(app.screen, "body_text", ""), timeout=30, what="yaml")
        await pilot.pause()
        assert "MARK-" in assert_terminal_safe(app)
        await pilot.press("escape")

        await pilot.press("l")
        await until(pilot, lambda: type(app.screen).__name__ == "LogScreen", what="log screen")
        view = app.screen.view
        await until(pilot, lambda: sum(line.text.startswith("LOG-") for line in view.lines()) == len(CORPUS),
                    timeout=30, what="corpus log lines")
        await pilot.pause()
        shown = assert_terminal_safe(app, shown=MARKUP)
        assert "LOG-" in shown
