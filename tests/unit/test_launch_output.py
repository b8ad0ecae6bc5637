"""`cockpit launch` prints cluster text (status and termination messages, scheduler messages,
API errors): the bytes it writes carry no escape sequence or control character from them."""

from __future__ import annotations

import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.launch import cli

DANGEROUS = st.sampled_from(["\x1b", "[", "]", "0;", "52;c;", "\x07", "\x9b", "\x9d", "\x9c", "\x85", "\r", "\t",
                             "\n", "\u202e", "\u200b", "\U000e0041", "P", "\\", "m", "2J", "東", "ok", " "])


def assert_inert(data: bytes) -> None:
    text = data.decode("utf-8")
    bad = {hex(ord(c)) for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F}
    assert not bad, (bad, text)
    assert not any(c in text for c in "\u202e\u200b\U000e0041")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.lists(st.one_of(DANGEROUS, st.text(max_size=5)), max_size=40).map("".join))
def test_printed_lines_never_carry_control_characters(capfdbinary, message):
    cli._say(f"job/train: {message}")
    cli._say(message, file=sys.stderr)
    cli._err(f"creating job/x failed: {message}")
    out, err = capfdbinary.readouterr()
    assert_inert(out)
    assert_inert(err)


def test_a_termination_message_is_printed_without_its_escapes(capfdbinary):
    cli._err("job/train: Failed: \x1b]0;owned\x07disk \x1b[31mfull\x1b[0m\rOK")
    _, err = capfdbinary.readouterr()
    assert err == "error: job/train: Failed: disk full\ufffdOK\n".encode()
