"""`:doctor`: the doctor's checks against the current context, inside the app.

The checks run in a worker thread (they read the whole cluster and ask the registry); the
screen shows "Checking…" until the worker posts its result. `r` runs them again, `esc` closes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from cockpit.kube.text import clean


class DoctorFinished(Message):
    def __init__(self, report=None, error: str = "") -> None:
        super().__init__()
        self.report = report
        self.error = error


class DoctorScreen(Screen):
    CSS_PATH = "doctor.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="doctor.back"),
        Binding("r", "rerun", "Run again", id="doctor.rerun"),
        Binding("up,k", "scroll(-1)", "Up", show=False, id="doctor.up"),
        Binding("down,j", "scroll(1)", "Down", show=False, id="doctor.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="doctor.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="doctor.page_down"),
    ]

    def __init__(self, kubeconfig, context: str, namespace: str | None, settings) -> None:
        super().__init__()
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.settings = settings
        self.report = None

    def compose(self):
        yield Static(Text(f"Doctor: is {clean(self.context)} ready for GPU experiments?"), id="doctor-title")
        with VerticalScroll(id="doctor-scroll"):
            yield Static(Text("Checking…"), id="doctor-body")
        yield Static(Text(""), id="doctor-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.run_checks()

    def action_rerun(self) -> None:
        self.query_one("#doctor-body", Static).update(Text("Checking…"))
        self.query_one("#doctor-summary", Static).update(Text(""))
        self.run_checks()

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def run_checks(self) -> None:
        from cockpit.doctor.runner import Unreachable, run_doctor

        try:
            report = run_doctor(self.kubeconfig, self.context, self.namespace, settings=self.settings)
        except Unreachable as e:
            self.post_message(DoctorFinished(error=str(e)))
            return
        except Exception as e:  # noqa: BLE001 - a doctor bug must show as text, not end the app
            self.post_message(DoctorFinished(error=f"doctor failed: {type(e).__name__}: {e}"))
            return
        self.post_message(DoctorFinished(report))

    @on(DoctorFinished)
    def show(self, msg: DoctorFinished) -> None:
        from cockpit.doctor.report import results_table, summary_text

        body = self.query_one("#doctor-body", Static)
        summary = self.query_one("#doctor-summary", Static)
        if msg.report is None:
            body.update(Text(clean(msg.error, 2000), style="bold red"))
            summary.update(Text("the cluster cannot be reached: nothing checked"))
            return
        self.report = msg.report
        notes = [Text(f"note: {n}", style="dim") for n in msg.report.notes]
        body.update(Group(results_table(msg.report), *notes))
        summary.update(summary_text(msg.report))

    def action_scroll(self, n: int) -> None:
        self.query_one("#doctor-scroll").scroll_relative(y=n, animate=False)

    def action_page(self, n: int) -> None:
        scroll = self.query_one("#doctor-scroll")
        scroll.scroll_relative(y=n * max(scroll.size.height - 1, 1), animate=False)
