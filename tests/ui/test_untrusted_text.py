"""Text written by whoever runs pods never reaches the terminal as control sequences."""

from __future__ import annotations

import copy

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
        table = app.table
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
