"""`?`: every binding with its key, description and id (the id is what `keys:` in the
configuration remaps), and the `:` commands."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

COMMANDS = [
    (":gpu", "GPU allocation per node and pool"),
    (":pods :po", "pods"), (":jobs", "jobs"), (":wf", "Argo workflows"), (":exp", "Katib experiments"),
    (":pvc", "persistent volume claims"), (":nodes :no", "nodes"), (":ns [NAME|all]", "namespaces / switch"),
    (":ctx [NAME]", "contexts / switch"), (":idle", "pods holding GPUs at 0% utilisation"),
    (":pf", "active port-forwards"),
    (":cleanup", "finished work and idle GPU holders to delete"), (":launch", "launch a preset"),
    (":theme [NAME]", "switch theme"), (":q", "quit"),
]


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen VerticalScroll { width: 90%; height: 90%; background: $panel; border: round $accent; padding: 0 1; }
    """

    def __init__(self, bindings: list[tuple[str, str, str]]):
        super().__init__()
        self.bindings_list = bindings

    def compose(self):
        keys = Table(title="Keys", expand=True, box=None, show_edge=False)
        keys.add_column("key", style="bold", no_wrap=True)
        keys.add_column("action")
        keys.add_column("id", style="dim")
        for key, desc, bid in self.bindings_list:
            keys.add_row(key, desc, bid)
        cmds = Table(title="Commands", expand=True, box=None, show_edge=False)
        cmds.add_column("command", style="bold", no_wrap=True)
        cmds.add_column("shows")
        for c, d in COMMANDS:
            cmds.add_row(c, d)
        with VerticalScroll():
            yield Static(keys)
            yield Static(cmds)
