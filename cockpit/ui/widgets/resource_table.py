"""A resource table on Textual's Line API, sized for 100,000 rows.

Only visible lines are rendered, each from the `RowStore` on demand. The owner mutates the
store and passes the returned `Delta` to `apply`; the table then repaints as little as it can.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.kube.model import Column
from cockpit.kube.store import Delta, RowStore

_STATUSES = ("ok", "warn", "error", "pending", "done")
_MARK = "•"

# (column index, width, align) for each column shown
Layout = list[tuple[int, int, str]]


def _head(text: str, cells: int) -> str:
    """The longest start of `text` that fits in `cells` terminal cells."""
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > cells:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _tail(text: str, cells: int) -> str:
    return _head(text[::-1], cells)[::-1]


def shorten_middle(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut in the middle: "pytorch-tr…123456-x7k2p". Two names
    that differ only at the end (the pods of one Job) stay apart."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    room = width - 1
    head = _head(text, room // 2)
    return head + "…" + _tail(text, room - cell_len(head))


def _fit(text: str, width: int, align: str, cut: str = "end") -> str:
    """Pad or truncate `text` to exactly `width` cells."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        if cut == "middle":
            text = shorten_middle(text, width)
            return text + " " * (width - cell_len(text))
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


LONG_TEXT = 32  # most cells a column other than a name asks for, whatever its values


