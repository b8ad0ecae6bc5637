"""`?`: every binding with its key, description and id (the id is what `keys:` in the
configuration remaps), the keys of the log view, and the `:` commands."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.ui.commands import help_rows

# (title, [(keys, description, binding id)])
Section = tuple[str, list[tuple[str, str, str]]]


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen VerticalScroll { width: 90%; height: 90%; background: $panel; border: round $accent; padding: 0 1; }
    """

    def __init__(self, sections: list[Section]):
        super().__init__()
        self.sections = sections

    def compose(self):
        with VerticalScroll():
            for title, rows in self.sections:
                keys = Table(title=Text(title), expand=True, box=None, show_edge=False)
                keys.add_column("key", style="bold", no_wrap=True)
                keys.add_column("action")
                keys.add_column("id", style="dim")
                for key, desc, bid in rows:
                    # Keys come from the user's keymap: plain text, never markup.
                    keys.add_row(Text(key), Text(desc), Text(bid))
                yield Static(keys)
            cmds = Table(title="Commands", expand=True, box=None, show_edge=False)
            cmds.add_column("command", style="bold", no_wrap=True)
            cmds.add_column("shows")
            for c, d in help_rows():
                cmds.add_row(Text(c), Text(d))
            yield Static(cmds)


def key_names(app, binding: Binding, keymap: dict[str, str] | None = None) -> str:
    """`<, shift+←` for "less_than_sign,shift+left": the keys as a person types them, after the
    user's keymap."""
    if binding.key_display and not (keymap and binding.id in keymap):
        return binding.key_display
    keys = (keymap or {}).get(binding.id or "", binding.key)
    return ", ".join(app.get_key_display(Binding(k.strip(), "")) for k in keys.split(",") if k.strip())
