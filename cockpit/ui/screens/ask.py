"""A value asked for before an action runs (scale: how many replicas), naming its objects."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AskScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="ask.cancel")]
    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
                           background: $panel; border: round $warning; padding: 0 1; }
    AskScreen #items { height: auto; max-height: 12; overflow-y: auto; }
    AskScreen #hint { color: $text-muted; }
    """

    def __init__(self, question: str, items: list[str], *, initial: str = ""):
        super().__init__()
        self.question, self.items, self.initial = question, items, initial

    def compose(self):
        with Vertical():
            yield Static(Text(self.question, style="bold"))
            yield Static(Text("\n".join(f"  • {i}" for i in self.items)), id="items")
            yield Input(self.initial, id="answer")
            yield Static(Text("enter: go    esc: cancel"), id="hint")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#answer")
    def _answered(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(value)
