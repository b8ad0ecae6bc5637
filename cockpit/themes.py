"""Themes: YAML files validated into Textual `Theme` objects, and a watcher that reloads them on change.

A theme file (built-in ones live in the repository's top-level `themes/` folder, shipped as the
package-data package `cockpit.data.themes`; user ones in `locations.user_themes_dir()`):

    name: my-theme             # required; what `theme:` in the config and App.theme refer to
    dark: true                 # optional, default true
    ansi: false                # optional: true = only the 16 ANSI colours, emitted natively
    primary: "#5FA8D3"         # required; quote hex colours, "#" starts a YAML comment
    secondary/accent/foreground/background/surface/panel/boost/warning/error/success: optional colours
    variables:                 # optional CSS variables; the cockpit's own are listed in PRODUCT_VARIABLES
      phase-running: "#57AB5A"

Every colour is checked with `textual.color.Color.parse`; a problem raises `ThemeError` naming
file:line and the field. A user theme that leaves out some of PRODUCT_VARIABLES gets them from the
built-in theme of the same kind (ansi16, dark or light), so colours stay out of code.

This module does not import cockpit.ui; `cockpit.ui.theming` installs the themes into the app.
"""

from __future__ import annotations

import importlib.resources
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from cockpit import locations
from cockpit.config import YamlSyntaxError, read_located_yaml
from cockpit.errors import FileProblem

__all__ = [
    "ANSI_THEME_VARIABLES",
    "BUILTIN_PACKAGE",
    "COLOR_FIELDS",
    "DEFAULT_THEME",
    "PRODUCT_VARIABLES",
    "ThemeError",
    "ThemeWatcher",
    "builtin_themes",
    "builtin_themes_dir",
    "is_ansi_color",
    "load_theme_file",
    "load_user_theme",
    "missing_product_variables",
    "parse_theme",
    "theme_variable_defaults",
    "user_themes",
    "with_product_variables",
]

DEFAULT_THEME = "cockpit-dark"
BUILTIN_PACKAGE = "cockpit.data.themes"
THEME_SUFFIXES = (".yaml", ".yml")

COLOR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "warning",
    "error",
    "success",
)
_FIELDS = ("name", "dark", "ansi", *COLOR_FIELDS, "variables")

PRODUCT_VARIABLES: dict[str, str] = {
    "phase-running": "pods and jobs that are running",
    "phase-pending": "pending, waiting or creating",
    "phase-succeeded": "completed successfully",
    "phase-failed": "failed, crash-looping, evicted",
    "phase-unknown": "unknown or terminating",
    "gpu-free": "GPU load bar: nothing allocated",
    "gpu-low": "GPU load bar: up to a quarter",
    "gpu-mid": "GPU load bar: up to three quarters",
    "gpu-high": "GPU load bar: nearly full",
    "gpu-full": "GPU load bar: every GPU allocated",
    "bar-background": "the empty part of load bars",
}
"""The cockpit's own theme variables (use them in .tcss as $phase-running etc.) and what they colour."""

ANSI_THEME_VARIABLES = ("ansi-background", "ansi-foreground")
"""Variables Textual's own CSS needs under `ansi: true` themes (its colour system leaves them out there)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ALPHA_SUFFIX = re.compile(r"^(?P<color>.+?)\s+(?P<pct>\d+(?:\.\d+)?)%$")


class ThemeError(FileProblem):
    """A problem in a theme file; `line` is 1-based, None where there is no line."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ThemeError) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def is_ansi_color(value: str) -> bool:
    """True for one of the 16 ANSI colours ("ansi_red", "ansi_bright_green", ...) or "ansi_default"."""
    try:
        color = Color.parse(value)
    except ColorParseError:
        return False
    return color.ansi is not None


