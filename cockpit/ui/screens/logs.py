"""`l`: the logs of a pod, of every pod of a Job, of a workflow's steps or of a Katib trial.

One `LogFollower` thread per container streams its log. Followers hand over batches from
their threads; the screen collects them under a lock and moves them to the `LogView` at most
~20 times a second, in one append each time, so a chatty pod costs the UI thread a few appends
a second, not one message per line. Network and disk are only touched from threads.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from itertools import chain
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.kube.logs import (
    CONNECTING,
    ENDED,
    ERROR,
    STOPPED,
    STREAMING,
    WAITING,
    LogFollower,
    LogLine,
    LogSelection,
    LogTarget,
)
from cockpit.kube.text import clean
from cockpit.ui.prompt import PromptBar, TextPrompt, pasted_line
from cockpit.ui.widgets.log_view import LogView, plain_line

__all__ = ["ContainerPicker", "LogScreen", "default_save_name"]

FLUSH_INTERVAL = 0.05  # at most ~20 appends to the view per second
SEPARATOR = "  "  # between the status line's parts

FollowerFactory = Callable[..., object]


def _cells(parts: list[tuple[int, str]]) -> int:
    return cell_len(SEPARATOR.join(text for _, text in parts))


class LinesPending(Message):
    """A follower left lines in the screen's inbox (sent once until they are taken)."""


class FollowerState(Message):
    def __init__(self, generation: int, target: LogTarget, state: str, detail: str) -> None:
        super().__init__()
        self.generation, self.target, self.state, self.detail = generation, target, state, detail


class SelectionResolved(Message):
    def __init__(self, selection: LogSelection) -> None:
        super().__init__()
        self.selection = selection


def default_save_name(targets: Sequence[LogTarget], container: str, now: dt.datetime | None = None) -> str:
    """./<pod>-<container>-<UTC timestamp>.log; for several pods, the name they share."""
    pods = [t.pod for t in targets]
    if len(pods) == 1:
        stem = pods[0]
    else:
        stem = os.path.commonprefix(pods).rstrip("-.") or "logs"
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"./{stem}-{container}-{when}.log" if container else f"./{stem}-{when}.log"


