"""The presets a user can launch: the built-in ones and their own, reloaded live.

Built-ins come from the package data `cockpit.data.presets` (the repository's presets/ folder
when running from a checkout). User presets are the *.yaml files in
`locations.user_presets_dir()`; a user preset with a built-in's name replaces it. A file that
stops parsing is reported in `errors` while its last good version stays available.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Self

from cockpit import locations
from cockpit.launch.errors import PresetError
from cockpit.launch.preset import Preset, parse_preset

__all__ = ["LibraryEvent", "PresetLibrary", "PresetWatcher", "builtin_preset_files"]

_SUFFIXES = (".yaml", ".yml")


def _repo_presets() -> Path:
    import cockpit

    return Path(cockpit.__file__).resolve().parent.parent / "presets"


def builtin_preset_files() -> list[tuple[str, str]]:
    """(file name for messages, text) of every built-in preset."""
    found: list[tuple[str, str]] = []
    try:
        root: Any = resources.files("cockpit.data.presets")
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, TypeError):
        entries = []
    for entry in entries:
        if entry.name.endswith(_SUFFIXES) and entry.is_file():
            found.append((f"<builtin>/{entry.name}", entry.read_text(encoding="utf-8")))
    if not found:
        repo = _repo_presets()
        if repo.is_dir():
            for path in sorted(repo.iterdir()):
                if path.suffix in _SUFFIXES and path.is_file():
                    found.append((str(path), path.read_text(encoding="utf-8")))
    return found


@dataclass
class LibraryEvent:
    """What one reload changed, by preset name, and the files that failed (with why)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[PresetError] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.errors)


class PresetLibrary:
    """Thread-safe: `reload` may run in a watcher thread while the UI reads `get`/`names`."""

    def __init__(self, user_dir: str | Path | None = None, *, builtin: bool = True) -> None:
        self.user_dir = Path(user_dir) if user_dir is not None else locations.user_presets_dir()
        self.builtin = builtin
        self._lock = threading.RLock()
        self._builtins: dict[str, Preset] | None = None
        self._builtin_errors: list[PresetError] = []
        self._files: dict[Path, tuple[tuple[int, int], Preset | None]] = {}  # path -> (stat key, last good)
        self._file_errors: dict[Path, PresetError] = {}
        self._presets: dict[str, Preset] = {}
        self._dup_errors: list[PresetError] = []
        self.reload()

    # -- reading -----------------------------------------------------------------------------------
    @property
    def presets(self) -> dict[str, Preset]:
        with self._lock:
            return dict(self._presets)

    @property
    def errors(self) -> list[PresetError]:
        with self._lock:
            return [*self._builtin_errors, *self._file_errors.values(), *self._dup_errors]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._presets)

    def get(self, name: str) -> Preset:
        with self._lock:
            preset = self._presets.get(name)
            if preset is None:
                import difflib

                close = difflib.get_close_matches(name, list(self._presets), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise KeyError(f"no preset named {name!r}{hint} (see `cockpit presets list`)")
            return preset

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._presets

    # -- loading -----------------------------------------------------------------------------------
    def _load_builtins(self) -> dict[str, Preset]:
        if self._builtins is None:
            self._builtins = {}
            for file, text in builtin_preset_files() if self.builtin else []:
                try:
                    preset = parse_preset(text, file, origin="builtin")
                except PresetError as e:
                    self._builtin_errors.append(e)
                    continue
                self._builtins[preset.name] = preset
        return self._builtins

    def _user_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.user_dir.iterdir()
                          if p.suffix in _SUFFIXES and not p.name.startswith(".") and p.is_file())
        except OSError:
            return []

    def reload(self) -> LibraryEvent:
        """Re-read changed user files; returns what changed. Never raises for a bad file."""
        with self._lock:
            before = {name: (p.file, p.text) for name, p in self._presets.items()}
            builtins = self._load_builtins()
            seen: set[Path] = set()
            for path in self._user_files():
                seen.add(path)
                try:
                    st = path.stat()
                except OSError:
                    continue
                key = (st.st_mtime_ns, st.st_size)
                old = self._files.get(path)
                if old is not None and old[0] == key:
                    continue
                last_good = old[1] if old else None
                try:
                    from cockpit.launch.preset import load_preset

                    preset = load_preset(path, origin="user")
                except PresetError as e:
                    self._file_errors[path] = e
                    self._files[path] = (key, last_good)
                    continue
                self._file_errors.pop(path, None)
                self._files[path] = (key, preset)
            for path in list(self._files):
                if path not in seen:
                    del self._files[path]
                    self._file_errors.pop(path, None)
            presets = dict(builtins)
            owners: dict[str, Path] = {}
            self._dup_errors = []
            for path, (_, preset) in sorted(self._files.items()):
                if preset is None:
                    continue
                if preset.name in owners:
                    self._dup_errors.append(PresetError(
                        str(path), None, "name",
                        f"preset name {preset.name!r} is already used by {owners[preset.name]}; this file is ignored"))
                    continue
                owners[preset.name] = path
                presets[preset.name] = preset
            self._presets = presets
            after = {name: (p.file, p.text) for name, p in presets.items()}
            return LibraryEvent(
                added=sorted(set(after) - set(before)),
                changed=sorted(n for n in set(after) & set(before) if after[n] != before[n]),
                removed=sorted(set(before) - set(after)),
                errors=self.errors,
            )

    # -- live reload -------------------------------------------------------------------------------
    def watch(self, callback: Callable[[LibraryEvent], Any], *, debounce_ms: int = 200) -> PresetWatcher:
        """Reload whenever the user preset folder changes and call `callback(event)` from the
        watcher thread (a Textual app hands it on with `call_from_thread`). Creates the folder."""
        watcher = PresetWatcher(self, callback, debounce_ms)
        watcher.start()
        return watcher


class PresetWatcher:
    def __init__(self, library: PresetLibrary, callback: Callable[[LibraryEvent], Any], debounce_ms: int) -> None:
        self.library = library
        self.callback = callback
        self.debounce_ms = debounce_ms
        self.ready = threading.Event()  # set once the file watch is in place
        self.failed: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="preset-watcher", daemon=True)

    def start(self) -> None:
        self.library.user_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(self.library.user_dir, stop_event=self._stop, debounce=self.debounce_ms,
                                            step=50, rust_timeout=250, yield_on_timeout=True, recursive=False,
                                            raise_interrupt=False):
                self.ready.set()
                if not changes:
                    continue
                event = self.library.reload()
                if event:
                    # A failing callback must not end the watch.
                    with contextlib.suppress(Exception):
                        self.callback(event)
        except Exception as e:  # noqa: BLE001 - e.g. the folder was removed; reported through .failed
            self.failed = e
        finally:
            self.ready.set()
