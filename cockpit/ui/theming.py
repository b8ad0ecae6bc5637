"""Installing the cockpit's themes into the App, and applying edited user themes while it runs.

Wiring, in the App:

    class CockpitApp(App):
        def __init__(self, settings):
            super().__init__()
            self.theme_errors = install_themes(self, settings)  # before the event loop: disk is fine

        def get_theme_variable_defaults(self):
            return theme_variable_defaults()  # $phase-* etc. under Textual's own themes

        def on_mount(self):
            for error in self.theme_errors:
                self.notify(str(error), severity="error", markup=False)
            start_theme_reload(self, known_errors=self.theme_errors)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App
from textual.worker import Worker, get_current_worker

from cockpit.config import Settings
from cockpit.themes import (
    DEFAULT_THEME,
    ThemeError,
    ThemeWatcher,
    builtin_themes,
    theme_variable_defaults,
    user_themes,
)

__all__ = ["THEME_WORKER_GROUP", "install_themes", "start_theme_reload", "theme_variable_defaults"]

THEME_WORKER_GROUP = "theme-reload"


def install_themes(app: App, settings: Settings, *, user_dir: Path | str | None = None) -> list[ThemeError]:
    """Register the built-in and user themes and select `settings.theme`; returns the problems.

    Reads the theme files, so call it before the app runs (in `__init__`), not on the UI thread of a
    running app. An unknown theme name is reported and cockpit-dark is used instead.
    """
    for theme in builtin_themes().values():
        app.register_theme(theme)
    users, errors = user_themes(user_dir)
    for theme in users.values():
        app.register_theme(theme)
    wanted = settings.theme
    if wanted not in app.available_themes:
        known = ", ".join(sorted(app.available_themes))
        errors.append(
            ThemeError(
                "config",
                None,
                "theme",
                f"unknown theme {wanted!r}; using {DEFAULT_THEME}. Known themes: {known}",
            )
        )
        wanted = DEFAULT_THEME
    app.theme = wanted
    return errors


def start_theme_reload(
    app: App,
    user_dir: Path | str | None = None,
    *,
    known_errors: Iterable[ThemeError] = (),
    debounce_ms: int = 150,
) -> ThemeWatcher:
    """Watch the user themes folder from a thread worker and apply edited themes as they are saved.

    Call once the app is running (on_mount). `known_errors`: what install_themes returned, so its
    first rescan does not report them again. A changed theme is registered again and, if it is the
    current one, re-applied at once; a broken file posts an error notification and the previous
    version stays. The worker ends when the app exits (Textual cancels its workers) or on
    `watcher.stop()`; calling this again replaces the previous watcher.
    """
    worker: Worker[None] | None = None

    def on_change(names: list[str], errors: list[ThemeError]) -> None:
        # On the watcher's thread: hand the results to the UI thread, unless the app is going away.
        if worker is None or worker.is_cancelled or not app.is_running:
            return
        try:
            app.call_from_thread(_apply, app, watcher, names, errors)
        except RuntimeError:  # the app stopped between the check and the call
            pass

    watcher = ThemeWatcher(
        on_change,
        user_dir,
        themes=app.available_themes,
        known_errors=known_errors,
        debounce_ms=debounce_ms,
    )

    def watch() -> None:
        current = get_current_worker()
        watcher.run(should_stop=lambda: current.is_cancelled)

    worker = app.run_worker(
        watch,
        name="theme watcher",
        group=THEME_WORKER_GROUP,
        thread=True,
        exclusive=True,
        exit_on_error=False,
    )
    return watcher


def _apply(app: App, watcher: ThemeWatcher, names: list[str], errors: list[ThemeError]) -> None:
    """On the UI thread: register reloaded themes, refresh the current one, report errors."""
    for error in errors:
        app.notify(
            f"{error}\nKeeping the previous version of the theme.",
            title="Theme error",
            severity="error",
            timeout=10,
            markup=False,  # file names and YAML messages may hold [brackets]
        )
    themes = watcher.themes
    for name in names:
        theme = themes.get(name)
        if theme is not None:
            app.register_theme(theme)
    if app.theme in names:
        # Same name, new colours: App.theme's watcher only runs when the value changes, so force it.
        app.mutate_reactive(App.theme)
