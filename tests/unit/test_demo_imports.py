"""The demo's GPU simulator, its node list and its workload builders stand apart from the seeder
and the cluster. The simulator runs as its own process (`python -m cockpit.demo.simulator`); it
used to import the seeder inside a function while the seeder imported it: an import cycle,
hidden in functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "cockpit" / "demo"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("module", ["simulator", "nodes", "workloads"])
def test_simulator_nodes_and_workloads_import_neither_seeder_nor_cluster(module: str) -> None:
    found = imported_modules(DEMO / f"{module}.py")
    assert not {m for m in found if m.startswith(("cockpit.demo.fleet", "cockpit.demo.cluster"))}, found


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from cockpit.demo.fleet import default_nodes\n    return default_nodes\n")
    assert "cockpit.demo.fleet" in imported_modules(source)
