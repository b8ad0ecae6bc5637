"""Doctor's output: a table with colour and a one-line summary, or JSON for scripts.

Cluster text is already `clean`; it is still put into rich `Text` objects, never parsed as
markup, so a `[red]` in a node name prints as those characters.
"""

from __future__ import annotations

import json
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cockpit.doctor.checks import FAILED, OK, WARNING
from cockpit.doctor.runner import DoctorReport

MARKS = {OK: ("ok", "green"), WARNING: ("warning", "yellow"), FAILED: ("failed", "bold red")}


def status_text(status: str) -> Text:
    word, style = MARKS.get(status, (status, ""))
    return Text(word, style=style)


def results_table(report: DoctorReport) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=False, pad_edge=False)
    table.add_column("STATUS", no_wrap=True, width=7)
    # Long object names wrap instead of being cut: the name is what the user needs to see.
    table.add_column("CHECK", ratio=1, min_width=14, overflow="fold")
    table.add_column("WHAT IT SAW / FIX", ratio=3, overflow="fold")
    for r in report.results:
        detail = Text(r.saw)
        if r.fix and r.status != OK:
            detail.append("\nfix: ", style="bold")
            detail.append(r.fix)
        table.add_row(status_text(r.status), Text(r.name), detail)
    return table


def summary_text(report: DoctorReport) -> Text:
    style = MARKS[FAILED][1] if report.count(FAILED) else MARKS[WARNING][1] if report.count(WARNING) else "green"
    return Text(report.summary, style=style)


def print_text(report: DoctorReport, out: IO[str] | None = None, *, color: bool | None = None,
               width: int | None = None) -> None:
    console = Console(file=out, highlight=False, markup=False, emoji=False, width=width,
                      no_color=color is False or None, force_terminal=color or None)
    console.print(Text(f"cockpit doctor: context {report.context}, namespace {report.namespace}", style="bold"))
    console.print(results_table(report))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="dim"))
    console.print(summary_text(report))


def print_json(report: DoctorReport, out: IO[str]) -> None:
    json.dump(report.to_dict(), out, indent=2)
    out.write("\n")
