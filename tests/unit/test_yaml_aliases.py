"""YAML anchors and aliases in the settings and theme files: loops and alias bombs are refused
with the file and line, before they can take the memory or the time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.config import MAX_YAML_VALUES, YamlSyntaxError, load_settings, read_located_yaml
from cockpit.themes import ThemeError, load_theme_file


def alias_bomb(levels: int, key: str = "lol") -> str:
    """The "billion laughs": each level is a list of nine aliases of the level before, so
    `levels` lines stand for 9**levels values."""
    lines = [f"{key}0: &{key}0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    for i in range(1, levels + 1):
        prev = f"*{key}{i - 1}"
        lines.append(f"{key}{i}: &{key}{i} [{', '.join([prev] * 9)}]")
    return "\n".join(lines) + "\n"


LOOPS = {
    "list": "a: &a [1, *a]\n",
    "mapping": "a: &a\n  b: 1\n  c: *a\n",
    "deeper": "x: 1\na: &a\n  - b:\n      - c: *a\n",
}


@pytest.mark.parametrize("text", LOOPS.values(), ids=LOOPS)
def test_alias_loop_is_refused_with_a_line(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        read_located_yaml(text)
    assert "loop" in info.value.message and info.value.line is not None


def test_alias_bomb_is_refused_with_a_line() -> None:
    text = alias_bomb(6)  # 531,441 values from 7 lines
    with pytest.raises(YamlSyntaxError) as info:
        read_located_yaml(text)
    assert f"more than {MAX_YAML_VALUES:,} values" in info.value.message
    assert info.value.line == 6  # lol5, the first level past the limit


def test_aliases_that_stay_small_still_work() -> None:
    doc = read_located_yaml("base: &b {cpu: 2, memory: 4Gi}\na: *b\nb: [*b, *b]\n" + alias_bomb(3, "k"))
    assert doc.data["a"] == {"cpu": 2, "memory": "4Gi"} and len(doc.data["b"]) == 2
    assert len(doc.data["k3"]) == 9 and doc.data["k3"][0][0][0][0] == "ha"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlSyntaxError, match="nested too deeply"):
        read_located_yaml("[" * 5000 + "]" * 5000)


@pytest.mark.parametrize("text", [LOOPS["mapping"], alias_bomb(6)], ids=["loop", "bomb"])
def test_settings_file_names_file_and_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    settings, problems = load_settings(path, env={})
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file == str(path) and problem.line is not None
    assert str(problem).startswith(f"{path}:{problem.line}: invalid YAML")
    assert settings.read_only  # the file could not be read: fail closed


@pytest.mark.parametrize("text", [LOOPS["list"], alias_bomb(6)], ids=["loop", "bomb"])
def test_theme_file_names_file_and_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text('name: bomb\nprimary: "#112233"\n' + text.replace("a:", "variables:", 1))
    with pytest.raises(ThemeError) as info:
        load_theme_file(path)
    assert info.value.file == str(path) and info.value.line is not None
    assert str(info.value).startswith(f"{path}:{info.value.line}: invalid YAML")


def test_billion_laughs_cannot_take_the_memory(tmp_path: Path) -> None:
    """The real bomb (9**9 values) in a process limited to 1 GiB: refused with the file named,
    where expanding it would need hundreds of gigabytes."""
    path = tmp_path / "config.yaml"
    path.write_text(alias_bomb(9))
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from cockpit.config import load_settings
        _, problems = load_settings({str(path)!r}, env={{}})
        print(problems[0])
    """)
    # The timeout only stops a hang from stalling the suite; it measures nothing.
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(f"{path}:") and "more than" in out.stdout