class ContainerPicker(ModalScreen[str | None]):
    """A small list of a pod's containers; enter picks, escape keeps the current one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", id="logs.container_picker.cancel"),
    ]
    DEFAULT_CSS = """
    ContainerPicker { align: center middle; }
    ContainerPicker OptionList { width: 50; max-height: 16; background: $panel; border: round $accent; }
    """

    def __init__(self, containers: Sequence[str], current: str | None) -> None:
        super().__init__()
        self.containers = list(containers)
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(Text(("● " if c == self.current else "  ") + clean(c)), id=c) for c in self.containers]
        yield OptionList(*options, id="containers")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        picker.border_title = "Container"
        if self.current in self.containers:
            picker.highlighted = self.containers.index(self.current)
        picker.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class LogScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("c", "pick_container", "Container", id="logs.container"),
        Binding("p", "toggle_previous", "Previous", id="logs.previous"),
        Binding("slash", "search", "Search", id="logs.search", key_display="/"),
        Binding("s", "save", "Save", id="logs.save"),
    ]
    DEFAULT_CSS = """
    LogScreen { layout: vertical; }
    LogScreen #logs-title { height: 1; background: $panel; color: $foreground; text-style: bold; padding: 0 1; }
    LogScreen #logs-status { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    LogScreen #logs-status.-error { color: $error; }
    """
    # While the search or save prompt is open these keys are typed into it: not offered.
    _NOT_WHILE_TYPING = frozenset({"pick_container", "toggle_previous", "search", "save"})

    def __init__(self, api, targets: list[LogTarget], *, title: str, line_cap: int = 20_000,
                 containers: list[str] | None = None, default_container: str | None = None,
                 read_only: bool = False, tail_lines: int | None = 500,
                 follower_factory: FollowerFactory = LogFollower,
                 resolve: Callable[[], LogSelection] | None = None) -> None:
        super().__init__()
        self.api = api
        self.targets = list(targets)
        self.title_text = title
        self.line_cap = line_cap
        self.read_only = read_only
        self.tail_lines = tail_lines
        self.follower_factory = follower_factory
        self._resolve = resolve
        self.container = default_container or (self.targets[0].container if self.targets else None)
        self.containers = list(containers) if containers else ([self.container] if self.container else [])
        self.previous = False
        self.followers: list = []
        self._states: dict[LogTarget, tuple[str, str]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._inbox: list[Sequence[LogLine]] = []
        self._flush_posted = False
        self._flush_timer = None
        self._last_flush = 0.0
        self._prompt_mode = ""
        self._problem = ""
        self.flushes = 0  # appends made to the view (the benchmark reads it)
        self._view: LogView | None = None

    @classmethod
    def binding_rows(cls) -> list[tuple[str, str, str]]:
        """(keys, description, id) of every binding on this screen, its log view's included."""
        rows = []
        for b in [*cls.BINDINGS, *LogView.BINDINGS]:
            if isinstance(b, Binding):
                rows.append((b.key_display or b.key, b.description, b.id or ""))
        return rows

    @classmethod
    def for_object(cls, api, kind: str, namespace: str, name: str, *, read_only: bool = False,
                   line_cap: int = 20_000) -> LogScreen:
        """The logs of one object of a kind the cockpit knows (pods, jobs, workflows, trials):
        the screen opens at once, and fetches the object and its pods in a worker."""
        from cockpit.kube import describe
        from cockpit.kube.logs import resolve
        from cockpit.resources import registry

        kind_info = registry.find(kind)
        label = kind_info.api_kind if kind_info else kind
        title = f"Logs {label} {namespace + '/' if namespace else ''}{name}"

        def resolve_selection() -> LogSelection:
            if kind_info is None:
                return LogSelection([], problem=f"{kind} has no logs")
            if api is None:
                return LogSelection([], problem="not connected to a cluster")
            obj = describe.fetch(api, kind_info.resource, namespace, name)
            return resolve(kind, obj, api)

        return cls(api, [], title=clean(title), line_cap=line_cap, read_only=read_only,
                   resolve=resolve_selection)

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="logs-title")
        yield LogView(self.line_cap, id="log-view",
                      placeholder="Looking up the pods…" if self._resolve else "Waiting for log lines…")
        yield Static(id="logs-status")
        # The same prompt as the main screen's `:` and `/`: the App types a burst into it as it
        # reads the keys, and Enter closes it at once (see cockpit/ui/prompt.py).
        yield PromptBar(TextPrompt(id="logs-prompt"), id="logs-prompt-bar")
        yield Footer()

    @property
    def view(self) -> LogView:
        if self._view is None:
            self._view = self.query_one("#log-view", LogView)
        return self._view

    def on_mount(self) -> None:
        title = Text(self.title_text)
        if self.read_only:
            title.append("  [READ-ONLY]")
        self.query_one("#logs-title", Static).update(title)
        self.view.focus()
        if self._resolve is not None:
            self._resolve_targets()
        elif not self.targets:
            self._show_problem("no pods to show logs of")
        else:
            self._start()
        self._refresh_status()

    def on_unmount(self) -> None:
        self._stop_followers()

    # -- resolving an object to its targets ----------------------------------------------------
    @work(thread=True, exclusive=True, group="logs-resolve", exit_on_error=False)
    def _resolve_targets(self) -> None:
        try:
            selection = self._resolve() if self._resolve else LogSelection([])
        except Exception as e:  # noqa: BLE001 - ApiException, network trouble: say so on the screen
            status = getattr(e, "status", None)
            reason = getattr(e, "reason", None)
            detail = f"{status} {reason}" if status else f"{type(e).__name__}: {e}"
            selection = LogSelection([], problem=f"cannot look up the pods: {clean(detail, 300)}")
        self.post_message(SelectionResolved(selection))

    @on(SelectionResolved)
    def _selection_resolved(self, msg: SelectionResolved) -> None:
        sel = msg.selection
        if not sel.targets:
            self._show_problem(sel.problem or "no pods to show logs of")
            return
        self.targets = list(sel.targets)
        self.container = sel.default_container or self.targets[0].container
        self.containers = list(sel.containers) or [self.container]
        self.view.placeholder = "Waiting for log lines…"
        self._start()

    def _show_problem(self, problem: str) -> None:
        self._problem = problem
        self.view.placeholder = problem
        self.view.refresh()
        self._refresh_status()

    # -- followers -----------------------------------------------------------------------------
    def _current_targets(self) -> list[LogTarget]:
        if not self.container:
            return list(self.targets)
        return [t if t.container == self.container else replace(t, container=self.container) for t in self.targets]

    def _start(self) -> None:
        """(Re)start one follower per target; lines of earlier followers are ignored from now."""
        self._stop_followers()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._inbox.clear()
        self._states = {}
        self._problem = ""
        self.view.clear()
        if self.api is None:
            self._show_problem("not connected to a cluster")
            return
        tail = None if self.previous else self.tail_lines
        for target in self._current_targets():
            self._states[target] = (CONNECTING, "")
            follower = self.follower_factory(self.api, target, partial(self._deliver, generation),
                                             partial(self._state_changed, generation),
                                             previous=self.previous, tail_lines=tail)
            self.followers.append(follower)
            follower.start()
        self._refresh_status()

    def _stop_followers(self) -> None:
        for f in self.followers:
            f.stop()
        self.followers = []

    # Called in follower threads.
    def _deliver(self, generation: int, target: LogTarget, batch: Sequence[LogLine]) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._inbox.append(batch)
            if self._flush_posted:
                return
            self._flush_posted = True
        self.post_message(LinesPending())

    def _state_changed(self, generation: int, target: LogTarget, state: str, detail: str) -> None:
        if generation == self._generation:
            self.post_message(FollowerState(generation, target, state, detail))

    # UI thread from here on.
    @on(LinesPending)
    def _lines_pending(self) -> None:
        if self._flush_timer is not None:
            return
        wait = self._last_flush + FLUSH_INTERVAL - time.monotonic()
        if wait > 0:
            self._flush_timer = self.set_timer(wait, self._flush)
        else:
            self._flush()

    def _flush(self) -> None:
        self._flush_timer = None
        with self._lock:
            batches, self._inbox = self._inbox, []
            self._flush_posted = False
        self._last_flush = time.monotonic()
        if not batches:
            return
        lines = batches[0] if len(batches) == 1 else list(chain.from_iterable(batches))
        self.view.append_lines(lines)
        self.flushes += 1
        self._refresh_status()

    @on(FollowerState)
    def _follower_state(self, msg: FollowerState) -> None:
        if msg.generation != self._generation or msg.target not in self._states:
            return
        if msg.state == STOPPED and self._states[msg.target][0] in (ENDED, ERROR):
            return  # the thread leaving after it ended keeps what it said (why it ended)
        self._states[msg.target] = (msg.state, msg.detail)
        self._refresh_status()

    @on(LogView.StatusChanged)
    def _view_status(self) -> None:
        self._refresh_status()

    # -- status line -----------------------------------------------------------------------------
    def _connection_summary(self) -> tuple[str, bool]:
        if self._problem:
            return f"✖ {self._problem}", True
        states = list(self._states.values())
        if not states:
            return "", False
        errors = [d for s, d in states if s == ERROR]
        if errors:
            return f"✖ {errors[0]}", True
        waiting = [d for s, d in states if s == WAITING]
        if waiting:
            # "waiting: pod Pending (Unschedulable)": nothing to stream yet, not a lost stream.
            if self.previous or waiting[0].startswith("waiting:"):
                return f"◌ {waiting[0]}", False
            return f"◌ reconnecting: {waiting[0]}", False
        if any(s == CONNECTING for s, _ in states):
            return "◌ connecting", False
        if all(s in (ENDED, STOPPED) for s, _ in states):
            why = next((d for s, d in states if s == ENDED and d), "")
            return "■ ended" + (f": {why}" if why else ""), False
        if any(s == STREAMING for s, _ in states):
            return "● streaming" if not self.previous else "◌ reading", False
        return "", False

    def status_parts(self) -> list[tuple[int, str]]:
        """The status line's parts in the order shown, each with its rank: when the line is
        too narrow the highest rank goes first. The pod is in the title already, and what the
        view is doing (following, paused, the search, the wrap) matters most."""
        view = self.view
        targets = self._current_targets()
        if len(targets) == 1:
            where = f"{targets[0].namespace}/{targets[0].pod}"
        elif targets:
            where = f"{targets[0].namespace}: {len(targets)} pods"
        else:
            where = "-"
        parts = [(4, clean(where))]
        conn, _ = self._connection_summary()
        if conn:
            parts.append((0, clean(conn, 120)))
        parts.append((3, f"container {clean(self.container or '-')}"))
        if self.previous:
            parts.append((0, "previous"))
        if view.following:
            parts.append((0, "following"))
        else:
            parts.append((0, f"paused, {view.new_lines} new lines" if view.new_lines else "paused"))
        count = f"{view.line_count} lines"
        if view.dropped:
            count += f" ({view.dropped} older dropped)"
        parts.append((2, count))
        flags = [name for name, on_ in (("timestamps", view.show_timestamps), ("wrap", view.wrap)) if on_]
        if flags:
            parts.append((1, "+".join(flags)))
        if view.search_text:
            parts.append((0, f"/{clean(view.search_text, 40)}"))
        return parts

    def status_text(self, width: int | None = None) -> str:
        """The status line; with `width`, what fits in it: parts of the highest rank are left
        out first, then the connection's detail (a long error) is shortened."""
        parts = self.status_parts()
        if width is None:
            return SEPARATOR.join(text for _, text in parts)
        while len(parts) > 1 and _cells(parts) > width:
            worst = max(rank for rank, _ in parts)
            if worst == 0:
                break
            drop = max(i for i, (rank, _) in enumerate(parts) if rank == worst)
            del parts[drop]
        over = _cells(parts) - width
        if over > 0:
            # Only rank-0 parts are left: shorten the longest (an error's detail), keeping its start.
            i = max(range(len(parts)), key=lambda k: cell_len(parts[k][1]))
            text = parts[i][1]
            keep = cell_len(text) - over - 1
            parts[i] = (0, set_cell_size(text, keep) + "…" if keep > 0 else "…")
        line = SEPARATOR.join(text for _, text in parts)
        return set_cell_size(line, width) if cell_len(line) > width else line

    def _refresh_status(self) -> None:
        if not self.is_mounted:
            return
        status = self.query_one("#logs-status", Static)
        width = status.content_size.width or None
        status.update(Text(self.status_text(width)), layout=False)
        status.set_class(self._connection_summary()[1], "-error")

    def on_resize(self) -> None:
        self.call_after_refresh(self._refresh_status)  # what fits changed with the width

    # -- actions -------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self._prompt_mode:
            self._close_prompt()
            return
        self._stop_followers()
        self.app.pop_screen()

    def action_pick_container(self) -> None:
        if not self.containers:
            self.notify("no containers known yet", severity="warning", timeout=2)
            return
        self.app.push_screen(ContainerPicker(self.containers, self.container), self._container_picked)

    def _container_picked(self, container: str | None) -> None:
        if container and container != self.container:
            self.container = container
            self._start()

    def action_toggle_previous(self) -> None:
        if not self.targets:
            return
        self.previous = not self.previous
        self.notify("previous container's logs" if self.previous else "live logs", timeout=2)
        self._start()

    def action_search(self) -> None:
        # Empty, as in less and vim: what is typed right after `/` is the search, not an addition
        # to the last one (↑ brings that back).
        self._open_prompt("search", "/", "text (case-insensitive unless it has capitals; ↑ the last ones)")

    def paste_to_prompt(self, text: str) -> bool:
        """A paste of `/word` onto the log view searches for it, as typing it would; a paste into
        an open prompt is typed there now (before an Enter read right after it)."""
        prompt = self.query_one("#logs-prompt", TextPrompt)
        if self._prompt_mode:
            prompt.type_paste(text)
            return True
        pasted = pasted_line(text, "/")
        if pasted is None:
            return False
        self.action_search()
        prompt.type_key(pasted[1])
        return True

    def action_save(self) -> None:
        targets = self._current_targets()
        if not targets:
            self.notify("nothing to save", severity="warning", timeout=2)
            return
        self._open_prompt("save", "save to ", "file name", default_save_name(targets, self.container or ""))

    def check_action(self, action: str, parameters) -> bool | None:
        if self._prompt_mode and action in self._NOT_WHILE_TYPING:
            return False
        return super().check_action(action, parameters)

    # -- prompt --------------------------------------------------------------------------------
    def _open_prompt(self, mode: str, sigil: str, placeholder: str, value: str = "") -> None:
        self._prompt_mode = mode
        self.query_one("#logs-prompt", TextPrompt).open(mode, value, placeholder=placeholder, sigil=sigil,
                                                        on_submit=self._prompt_submitted,
                                                        on_cancel=self._close_prompt)
        self.refresh_bindings()

    def _close_prompt(self) -> None:
        self.query_one("#logs-prompt", TextPrompt).close()
        self._prompt_mode = ""
        # At once, not after this message: the keys after Enter in the same burst are the view's.
        self.set_focus(self.view)
        self.refresh_bindings()

    def _prompt_submitted(self, value: str) -> None:
        mode = self._prompt_mode
        self._close_prompt()
        if mode == "search":
            if not self.view.search(value) and value:
                self.notify(f"not found: {clean(value, 60)}", severity="warning", timeout=2, markup=False)
        elif mode == "save" and value.strip():
            self.save(Path(value.strip()).expanduser())

    def save(self, path: Path) -> None:
        """Write the whole log (as shown: timestamps when they are on) to `path`, in a thread.
        The view holds only the tail it opened with (and the line cap): the server is asked for
        every line it keeps; only when it cannot answer is the buffer written, and said so."""
        self._write_file(path, self._current_targets(), self.previous, self.view.lines(), self.view.show_timestamps)

    @work(thread=True, group="logs-save", exit_on_error=False)
    def _write_file(self, path: Path, targets: list[LogTarget], previous: bool, shown: list[LogLine],
                    timestamps: bool) -> None:
        from cockpit.kube.logs import merge_by_time, read_whole_log

        note = ""
        try:
            if self.api is None:
                raise RuntimeError("not connected")
            lines = merge_by_time([read_whole_log(self.api, t, previous=previous) for t in targets])
        except Exception as e:  # noqa: BLE001 - the pod may be gone: what is on screen is still worth keeping
            lines = shown
            note = f" (only the lines on screen: the whole log could not be read: {clean(str(e), 120)})"
        try:
            with path.open("x", encoding="utf-8") as f:
                f.writelines(plain_line(line, timestamps) + "\n" for line in lines)
        except OSError as e:
            self.app.call_from_thread(self.notify, f"cannot save: {clean(str(e), 300)}", severity="error",
                                      markup=False)
            return
        self.app.call_from_thread(self.notify, f"saved {len(lines)} lines to {clean(str(path.resolve()), 300)}"
                                  + note, markup=False, severity="warning" if note else "information")