def _check_color(value: Any, *, ansi_only: bool, allow_alpha: bool = False) -> str:
    """Raise ValueError unless `value` is a colour Textual can parse; return it as written."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'expected a colour such as "#5FA8D3" or ansi_blue, got {value!r}')
    text = value.strip()
    color_text = text
    if allow_alpha and (m := _ALPHA_SUFFIX.match(text)):
        color_text = m.group("color")
    if allow_alpha and color_text == "auto":
        if ansi_only:
            raise ValueError(f"{text!r}: an ANSI theme may use only the 16 ANSI colours (ansi_red, ...)")
        return text
    try:
        color = Color.parse(color_text)
    except ColorParseError as e:
        raise ValueError(str(e)) from None
    if ansi_only and color.ansi is None and color_text != "transparent":
        raise ValueError(
            f"{text!r} is not an ANSI colour; an ANSI theme may use only ansi_black .. ansi_bright_white "
            "and ansi_default"
        )
    return text


def _is_style_variable(name: str) -> bool:
    return name.endswith("style")


def load_theme_file(path: Path | str) -> Theme:
    """Read and validate one theme file. Raises ThemeError(file, line, field, message)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ThemeError(path, None, "", f"cannot read: {e}") from None
    return parse_theme(text, path)


def parse_theme(text: str, file: Path | str) -> Theme:
    """Validate theme YAML `text`; `file` is only used in error messages."""
    try:
        doc = read_located_yaml(text)
    except YamlSyntaxError as e:
        raise ThemeError(file, e.line, "", e.message) from None
    data = doc.data
    if not isinstance(data, dict):
        raise ThemeError(file, doc.line(()), "", "expected a mapping with at least name and primary")

    def fail(path: tuple[str, ...], message: str) -> ThemeError:
        return ThemeError(file, doc.line(path), ".".join(path), message)

    if doc.duplicates:
        dup, line = doc.duplicates[0]
        raise ThemeError(file, line, ".".join(dup), "key given twice")
    for key in data:
        if key not in _FIELDS:
            raise fail((str(key),), f"unknown key; known keys: {', '.join(_FIELDS)}")

    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise fail(
            ("name",) if "name" in data else (), f"expected a theme name such as my-theme, got {name!r}"
        )
    flags: dict[str, bool] = {}
    for flag, default in (("dark", True), ("ansi", False)):
        value = data.get(flag, default)
        if not isinstance(value, bool):
            raise fail((flag,), f"expected true or false, got {value!r}")
        flags[flag] = value
    ansi_only = flags["ansi"]

    colors: dict[str, str] = {}
    for key in COLOR_FIELDS:
        if key not in data:
            continue
        value = data[key]
        if value is None:
            raise fail((key,), 'no value; quote hex colours ("#5FA8D3"): "#" starts a YAML comment')
        try:
            colors[key] = _check_color(value, ansi_only=ansi_only)
        except ValueError as e:
            raise fail((key,), str(e)) from None
    if "primary" not in colors:
        raise fail((), "primary is required")

    variables_in = data.get("variables") or {}
    if not isinstance(variables_in, dict):
        raise fail(("variables",), "expected a mapping of variable name to value")
    variables: dict[str, str] = {}
    for var, value in variables_in.items():
        where = ("variables", str(var))
        if not isinstance(var, str) or not var:
            raise fail(where, "variable names must be strings")
        if value is None:
            raise fail(where, 'no value; quote hex colours ("#5FA8D3"): "#" starts a YAML comment')
        if _is_style_variable(var):
            if not isinstance(value, str) or not value.strip():
                raise fail(where, f"expected a text style such as bold or none, got {value!r}")
            variables[var] = value.strip()
            continue
        try:
            variables[var] = _check_color(
                value, ansi_only=ansi_only, allow_alpha=var not in PRODUCT_VARIABLES
            )
        except ValueError as e:
            raise fail(where, str(e)) from None

    return Theme(name=name, dark=flags["dark"], ansi=ansi_only, variables=variables, **colors)


def missing_product_variables(theme: Theme) -> list[str]:
    """PRODUCT_VARIABLES (and, for ANSI themes, ANSI_THEME_VARIABLES) that `theme` does not set."""
    needed = [*PRODUCT_VARIABLES, *(ANSI_THEME_VARIABLES if theme.ansi else ())]
    return [v for v in needed if v not in theme.variables]


