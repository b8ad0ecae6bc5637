"""A read-only text view for describe and YAML output: scrollable, searchable with `/`,
closed with `esc`. The text is neutralised before it gets here."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static


class TextScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="text.back"),
        Binding("up,k", "scroll(-1)", "Up", show=False, id="text.up"),
        Binding("down,j", "scroll(1)", "Down", show=False, id="text.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="text.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="text.page_down"),
        Binding("home,g", "edge(0)", "Top", show=False, id="text.top"),
        Binding("end,G", "edge(1)", "Bottom", show=False, id="text.bottom"),
    ]
    DEFAULT_CSS = """
    TextScreen #title { background: $panel; color: $foreground; text-style: bold; height: 1; padding: 0 1; }
    TextScreen VerticalScroll { height: 1fr; }
    TextScreen #body { padding: 0 1; }
    """

    def __init__(self, title: str, text: str = "Loading…"):
        super().__init__()
        self.title_text = title
        self.body_text = text

    def compose(self):
        yield Static(Text(self.title_text), id="title")
        with VerticalScroll(id="scroll"):
            yield Static(Text(self.body_text), id="body")
        yield Footer()

    def set_text(self, text: str) -> None:
        self.body_text = text
        self.query_one("#body", Static).update(Text(text))

    def action_scroll(self, n: int) -> None:
        self.query_one("#scroll").scroll_relative(y=n, animate=False)

    def action_page(self, n: int) -> None:
        scroll = self.query_one("#scroll")
        scroll.scroll_relative(y=n * max(scroll.size.height - 1, 1), animate=False)

    def action_edge(self, end: int) -> None:
        scroll = self.query_one("#scroll")
        (scroll.scroll_end if end else scroll.scroll_home)(animate=False)
