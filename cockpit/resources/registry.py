"""The kind registry: every module of this package that sets `KIND` (or `KINDS`) is a kind the
cockpit knows. Adding a kind is adding a module; nothing else lists them."""

from __future__ import annotations

import importlib
import pkgutil
import threading

from cockpit.resources.base import Kind

_NOT_KINDS = {"base", "registry"}
_lock = threading.Lock()
_kinds: dict[str, Kind] | None = None


def kinds() -> dict[str, Kind]:
    """id -> kind, in pane order, then by title."""
    global _kinds
    if _kinds is None:
        with _lock:
            if _kinds is None:
                _kinds = _load()
    return _kinds


def _load() -> dict[str, Kind]:
    import cockpit.resources as package

    found: list[Kind] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_KINDS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(getattr(module, "KINDS", ()))
        if getattr(module, "KIND", None) is not None:
            found.append(module.KIND)
    found.sort(key=lambda k: (k.pane_order is None, k.pane_order or 0, k.title))
    out: dict[str, Kind] = {}
    for k in found:
        if k.id in out:
            raise RuntimeError(f"two kinds with the id {k.id!r}")
        out[k.id] = k
    return out


def get(kind_id: str) -> Kind:
    return kinds()[kind_id]


def find(kind_id: str) -> Kind | None:
    return kinds().get(kind_id)


def by_name(name: str) -> Kind | None:
    """The kind `:name` means: its id, plural, singular, Kind, an alias, plural.group or
    group/version/plural (case-insensitive)."""
    name = name.strip().lower()
    for k in kinds().values():
        if name in k.names():
            return k
    return None


def by_api_kind(api_kind: str, group: str | None = None) -> Kind | None:
    for k in kinds().values():
        if k.api_kind == api_kind and (group is None or k.group == group):
            return k
    return None


def panes() -> list[Kind]:
    """The kinds with a digit shortcut, in order."""
    return [k for k in kinds().values() if k.pane_order is not None]


def rbac_probes() -> list[tuple[str, str, str]]:
    """(verb, plural, group) that some kind's action needs, each once."""
    seen: dict[tuple[str, str, str], None] = {}
    for k in kinds().values():
        for probe in k.rbac():
            seen.setdefault(probe, None)
    return list(seen)