# --------------------------------------------------------------------------------------------------
# Built-in and user themes


def builtin_themes_dir() -> Path:
    """The folder of built-in theme files: the installed package data, else the repository's themes/."""
    try:
        resources = importlib.resources.files(BUILTIN_PACKAGE)
        folder = Path(str(resources))
        if folder.is_dir():
            return folder
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "themes"


def _theme_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in THEME_SUFFIXES and p.is_file())
    except OSError:
        return []


_builtin_cache: dict[str, Theme] | None = None
_builtin_lock = threading.Lock()


def builtin_themes() -> dict[str, Theme]:
    """The themes shipped with the cockpit, by name. A broken built-in file is a bug: it raises."""
    global _builtin_cache
    with _builtin_lock:
        if _builtin_cache is None:
            themes: dict[str, Theme] = {}
            for path in _theme_files(builtin_themes_dir()):
                theme = load_theme_file(path)
                themes[theme.name] = theme
            if DEFAULT_THEME not in themes:
                raise ThemeError(builtin_themes_dir(), None, "", f"built-in theme {DEFAULT_THEME} is missing")
            _builtin_cache = themes
        return dict(_builtin_cache)


def _variable_source(theme: Theme) -> Theme:
    builtins = builtin_themes()
    if theme.ansi:
        return builtins.get("cockpit-ansi16", builtins[DEFAULT_THEME])
    if not theme.dark:
        return builtins.get("cockpit-light", builtins[DEFAULT_THEME])
    return builtins[DEFAULT_THEME]


def with_product_variables(theme: Theme) -> Theme:
    """`theme` with any missing PRODUCT_VARIABLES taken from the built-in theme of the same kind."""
    missing = missing_product_variables(theme)
    if not missing:
        return theme
    source = _variable_source(theme).variables
    fill = {v: source[v] for v in missing if v in source}
    return Theme(
        name=theme.name,
        primary=theme.primary,
        secondary=theme.secondary,
        warning=theme.warning,
        error=theme.error,
        success=theme.success,
        accent=theme.accent,
        foreground=theme.foreground,
        background=theme.background,
        surface=theme.surface,
        panel=theme.panel,
        boost=theme.boost,
        dark=theme.dark,
        luminosity_spread=theme.luminosity_spread,
        text_alpha=theme.text_alpha,
        variables={**fill, **theme.variables},
        ansi=theme.ansi,
    )


def theme_variable_defaults() -> dict[str, str]:
    """Fallbacks for PRODUCT_VARIABLES under non-cockpit themes (for App.get_theme_variable_defaults)."""
    source = builtin_themes()[DEFAULT_THEME].variables
    return {v: source[v] for v in PRODUCT_VARIABLES if v in source}


def load_user_theme(path: Path) -> Theme:
    """A user theme file, completed with PRODUCT_VARIABLES. Raises ThemeError."""
    return with_product_variables(load_theme_file(path))


def user_themes(directory: Path | str | None = None) -> tuple[dict[str, Theme], list[ThemeError]]:
    """Every valid theme in the user themes folder (default `locations.user_themes_dir()`), and the errors.

    A missing folder is no error. Two files naming the same theme: the last (by file name) wins.
    """
    folder = Path(directory) if directory is not None else locations.user_themes_dir()
    themes: dict[str, Theme] = {}
    origin: dict[str, Path] = {}
    errors: list[ThemeError] = []
    for path in _theme_files(folder):
        try:
            theme = load_user_theme(path)
        except ThemeError as e:
            errors.append(e)
            continue
        if theme.name in themes:
            errors.append(
                ThemeError(
                    path,
                    None,
                    "name",
                    f"theme {theme.name!r} is also defined in {origin[theme.name].name}; this file wins",
                )
            )
        themes[theme.name] = theme
        origin[theme.name] = path
    return themes, errors


# --------------------------------------------------------------------------------------------------
# Live reload


