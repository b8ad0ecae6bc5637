"""Settings: defaults, COCKPIT_* overrides, problems with file:line, per-context merge, durations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cockpit.config import (
    KEYS,
    ConfigProblem,
    ContextDefaults,
    Settings,
    format_duration,
    format_keys,
    load_settings,
    parse_duration,
)
from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def problem_for(problems: list[ConfigProblem], field: str) -> ConfigProblem:
    matches = [p for p in problems if p.field == field]
    assert matches, f"no problem for {field}; got {[str(p) for p in problems]}"
    return matches[0]


# --- defaults ------------------------------------------------------------------------------------


def test_missing_file_gives_defaults(tmp_path):
    settings, problems = load_settings(tmp_path / "absent.yaml", env={})
    assert problems == []
    assert settings == Settings()
    assert settings.read_only is False
    assert settings.theme == "cockpit-dark"
    assert settings.repaint_hz == 10
    assert settings.log_line_cap == 20000
    assert settings.gpu_resources.names == DEFAULT_GPU_RESOURCES
    assert settings.gpu_resources.prefixes == DEFAULT_GPU_PREFIXES
    assert settings.cleanup.finished_after == 24 * 3600
    assert settings.cleanup.idle_dev_pod_after == 8 * 3600
    assert settings.idle.window == 30 * 60
    assert dict(settings.keys) == {}
    assert dict(settings.contexts) == {}


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "---\n"])
def test_empty_file_gives_defaults(tmp_path, text):
    settings, problems = load_settings(write(tmp_path, text), env={})
    assert (settings, problems) == (Settings(), [])


def test_default_path_comes_from_cockpit_config(tmp_path):
    path = write(tmp_path, "theme: cockpit-light\n")
    settings, problems = load_settings(env={"COCKPIT_CONFIG": str(path)})
    assert problems == []
    assert settings.theme == "cockpit-light"


def test_full_file(tmp_path):
    path = write(
        tmp_path,
        """\
read_only: false
theme: cockpit-high-contrast
repaint_hz: 30
log_line_cap: 500
gpu_resources:
  names: [nvidia.com/gpu]
  prefixes: []
cleanup:
  finished_after: 7d
  idle_dev_pod_after: 90m
idle:
  window: 1h30m
keys:
  quit: ctrl+q,q
  app.toggle_dark: f5
contexts:
  prod:
    read_only: true
    namespace: ml-prod
    registry: registry.example.com/ml
    storage: {pvc: datasets, size: 500Gi, mount_path: /data, storage_class: fast}
    resources: {cpu: 8, memory: 64Gi, gpus: 4}
