"""Neutralise text that pods control before it reaches the terminal.

Names are validated by the API server, but messages, reasons from CRDs, termination messages,
annotations and log lines are free text. A stray escape sequence there could recolour the
screen, set the window title, or write the user's clipboard (OSC 52), so every such string
goes through `clean` (table cells) or `clean_log_line` (log viewer).
"""

from __future__ import annotations

import re

from rich.cells import split_graphemes

__all__ = ["ELLIPSIS", "REPLACEMENT", "clean", "clean_log_line"]

ELLIPSIS = "…"
REPLACEMENT = "\ufffd"

# One alternation, tried left to right at each ESC / C1 introducer:
#   CSI (7-bit ESC[ or 8-bit 0x9b): parameters, intermediates, final byte (may be cut off);
#   control strings OSC/DCS/SOS/PM/APC (7- or 8-bit introducer) up to BEL or ST (ESC\ or 0x9c),
#   or to the end of the text when unterminated: a terminal would swallow all of it too;
#   any other ESC sequence: intermediates then one final byte (ESC ( B, ESC 7, ESC c, ...).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)

# Invisible characters that reorder, hide or join text: a name could read as another name
# ("admin\u200b" beside "admin"), and a bidi override reverses the rest of the row. The
# zero-width and bidi marks, the word joiner and invisible operators, the byte-order mark, the
# Arabic letter mark, the Mongolian vowel separator, the soft hyphen and the tag characters
# (which hide ASCII text inside emoji flags) are all removed.
_INVISIBLE = [
    0x00AD, 0x061C, 0x180E, 0xFEFF,
    *range(0x200B, 0x2010),  # zero-width space, non-joiner, joiner; LRM, RLM
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2060, 0x2065),  # word joiner, invisible operators
    *range(0x2066, 0x206A),  # bidi isolates
    *range(0xE0000, 0xE0080),  # tag characters
]


def _table(tab: str) -> dict[int, str | None]:
    table: dict[int, str | None] = {c: REPLACEMENT for c in range(0x20)}
    table[0x7F] = REPLACEMENT
    table[ord("\t")] = tab
    table[ord("\n")] = " "
    # Line/paragraph separators break table rows as a newline would.
    table[0x2028] = " "
    table[0x2029] = " "
    for c in range(0x80, 0xA0):  # C1 controls left over after sequence removal
        table[c] = None
    for c in _INVISIBLE:
        table[c] = None
    return table


_CELL_TABLE = _table(" ")
_LOG_TABLE = _table("    ")
LOG_LINE_LIMIT = 10_000


def _neutralise(s: str, table: dict[int, str | None]) -> str:
    return _ESCAPES.sub("", s).translate(table)


def _truncate(s: str, limit: int) -> str:
    """At most `limit` terminal cells (and code points), ending in "…" when cut.

    A column is measured in cells: a CJK character or an emoji takes two, a combining mark none.
    The cut falls between graphemes, never inside a wide character or a base and its marks.
    """
    if limit <= 0:
        return ""
    if s.isascii():
        return s if len(s) <= limit else s[: limit - 1] + ELLIPSIS
    if 2 * len(s) <= limit:  # no code point takes more than two cells
        return s
    spans, cells = split_graphemes(s)
    if cells <= limit and len(s) <= limit:
        return s
    used = 0
    end = 0
    for _start, stop, width in spans:
        if used + width > limit - 1 or stop > limit - 1:
            break
        used += width
        end = stop
    return s[:end] + ELLIPSIS


def clean(s: object, limit: int = 512) -> str:
    """Return `s` as a single line safe to print: no escape sequences, no control characters.

    Escape sequences are removed whole; other control characters become U+FFFD (newline and
    tab become a space) so that an injected `\\r` cannot hide text behind other text.
    Invisible marks (zero-width, bidi, soft hyphen, tags) are removed. None becomes "". The
    result takes at most `limit` terminal cells and `limit` code points, ending in "…" when cut.
    """
    if s is None:
        return ""
    if not isinstance(s, str):
        s = str(s)
    # Fast path: the vast majority of cells are plain ASCII (isprintable excludes ESC, C0, DEL).
    if s.isascii() and s.isprintable():
        return _truncate(s, limit)
    return _truncate(_neutralise(s, _CELL_TABLE), limit)


def clean_log_line(s: str) -> str:
    """Like `clean` for one log line: tabs become 4 spaces, cut at 10,000 characters."""
    if not isinstance(s, str):
        s = str(s)
    if s.isascii() and s.isprintable():
        return _truncate(s, LOG_LINE_LIMIT)
    return _truncate(_neutralise(s, _LOG_TABLE), LOG_LINE_LIMIT)
