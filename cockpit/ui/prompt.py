"""The `:` command and `/` filter line: history per mode (`↑`/`↓`), `tab` completion, and a
synchronous open, so that keys arriving in the same burst as `:` (a paste, SSH, a fast typist)
land in the prompt and never reach the table as hotkeys.

Textual moves focus after the current message (`Widget.focus` is deferred with `call_later`),
and the App forwards each key to whatever holds focus at the moment the key is read. A key
read between `:` and that deferred focus goes to the table. `open` therefore sets focus with
`Screen.set_focus`, which takes effect at once, and the App opens prompts from `on_event`,
before the `:` key is forwarded anywhere (see `CockpitApp.on_event`). While a `Prompt` holds
focus the App types each key into it as it reads it and runs Enter's `on_submit` at once, so
the keys after Enter in the same burst reach whatever the submit focused, not a closed prompt.
Any screen's one-line prompt (the log view's search and save) is a `Prompt` for that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Static

# Actions that open a prompt; the App runs them the moment their key is read.
PROMPT_ACTIONS = frozenset({"command", "filter", "search", "save"})
HISTORY_SIZE = 100

Completer = Callable[[str], Iterable[str]]


def complete(text: str, candidates: Iterable[str]) -> tuple[str, list[str]]:
    """Complete the last word of `text` from `candidates` (full replacements for that word).

    Returns the new text and the candidates that matched. One match completes it and adds a
    space; several extend it to their common prefix."""
    head, sep, word = text.rpartition(" ")
    matches = sorted({c for c in candidates if c.startswith(word)})
    if not matches:
        return text, []
    if len(matches) == 1:
        done = matches[0] + " "
    else:
        done = os.path.commonprefix(matches)
    return head + sep + done, matches


class Prompt(Input):
    """One line at the bottom, above the footer, shown while a prompt is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Shown in the footer while a prompt is open: what a person can do here, and nothing else.
        # ctrl+j too: keys typed while the cockpit starts reach it through the terminal's cooked
        # mode, which turns Enter into a newline (`:jobs⏎` typed right after `cockpit`).
        Binding("enter,ctrl+j", "submit", "Run", id="prompt.submit"),
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
        Binding("tab", "complete", "Complete", id="prompt.complete"),
        Binding("up", "history(-1)", "History", id="prompt.history_back", key_display="↑↓"),
        Binding("down", "history(1)", "Next", show=False, id="prompt.history_forward"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        # No blinking: a steady cursor reads the same in every screen capture and snapshot.
        super().__init__(id=id, classes=classes, select_on_focus=False)
        self.cursor_blink = False
        self.mode = ""
        self.completer: Completer | None = None
        self.on_submit: Callable[[str], None] | None = None
        self.on_cancel: Callable[[], None] | None = None
        self._history: dict[str, list[str]] = {}
        self._walk: int | None = None  # position in the history while walking it
        self._draft = ""  # what was typed before walking the history
        self.last_matches: list[str] = []

    @property
    def is_open(self) -> bool:
        return bool(self.mode)

    def open(self, mode: str, value: str = "", *, placeholder: str = "", completer: Completer | None = None,
             on_submit: Callable[[str], None] | None = None, on_cancel: Callable[[], None] | None = None,
             sigil: str = "") -> None:
        """Show the prompt and take focus now, not after the current message."""
        self.mode = mode
        self.completer = completer
        self.on_submit, self.on_cancel = on_submit, on_cancel
        bar = self.parent if isinstance(self.parent, PromptBar) else None
        if bar is not None:
            bar.query_one(".prompt--sigil", Static).update(sigil)
            bar.display = True
        self.placeholder = placeholder
        self.value = value
        self.cursor_position = len(value)
        self._walk, self._draft = None, ""
        self.add_class("-open")
        self.display = True
        self.screen.set_focus(self)

    def close(self) -> str:
        """Hide it; returns the mode it was in."""
        mode, self.mode = self.mode, ""
        self.remove_class("-open")
        self.display = False
        if isinstance(self.parent, PromptBar):
            self.parent.display = False
        return mode

    def action_cancel(self) -> None:
        if self.on_cancel is not None:
            self.on_cancel()

    def type_paste(self, text: str) -> None:
        """A paste into the open prompt: its first line, now (a prompt holds one line)."""
        lines = text.splitlines()
        if lines:
            self.type_key(lines[0])

    def type_key(self, character: str) -> None:
        """Insert typed (or pasted) text now: the App hands keys over as it reads them, so that
        the ones after Enter in the same burst are not typed into a prompt that has closed, and
        an Enter right after a paste submits what was pasted."""
        self._restart_blink()
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(character)
        else:
            self.replace(character, *selection)

    async def action_submit(self) -> None:
        if self.on_submit is None:
            await super().action_submit()
            return
        value, submit = self.value, self.on_submit
        self.remember(self.mode, value)
        submit(value)  # at once: it closes the prompt before the next key is read

    def remember(self, mode: str, value: str) -> None:
        value = value.strip()
        if not value:
            return
        past = self._history.setdefault(mode, [])
        if value in past:
            past.remove(value)
        past.append(value)
        del past[:-HISTORY_SIZE]

    def history(self, mode: str) -> list[str]:
        return list(self._history.get(mode, []))

    def action_history(self, step: int) -> None:
        past = self._history.get(self.mode, [])
        if not past:
            return
        if self._walk is None:
            if step > 0:
                return
            self._draft, self._walk = self.value, len(past)
        self._walk = max(0, min(self._walk + step, len(past)))
        self.value = self._draft if self._walk == len(past) else past[self._walk]
        self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        if self.completer is None:
            return
        text = self.value[: self.cursor_position]
        rest = self.value[self.cursor_position:]
        done, self.last_matches = complete(text, self.completer(text))
        if len(self.last_matches) > 1 and done == text:
            # Nothing more in common: say what the choices are (plain text, never markup).
            self.notify("  ".join(self.last_matches[:30]), timeout=4, markup=False)
        self.value = done + rest
        self.cursor_position = len(done)


class TextPrompt(Prompt):
    """A prompt for free text with nothing to complete (a log search, a file name): tab does
    nothing and is not offered, and never moves focus out of the open prompt."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "nothing", "", show=False, id="prompt.no_completion"),
    ]

    def action_nothing(self) -> None:
        pass


class PromptBar(Horizontal):
    """The prompt with its sigil (`:`, `/` or a word) in front, so a person sees which prompt is
    open. A line of its own in the layout: docked at the bottom it would hide under the footer."""

    DEFAULT_CSS = """
    PromptBar { height: 1; display: none; background: $panel; }
    PromptBar > .prompt--sigil { width: auto; padding: 0 0 0 1; color: $accent; text-style: bold;
                                 background: $panel; }
    PromptBar > Prompt { width: 1fr; height: 1; border: none; padding: 0 1 0 0; background: $panel;
                         color: $foreground; }
    PromptBar > Prompt:focus { border: none; }
    PromptBar > Prompt > .input--placeholder { color: $text-muted; }
    """

    def __init__(self, prompt: Prompt | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prompt = prompt if prompt is not None else Prompt(id="prompt")

    def compose(self) -> ComposeResult:
        yield Static("", classes="prompt--sigil", markup=False)
        yield self._prompt


def pasted_line(text: str, sigils: str) -> tuple[str, str] | None:
    """A paste onto a view that starts with one of `sigils` (":jobs", "/loss"): the sigil and the
    rest of its first line, as pasted (trailing spaces too); None for any other paste."""
    line = text.lstrip().splitlines()[0] if text.strip() else ""
    return (line[0], line[1:]) if line[:1] and line[0] in sigils else None
