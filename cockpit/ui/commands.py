"""The `:` commands as one table: the main screen runs them from it, the help screen lists them,
the prompt's hint and `tab` completion come from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cockpit.resources import registry


@dataclass(frozen=True, slots=True)
class Command:
    names: tuple[str, ...]  # the first is the one help shows first
    shows: str
    argument: str = ""  # "namespace" "context" "theme": what `tab` completes after it; with one
    #                     given, the main screen's `cmd_<argument>(arg)` runs
    usage: str = ""  # argument as help spells it
    pane: str = ""  # the pane it shows (without an argument)
    run: str = ""  # or the main screen's method it runs
    matches: tuple[str, ...] = ()  # names it answers to besides `names` (a kind's plural.group)


def _kind_commands() -> tuple[Command, ...]:
    """One per kind: those with a digit first, in pane order, then the rest by title."""
    out = []
    for k in registry.kinds().values():
        out.append(Command(k.command_names(), k.help or k.title.lower(), *k.command_argument, pane=k.id,
                           matches=tuple(sorted(k.names()))))
    return tuple(out)


COMMANDS: tuple[Command, ...] = (
    Command(("gpu", "gpus"), "GPU allocation per node and pool", pane="gpu"),
    *_kind_commands(),
    Command(("ctx", "contexts", "context"), "contexts / switch", "context", "[NAME]", pane="contexts"),
    Command(("api-resources",), "every resource the cluster serves (enter opens one; ctrl+a)",
            run="open_api_resources"),
    Command(("idle",), "pods holding GPUs at 0% utilisation", run="open_idle"),
    Command(("gpuhours", "gpu-hours", "usage"), "GPU-hours held per product, namespace, user and owner",
            run="open_gpu_hours"),
    Command(("pf", "portforwards", "port-forwards"), "active port-forwards", run="open_forwards"),
    Command(("cleanup",), "finished work and idle GPU holders to delete", run="cmd_cleanup"),
    Command(("launch",), "launch a preset", run="cmd_launch"),
    Command(("doctor",), "is this cluster ready for GPU experiments?", run="cmd_doctor"),
    Command(("theme",), "switch theme", "theme", "[NAME]", run="cmd_theme"),
    Command(("q", "quit", "q!"), "quit", run="cmd_quit"),
)


def find(word: str) -> Command | None:
    """The command `:word` names (case-insensitive), or None."""
    word = word.lower()
    return next((c for c in COMMANDS if word in c.names or word in c.matches), None)


def hint() -> str:
    """The command prompt's placeholder: the panes' commands, in the order of their digits."""
    first = {c.pane: c.names[0] for c in COMMANDS if c.pane}
    panes = ["gpu", *(k.id for k in registry.panes()), "contexts"]
    return ", ".join(first[p] for p in panes if p in first) + " …"


def help_rows() -> list[tuple[str, str]]:
    """(":ns :namespaces [NAME|all]", "namespaces / switch") for the help screen."""
    return [(" ".join(f":{n}" for n in c.names[:2]) + (f" {c.usage}" if c.usage else ""), c.shows)
            for c in COMMANDS]


def command_names() -> list[str]:
    names = {n for c in COMMANDS for n in c.names}
    for kind in registry.kinds().values():
        names |= {n for n in kind.names() if "/" not in n and "." not in n}
    return sorted(names)


def argument_of(word: str) -> str:
    word = word.lower()
    return next((c.argument for c in COMMANDS if word in c.names), "")


def completer(sources: dict[str, Callable[[], Iterable[str]]]) -> Callable[[str], list[str]]:
    """A `tab` completer for the command line: command names for the first word, then what the
    command takes (namespaces, contexts, themes) from `sources`."""

    def candidates(text: str) -> list[str]:
        words = text.lstrip(":").split(" ")
        if len(words) <= 1:
            return command_names()
        source = sources.get(argument_of(words[0]))
        if source is None or len(words) > 2:
            return []
        out = list(source())
        if argument_of(words[0]) == "namespace":
            out.append("all")
        return out

    return candidates