class _StopFlag:
    """What watchfiles polls (anything with is_set()): our own event, or the caller's condition."""

    def __init__(self, event: threading.Event, extra: Callable[[], bool] | None) -> None:
        self._event = event
        self._extra = extra

    def is_set(self) -> bool:
        return self._event.is_set() or bool(self._extra and self._extra())


ThemeCallback = Callable[[list[str], list[ThemeError]], None]


class ThemeWatcher:
    """Watches the user themes folder and reloads theme files when they change.

    `callback(changed_theme_names, errors)` runs on the watcher's thread after each batch of changes;
    `themes` then holds the latest valid version of every user theme. A file that fails to load
    is reported in `errors` and its previous version stays in `themes`. Deleting a file forgets
    nothing: its theme stays until restart.

    Use `run()` as the body of a thread (a Textual thread worker, say: pass `should_stop` to end
    it when the worker is cancelled) or `start()`/`stop()` for a daemon thread of its own.
    """

    def __init__(
        self,
        callback: ThemeCallback,
        directory: Path | str | None = None,
        *,
        themes: Mapping[str, Theme] | None = None,
        known_errors: Iterable[ThemeError] = (),
        debounce_ms: int = 150,
        step_ms: int = 50,
        force_polling: bool | None = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else locations.user_themes_dir()
        self.callback = callback
        self.themes: dict[str, Theme] = dict(themes or {})  # replaced, never mutated: safe to read anywhere
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.force_polling = force_polling
        self._known_errors = list(known_errors)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the folder is watched and has been rescanned
        self.finished = threading.Event()  # set when run() returns

    def reload(
        self, paths: Iterable[Path | str], *, known_errors: Iterable[ThemeError] = ()
    ) -> tuple[list[str], list[ThemeError]]:
        """Load the given theme files (missing ones are skipped) into `themes`; reads the disk.

        Returns the names whose theme changed and the errors not in `known_errors`.
        """
        known = set(known_errors)
        changed: list[str] = []
        errors: list[ThemeError] = []
        themes = dict(self.themes)
        for path in sorted({Path(p) for p in paths}):
            if path.suffix not in THEME_SUFFIXES or not path.is_file():
                continue
            try:
                theme = load_user_theme(path)
            except ThemeError as e:
                if e not in known:
                    errors.append(e)
                continue
            if themes.get(theme.name) != theme:
                themes[theme.name] = theme
                if theme.name not in changed:
                    changed.append(theme.name)
        self.themes = themes
        return changed, errors

    def run(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Watch until stop() (or `should_stop()` returns true); blocks. Call from a background thread.

        The first pass (as soon as the OS watch is in place) rescans the whole folder, so edits made
        between loading the themes and starting the watcher are not lost; `ready` is set after it.
        """
        from watchfiles import watch  # imported here: the Rust extension is only needed when watching

        self.finished.clear()
        stop = _StopFlag(self._stop, should_stop)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            first = True
            for changes in watch(
                self.directory,
                stop_event=stop,
                debounce=self.debounce_ms,
                step=self.step_ms,
                rust_timeout=500,
                yield_on_timeout=True,
                recursive=False,
                raise_interrupt=False,
                force_polling=self.force_polling,
            ):
                if stop.is_set():
                    break
                paths = {Path(p) for _change, p in changes}
                if first:
                    changed, errors = self.reload(
                        paths | set(_theme_files(self.directory)), known_errors=self._known_errors
                    )
                    first = False
                    self.ready.set()
                elif paths:
                    changed, errors = self.reload(paths)
                else:
                    continue
                if changed or errors:
                    self.callback(changed, errors)
        except (OSError, RuntimeError) as e:
            if not stop.is_set():
                self.callback(
                    [], [ThemeError(self.directory, None, "", f"cannot watch the themes folder: {e}")]
                )
        finally:
            self.ready.set()
            self.finished.set()

    def start(self) -> threading.Thread:
        """Run the watcher on a daemon thread of its own."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="cockpit-theme-watcher", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
