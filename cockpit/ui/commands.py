"""The `:` commands as data: the help screen lists them and `tab` completes from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cockpit.kube.kinds import KINDS


@dataclass(frozen=True, slots=True)
class Command:
    names: tuple[str, ...]  # the first is the one help shows first
    shows: str
    argument: str = ""  # "namespace" "context" "theme": what `tab` completes after it
    usage: str = ""  # argument as help spells it


COMMANDS: tuple[Command, ...] = (
    Command(("gpu", "gpus"), "GPU allocation per node and pool"),
    Command(("pods", "po", "pod"), "pods"),
    Command(("jobs", "job"), "jobs"),
    Command(("wf", "workflows", "workflow"), "Argo workflows"),
    Command(("exp", "experiments", "experiment"), "Katib experiments"),
    Command(("pvc", "pvcs"), "persistent volume claims"),
    Command(("nodes", "no", "node"), "nodes"),
    Command(("ns", "namespaces", "namespace"), "namespaces / switch", "namespace", "[NAME|all]"),
    Command(("ctx", "contexts", "context"), "contexts / switch", "context", "[NAME]"),
    Command(("idle",), "pods holding GPUs at 0% utilisation"),
    Command(("pf", "portforwards", "port-forwards"), "active port-forwards"),
    Command(("cleanup",), "finished work and idle GPU holders to delete"),
    Command(("launch",), "launch a preset"),
    Command(("doctor",), "is this cluster ready for GPU experiments?"),
    Command(("theme",), "switch theme", "theme", "[NAME]"),
    Command(("q", "quit"), "quit"),
)


def help_rows() -> list[tuple[str, str]]:
    """(":ns :namespaces [NAME|all]", "namespaces / switch") for the help screen."""
    return [(" ".join(f":{n}" for n in c.names[:2]) + (f" {c.usage}" if c.usage else ""), c.shows)
            for c in COMMANDS]


def command_names() -> list[str]:
    names = {n for c in COMMANDS for n in c.names}
    for kind in KINDS.values():
        names.add(kind.id)
        names.update(kind.aliases)
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
