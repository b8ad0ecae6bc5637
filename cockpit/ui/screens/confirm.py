"""Confirmation before anything is deleted: the dialog lists exactly what will go. PVCs and
namespaces need their name typed, since their data does not come back."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
        Binding("y,enter", "confirm", "Confirm", id="confirm.ok"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
                               background: $panel; border: round $error; padding: 0 1; }
    ConfirmScreen #items { height: auto; max-height: 14; overflow-y: auto; }
    ConfirmScreen #hint { color: $text-muted; }
    ConfirmScreen #hint.-wrong { color: $error; text-style: bold; }
    ConfirmScreen Input { border: tall $error; }
    """

    def __init__(self, title: str, items: list[str], *, type_to_confirm: str | None = None, verb: str = "delete"):
        super().__init__()
        self.verb = verb  # what "y" does, said in the hint: delete, stop, retry ...
        self.title_text = title
        self.items = items
        self.expected = type_to_confirm

    def compose(self):
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text("\n".join(f"  • {i}" for i in self.items)), id="items")
            if self.expected:
                yield Static(Text(self._ask()), id="hint")
                # Empty, no placeholder: the name shown inside the field read as already typed.
                yield Input(id="typed")
            else:
                yield Static(Text(f"y / enter: {self.verb}    n / esc: cancel"), id="hint")

    def _ask(self) -> str:
        return f"Type {self.expected!r} and press enter to {self.verb}, esc to cancel."

    def on_mount(self) -> None:
        if self.expected:
            self.query_one("#typed", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        if self.expected:
            return  # only typing the name confirms
        self.dismiss(True)

    @on(Input.Submitted, "#typed")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value == self.expected:
            self.dismiss(True)
            return
        # A typo keeps the dialog open and says so in it: closing would look like a deletion
        # that silently did nothing.
        hint = self.query_one("#hint", Static)
        hint.update(Text(f"{event.value!r} is not {self.expected!r}: nothing deleted. {self._ask()}"))
        hint.add_class("-wrong")
        event.input.value = ""
