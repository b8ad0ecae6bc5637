"""Shared fixtures: one demo cluster and one Docker engine per test session.

With CI=true nothing that needs the cluster or the engine may skip: a missing piece fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: integration tests may not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def demo_cluster(tmp_path_factory):
    """A demo cluster of its own for this test session, on a free port."""
    from cockpit.demo.cluster import DemoCluster, free_port

    workdir = tmp_path_factory.mktemp("demo")
    cluster = DemoCluster(workdir=workdir)
    # A second try when the first start fails: a control plane coming up on a loaded 2-core
    # machine can miss kwokctl's readiness deadline.
    for attempt in (1, 2):
        try:
            cluster.up(port=free_port(), log=lambda *_: None)
            break
        except Exception as e:
            cluster.down(log=lambda *_: None)
            if attempt == 2:
                unavailable(f"demo cluster unavailable: {e}")
    yield cluster
    cluster.down(log=lambda *_: None)


@pytest.fixture(scope="session")
def kube_admin(demo_cluster):
    return api_client(demo_cluster, "cockpit-demo")


@pytest.fixture(scope="session")
def kube_viewer(demo_cluster):
    return api_client(demo_cluster, "cockpit-demo-viewer")


def api_client(cluster, context: str):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(str(cluster.kubeconfig), context=context, client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    from tests.support.engine import EngineUnavailable, start_engine

    try:
        engine = start_engine(tmp_path_factory.mktemp("engine"))
    except EngineUnavailable as e:
        unavailable(f"docker engine unavailable: {e}")
    yield engine
    engine.stop()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """Poll a cluster-side condition in a test (never used inside the product)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@pytest.fixture
def unique_name(request):
    base = request.node.name.lower().replace("_", "-")[:30].strip("-")
    return f"{base}-{int(time.time() * 1000) % 100000}"


# What a test needs, read from the fixtures it uses (directly or through other fixtures), so
# no test can forget its marker: `-m "not cluster and not docker"` runs what needs neither.
NEEDS = {"demo_cluster": "cluster", "docker_engine": "docker"}


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).parent
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in NEEDS.items():
            if fixture in used:
                item.add_marker(marker)
        parts = Path(item.fspath).relative_to(root).parts if Path(item.fspath).is_relative_to(root) else ()
        if parts[:1] in (("integration",), ("e2e",)):  # some start a cluster of their own
            item.add_marker("cluster")
        if parts[:1] == ("e2e",) or any("tmux" in name for name in used):
            item.add_marker("e2e")
            item.add_marker("tmux")


# With CI=true a skip is a failure, whatever raised it: a fixture, a skip mark, pytest.skip() in
# a test, or importorskip at module level. (xfail is not a skip and stays as it is.)
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    return _skip_fails_in_ci(report)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    return _skip_fails_in_ci(report)


def _skip_fails_in_ci(report):
    if os.environ.get("CI", "").lower() == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but CI=true allows no skips: {reason}"
    return report


# Snapshots live in the top-level snapshots/ folder, one sub-folder per test module.
def _snapshot_dirname(cls, *, test_location) -> str:
    return str(Path(__file__).parent.parent / "snapshots" / Path(test_location.filepath).stem)


try:
    import pytest_textual_snapshot

    pytest_textual_snapshot.SVGImageExtension.dirname = classmethod(_snapshot_dirname)
except ImportError:  # pragma: no cover - the plugin is a test dependency
    pass
