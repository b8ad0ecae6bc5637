"""cockpit.kube.text: pod-controlled text must never drive the terminal."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len, split_graphemes

from cockpit.kube.text import ELLIPSIS, REPLACEMENT, clean, clean_log_line

FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\ufeff\U000e0000-\U000e007f]"
)
INVISIBLE = ["\u00ad", "\u061c", "\u180e", "\ufeff", *map(chr, range(0x200B, 0x2010)),
             *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2060, 0x2065)), *map(chr, range(0x2066, 0x206A)),
             "\U000e0001", "\U000e0041", "\U000e007f"]


def test_plain_ascii_is_returned_unchanged() -> None:
    s = "train-resnet-7x2kq"
    assert clean(s) is s


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[1;31mred\x1b[0m text", "red text"),  # CSI colour
        ("\x1b[2J\x1b[Hwiped", "wiped"),  # clear screen, cursor home
        ("a\x1b]52;c;cm0gLXJmIH4=\x07b", "ab"),  # OSC 52 clipboard write, BEL-terminated
        ("a\x1b]52;c;cm0gLXJmIH4=\x1b\\b", "ab"),  # OSC 52, ST-terminated
        ("\x1b]0;you have been pwned\x07ok", "ok"),  # window title
        ("\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\", "link"),  # hyperlink
        ("\x9b31mred\x9b0m", "red"),  # 8-bit CSI
        ("\x9d0;title\x9cok", "ok"),  # 8-bit OSC and ST
        ("\x1bPq#0;2;0;0;0#0~~\x1b\\x", "x"),  # DCS (sixel)
        ("\x1b_Gf=100,a=T;iVBORw0KGgo=\x1b\\img", "img"),  # APC (kitty graphics)
        ("\x1b^private\x1b\\pm", "pm"),  # PM
        ("\x1bXsos\x1b\\s", "s"),  # SOS
        ("\x1bcreset", "reset"),  # RIS, 2-char ESC
        ("\x1b(Bcharset", "charset"),  # designate G0 (ESC with intermediate)
        ("\x1b7saved\x1b8", "saved"),
        ("ok\x1b]0;unterminated title", "ok"),  # unterminated OSC swallows the rest
        ("ok\x1b", "ok"),  # lone ESC
        ("a\x85b\x8dc", "abc"),  # other C1 controls (NEL, RI)
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # RLO
        ("\u2066isolate\u2069d", "isolated"),
        ("line1\nline2\tcol", "line1 line2 col"),
    ],
)
def test_escape_sequences_are_removed(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_carriage_return_cannot_overwrite_text() -> None:
    out = clean("Succeeded\rFAILED!!!")
    assert "\r" not in out
    assert out == f"Succeeded{REPLACEMENT}FAILED!!!"


@pytest.mark.parametrize("ch", ["\x00", "\b", "\x07", "\x0b", "\x0c", "\x7f", "\x1f"])
def test_other_controls_become_a_visible_placeholder(ch: str) -> None:
    assert clean(f"a{ch}b") == f"a{REPLACEMENT}b"


def test_unicode_text_is_kept() -> None:
    s = "Übung-東京 🚀 naïve"
    assert clean(s) == s


def test_truncation() -> None:
    out = clean("x" * 600)
    assert len(out) == 512
    assert out.endswith(ELLIPSIS)
    assert clean("abcdef", limit=3) == "ab" + ELLIPSIS
    assert clean("abc", limit=3) == "abc"
    assert clean("\x1b[31m" + "é" * 10, limit=4) == "ééé" + ELLIPSIS


def test_non_strings() -> None:
    assert clean(None) == ""
    assert clean(42) == "42"
    assert clean(0.5) == "0.5"


def test_clean_log_line() -> None:
    assert clean_log_line("step\t1\x1b[32m ok\x1b[0m") == "step    1 ok"
    long = "y" * 20_000
    out = clean_log_line(long)
    assert len(out) == 10_000 and out.endswith(ELLIPSIS)
    assert clean_log_line("z" * 5000) == "z" * 5000  # no 512 limit for logs
    assert clean_log_line("100%\r 50%") == f"100%{REPLACEMENT} 50%"


ESCAPE_ALPHABET = st.sampled_from(
    ["\x1b", "[", "]", "P", "_", "^", "X", "\\", "\x07", "\x9b", "\x9c", "\x9d", "\x90",
     ";", "0", "1", "m", "a", " ", "\r", "\n", "\t", "\x7f", "\u202e", "\u2067", "é"]
)  # fmt: skip


@given(st.text())
def test_clean_never_emits_controls(s: str) -> None:
    out = clean(s)
    assert not FORBIDDEN.search(out)
    assert len(out) <= 512


@given(st.text(alphabet=ESCAPE_ALPHABET, max_size=200), st.integers(min_value=1, max_value=64))
def test_clean_never_emits_controls_for_escape_soup(s: str, limit: int) -> None:
    out = clean(s, limit)
    assert not FORBIDDEN.search(out)
    assert len(out) <= limit
    assert clean(out, limit) == out  # idempotent


@given(st.text(alphabet=st.one_of(ESCAPE_ALPHABET, st.characters()), max_size=300))
def test_clean_log_line_never_emits_controls(s: str) -> None:
    assert not FORBIDDEN.search(clean_log_line(s))


@pytest.mark.parametrize("mark", INVISIBLE)
def test_invisible_marks_are_removed(mark: str) -> None:
    # "admin" followed by a zero-width space must not pass for "admin", nor RLO reverse a row.
    assert clean(f"ad{mark}min") == "admin"
    assert clean_log_line(f"ad{mark}min") == "admin"


def test_tag_characters_hidden_in_a_flag_are_removed() -> None:
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # England
    assert clean(flag) == "\U0001f3f4"


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        ("東京東京東京", 5, "東京" + ELLIPSIS),  # 12 cells: two wide characters and the ellipsis
        ("東京東京東京", 12, "東京東京東京"),
        ("東京東京東京", 11, "東京東京東" + ELLIPSIS),
        ("a東京", 3, "a" + ELLIPSIS),  # never half a wide character
        ("🚀🚀🚀", 4, "🚀" + ELLIPSIS),
        ("e\u0301" * 10, 5, "e\u0301e\u0301" + ELLIPSIS),  # a base and its mark stay together
        ("naïve", 5, "naïve"),
    ],
)
def test_cut_by_terminal_cells(raw: str, limit: int, expected: str) -> None:
    assert clean(raw, limit) == expected


WIDE_ALPHABET = st.sampled_from(["東", "京", "🚀", "é", "e", "\u0301", "\ufe0f", "\u200b", "\u202e", "a", " ", "\U000e0041"])


@given(st.text(alphabet=st.one_of(WIDE_ALPHABET, st.characters()), max_size=120), st.integers(min_value=1, max_value=80))
def test_clean_fits_its_cells_and_never_splits_a_character(s: str, limit: int) -> None:
    out = clean(s, limit)
    assert cell_len(out) <= limit
    assert len(out) <= limit
    assert not FORBIDDEN.search(out)
    full = clean(s, 10**6)
    if out != full:
        kept = out.removesuffix(ELLIPSIS)
        assert out.endswith(ELLIPSIS) and full.startswith(kept)
        # The cut falls on a grapheme boundary of the whole text: nothing is split in two.
        assert len(kept) in {start for start, _, _ in split_graphemes(full)[0]} | {0}
    assert clean(out, limit) == out
