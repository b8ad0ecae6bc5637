"""A log viewer on Textual's Line API: a bounded buffer of lines, only visible rows rendered.

Lines arrive in batches (`append_lines`): one extend of a deque and one refresh per batch,
however many lines it holds. The deque keeps the newest `line_cap` lines. Every line is shown
as plain-text segments (never parsed as markup); the text was neutralised by the reader.

Wrapping is character-based. Row counts per line are only tracked while wrap is on, as running
totals in a list (`_ends`), so finding the line under a screen row is one bisect.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.kube.logs import LogLine, short_timestamp

__all__ = ["LogView", "plain_line"]


def plain_line(line: LogLine, timestamps: bool = True) -> str:
    """A line as text, for saving: `prefix timestamp text`."""
    parts = []
    if line.prefix:
        parts.append(line.prefix)
    if timestamps and line.timestamp:
        parts.append(line.timestamp)
    parts.append(line.text)
    return " ".join(parts)


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        height: 1fr;
        overflow-y: scroll;
        overflow-x: auto;
        scrollbar-size-vertical: 1;
        &.-wrap { overflow-x: hidden; }
        & > .log-view--prefix { color: $text-muted; text-style: dim; }
        & > .log-view--timestamp { color: $text-muted; }
        & > .log-view--match { background: $warning 35%; }
        & > .log-view--match-current { background: $accent; color: $foreground; text-style: bold; }
        & > .log-view--placeholder { color: $text-muted; text-style: italic; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--prefix",
        "log-view--timestamp",
        "log-view--match",
        "log-view--match-current",
        "log-view--placeholder",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_timestamps", "Timestamps", id="log_view.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="log_view.wrap"),
        Binding("space", "toggle_pause", "Pause", id="log_view.pause"),
        Binding("end,G", "follow", "Follow", id="log_view.follow", key_display="G"),
        Binding("n", "next_match", "Next match", show=False, id="log_view.next_match"),
        Binding("N", "previous_match", "Previous match", show=False, id="log_view.previous_match"),
        Binding("home,g", "top", "Top", show=False, id="log_view.top"),
        Binding("up,k", "scroll_up", "Up", show=False, id="log_view.up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="log_view.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log_view.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="log_view.page_down"),
    ]

    class StatusChanged(Message):
        """Follow/pause, a toggle or the search changed: the owner may redraw its status."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LogView:
            return self.view

    def __init__(self, line_cap: int = 20_000, *, placeholder: str = "Waiting for log lines…",
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.line_cap = max(1, line_cap)
        self.placeholder = placeholder
        self._lines: deque[LogLine] = deque(maxlen=self.line_cap)
        self._received = 0  # lines ever appended; the seq of a line is its position in that count
        self._following = True
        self._new_lines = 0  # lines appended while paused
        self._show_timestamps = False
        self._wrap = False
        self._max_text = 0  # widest prefix + text seen, in cells (timestamps come on top)
        self._strips: LRUCache[int, Strip] = LRUCache(2048)  # seq -> the whole line, unwrapped
        self._styles: dict[str, Style] = {}
        self._programmatic = 0  # >0 while this widget moves its own scroll position
        # Wrap bookkeeping (only while wrap is on): _ends[_ends_off + i] is the row (absolute,
        # counted from the first line ever kept) after line i; _base_row is where line 0 starts.
        self._ends: list[int] = []
        self._ends_off = 0
        self._base_row = 0
        self._wrap_width = 0
        # Search
        self._search = ""
        self._pattern: re.Pattern[str] | None = None
        self._match_seq: int | None = None

    # -- public state --------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def received(self) -> int:
        """Lines appended since the last `clear`, including those the cap has dropped since."""
        return self._received

    @property
    def dropped(self) -> int:
        return self._received - len(self._lines)

    @property
    def following(self) -> bool:
        return self._following

    @property
    def new_lines(self) -> int:
        return self._new_lines

    @property
    def show_timestamps(self) -> bool:
        return self._show_timestamps

    @property
    def wrap(self) -> bool:
        return self._wrap

    @property
    def search_text(self) -> str:
        return self._search

    def lines(self) -> list[LogLine]:
        """A copy of the buffer, oldest first."""
        return list(self._lines)

    # -- appending -----------------------------------------------------------------------------

    def append_lines(self, batch: Sequence[LogLine]) -> None:
        """Add lines at the end: one deque extend, one refresh."""
        n = len(batch)
        if not n:
            return
        self._received += n
        cap = self.line_cap
        if n > cap:
            batch = list(batch)[n - cap:]
            n = cap
        lines = self._lines
        dropped = max(0, len(lines) + n - cap)
        texts = [line[0] for line in batch]
        widest = max(map(len, texts))
        if not "".join(texts).isascii():  # wide characters: measure in cells, line by line
            widest = max(map(_cells, texts))
        prefix = max(map(len, [line[2] for line in batch]))
        widest = max(self._max_text, widest + (prefix + 1 if prefix else 0))
        self._max_text = widest
        if self._wrap:
            self._extend_ends(batch)
        lines.extend(batch)
        dropped_rows = 0
        if dropped:
            dropped_rows = self._drop_ends(dropped) if self._wrap else dropped
        self._update_virtual_size()
        if self._following:
            self._scroll_end()
        else:
            self._new_lines += n
            if dropped_rows:
                self._scroll_programmatically(y=max(0, self.scroll_offset.y - dropped_rows))
        self.refresh()

    def clear(self) -> None:
        self._lines.clear()
        self._received = 0
        self._new_lines = 0
        self._max_text = 0
        self._strips.clear()
        self._match_seq = None
        self._ends, self._ends_off, self._base_row = [], 0, 0
        self._update_virtual_size()
        self._scroll_programmatically(x=0, y=0)
        self.refresh()

    # -- follow and pause ----------------------------------------------------------------------

    def pause(self) -> None:
        if self._following:
            self._following = False
            self._new_lines = 0
            self.post_message(self.StatusChanged(self))

    def resume(self) -> None:
        """Follow the end again."""
        changed = not self._following or self._new_lines
        self._following = True
        self._new_lines = 0
        self._scroll_end()
        if changed:
            self.post_message(self.StatusChanged(self))

    def action_toggle_pause(self) -> None:
        if self._following:
            self.pause()
        else:
            self.resume()

    def action_follow(self) -> None:
        self.resume()

    def action_top(self) -> None:
        self.pause()
        self._scroll_programmatically(y=0)

    def action_scroll_up(self) -> None:
        self.pause()
        self._scroll_programmatically(y=self.scroll_offset.y - 1)

    def action_scroll_down(self) -> None:
        self._scroll_programmatically(y=self.scroll_offset.y + 1)
        if self.scroll_offset.y >= self.max_scroll_y:
            self.resume()

    def action_page_up(self) -> None:
        self.pause()
        self._scroll_programmatically(y=self.scroll_offset.y - max(1, self._page_height - 1))

    def action_page_down(self) -> None:
        self._scroll_programmatically(y=self.scroll_offset.y + max(1, self._page_height - 1))
        if self.scroll_offset.y >= self.max_scroll_y:
            self.resume()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if not (event.ctrl or event.shift):
            self.pause()
        super()._on_mouse_scroll_up(event)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrollbar drags and clicks: moving up from the end pauses, reaching the end follows.
        if self._programmatic:
            return
        if new_value < old_value and round(new_value) < self.max_scroll_y:
            self.pause()
        elif new_value > old_value and round(new_value) >= self.max_scroll_y and not self._following:
            self.resume()

    def _scroll_programmatically(self, x: float | None = None, y: float | None = None) -> None:
        self._programmatic += 1
        try:
            self.scroll_to(x=x, y=y, animate=False, force=True)
        finally:
            self._programmatic -= 1

    def _scroll_end(self) -> None:
        self._scroll_programmatically(y=self.max_scroll_y)

    @property
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    # -- toggles -------------------------------------------------------------------------------

    def action_toggle_timestamps(self) -> None:
        self.set_timestamps(not self._show_timestamps)

    def action_toggle_wrap(self) -> None:
        self.set_wrap(not self._wrap)

    def set_timestamps(self, show: bool) -> None:
        if show == self._show_timestamps:
            return
        top = self._top_line()
        self._show_timestamps = show
        self._relayout(top)

    def set_wrap(self, wrap: bool) -> None:
        if wrap == self._wrap:
            return
        top = self._top_line()
        self._wrap = wrap
        self.set_class(wrap, "-wrap")
        if not wrap:
            self._ends, self._ends_off, self._base_row = [], 0, 0
        self._relayout(top)

    def _relayout(self, top: int) -> None:
        """Line widths changed: rebuild what depends on them, keep `top` the first line shown."""
        self._strips.clear()
        if self._wrap:
            self._rebuild_ends()
        self._update_virtual_size()
        if self._following:
            self._scroll_end()
        else:
            self._scroll_programmatically(x=0, y=self._row_of(top))
        self.refresh()
        self.post_message(self.StatusChanged(self))

    # -- search --------------------------------------------------------------------------------

    def search(self, text: str) -> bool:
        """Highlight `text` (case-insensitive unless it has capitals) and go to its first
        occurrence at or below the top of the screen, wrapping around. False: not found."""
        self._search = text
        self._match_seq = None
        self._pattern = (re.compile(re.escape(text), 0 if any(c.isupper() for c in text) else re.IGNORECASE)
                         if text else None)
        self._strips.clear()
        self.refresh()
        found = bool(text) and self._find(self._top_line(), forward=True, include_start=True)
        self.post_message(self.StatusChanged(self))
        return found

    def action_next_match(self) -> None:
        self.next_match()

    def action_previous_match(self) -> None:
        self.previous_match()

    def next_match(self) -> bool:
        start = self._match_index()
        if start is None:
            return self._find(self._top_line(), forward=True, include_start=True)
        return self._find(start, forward=True, include_start=False)

    def previous_match(self) -> bool:
        start = self._match_index()
        if start is None:
            return self._find(self._top_line(), forward=False, include_start=False)
        return self._find(start, forward=False, include_start=False)

    def _match_index(self) -> int | None:
        if self._match_seq is None:
            return None
        index = self._match_seq - self.dropped
        return index if 0 <= index < len(self._lines) else None

    def _find(self, start: int, *, forward: bool, include_start: bool) -> bool:
        pattern, lines = self._pattern, self._lines
        n = len(lines)
        if pattern is None or not n:
            return False
        start = max(0, min(start, n - 1))
        search = pattern.search
        if forward:
            first = start if include_start else start + 1
            order = ((first + k, line) for k, line in enumerate(islice(lines, first, None)))
            wrapped = enumerate(islice(lines, 0, first))
        else:
            last = start if include_start else start - 1
            order = ((last - k, line) for k, line in enumerate(islice(reversed(lines), n - 1 - last, None)))
            wrapped = ((n - 1 - k, line) for k, line in enumerate(islice(reversed(lines), 0, n - 1 - last)))
        for source in (order, wrapped):
            for index, line in source:
                if search(line.text):
                    self._go_to_match(index)
                    return True
        return False

    def _go_to_match(self, index: int) -> None:
        old = self._match_seq
        self._match_seq = self.dropped + index
        for seq in (old, self._match_seq):
            if seq is not None:
                self._strips.discard(seq)
        self.pause()
        self._scroll_programmatically(y=max(0, self._row_of(index) - self._page_height // 3))
        self.refresh()
        self.post_message(self.StatusChanged(self))

    # -- geometry ------------------------------------------------------------------------------

    @property
    def _text_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _line_cells(self, line: LogLine) -> int:
        w = _cells(line.text)
        if line.prefix:
            w += _cells(line.prefix) + 1
        if self._show_timestamps and line.timestamp:
            w += len(short_timestamp(line.timestamp)) + 1
        return w

    def _rows(self, line: LogLine, width: int) -> int:
        return max(1, -(-self._line_cells(line) // width))

    def _rebuild_ends(self) -> None:
        width = self._wrap_width = self._text_width
        total, ends, rows = 0, [], self._rows
        for line in self._lines:
            total += rows(line, width)
            ends.append(total)
        self._ends, self._ends_off, self._base_row = ends, 0, 0

    def _extend_ends(self, batch: Sequence[LogLine]) -> None:
        ends, width, rows = self._ends, self._wrap_width, self._rows
        total = ends[-1] if len(ends) > self._ends_off else self._base_row
        for line in batch:
            total += rows(line, width)
            ends.append(total)

    def _drop_ends(self, count: int) -> int:
        """Forget the first `count` lines' rows; returns how many rows they took."""
        old_base = self._base_row
        self._ends_off += count
        self._base_row = self._ends[self._ends_off - 1]
        if self._ends_off > 4096 and self._ends_off * 2 > len(self._ends):
            del self._ends[:self._ends_off]
            self._ends_off = 0
        return self._base_row - old_base

    def _total_rows(self) -> int:
        if not self._wrap:
            return len(self._lines)
        return (self._ends[-1] if len(self._ends) > self._ends_off else self._base_row) - self._base_row

    def _row_of(self, index: int) -> int:
        """The first row of line `index`."""
        if not self._wrap or index <= 0:
            return max(0, index)
        return self._ends[self._ends_off + index - 1] - self._base_row

    def _locate(self, row: int) -> tuple[int, int]:
        """(line index, row within the line) of a row."""
        if not self._wrap:
            return row, 0
        absolute = self._base_row + row
        pos = bisect_right(self._ends, absolute, self._ends_off)
        start = self._ends[pos - 1] if pos > self._ends_off else self._base_row
        return pos - self._ends_off, absolute - start

    def _top_line(self) -> int:
        return self._locate(self.scroll_offset.y)[0]

    def _update_virtual_size(self) -> None:
        if self._wrap:
            width = self._text_width
        else:
            width = self._max_text + (25 if self._show_timestamps else 0)
        self.virtual_size = Size(width, self._total_rows())

    def _on_resize(self, event: events.Resize) -> None:
        if self._wrap and self._text_width != self._wrap_width:
            top = self._top_line()
            self._rebuild_ends()
            self._update_virtual_size()
            if not self._following:
                self._scroll_programmatically(y=self._row_of(top))
        if self._following:
            self.call_after_refresh(self._scroll_end)

    # -- rendering -----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        # Theme change, CSS reload or focus change: every cached strip and style is stale.
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()

    @property
    def _base_style(self) -> Style:
        style = self._styles.get("")
        if style is None:  # rich_style walks every ancestor: once per style change, not per line
            style = self._styles[""] = self.rich_style
        return style

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self._base_style + self.get_component_rich_style(name)
        return style

    def render_line(self, y: int) -> Strip:
        width = self._text_width
        base = self._base_style
        lines = self._lines
        if not lines:
            if y == 0 and self.placeholder:
                text = f" {self.placeholder}"
                return Strip([Segment(text, self._style("log-view--placeholder"))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        scroll_x, scroll_y = self.scroll_offset
        index, sub = self._locate(scroll_y + y)
        if index >= len(lines):
            return Strip.blank(width, base)
        strip = self._line_strip(index)
        if self._wrap:
            return strip.crop_extend(sub * width, (sub + 1) * width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _line_strip(self, index: int) -> Strip:
        seq = self.dropped + index
        strip = self._strips.get(seq)
        if strip is not None:
            return strip
        line = self._lines[index]
        base = self._base_style
        segments: list[Segment] = []
        if line.prefix:
            segments.append(Segment(line.prefix + " ", self._style("log-view--prefix")))
        if self._show_timestamps and line.timestamp:
            segments.append(Segment(short_timestamp(line.timestamp) + " ", self._style("log-view--timestamp")))
        text = line.text
        pattern = self._pattern
        if pattern is None:
            segments.append(Segment(text, base))
        else:
            match_style = self._style("log-view--match-current" if seq == self._match_seq else "log-view--match")
            pos = 0
            for m in pattern.finditer(text):
                if m.end() == m.start():
                    continue
                if m.start() > pos:
                    segments.append(Segment(text[pos:m.start()], base))
                segments.append(Segment(m.group(), match_style))
                pos = m.end()
            if pos < len(text):
                segments.append(Segment(text[pos:], base))
        strip = Strip(segments)
        self._strips[seq] = strip
        return strip