def layout_columns(columns: list[Column], width: int, content: dict[int, int] | None = None) -> Layout:
    """Fit columns into `width` cells (one-cell gaps).

    With `content` (column index -> widest value seen), a column asks for what its values need
    (never less than its title; text other than names at most LONG_TEXT cells, the last column
    at most its preferred width) instead of its preferred width, so a STATUS of "Running" does
    not hold 20 cells a name needs. Then columns with a `min_width` are narrowed, then the
    highest `priority` is dropped first (rightmost on a tie)."""
    content = content or {}
    shown = list(range(len(columns)))

    def wanted(i: int) -> int:
        c = columns[i]
        if i not in content:
            return c.width
        need = content[i]
        # Names ask for all they need. Other text is capped, so one long message or user list
        # cannot crowd out the rest; the last column takes what is left anyway.
        if c.cut != "middle":
            need = min(need, c.width if i == len(columns) - 1 else max(c.width, LONG_TEXT))
        return max(cell_len(c.title), need)

    def fit() -> dict[int, int] | None:
        widths = {i: wanted(i) for i in shown}
        deficit = sum(widths.values()) + len(shown) - 1 - width
        for i in shown:
            if deficit <= 0:
                break
            if columns[i].min_width:
                cut = min(deficit, max(widths[i] - columns[i].min_width, 0))
                widths[i] -= cut
                deficit -= cut
        return widths if deficit <= 0 else None

    widths = fit()
    while widths is None and len(shown) > 1:
        droppable = [i for i in shown if columns[i].priority > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
        widths = fit()
    if widths is None:
        widths = {i: wanted(i) for i in shown}
    spare = width - (sum(widths.values()) + len(shown) - 1)
    # Room left goes to narrowed names first, then to capped text up to its full values (a
    # wide terminal shows them whole), then to the last column.
    for goal in (wanted, lambda i: content.get(i, 0)):
        for i in shown[:-1]:
            if spare <= 0:
                break
            grow = min(spare, max(goal(i) - widths[i], 0))
            widths[i] += grow
            spare -= grow
    layout: Layout = []
    x = 0
    for n, i in enumerate(shown):
        w = width - x if n == len(shown) - 1 else min(widths[i], width - x)
        if w <= 0:
            break
        layout.append((i, w, columns[i].align))
        x += w + 1
    return layout


class ResourceTable(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    ResourceTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        overflow-x: hidden;
        & > .resource-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .resource-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .resource-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .resource-table--marked { background: $accent 30%; }
        & > .resource-table--placeholder { color: $text-muted; text-style: italic; }
        & > .resource-table--status-ok { color: $success; }
        & > .resource-table--status-warn { color: $warning; }
        & > .resource-table--status-error { color: $error; }
        & > .resource-table--status-pending { color: $accent; }
        & > .resource-table--status-done { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--marked",
        "resource-table--placeholder",
        *(f"resource-table--status-{s}" for s in _STATUSES),
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="resource_table.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="resource_table.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="resource_table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="resource_table.page_down"),
        Binding("home,g", "first", "First", show=False, id="resource_table.first"),
        Binding("end,G", "last", "Last", show=False, id="resource_table.last"),
        Binding("space", "toggle_mark", "Mark", show=False, id="resource_table.toggle_mark"),
        Binding("enter", "select", "Open", id="resource_table.select"),
        # Listed by `?`; the footer keeps its room for the cockpit's own keys at 80 columns.
        Binding("less_than_sign,shift+left", "sort_prev", "Sort ←", show=False, id="resource_table.sort_prev"),
        Binding("greater_than_sign,shift+right", "sort_next", "Sort →", show=False, id="resource_table.sort_next"),
        Binding("exclamation_mark", "sort_reverse", "Reverse", show=False, id="resource_table.sort_reverse"),
    ]

    class _RowMessage(Message):
        def __init__(self, table: ResourceTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> ResourceTable:
            return self.table

    class Highlighted(_RowMessage):
        """The cursor moved to another row."""

    class Selected(_RowMessage):
        """Enter was pressed on a row."""

    class SortChanged(Message):
        def __init__(self, table: ResourceTable, column: int | None, reverse: bool) -> None:
            super().__init__()
            self.table = table
            self.column = column  # None: sorted by key
            self.reverse = reverse

        @property
        def control(self) -> ResourceTable:
            return self.table

    placeholder: reactive[str] = reactive("Loading…")

    def __init__(
        self,
        columns: list[Column],
        store: RowStore | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns = list(columns)
        self._store = store if store is not None else RowStore()
        self._view: list[str] = []  # snapshot of store.view() as of the last apply
        self._cursor = 0
        self._cursor_key: str | None = None
        self._marked: set[str] = set()
        self._strips: LRUCache[tuple[str, int, bool, bool], Strip] = LRUCache(1024)
        self._columns_layout: tuple[int, Layout] | None = None
        self._width = 0  # width the strip cache was built for
        # Widest value seen per column among the rows shown so far (grows only, so columns do
        # not jump while scrolling); measured on the visible page only, never the whole store.
        self._content: dict[int, int] = {}
        self._measure = True
        self.opens = True  # whether Enter on a row leads anywhere; the owner says

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "select":
            return self.opens
        return True

    # -- public API ------------------------------------------------------------------------------

    @property
    def store(self) -> RowStore:
        return self._store

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    @property
    def cursor_key(self) -> str | None:
        return self._cursor_key

    @property
    def cursor_index(self) -> int:
        return self._cursor

    @property
    def marked_keys(self) -> frozenset[str]:
        return frozenset(self._marked)

    def set_marks(self, keys) -> None:
        self._marked = set(keys)
        self._strips.clear()
        self.refresh()

    def clear_marks(self) -> None:
        self._marked.clear()
        self._strips.clear()
        self.refresh()

    def set_store(self, store: RowStore, columns: list[Column] | None = None) -> None:
        """Show another store (another kind), optionally with other columns."""
        self._store = store
        if columns is not None:
            self._columns = list(columns)
        self._columns_layout = None
        self._content = {}
        self._measure = True
        self._cursor, self._cursor_key = 0, None
        self._marked.clear()
        self._strips.clear()
        self._sync_view()
        self.scroll_to(y=0, animate=False, force=True)
        self.refresh()

    def apply(self, delta: Delta) -> None:
        """Catch up with a mutation of the store that returned `delta`."""
        self._measure = True
        strips, width = self._strips, self._width
        if len(delta.changed_keys) + len(delta.removed_keys) > len(strips):
            # A big delta (a page of a list arriving): look up the few cached lines in it rather
            # than the delta's keys in the cache. Clearing instead made every repaint while a
            # list pages in render each line on screen again, though none of them had changed.
            changed, removed = delta.changed_keys, delta.removed_keys
            for cached in [c for c in strips.keys() if c[0] in changed or c[0] in removed]:
                strips.discard(cached)
        else:
            for key in (*delta.changed_keys, *delta.removed_keys):
                for selected in (False, True):
                    for marked in (False, True):
                        strips.discard((key, width, selected, marked))
        if delta.removed_keys:
            self._marked.difference_update(delta.removed_keys)
        if delta.order_changed:
            self._sync_view()
            self.refresh()
            return
        # Same rows in the same order: repaint only the visible lines that changed.
        changed = delta.changed_keys
        if not changed:
            return
        top = self.scroll_offset.y
        for index in range(top, min(top + self._page_height, len(self._view))):
            if self._view[index] in changed:
                self.refresh_line(index + 1)  # virtual line 0 is the header

    # -- cursor and view -------------------------------------------------------------------------

    @property
    def _page_height(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _sync_view(self) -> None:
        """Take a new view snapshot; keep the cursor on its key and at the same screen row."""
        old_index, old_key = self._cursor, self._cursor_key
        screen_row = old_index - self.scroll_offset.y
        self._view = view = self._store.view()
        index = self._store.index(old_key) if old_key is not None else None
        if index is None:
            index = min(old_index, len(view) - 1)
        self._cursor = max(index, 0)
        self.virtual_size = Size(self.size.width, len(view) + 1)
        if self.is_mounted and view:
            if self._cursor != old_index:
                self.scroll_to(y=self._cursor - screen_row, animate=False, force=True)
            self._scroll_cursor_into_view()
        self._set_cursor_key(view[self._cursor] if view else None)

    def _set_cursor_key(self, key: str | None) -> None:
        if key != self._cursor_key:
            self._cursor_key = key
            if key is not None:
                self.post_message(self.Highlighted(self, key))

    def _scroll_cursor_into_view(self) -> None:
        top, page = self.scroll_offset.y, self._page_height
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def move_cursor(self, index: int) -> None:
        if not self._view:
            return
        index = max(0, min(index, len(self._view) - 1))
        old = self._cursor
        self._cursor = index
        self._set_cursor_key(self._view[index])
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._scroll_cursor_into_view()

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page_height)

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page_height)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._view) - 1)

    def action_toggle_mark(self) -> None:
        key = self._cursor_key
        if key is None:
            return
        if key in self._marked:
            self._marked.discard(key)
        else:
            self._marked.add(key)
        self.refresh_line(self._cursor + 1)

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.Selected(self, self._cursor_key))

    def _set_sort(self, column: int | None, reverse: bool) -> None:
        self.apply(self._store.set_sort(column, reverse))
        self.post_message(self.SortChanged(self, column, reverse))

    def _cycle_sort(self, step: int) -> None:
        # Cycle through the columns on screen plus None (by key).
        choices: list[int | None] = [None, *(i for i, _, _ in self._layout())]
        current = self._store.sort_column
        position = choices.index(current) if current in choices else 0
        self._set_sort(choices[(position + step) % len(choices)], self._store.sort_reverse)

    def action_sort_next(self) -> None:
        self._cycle_sort(1)

    def action_sort_prev(self) -> None:
        self._cycle_sort(-1)

    def action_sort_reverse(self) -> None:
        self._set_sort(self._store.sort_column, not self._store.sort_reverse)

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.move_cursor(self.scroll_offset.y + offset.y - 1)

    # -- rendering -------------------------------------------------------------------------------

    def watch_placeholder(self) -> None:
        if not self._view:
            self.refresh()

    def notify_style_update(self) -> None:
        # Theme change, CSS reload or focus change: every cached strip has stale colours.
        super().notify_style_update()
        self._strips.clear()

    def _on_mount(self, event: events.Mount) -> None:
        self._sync_view()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._measure = True  # rows come into view: their widths count

    def _on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self._view) + 1)
        self._scroll_cursor_into_view()

    def _layout(self) -> Layout:
        width = self.size.width - self.scrollbar_size_vertical
        if width != self._width:
            # Drop strips of the old width now: after a row changes they would be stale.
            self._width = width
            self._strips.clear()
        if self._measure:
            self._measure = False
            if self._measure_page() and self._columns_layout is not None:
                self._columns_layout = None
                self._strips.clear()
                self.refresh()  # lines painted earlier this frame used the old layout
        if self._columns_layout is None or self._columns_layout[0] != width:
            # One cell on the left holds the mark glyph.
            self._columns_layout = (width, layout_columns(self._columns, width - 1, self._content))
        return self._columns_layout[1]

    def _measure_page(self) -> bool:
        """Widen `_content` by the rows on screen; True when some column grew."""
        grew = False
        top = int(self.scroll_offset.y)
        content = self._content
        for key in self._view[top:top + self._page_height]:
            row = self._store.get(key)
            if row is None:
                continue
            for i, cell in enumerate(row.cells):
                n = cell_len(cell)
                if n > content.get(i, -1):
                    content[i] = n
                    grew = True
        return grew

    def _style(self, *names: str) -> Style:
        if not names:
            return self.rich_style
        return self.rich_style + self.get_component_rich_style(*names)

    def render_line(self, y: int) -> Strip:
        layout = self._layout()
        width = self._width
        if y == 0:
            return self._render_header(layout, width)
        view = self._view
        if not view:
            if y != 1:
                return Strip.blank(width, self.rich_style)
            store = self._store
            text = self.placeholder if store.total == 0 else (store.filter_error or "No rows match the filter")
            style = self._style("resource-table--placeholder")
            return Strip([Segment(_fit(" " + text, width, "left"), style)], width)
        index = self.scroll_offset.y + y - 1
        if index >= len(view):
            return Strip.blank(width, self.rich_style)
        key = view[index]
        selected, marked = index == self._cursor, key in self._marked
        cache_key = (key, width, selected, marked)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._render_row(key, layout, width, selected, marked)
            self._strips[cache_key] = strip
        return strip

    def _render_header(self, layout: Layout, width: int) -> Strip:
        sort_column, arrow = self._store.sort_column, "▼" if self._store.sort_reverse else "▲"
        titles = []
        for i, w, align in layout:
            title = self._columns[i].title
            if i == sort_column:  # the arrow wins over the title's last cell
                title = set_cell_size(title, min(cell_len(title), w - 1))
                title = f"{title}{arrow}" if align == "left" else f"{arrow}{title}"
            titles.append(_fit(title, w, align))
        text = " " + " ".join(titles)
        return Strip([Segment(_fit(text, width, "left"), self._style("resource-table--header"))], width)

    def _render_row(self, key: str, layout: Layout, width: int, selected: bool, marked: bool) -> Strip:
        row = self._store.get(key)
        if row is None:  # the owner deleted it and has not called apply yet
            return Strip.blank(width, self.rich_style)
        cells = row.cells
        columns = self._columns
        text = (_MARK if marked else " ") + " ".join(
            _fit(cells[i] if i < len(cells) else "", w, align, columns[i].cut) for i, w, align in layout
        )
        names: list[str] = []
        if row.status in _STATUSES:
            names.append(f"resource-table--status-{row.status}")
        if marked:
            names.append("resource-table--marked")
        if selected:
            names.append("resource-table--cursor")
        # One plain-text segment: cells are never parsed as markup.
        return Strip([Segment(_fit(text, width, "left"), self._style(*names))], width)
