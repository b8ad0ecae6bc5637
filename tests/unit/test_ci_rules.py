"""The suite's own rules: with CI=true no test may skip, and every test carries the markers of
what it needs (from its fixtures). Checked by running an inner pytest with our conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).parent.parent / "conftest.py"

SKIPPING = '''
import pytest

@pytest.fixture
def engine():
    pytest.skip("no engine here")

def test_skips_itself():
    pytest.skip("not today")

@pytest.mark.skip(reason="marked")
def test_marked():
    pass

@pytest.mark.skipif(True, reason="condition")
def test_skipif():
    pass

def test_skipping_fixture(engine):
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
'''


@pytest.fixture
def inner(pytester):
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n  cluster: c\n  docker: d\n  e2e: e\n  tmux: t\n")
    return pytester


def test_with_ci_every_skip_fails_the_run(inner, monkeypatch):
    inner.makepyfile(test_skipping=SKIPPING)
    inner.makepyfile(test_module_skip="import pytest\npytest.importorskip('no_such_module_here')\n"
                                      "def test_never():\n    pass\n")
    monkeypatch.setenv("CI", "true")
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--continue-on-collection-errors")
    assert result.ret != 0
    outcomes = result.parseoutcomes()
    # A skip in the test fails it; one in setup (mark, skipif, fixture) or collection is an error.
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 5, outcomes
    assert outcomes.get("passed") == 1 and outcomes.get("xfailed") == 1, outcomes
    assert "skipped" not in outcomes
    result.stdout.fnmatch_lines(["*CI=true allows no skips*no_such_module_here*"])
    result.stdout.fnmatch_lines(["*CI=true allows no skips*not today*"])


def test_without_ci_skips_stay_skips(inner, monkeypatch):
    inner.makepyfile(test_skipping=SKIPPING)
    monkeypatch.delenv("CI", raising=False)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"skipped": 4, "passed": 1, "xfailed": 1}
    assert result.ret == 0


def test_markers_come_from_the_fixtures_a_test_uses(inner, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    inner.makepyfile(test_needs='''
import pytest

# Stand-ins with the real names, so that nothing starts; the markers depend only on the names.
@pytest.fixture
def demo_cluster():
    return "cluster"

@pytest.fixture
def kube_admin(demo_cluster):
    return demo_cluster

@pytest.fixture
def docker_engine():
    return "engine"

@pytest.fixture
def tmux_session(demo_cluster):
    return "tmux"

def test_plain():
    pass

def test_admin(kube_admin):
    pass

def test_engine(docker_engine):
    pass

def test_both(kube_admin, docker_engine):
    pass

def test_terminal(tmux_session):
    pass
''')

    def selected(expr: str) -> set[str]:
        result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q", "-m", expr)
        return {line.split("::")[1] for line in result.outlines if "::" in line}

    assert selected("cluster") == {"test_admin", "test_both", "test_terminal"}
    assert selected("docker") == {"test_engine", "test_both"}
    assert selected("tmux") == {"test_terminal"}
    assert selected("not cluster and not docker and not tmux") == {"test_plain"}
