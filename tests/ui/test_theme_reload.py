"""Live theme reload through Pilot: edit a user theme file on disk and watch the running app follow."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Label

from cockpit.config import Settings
from cockpit.themes import ThemeWatcher
from cockpit.ui.theming import install_themes, start_theme_reload, theme_variable_defaults

DEADLINE_S = 10.0


class ReloadApp(App):
    CSS = """
    #primary { color: $primary; }
    #phase { color: $phase-running; }
    """

    def __init__(self, user_dir: Path, settings: Settings | None = None) -> None:
        super().__init__()
        self.user_dir = user_dir
        self.theme_errors = install_themes(self, settings or Settings(), user_dir=user_dir)
        self.notes: list[tuple[str, str]] = []
        self.watcher: ThemeWatcher | None = None

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults()

    def compose(self) -> ComposeResult:
        yield Label("primary", id="primary")
        yield Label("phase", id="phase")

    def on_mount(self) -> None:
        self.watcher = start_theme_reload(self, self.user_dir, known_errors=self.theme_errors, debounce_ms=50)

    def notify(self, message, *, severity="information", **kwargs) -> None:  # type: ignore[override]
        self.notes.append((severity, str(message)))
        super().notify(message, severity=severity, **kwargs)


async def until(pilot, condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE_S}s waiting for {what}")
        await pilot.pause(0.1)


def theme_yaml(primary: str) -> str:
    return f'name: mine\ndark: true\nprimary: "{primary}"\nvariables:\n  phase-running: "#00ff00"\n'


def label_colour(app: App, widget_id: str) -> Color:
    return app.query_one(f"#{widget_id}", Label).styles.color


async def test_edited_theme_is_applied_and_broken_edit_keeps_previous(tmp_path):
    user_dir = tmp_path / "themes"
    app = ReloadApp(user_dir)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.watcher is not None and app.watcher.ready.is_set(), "the watcher")
        assert app.theme == "cockpit-dark"

        path = user_dir / "mine.yaml"
        path.write_text(theme_yaml("#112233"))
        await until(pilot, lambda: "mine" in app.available_themes, "the new theme to be registered")
        app.theme = "mine"
        await pilot.pause()
        assert app.current_theme.primary == "#112233"
        assert label_colour(app, "primary") == Color.parse("#112233")
        assert label_colour(app, "phase") == Color.parse("#00ff00")

        path.write_text(theme_yaml("#445566"))
        await until(pilot, lambda: app.current_theme.primary == "#445566", "the edited primary colour")
        await until(
            pilot, lambda: label_colour(app, "primary") == Color.parse("#445566"), "the CSS to follow"
        )
        assert app.theme == "mine"

        path.write_text('name: mine\nprimary: "#778899"\naccent: "#12"\n')
        await until(pilot, lambda: any(sev == "error" for sev, _ in app.notes), "an error notification")
        message = next(text for sev, text in app.notes if sev == "error")
        assert f"{path}:3: accent" in message

        path.write_text("name: mine\nprimary: [unclosed\n")
        await until(
            pilot, lambda: sum(sev == "error" for sev, _ in app.notes) >= 2, "a YAML error notification"
        )
        assert f"{path}:" in app.notes[-1][1]

        await pilot.pause(0.2)
        assert app.theme == "mine"
        assert app.current_theme.primary == "#445566"
        assert label_colour(app, "primary") == Color.parse("#445566")

        path.write_text(theme_yaml("#abcdef"))
        await until(pilot, lambda: app.current_theme.primary == "#abcdef", "the repaired theme")
    assert app.watcher.finished.wait(2), "the watcher thread ends with the app"


async def test_edit_of_another_theme_leaves_the_current_one(tmp_path):
    user_dir = tmp_path / "themes"
    user_dir.mkdir()
    (user_dir / "mine.yaml").write_text(theme_yaml("#112233"))
    app = ReloadApp(user_dir, Settings(theme="cockpit-light"))
    async with app.run_test() as pilot:
        assert app.theme_errors == []
        assert app.get_theme("mine").primary == "#112233"
        await until(pilot, lambda: app.watcher is not None and app.watcher.ready.is_set(), "the watcher")
        (user_dir / "mine.yaml").write_text(theme_yaml("#445566"))
        await until(pilot, lambda: app.get_theme("mine").primary == "#445566", "the re-registered theme")
        assert app.theme == "cockpit-light"
        assert app.notes == []


async def test_unknown_configured_theme_falls_back(tmp_path):
    user_dir = tmp_path / "themes"
    user_dir.mkdir()
    (user_dir / "broken.yaml").write_text('name: broken\nprimary: "#1"\n')
    app = ReloadApp(user_dir, Settings(theme="no-such-theme"))
    async with app.run_test() as pilot:
        assert app.theme == "cockpit-dark"
        assert [e.field for e in app.theme_errors] == ["primary", "theme"]
        assert "no-such-theme" in str(app.theme_errors[1])
        await until(pilot, lambda: app.watcher is not None and app.watcher.ready.is_set(), "the watcher")
        await pilot.pause(0.2)
        assert app.notes == [], "errors install_themes returned are not reported again by the watcher"
