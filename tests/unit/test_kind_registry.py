"""The kind registry: every kind module is found, names are unambiguous, and the app and the
main screen's code name no kind (they ask the registry)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cockpit.resources import registry
from cockpit.resources.base import Kind

ROOT = Path(__file__).parents[2]
RESOURCES = ROOT / "cockpit" / "resources"
KIND_MODULES = sorted(p.stem for p in RESOURCES.glob("*.py")
                      if re.search(r"^KINDS? = ", p.read_text(), re.M))


def test_every_kind_module_is_registered_and_ids_are_unique():
    kinds = registry.kinds()
    assert len(KIND_MODULES) >= 8
    modules = {type(k).__module__.rsplit(".", 1)[-1] for k in kinds.values()}
    assert set(KIND_MODULES) <= modules
    assert len({k.id for k in kinds.values()}) == len(kinds)


def test_no_two_kinds_answer_to_the_same_name():
    owners: dict[str, str] = {}
    for kind in registry.kinds().values():
        for name in kind.names():
            assert owners.setdefault(name, kind.id) == kind.id, f"{name!r}: {owners[name]} and {kind.id}"


def test_every_kind_declares_what_the_ui_needs():
    for kind in registry.kinds().values():
        assert isinstance(kind, Kind)
        assert kind.id and kind.title and kind.api_kind and kind.plural and kind.columns, kind.id
        for name, action in kind.actions.items():
            assert action.name == name and action.verb, (kind.id, name)
            assert kind.needs(name) is not None
        assert registry.by_name(kind.id) is kind and registry.by_name(kind.api_kind) is kind


def test_names_resolve_like_kubectl():
    assert registry.by_name("po").id == "pods"
    assert registry.by_name("Pod").id == "pods"
    assert registry.by_name("jobs.batch").id == "jobs"
    assert registry.by_name("argoproj.io/v1alpha1/workflows").id == "workflows"
    assert registry.by_name("no-such-thing") is None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_app_and_main_screen_import_no_kind_and_switch_on_no_kind_id():
    kind_ids = {k.id for k in registry.kinds().values()}
    compare = re.compile(r"""\.id\s*(?:==|!=)\s*["']([a-z]+)["']|\.id\s+(?:not\s+)?in\s+\(([^)]*)\)""")
    for rel in ("cockpit/app.py", "cockpit/ui/main_screen.py", "cockpit/ui/actions.py", "cockpit/ui/commands.py"):
        path = ROOT / rel
        named = {m for m in _imports(path) if m.rsplit(".", 1)[-1] in KIND_MODULES
                 and m.startswith("cockpit.resources.")}
        assert named == set(), f"{rel} imports kind modules {named}"
        text = path.read_text()
        for m in compare.finditer(text):
            ids = set(re.findall(r"[a-z]+", m.group(1) or m.group(2) or ""))
            assert not ids & kind_ids, f"{rel} switches on kind ids {ids & kind_ids}: {m.group(0)}"
