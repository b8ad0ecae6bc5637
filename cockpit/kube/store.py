"""A keyed store of table rows for one kind, with a filtered and sorted view.

Pure data: no Textual here. The owner feeds watch events through `apply`, hands the returned
`Delta` to the table, and the table reads `view()` / `get()` to paint.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cockpit.kube import selector
from cockpit.kube.model import Row

_LABEL_FLAG = re.compile(r"(?:^|(?<=\s))-l\s*")
_REGEX_CHARS = frozenset(".^$*+?()[]{}|\\")


@dataclass(frozen=True, slots=True)
class Delta:
    """What one mutation did: rows whose content changed, rows that went, and whether the view's
    membership or order changed (the UI then repaints everything instead of a few lines)."""

    changed_keys: frozenset[str] = frozenset()
    removed_keys: frozenset[str] = frozenset()
    order_changed: bool = False


Predicate = Callable[[Row], bool]


class FilterError(ValueError):
    """Filter text that cannot work: an invalid regex or label selector. The message says which."""


def _text_predicate(text: str) -> tuple[Predicate | None, str]:
    """The predicate for free text, and a note when the text looked like a regex but is not one
    (it is then matched as plain text)."""
    if not text:
        return None, ""
    note = ""
    if any(c in _REGEX_CHARS for c in text):
        try:
            with warnings.catch_warnings():  # "possible nested set": nothing a user can act on
                warnings.simplefilter("ignore")
                pattern = re.compile(text, re.IGNORECASE)
        except re.error as e:
            note = f"invalid regex ({e.msg}), matched as plain text"
        else:
            return (lambda row: any(pattern.search(cell) for cell in row.cells)), ""
    needle = text.lower()
    # NUL cannot occur in a cleaned cell, so a needle never matches across two cells.
    return (lambda row: needle in "\0".join(row.cells).lower()), note


def _split_filter(text: str) -> tuple[str, list[selector.Selector]]:
    """Free text and the `-l SELECTOR` parts of a filter. A selector runs to the end of the text
    or to the first word that cannot continue it (`-l app=web nginx`: text "nginx")."""
    words: list[str] = []
    selectors: list[selector.Selector] = []
    pos = 0
    while (m := _LABEL_FLAG.search(text, pos)) is not None:
        words.append(text[pos:m.start()])
        try:
            sel, pos = selector.parse_prefix(text, m.end())
        except selector.SelectorError as e:
            raise FilterError(f"invalid label selector: {e}") from None
        selectors.append(sel)
    words.append(text[pos:])
    return " ".join(w.strip() for w in words if w.strip()), selectors


def parse_filter(text: str) -> Predicate | None:
    """Turn filter text into a row predicate, or None for "everything". Raises FilterError."""
    return parse_filter_noted(text)[0]


def parse_filter_noted(text: str) -> tuple[Predicate | None, str]:
    """`parse_filter`, plus a note about text that is not what it looks like (an invalid regex)."""
    free, selectors = _split_filter(text)
    predicates: list[Predicate] = [lambda row, s=s: s.matches(row.labels) for s in selectors]
    p, note = _text_predicate(free)
    if p is not None:
        predicates.append(p)
    if not predicates:
        return None, note
    if len(predicates) == 1:
        return predicates[0], note
    return (lambda row: all(p(row) for p in predicates)), note


def _nothing(row: Row) -> bool:
    return False


class RowStore:
    """Rows of one kind by key, and the view the table shows: the keys passing the filter, sorted.

    `_order` holds every key sorted; the view is `_order` minus `_hidden`. After a mutation the
    order is rebuilt lazily, on the next `view()`: keys whose sort value did not change keep their
    relative order, so the rebuild is one merge of the untouched run with the touched keys rather
    than a full sort, and a filter change never sorts at all.
    """

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self._rows: dict[str, Row] = {}
        self._hidden: set[str] = set()  # keys failing the filter
        self._predicate: Predicate | None = None
        self._filter_text = ""
        self._filter_error = ""
        self._scope: str | None = None
        self._sort_column: int | None = None
        self._reverse = False
        # Sort value per key; None while sorting by key (the key is its own sort value).
        self._sort_values: dict[str, Any] | None = None
        self._order: list[str] = []
        self._touched: set[str] = set()  # keys added, re-valued or deleted since `_order` was built
        self._full_sort = False
        self._view: list[str] = []
        self._view_stale = False
        if rows:
            self.apply(list(rows), [])

    # -- reading ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Rows in the (filtered) view."""
        return len(self._rows) - len(self._hidden)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    @property
    def total(self) -> int:
        """Rows in the store, ignoring the filter."""
        return len(self._rows)

    @property
    def filter_text(self) -> str:
        return self._filter_text

    @property
    def filter_error(self) -> str:
        """Why the filter text cannot work (invalid regex or selector); empty when it can."""
        return self._filter_error

    @property
    def sort_column(self) -> int | None:
        """Column index the view is sorted by; None means by key."""
        return self._sort_column

    @property
    def sort_reverse(self) -> bool:
        return self._reverse

    def keys(self) -> list[str]:
        """Every key in the store, filtered out or not."""
        return list(self._rows)

    def get(self, key: str) -> Row | None:
        return self._rows.get(key)

    def view(self) -> list[str]:
        """Keys that pass the filter, in display order. Treat the list as read-only: the store
        replaces it rather than mutating it, so a caller may keep a reference as a snapshot."""
        if not self._view_stale:
            return self._view
        sort_key = None if self._sort_values is None else self._sort_values.__getitem__
        if self._full_sort:
            order = sorted(self._rows, key=sort_key, reverse=self._reverse)
        elif self._touched:
            rows, touched = self._rows, self._touched
            order = [k for k in self._order if k not in touched]
            order += [k for k in touched if k in rows]
            order.sort(key=sort_key, reverse=self._reverse)  # a sorted run plus a short tail
        else:
            order = self._order
        self._order = order
        self._touched = set()
        self._full_sort = self._view_stale = False
        hidden = self._hidden
        self._view = [k for k in order if k not in hidden] if hidden else order
        return self._view

    def index(self, key: str) -> int | None:
        """Position of `key` in the view, or None when it is not shown."""
        if key not in self._rows or key in self._hidden:
            return None
        return self.view().index(key)

    # -- mutating --------------------------------------------------------------------------------

    def apply(self, upserts: list[Row], deletes: list[str]) -> Delta:
        rows, hidden, predicate = self._rows, self._hidden, self._predicate
        sort_values, sort_key, touched = self._sort_values, self._sort_key, self._touched
        changed: set[str] = set()
        removed: set[str] = set()
        reorder = False
        for row in upserts:
            key = row.key
            old = rows.get(key)
            if old is row:
                # The very row it holds (rows are frozen): the end of a list that arrived in
                # pages hands every row over again, and none of them changed.
                continue
            rows[key] = row
            changed.add(key)
            if sort_values is None:
                moved = old is None
            else:
                value = sort_key(row)
                moved = old is None or sort_values[key] != value
                sort_values[key] = value
            if moved:
                touched.add(key)
            shown = predicate is None or predicate(row)
            was_shown = old is not None and key not in hidden
            if shown:
                hidden.discard(key)
            else:
                hidden.add(key)
            reorder |= shown != was_shown or (shown and moved)
            self._view_stale |= moved or shown != was_shown
        for key in deletes:
            if rows.pop(key, None) is None:
                continue
            removed.add(key)
            changed.discard(key)
            touched.add(key)
            if sort_values is not None:
                del sort_values[key]
            if key in hidden:
                hidden.discard(key)
            else:
                reorder = True
            self._view_stale = True
        return Delta(frozenset(changed), frozenset(removed), reorder)

    def clear(self) -> Delta:
        return self.apply([], list(self._rows))

    @property
    def scope(self) -> str | None:
        return self._scope

    def set_scope(self, namespace: str | None) -> Delta:
        """Show one namespace only (None: all). Rows without a namespace are always shown."""
        self._scope = namespace
        return self.set_filter(self._filter_text)

    def set_filter(self, text: str) -> Delta:
        """Plain text (case-insensitive substring over all cells), a regex when the text has regex
        metacharacters, and/or a `-l` Kubernetes label selector (`k=v`, `k!=v`, `k in (a,b)`,
        `k notin (a)`, `k`, `!k`, comma-joined). Invalid text sets `filter_error`."""
        self._filter_text = text
        self._filter_error = ""
        try:
            predicate, self._filter_error = parse_filter_noted(text)
        except FilterError as e:
            # Nothing passes a filter that cannot work; the table says why instead of "no match".
            self._filter_error = str(e)
            predicate = _nothing
        ns = self._scope
        if ns is not None:
            text_pred = predicate

            def predicate(row: Row) -> bool:
                return (not row.namespace or row.namespace == ns) and (text_pred is None or text_pred(row))

        self._predicate = predicate
        if predicate is None:
            self._hidden = set()
        else:
            self._hidden = {key for key, row in self._rows.items() if not predicate(row)}
        self._view_stale = True
        return Delta(order_changed=True)

    def set_sort(self, column: int | None, reverse: bool = False) -> Delta:
        if column == self._sort_column:
            if reverse != self._reverse:
                # Sort values are unique (the key breaks ties), so reversing is exact.
                self._order = self._order[::-1]
        else:
            self._sort_column = column
            rows, sort_key = self._rows, self._sort_key
            self._sort_values = None if column is None else {k: sort_key(r) for k, r in rows.items()}
            self._full_sort = True
        self._reverse = reverse
        self._view_stale = True
        return Delta(order_changed=True)

    def _sort_key(self, row: Row) -> Any:
        column = self._sort_column
        if column is None:
            return row.key
        values = row.sort or row.cells
        value = values[column] if column < len(values) else None
        # Rank by type so numbers, strings and missing values never compare with each other;
        # the key breaks ties so the order is total and reversing it is exact.
        if isinstance(value, (int, float)):
            return (0, value, row.key)
        if value is None or value == "":
            return (2, 0, row.key)
        return (1, str(value).lower(), row.key)
