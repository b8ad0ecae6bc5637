"""ResourceTable driven through Pilot, with an in-memory RowStore (no cluster)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.ui.widgets.resource_table import ResourceTable

COLUMNS = [
    Column("NAME", 30),
    Column("STATUS", 12),
    Column("RESTARTS", 8, align="right", priority=2),
    Column("AGE", 6, align="right", priority=1),
    Column("NODE", 20, priority=3),
    Column("IP", 15, priority=4),
]


def pod(
    i: int,
    *,
    name: str | None = None,
    status: str = "Running",
    restarts: int = 0,
    age: int = 60,
    labels: dict[str, str] | None = None,
) -> Row:
    name = name or f"pod-{i:03d}"
    return Row(
        key=f"default/{name}",
        cells=(name, status, str(restarts), f"{age}s", f"node-{i % 3}", f"10.0.0.{i}"),
        sort=(name, status, restarts, age, f"node-{i % 3}", i),
        status="ok" if status == "Running" else "warn",
        labels=labels or {},
        namespace="default",
        name=name,
    )


class TableApp(App[None]):
    def __init__(self, rows: list[Row] | None = None) -> None:
        super().__init__()
        self.rows = rows or []
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, RowStore(self.rows), id="pods")

    def on_mount(self) -> None:
        self.query_one(ResourceTable).focus()

    def on_resource_table_highlighted(self, message: ResourceTable.Highlighted) -> None:
        self.messages.append(message)

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        self.messages.append(message)

    def on_resource_table_sort_changed(self, message: ResourceTable.SortChanged) -> None:
        self.messages.append(message)


def lines(table: ResourceTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


def shown_names(table: ResourceTable) -> list[str]:
    return [line.split()[0] for line in lines(table)[1:] if line.strip()]


async def test_cursor_movement() -> None:
    app = TableApp([pod(i) for i in range(100)])
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        assert table.cursor_key == "default/pod-000"
        await pilot.press("down", "down", "j")
        assert (table.cursor_index, table.cursor_key) == (3, "default/pod-003")
        await pilot.press("k", "up")
        assert table.cursor_key == "default/pod-001"
        await pilot.press("pagedown")
        page = table.size.height - 1  # rows under the header
        assert table.cursor_index == 1 + page
        await pilot.press("pageup")
        assert table.cursor_index == 1
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_key == "default/pod-099"
        assert shown_names(table)[-1] == "pod-099"  # scrolled so the cursor is visible
        await pilot.press("end", "down")
        assert table.cursor_index == 99
        await pilot.press("g")
        await pilot.pause()
        assert table.cursor_index == 0 and shown_names(table)[0] == "pod-000"
        await pilot.press("home", "up")
        assert table.cursor_index == 0
        await pilot.press("enter")
        await pilot.pause()
        highlighted = [m.key for m in app.messages if type(m) is ResourceTable.Highlighted]
        assert highlighted[:3] == ["default/pod-000", "default/pod-001", "default/pod-002"]
        assert isinstance(app.messages[-1], ResourceTable.Selected)
        assert app.messages[-1].key == "default/pod-000"


async def test_cursor_follows_its_key_when_rows_move() -> None:
    app = TableApp([pod(i, age=i) for i in range(200)])
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(table.store.set_sort(3))  # by age
        await pilot.press("down", "down", "down")
        assert table.cursor_key == "default/pod-003"
        # pod-003 ages: it moves far down the view, and the view scrolls with it.
        table.apply(table.store.apply([pod(3, age=150)], []))
        await pilot.pause()
        assert table.cursor_key == "default/pod-003"
        assert table.cursor_index == 149
        shown = shown_names(table)
        assert "pod-003" in shown and shown.index("pod-003") == 3  # same screen row as before
        # Moved to the very end: still visible, though the view cannot keep its screen row.
        table.apply(table.store.apply([pod(3, age=10_000)], []))
        await pilot.pause()
        assert table.cursor_index == 199 and shown_names(table)[-1] == "pod-003"
        # Deleting the cursor row puts the cursor on the row that takes its place.
        await pilot.press("g")
        table.apply(table.store.apply([], ["default/pod-000"]))
        assert table.cursor_key == "default/pod-001"


async def test_changed_row_repaints_without_reorder() -> None:
    app = TableApp([pod(i) for i in range(10)])
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        assert "Running" in lines(table)[3]
        delta = table.store.apply([pod(2, status="Failed")], [])
        assert not delta.order_changed
        table.apply(delta)
        await pilot.pause()
        assert "Failed" in lines(table)[3]


async def test_filter_text_regex_and_labels() -> None:
    rows = [pod(i, labels={"app": "web" if i % 2 else "db"}) for i in range(10)]
    rows.append(pod(10, name="special-job", status="Pending", labels={"app": "batch"}))
    app = TableApp(rows)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        table.apply(table.store.set_filter("PENDING"))
        await pilot.pause()
        assert shown_names(table) == ["special-job"]
        assert table.cursor_key == "default/special-job"
        table.apply(table.store.set_filter(r"pod-00[12]$"))
        await pilot.pause()
        assert shown_names(table) == ["pod-001", "pod-002"]
        table.apply(table.store.set_filter("-l app=web"))
        await pilot.pause()
        assert shown_names(table) == ["pod-001", "pod-003", "pod-005", "pod-007", "pod-009"]
        table.apply(table.store.set_filter("-l app!=web,app 8"))
        await pilot.pause()
        assert shown_names(table) == ["pod-008"]
        table.apply(table.store.set_filter("nothing-matches-this"))
        await pilot.pause()
        assert table.cursor_key is None
        assert "No rows match" in lines(table)[1]


async def test_sort_keys_numeric_and_reverse() -> None:
    restarts = [10, 9, 100, 0, 25]
    app = TableApp([pod(i, restarts=r) for i, r in enumerate(restarts)])
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.press(">", ">", ">")  # key -> NAME -> STATUS -> RESTARTS
        await pilot.pause()
        assert table.store.sort_column == 2
        assert " ▲RESTART " in lines(table)[0]  # right-aligned title, arrow replaces its last cell
        assert [line.split()[2] for line in lines(table)[1:6]] == ["0", "9", "10", "25", "100"]
        await pilot.press("!")
        await pilot.pause()
        assert " ▼RESTART " in lines(table)[0] and table.store.sort_reverse
        assert [line.split()[2] for line in lines(table)[1:6]] == ["100", "25", "10", "9", "0"]
        await pilot.press("<")
        await pilot.pause()
        assert table.store.sort_column == 1
        sorts = [(m.column, m.reverse) for m in app.messages if isinstance(m, ResourceTable.SortChanged)]
        assert sorts == [(0, False), (1, False), (2, False), (2, True), (1, True)]


async def test_marks_with_space() -> None:
    app = TableApp([pod(i) for i in range(5)])
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ResourceTable)
        await pilot.press("space", "down", "down", "space")
        assert table.marked_keys == {"default/pod-000", "default/pod-002"}
        assert lines(table)[1].startswith("•") and not lines(table)[2].startswith("•")
        await pilot.press("space")
        assert table.marked_keys == {"default/pod-000"}
        table.apply(table.store.apply([], ["default/pod-000"]))
        assert table.marked_keys == frozenset()


async def test_narrow_width_drops_low_priority_columns() -> None:
    app = TableApp([pod(i, name=f"a-very-long-pod-name-that-does-not-fit-{i}") for i in range(3)])
    async with app.run_test(size=(80, 10)):
        # Columns take what their values need, not their preferred widths: all of them fit.
        table = app.query_one(ResourceTable)
        header = lines(table)[0]
        assert all(t in header for t in ("NAME", "STATUS", "AGE", "NODE", "IP"))
        assert all(len(line) <= 80 for line in lines(table))
        assert "a-very-long-pod-name-that-does-not-fit-0 " in lines(table)[1]  # whole: there is room
    app = TableApp([pod(i, name=f"a-very-long-pod-name-that-does-not-fit-{i}") for i in range(3)])
    async with app.run_test(size=(50, 10)):
        table = app.query_one(ResourceTable)
        header = lines(table)[0]
        assert "NAME" in header and "STATUS" in header
        assert "NODE" not in header and "IP" not in header
        assert all(len(line) <= 50 for line in lines(table))
    app = TableApp([pod(1, restarts=7)])
    async with app.run_test(size=(160, 10)):
        header, row = lines(app.query_one(ResourceTable))[:2]
        assert "NODE" in header and "IP" in header
        end = header.index("RESTARTS") + len("RESTARTS")
        assert row[end - 2 : end] == " 7"  # right-aligned under its title


async def test_markup_in_cells_is_literal() -> None:
    app = TableApp([pod(1, name="[red]x[/red]"), pod(2, name="[bold]b")])
    async with app.run_test(size=(100, 10)):
        table = app.query_one(ResourceTable)
        text = "\n".join(lines(table))
        assert "[red]x[/red]" in text and "[bold]b" in text


async def test_placeholder_when_empty() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(ResourceTable)
        assert lines(table)[1].strip() == "Loading…"
        table.placeholder = "Forbidden: you may not list pods"
        await pilot.pause()
        assert lines(table)[1].strip() == "Forbidden: you may not list pods"
        table.apply(table.store.apply([pod(1)], []))
        await pilot.pause()
        assert shown_names(table) == ["pod-001"]
        assert table.cursor_key == "default/pod-001"
        table.apply(table.store.clear())
        await pilot.pause()
        assert table.cursor_key is None
        assert lines(table)[1].strip() == "Forbidden: you may not list pods"


async def test_bindings_have_ids_and_descriptions() -> None:
    from textual.binding import Binding

    bindings = [b for b in ResourceTable.BINDINGS if isinstance(b, Binding)]
    assert all(b.id and b.id.startswith("resource_table.") and b.description for b in bindings)
