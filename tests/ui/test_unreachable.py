"""The API server goes away and comes back: the top bar says so in words with the retry time,
every pane keeps its rows marked stale, and the marks go when the server answers again."""

from __future__ import annotations

import re
import socket

import urllib3

from cockpit.app import CockpitApp
from cockpit.kube.connection import Kubeconfig, network_error_text
from tests.support.pilot import until
from tests.support.tcp_relay import TcpRelay, relayed_kubeconfig


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_network_errors_in_words():
    pool = urllib3.PoolManager(retries=urllib3.Retry(0))
    try:
        pool.request("GET", f"http://127.0.0.1:{closed_port()}/api")
    except Exception as e:  # noqa: BLE001 - the real error urllib3 raises
        assert network_error_text(e) == "API server unreachable (connection refused)"
    else:
        raise AssertionError("a closed port answered")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    try:
        pool.request("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/api", timeout=0.3)
    except Exception as e:  # noqa: BLE001
        assert network_error_text(e) == "API server not answering (timed out)"
    finally:
        listener.close()


async def test_unreachable_api_server_is_said_in_words_and_rows_go_stale(demo_cluster, tmp_path):
    relay = TcpRelay("127.0.0.1", demo_cluster.port)
    relay.open()
    kc = Kubeconfig.load(relayed_kubeconfig(demo_cluster.kubeconfig, relay, tmp_path / "kubeconfig"))
    app = CockpitApp(kc, context="cockpit-demo", start_pane="pods")
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.hub is not None and app.hub.state("pods")[0] == "live"
                    and len(app.main.current.store) > 5, what="pods listed")
        rows_before = len(app.main.current.store)
        relay.cut()
        top = await until(pilot, lambda: "retrying in" in str(app.main._bars.get("#topbar", "")) and
                          str(app.main._bars["#topbar"]), timeout=40, what="unreachable in the top bar")
        assert re.search(r"✖ (API server unreachable|connection to the API server lost)[^,]*, retrying in \d+ s",
                         top), top
        assert "Error" not in top and "urllib3" not in top and "Max retries" not in top
        pane = await until(pilot, lambda: "stale since" in str(app.main._bars.get("#panebar", "")) and
                           str(app.main._bars["#panebar"]), what="stale marker")
        assert re.search(r"stale since \d\d:\d\d:\d\d", pane)
        assert len(app.main.current.store) >= rows_before  # the last rows stay on screen
        await pilot.press("3")  # another pane: also marked once its feed notices
        await until(pilot, lambda: "stale since" in str(app.main._bars.get("#panebar", "")) or
                    "retrying" in str(app.main._bars.get("#topbar", "")), what="jobs pane state")
        await pilot.press("2")
        relay.open()  # the same port again
        await until(pilot, lambda: "● live" in str(app.main._bars.get("#topbar", "")), timeout=60, what="live again")
        await until(pilot, lambda: "stale" not in str(app.main._bars.get("#panebar", "")), what="stale mark gone")
    relay.cut()