""",
    )
    settings, problems = load_settings(path, env={})
    assert problems == []
    assert settings.theme == "cockpit-high-contrast"
    assert settings.repaint_hz == 30.0 and isinstance(settings.repaint_hz, float)
    assert settings.log_line_cap == 500
    assert settings.gpu_resources.names == ("nvidia.com/gpu",)
    assert settings.gpu_resources.prefixes == ()
    assert settings.cleanup.finished_after == 7 * 86400
    assert settings.cleanup.idle_dev_pod_after == 90 * 60
    assert settings.idle.window == 90 * 60
    assert settings.keymap == {"quit": "ctrl+q,q", "app.toggle_dark": "f5"}
    prod = settings.contexts["prod"]
    assert prod.read_only is True
    assert prod.namespace == "ml-prod"
    assert prod.registry == "registry.example.com/ml"
    assert (prod.storage.pvc, prod.storage.size, prod.storage.mount_path, prod.storage.storage_class) == (
        "datasets",
        "500Gi",
        "/data",
        "fast",
    )
    assert (prod.resources.cpu, prod.resources.memory, prod.resources.gpus) == ("8", "64Gi", 4)
    assert settings.to_dict()["cleanup"] == {"finished_after": "7d", "idle_dev_pod_after": "1h30m"}


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.theme = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.keys["quit"] = "q"  # type: ignore[index]


# --- environment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("0", False),
        ("false", False),
        ("no", False),
    ],
)
def test_env_read_only(tmp_path, raw, expected):
    path = write(tmp_path, f"read_only: {'false' if expected else 'true'}\n")
    settings, problems = load_settings(path, env={"COCKPIT_READ_ONLY": raw})
    assert problems == []
    assert settings.read_only is expected


def test_env_overrides_beat_the_file(tmp_path):
    path = write(tmp_path, "theme: cockpit-light\nrepaint_hz: 5\nlog_line_cap: 1000\n")
    env = {"COCKPIT_THEME": "my-theme", "COCKPIT_REPAINT_HZ": "24.5", "COCKPIT_LOG_LINE_CAP": "300"}
    settings, problems = load_settings(path, env=env)
    assert problems == []
    assert (settings.theme, settings.repaint_hz, settings.log_line_cap) == ("my-theme", 24.5, 300)


@pytest.mark.parametrize(
    ("var", "raw"),
    [("COCKPIT_READ_ONLY", "maybe"), ("COCKPIT_REPAINT_HZ", "fast"), ("COCKPIT_REPAINT_HZ", "120"),
     ("COCKPIT_LOG_LINE_CAP", "10"), ("COCKPIT_LOG_LINE_CAP", "1.5")],
)  # fmt: skip
def test_bad_env_is_reported_and_ignored(tmp_path, var, raw):
    path = write(tmp_path, "repaint_hz: 20\nlog_line_cap: 400\nread_only: true\n")
    settings, problems = load_settings(path, env={var: raw})
    assert [p.field for p in problems] == [var]
    assert problems[0].file == "environment" and problems[0].line is None
    assert (settings.repaint_hz, settings.log_line_cap, settings.read_only) == (20.0, 400, True)


def test_empty_env_values_are_unset(tmp_path):
    settings, problems = load_settings(
        tmp_path / "absent.yaml", env={"COCKPIT_THEME": "", "COCKPIT_READ_ONLY": ""}
    )
    assert (settings, problems) == (Settings(), [])


# --- problems ------------------------------------------------------------------------------------


def test_unknown_key_names_file_and_line(tmp_path):
    path = write(tmp_path, "theme: cockpit-dark\nthme: cockpit-light\ncleanup:\n  finished: 1h\n")
    settings, problems = load_settings(path, env={})
    top = problem_for(problems, "thme")
    assert (top.file, top.line) == (str(path), 2)
    assert "unknown key" in top.message and "theme" in top.message
    nested = problem_for(problems, "cleanup.finished")
    assert nested.line == 4
    assert str(nested).startswith(f"{path}:4: cleanup.finished: unknown key")
    assert settings == Settings()


def test_unknown_key_inside_a_context(tmp_path):
    path = write(tmp_path, "contexts:\n  prod:\n    namespace: ml\n    resources:\n      tpus: 2\n")
    settings, problems = load_settings(path, env={})
    assert [(p.line, p.field) for p in problems] == [(5, "contexts.prod.resources.tpus")]
    assert settings.contexts["prod"].namespace == "ml"


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("read_only: maybe\n", "read_only", 1),
        ("theme: cockpit-dark\nrepaint_hz: fast\n", "repaint_hz", 2),
        ("repaint_hz: 0\n", "repaint_hz", 1),
        ("repaint_hz: 61\n", "repaint_hz", 1),
        ("log_line_cap: 99\n", "log_line_cap", 1),
        ("log_line_cap: 1000.5\n", "log_line_cap", 1),
        ("theme: 3\n", "theme", 1),
        ("gpu_resources:\n  names: nvidia.com/gpu\n", "gpu_resources.names", 2),
        ("cleanup:\n  finished_after: 24\n", "cleanup.finished_after", 2),
        ("idle:\n  window: soon\n", "idle.window", 2),
        ("keys:\n  quit: 3\n", "keys.quit", 2),
        ("contexts:\n  prod:\n    resources: {gpus: two}\n", "contexts.prod.resources.gpus", 3),
        ("contexts:\n  prod:\n    storage:\n      size: lots\n", "contexts.prod.storage.size", 4),
        ("cleanup: 24h\n", "cleanup", 1),
    ],
)
def test_wrong_type_names_line_and_keeps_default(tmp_path, text, field, line):
    path = write(tmp_path, "# settings\n" + text)
    settings, problems = load_settings(path, env={})
    problem = problem_for(problems, field)
    assert problem.file == str(path)
    assert problem.line == line + 1
    assert len(problems) == 1, [str(p) for p in problems]
    defaults = Settings()
    assert settings.repaint_hz == defaults.repaint_hz
    assert settings.log_line_cap == defaults.log_line_cap
    assert settings.theme == defaults.theme
    assert settings.cleanup == defaults.cleanup
    assert settings.gpu_resources == defaults.gpu_resources
    assert dict(settings.keys) == {}


def test_bad_value_does_not_spoil_its_neighbours(tmp_path):
    path = write(tmp_path, "theme: cockpit-light\nrepaint_hz: lots\nlog_line_cap: 300\n")
    settings, problems = load_settings(path, env={})
    assert [p.field for p in problems] == ["repaint_hz"]
    assert "using the default 10" in problems[0].message
    assert (settings.theme, settings.repaint_hz, settings.log_line_cap) == ("cockpit-light", 10.0, 300)


def test_yaml_syntax_error_names_line_and_gives_defaults(tmp_path):
    path = write(tmp_path, "theme: cockpit-light\nkeys: [unclosed\nread_only: true\n")
    settings, problems = load_settings(path, env={"COCKPIT_THEME": "from-env"})
    assert len(problems) == 1
    assert problems[0].file == str(path) and problems[0].line is not None and problems[0].line >= 2
    # Unparseable: nothing in the file can be trusted, read_only included, so the cockpit fails closed.
    assert settings == dataclasses.replace(Settings(), theme="from-env", read_only=True,
                                           read_only_reason=f"read-only because of {problems[0]}")
    assert f"{path}:{problems[0].line}" in settings.read_only_reason


def test_top_level_must_be_a_mapping(tmp_path):
    path = write(tmp_path, "- theme\n- dark\n")
    settings, problems = load_settings(path, env={})
    assert [(p.line, p.field) for p in problems] == [(1, "")]
    assert settings == dataclasses.replace(Settings(), read_only=True, read_only_reason=settings.read_only_reason)
    assert settings.read_only_reason.startswith(f"read-only because of {path}:1")


def test_duplicate_key_is_reported(tmp_path):
    path = write(tmp_path, "theme: a\ntheme: b\n")
    settings, problems = load_settings(path, env={})
    assert [(p.line, p.field) for p in problems] == [(2, "theme")]
    assert settings.theme == "b"


def test_unsafe_yaml_tag_is_a_problem_not_a_crash(tmp_path):
    path = write(tmp_path, "theme: !!python/object:os.system ls\n")
    settings, problems = load_settings(path, env={})
    assert len(problems) == 1 and problems[0].line == 1
    assert settings == dataclasses.replace(Settings(), read_only=True, read_only_reason=settings.read_only_reason)


# --- contexts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("global_ro", "context_ro", "expected"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_context_read_only_is_either(tmp_path, global_ro, context_ro, expected):
    path = write(
        tmp_path,
        f"read_only: {str(global_ro).lower()}\ncontexts:\n  c:\n    read_only: {str(context_ro).lower()}\n",
    )
    settings, problems = load_settings(path, env={})
    assert problems == []
    assert settings.for_context("c").read_only is expected


def test_for_context_merges_and_defaults(tmp_path):
    path = write(
        tmp_path, "read_only: true\ncontexts:\n  gpu:\n    namespace: team\n    resources: {gpus: 2}\n"
    )
    settings, _ = load_settings(path, env={})
    ctx = settings.for_context("gpu")
    assert (ctx.name, ctx.namespace, ctx.read_only, ctx.resources.gpus) == ("gpu", "team", True, 2)
    other = settings.for_context("elsewhere")
    assert other.read_only is True
    assert (other.namespace, other.storage, other.resources) == (
        "",
        ContextDefaults().storage,
        ContextDefaults().resources,
    )
    assert settings.for_context(None).name == ""


def test_env_read_only_applies_to_every_context(tmp_path):
    path = write(tmp_path, "contexts:\n  c:\n    namespace: x\n")
    settings, _ = load_settings(path, env={"COCKPIT_READ_ONLY": "1"})
    assert settings.for_context("c").read_only is True


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("1h30m", 5400),
     ("1.5h", 5400), (" 8H ", 28800)],
)  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "1y", "1h 30m", "-5m", "1h30", "m30"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [30, 1800, 86400, 5400, 7 * 86400, 28800, 3661])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration_prefers_the_documented_forms():
    assert [format_duration(s) for s in (86400, 8 * 3600, 1800, 7 * 86400)] == ["24h", "8h", "30m", "7d"]


# --- the key table -------------------------------------------------------------------------------


def _leaf_paths(cls: type, prefix: str) -> set[str]:
    out: set[str] = set()
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        if dataclasses.is_dataclass(default):
            out |= _leaf_paths(type(default), f"{prefix}{f.name}.")
        else:
            out.add(f"{prefix}{f.name}")
    return out


def test_keys_table_covers_every_setting():
    paths = {k.path for k in KEYS}
    top = _leaf_paths(Settings, "") - {"contexts", "keys", "read_only_reason", "config_file"}
    per_context = _leaf_paths(ContextDefaults, "contexts.<name>.")
    assert top | per_context | {"keys.<binding_id>"} == paths
    assert all(k.description and len(k.description.splitlines()) == 1 for k in KEYS)


def test_keys_table_shows_defaults_and_env():
    by_path = {k.path: k for k in KEYS}
    assert by_path["theme"].default == "cockpit-dark"
    assert by_path["repaint_hz"].default == "10"
    assert by_path["cleanup.finished_after"].default == "24h"
    assert by_path["read_only"].env == "COCKPIT_READ_ONLY"
    plain, markdown = format_keys(), format_keys(markdown=True)
    for key in KEYS:
        assert key.path in plain and f"`{key.path}`" in markdown
    assert "COCKPIT_CONFIG" in plain and "COCKPIT_CONFIG" in markdown


# --- fail closed: never writable because of a typo -------------------------------------------------


@pytest.mark.parametrize("text, field, line", [
    ('read_only: "yes"\n', "read_only", 1),
    ("read_only: 1\n", "read_only", 1),
    ("read_only:\n", "read_only", 1),
    ("theme: cockpit-dark\nreadonly: true\n", "readonly", 2),
    ("read-only: true\n", "read-only", 1),
    ("contexts: 5\n", "contexts", 1),
    ("contexts:\n  lab: [a]\n", "contexts.lab", 2),
    ("contexts:\n  lab:\n    read_only: \"true\"\n", "contexts.lab.read_only", 3),
    ("contexts:\n  lab:\n    readonly: true\n", "contexts.lab.readonly", 3),
    ("read_only: false\nread_only: true\n", "read_only", 2),
])
def test_a_doubtful_read_only_makes_the_cockpit_read_only(tmp_path, text, field, line):
    path = write(tmp_path, text)
    settings, problems = load_settings(path, env={})
    assert settings.read_only and settings.for_context("lab").read_only and settings.for_context("other").read_only
    closing = [p for p in problems if p.forces_read_only]
    assert [(p.field, p.line) for p in closing] == [(field, line)]
    assert settings.read_only_reason == f"read-only because of {closing[0]}"
    assert f"{path}:{line}" in settings.read_only_reason


@pytest.mark.parametrize("text", ["theme: 3\n", "contexts:\n  lab:\n    namespace: 3\n", "repaint_hz: fast\n",
                                  "themes: dark\n"])
def test_other_mistakes_keep_the_cockpit_writable(tmp_path, text):
    settings, problems = load_settings(write(tmp_path, text), env={})
    assert problems and not settings.read_only and settings.read_only_reason == ""


def test_an_unreadable_config_file_makes_the_cockpit_read_only(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"read_only: false\n\xff\xfe")
    settings, problems = load_settings(path, env={})
    assert settings.read_only and str(path) in settings.read_only_reason


@pytest.mark.parametrize("value, read_only", [("maybe", True), ("1", True), ("yes", True), ("0", False),
                                              ("false", False)])
def test_the_environment_switch_fails_closed(tmp_path, value, read_only):
    settings, problems = load_settings(tmp_path / "none.yaml", env={"COCKPIT_READ_ONLY": value})
    assert settings.read_only is read_only
    if value == "maybe":
        assert "COCKPIT_READ_ONLY" in settings.read_only_reason


@pytest.mark.parametrize(("text", "message"), [
    ("log_line_cap: 99\n", "99 is less than the minimum 100"),
    ("repaint_hz: 0\n", "0 is out of range 1..60"),
    ("repaint_hz: .nan\n", "expected a number from 1 to 60, got a number (nan)"),
    ("log_line_cap: 1000.5\n", "expected a whole number of at least 100, got a number (1000.5)"),
    ("contexts:\n  c:\n    resources: {gpus: -1}\n", "expected 0 or more, got -1"),
    ("gpu_resources:\n  names: [a, ' ', 3]\n", "expected a list of non-empty strings; bad entries: [' ', 3]"),
    ("theme: '  '\n", "expected a non-empty string;"),
    ("read_only: yes please\n", "expected true or false, got a string ('yes please')"),
    ("contexts:\n  c:\n    storage: {size: [1]}\n", "expected a quantity such as 4, 500m or 16Gi, got a list"),
    ("idle:\n  window: 5\n", "expected a duration such as 30m, 24h or 7d, got an integer (5)"),
])  # fmt: skip
def test_each_wrong_value_says_what_its_type_wants(tmp_path, text, message):
    _, problems = load_settings(write(tmp_path, text), env={})
    assert len(problems) == 1 and message in problems[0].message, [str(p) for p in problems]
