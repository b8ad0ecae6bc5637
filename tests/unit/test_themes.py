"""Theme files: the built-in ones, validation errors with file:line, user themes, reload bookkeeping."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
import yaml
from rich.color import ColorType
from textual.app import App, ComposeResult
from textual.theme import Theme
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, ProgressBar

from cockpit.config import Settings
from cockpit.themes import (
    ANSI_THEME_VARIABLES,
    COLOR_FIELDS,
    DEFAULT_THEME,
    PRODUCT_VARIABLES,
    ThemeError,
    ThemeWatcher,
    builtin_themes,
    builtin_themes_dir,
    is_ansi_color,
    load_theme_file,
    user_themes,
)
from cockpit.ui.theming import install_themes, theme_variable_defaults

BUILTIN = ("cockpit-dark", "cockpit-light", "cockpit-high-contrast", "cockpit-ansi16")
REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"

MINIMAL = 'name: mine\nprimary: "#112233"\n'


def theme_file(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def colours(theme: Theme) -> dict[str, str]:
    out = {f: getattr(theme, f) for f in COLOR_FIELDS if getattr(theme, f) is not None}
    out.update({k: v for k, v in theme.variables.items() if not k.endswith("style")})
    return out


# --- built-in themes -----------------------------------------------------------------------------


def test_every_builtin_loads():
    themes = builtin_themes()
    assert set(BUILTIN) <= set(themes)
    assert DEFAULT_THEME == "cockpit-dark"
    for path in sorted(REPO_THEMES.glob("*.yaml")):
        theme = load_theme_file(path)
        assert theme.name == path.stem, "a built-in theme file is named after its theme"
        assert themes[theme.name] == theme
        missing = [v for v in PRODUCT_VARIABLES if v not in theme.variables]
        assert not missing, f"{path.name} leaves out {missing}"


def test_builtin_dark_flags():
    themes = builtin_themes()
    assert themes["cockpit-dark"].dark is True
    assert themes["cockpit-light"].dark is False
    assert themes["cockpit-high-contrast"].dark is True


def test_builtins_ship_as_package_data():
    names = {p.name for p in importlib.resources.files("cockpit.data.themes").iterdir()}
    assert {f"{n}.yaml" for n in BUILTIN} <= names
    assert builtin_themes_dir().resolve() == REPO_THEMES


def test_ansi16_uses_only_ansi_colours():
    theme = builtin_themes()["cockpit-ansi16"]
    assert theme.ansi is True
    assert theme.dark is True
    for var in ANSI_THEME_VARIABLES:
        assert var in theme.variables
    for field, value in colours(theme).items():
        assert is_ansi_color(value), f"{field}: {value!r} is not one of the 16 ANSI colours"
    data = yaml.safe_load((REPO_THEMES / "cockpit-ansi16.yaml").read_text())
    written = [data[f] for f in COLOR_FIELDS if f in data] + list(data["variables"].values())
    assert not [v for v in written if str(v).startswith(("#", "rgb", "hsl"))], "no truecolour values"


def test_other_builtins_are_not_ansi():
    for name in ("cockpit-dark", "cockpit-light", "cockpit-high-contrast"):
        assert builtin_themes()[name].ansi is False


class Gallery(App):
    CSS = """
    .running { color: $phase-running; background: $bar-background; }
    .gpu { color: $gpu-high; background: $gpu-free; }
    .muted { color: $gpu-full 50%; }
    """

    def __init__(self, theme: str) -> None:
        super().__init__()
        self.errors = install_themes(self, Settings(theme=theme), user_dir="/nonexistent/themes")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return theme_variable_defaults()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Running", classes="running")
        yield Label("GPU", classes="gpu")
        yield Label("muted", classes="muted")
        table: DataTable = DataTable()
        table.add_columns("NAME", "STATUS")
        table.add_row("pod-0", "Running")
        yield table
        yield Input("filter")
        yield Button("Launch", variant="primary")
        yield ProgressBar(total=10)
        yield Footer()


def truecolour_styles(app: App) -> list[tuple[str, str]]:
    out = []
    for widget in app.screen.walk_children(with_self=True):
        style = widget.rich_style
        for color in (style.color, style.bgcolor):
            if color is not None and color.type not in (ColorType.STANDARD, ColorType.DEFAULT):
                out.append((type(widget).__name__, color.name))
    return out


async def test_ansi16_renders_without_truecolour():
    app = Gallery("cockpit-ansi16")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.errors == []
        assert app.current_theme.name == "cockpit-ansi16"
        assert app.native_ansi_color, "ANSI colours go to the terminal as ANSI codes, not converted"
        assert truecolour_styles(app) == []


async def test_dark_theme_is_truecolour():
    """The check above would notice truecolour: the default theme has plenty."""
    app = Gallery("cockpit-dark")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert truecolour_styles(app)


# --- broken files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ('name: x\nprimary: "#112233"\nsecondary: "#12345"\n', 3, "secondary", "parse"),
        ('name: x\nprimary: "#112233"\naccent: not-a-colour\n', 3, "accent", "parse"),
        ("name: x\nprimary: #112233\n", 2, "primary", "quote"),
        ('name: x\nprimary: "#112233"\ncolour: red\n', 3, "colour", "unknown key"),
        ('name: x\nprimary: "#112233"\ndark: sometimes\n', 3, "dark", "true or false"),
        (
            'name: x\nprimary: "#112233"\nvariables:\n  phase-running: "#zzzzzz"\n',
            4,
            "variables.phase-running",
            "",
        ),
        (
            'name: x\nprimary: "#112233"\nvariables:\n  phase-running: "#112233 50%"\n',
            4,
            "variables.phase-running",
            "",
        ),
        ('name: x\nprimary: "#112233"\nvariables: [a]\n', 3, "variables", "mapping"),
        ('name: x\nsecondary: "#112233"\n', None, "", "primary is required"),
        ('name: "has space"\nprimary: "#112233"\n', 1, "name", "theme name"),
        ('primary: "#112233"\n', None, "", "theme name"),
        ('name: x\nprimary: "#112233"\nname: y\n', 3, "name", "twice"),
        ('name: x\nansi: true\nprimary: ansi_blue\nerror: "#ff0000"\n', 4, "error", "ANSI"),
        (
            "name: x\nansi: true\nprimary: ansi_blue\nvariables:\n  gpu-low: green\n",
            5,
            "variables.gpu-low",
            "ANSI",
        ),
    ],
)
def test_broken_theme_names_file_line_and_field(tmp_path, text, line, field, words):
    path = theme_file(tmp_path, text)
    with pytest.raises(ThemeError) as info:
        load_theme_file(path)
    error = info.value
    assert error.file == str(path)
    if line is not None:
        assert error.line == line
        assert str(error).startswith(f"{path}:{line}: {field}: ")
    assert error.field == field
    assert words in error.message


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = theme_file(tmp_path, 'name: x\nprimary: "#112233"\nvariables:\n  a: [b\n  c: d\n')
    with pytest.raises(ThemeError) as info:
        load_theme_file(path)
    assert info.value.line is not None and info.value.line >= 4
    assert "YAML" in info.value.message


def test_valid_extras(tmp_path):
    path = theme_file(
        tmp_path,
        'name: extras\ndark: false\nprimary: "rgb(10,20,30)"\nvariables:\n'
        '  input-selection-background: "#81a1c1 35%"\n  block-cursor-text-style: bold\n  text: auto 87%\n',
    )
    theme = load_theme_file(path)
    assert theme.dark is False
    assert theme.variables["input-selection-background"] == "#81a1c1 35%"
    assert theme.variables["block-cursor-text-style"] == "bold"


# --- user themes ---------------------------------------------------------------------------------


def test_user_themes_missing_dir(tmp_path):
    assert user_themes(tmp_path / "nope") == ({}, [])


def test_user_themes_good_and_broken(tmp_path):
    theme_file(tmp_path, MINIMAL, "a.yaml")
    theme_file(tmp_path, 'name: bad\nprimary: "#1122"\naccent: nope\n', "b.yaml")
    theme_file(tmp_path, "ignored", "notes.txt")
    themes, errors = user_themes(tmp_path)
    assert list(themes) == ["mine"]
    assert [(Path(e.file).name, e.line, e.field) for e in errors] == [("b.yaml", 3, "accent")]


def test_user_theme_gets_missing_product_variables_from_its_kind(tmp_path):
    theme_file(tmp_path, MINIMAL + 'variables:\n  gpu-full: "#ff0000"\n', "dark.yaml")
    theme_file(tmp_path, 'name: pale\ndark: false\nprimary: "#112233"\n', "light.yaml")
    theme_file(tmp_path, "name: plain\nansi: true\nprimary: ansi_red\n", "ansi.yaml")
    themes, errors = user_themes(tmp_path)
    assert errors == []
    builtins = builtin_themes()
    assert themes["mine"].variables["gpu-full"] == "#ff0000"
    assert themes["mine"].variables["gpu-low"] == builtins["cockpit-dark"].variables["gpu-low"]
    assert themes["pale"].variables["phase-failed"] == builtins["cockpit-light"].variables["phase-failed"]
    for var in (*PRODUCT_VARIABLES, *ANSI_THEME_VARIABLES):
        assert is_ansi_color(themes["plain"].variables[var])


def test_duplicate_theme_names_last_file_wins(tmp_path):
    theme_file(tmp_path, MINIMAL, "a.yaml")
    theme_file(tmp_path, 'name: mine\nprimary: "#445566"\n', "b.yaml")
    themes, errors = user_themes(tmp_path)
    assert themes["mine"].primary == "#445566"
    assert len(errors) == 1 and errors[0].field == "name"


def test_watcher_reload_keeps_previous_version_on_error(tmp_path):
    path = theme_file(tmp_path, MINIMAL, "mine.yaml")
    watcher = ThemeWatcher(lambda names, errors: None, tmp_path)
    assert watcher.reload([path]) == (["mine"], [])
    first = watcher.themes["mine"]
    assert watcher.reload([path]) == ([], []), "an unchanged file is no change"
    path.write_text('name: mine\nprimary: "#11223"\n')
    names, errors = watcher.reload([path])
    assert names == [] and [(e.line, e.field) for e in errors] == [(2, "primary")]
    assert watcher.themes["mine"] is first
    path.write_text('name: mine\nprimary: "#445566"\n')
    assert watcher.reload([path, tmp_path / "deleted.yaml", tmp_path / "x.txt"]) == (["mine"], [])
    assert watcher.themes["mine"].primary == "#445566"


def test_watcher_reload_skips_known_errors(tmp_path):
    path = theme_file(tmp_path, "name: x\n", "x.yaml")
    _, errors = user_themes(tmp_path)
    watcher = ThemeWatcher(lambda names, errors: None, tmp_path)
    assert watcher.reload([path], known_errors=errors) == ([], [])
    assert watcher.reload([path])[1] == errors


def test_watcher_thread_reports_changes(tmp_path):
    import queue

    seen: queue.Queue = queue.Queue()
    watcher = ThemeWatcher(
        lambda names, errors: seen.put((names, errors)), tmp_path / "themes", debounce_ms=50
    )
    watcher.start()
    try:
        assert watcher.ready.wait(5)
        theme_file(tmp_path / "themes", MINIMAL, "mine.yaml")
        names, errors = seen.get(timeout=5)
        assert (names, errors) == (["mine"], [])
        assert watcher.themes["mine"].primary == "#112233"
    finally:
        watcher.stop()
    assert not watcher._thread.is_alive()
