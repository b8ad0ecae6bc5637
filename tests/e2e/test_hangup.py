"""The terminal goes away, or the cockpit is told to stop, in every state: the process ends within a
second, and nothing it opened outlives it (API connections, the exec's remote shell, port-forward
listeners and tunnels).

Endings: `tmux kill-server` (what an SSH drop does: the pty closes and the pane gets SIGHUP),
SIGTERM (the terminal stays and must be given back), and the terminal's end alone (SIGHUP blocked
in the cockpit, so only the closed pty can tell it).

The 1.5 s checks are the requirement itself (gone within 1 s), with half a second of room for a
loaded 2-core machine; the measured time is printed (pytest -s shows it).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kubernetes import client

from tests.conftest import unavailable
from tests.support.tmux import cockpit_command

DEADLINE = 1.5  # the requirement is 1 s; see the module docstring
SOCKETS_DEADLINE = 3.0  # the other end (API server, KWOK) notices the closed connection
BIG_NAMESPACE_PODS = 1000
FILLER_BYTES = 24 * 1024  # per pod: a 24 MB first list, seconds to fetch and parse here

# Start the cockpit with SIGHUP blocked (the mask survives exec): only the terminal's end is left.
SIGHUP_BLOCKED = ("import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP}); "
                  "os.execv(sys.argv[1], sys.argv[1:])")


# --- what the process holds -----------------------------------------------------------------------

def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def seconds_until_gone(pid: int, limit: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if not alive(pid):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def _tcp_table() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every TCP socket on the machine."""
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                rows.append((int(parts[1].rsplit(":", 1)[1], 16), int(parts[2].rsplit(":", 1)[1], 16),
                             parts[3], parts[9]))
    return rows


def api_connections(pid: int, api_port: int) -> set[int]:
    """Local ports of the process's connections to the API server."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return {local for local, remote, _st, inode in _tcp_table() if inode in inodes and remote == api_port}


def established_to(port: int) -> set[int]:
    """Local ports of the open connections to `port` on this machine."""
    return {local for local, remote, state, _inode in _tcp_table() if remote == port and state == "01"}


def kwok_server_port(cluster) -> int:
    """The port KWOK serves exec and port-forward on (the API server dials it per session)."""
    marker = str(cluster.workdir).encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"kwok-controller") and any(marker in a for a in argv):
            for a in argv:
                if a.startswith(b"--server-address="):
                    return int(a.rsplit(b":", 1)[1])
    raise AssertionError("the demo cluster's kwok-controller was not found")


def still_established(local_ports: set[int], api_port: int) -> set[int]:
    """Those connections that are still open at either end (ESTABLISHED is state 01)."""
    out = set()
    for local, remote, state, _inode in _tcp_table():
        if state != "01":
            continue
        if remote == api_port and local in local_ports:
            out.add(local)
        if local == api_port and remote in local_ports:
            out.add(remote)
    return out


# --- the cockpit in tmux ----------------------------------------------------------------------------

class Cockpit:
    def __init__(self, tmp: Path, env: dict, args: str, *, block_sighup: bool, size=(100, 30)):
        self.sock = str(tmp / "hangup-tmux.sock")
        exe = cockpit_command()
        cmd = f"{exe} {args}"
        if block_sighup:
            cmd = f"{shlex.quote(sys.executable)} -c {shlex.quote(SIGHUP_BLOCKED)} {cmd}"
        # The shell stays after the cockpit ends, so the pane (and its screen) can be looked at.
        self._tmux("new-session", "-d", "-s", "e2e", "-x", str(size[0]), "-y", str(size[1]),
                   f"{cmd}; sleep 60", env=env)
        shell = int(self._tmux("display", "-p", "-t", "e2e", "#{pane_pid}").strip())
        self.pid = self._child_of(shell)

    def _tmux(self, *args: str, env: dict | None = None) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], env=env, capture_output=True, text=True,
                              check=True).stdout

    @staticmethod
    def _child_of(shell: int) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for task in os.listdir(f"/proc/{shell}/task"):
                with open(f"/proc/{shell}/task/{task}/children") as f:
                    for pid in f.read().split():
                        with open(f"/proc/{pid}/cmdline", "rb") as c:
                            if b"cockpit" in c.read():
                                return int(pid)
            time.sleep(0.05)
        raise AssertionError("the cockpit process did not start")

    def screen(self) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p", "-t", "e2e"],
                              capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        for k in keys:
            self._tmux("send-keys", "-t", "e2e", k)
            time.sleep(0.2)  # a lone ESC followed at once by a key reads as alt+key

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "e2e", "-l", text)

    def wait_for(self, pattern: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared; screen:\n{text}")

    def alternate_screen(self) -> bool:
        return self._tmux("display", "-p", "-t", "e2e", "#{alternate_on}").strip() == "1"

    def kill_server(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def cockpit(demo_cluster, tmp_path):
    if not shutil.which("tmux"):
        unavailable("tmux is not installed")
    if not cockpit_command():
        unavailable("the cockpit command is not installed")
    env = {**os.environ, "KUBECONFIG": str(demo_cluster.kubeconfig), "TERM": "xterm-256color"}
    started: list[Cockpit] = []

    def start(args: str, *, block_sighup: bool = False) -> Cockpit:
        c = Cockpit(tmp_path, env, args, block_sighup=block_sighup)
        started.append(c)
        return c

    yield start
    for c in started:
        c.kill_server()
        if alive(c.pid):  # never leave one behind, whatever the test found
            os.kill(c.pid, 9)


def end(term: Cockpit, ending: str) -> float:
    """End the cockpit the given way; the seconds it took to be gone (fails past DEADLINE)."""
    if ending == "sigterm":
        os.kill(term.pid, 15)
    else:  # kill-server and eof: the pty goes away (eof: the cockpit cannot see the SIGHUP)
        term.kill_server()
    took = seconds_until_gone(term.pid, DEADLINE)
    print(f"\n{ending}: cockpit gone after {took if took is None else round(took, 3)} s")
    assert took is not None, f"the cockpit (pid {term.pid}) still runs {DEADLINE}s after {ending}"
    if ending == "sigterm":
        # The terminal is still there: it has been given back (the normal screen, the shell's).
        assert not term.alternate_screen(), "the terminal was left on the cockpit's screen"
        term.kill_server()
    return took


def assert_api_connections_closed(ports: set[int], api_port: int) -> None:
    assert ports, "the cockpit had no connection to the API server to begin with"
    deadline = time.monotonic() + SOCKETS_DEADLINE
    while still_established(ports, api_port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not still_established(ports, api_port), "connections to the API server outlived the cockpit"


def start_live(cockpit, ending: str, args: str = "--context cockpit-demo -n team-vision") -> Cockpit:
    term = cockpit(args, block_sighup=ending == "eof")
    term.wait_for(r"● live")
    return term


def on_alice(term: Cockpit) -> None:
    term.keys("/")
    term.type("dev-box-alice")
    term.keys("Enter")
    term.wait_for(r"dev-box-alice\s")


# --- the states -------------------------------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm", "eof"])
def test_idle(cockpit, demo_cluster, ending):
    term = start_live(cockpit, ending)
    ports = api_connections(term.pid, demo_cluster.port)
    end(term, ending)
    assert_api_connections_closed(ports, demo_cluster.port)


@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm", "eof"])
def test_inside_exec(cockpit, demo_cluster, ending):
    kwok = kwok_server_port(demo_cluster)
    term = start_live(cockpit, ending)
    on_alice(term)
    before = established_to(kwok)
    term.keys("s")
    term.wait_for(r"exec into team-vision/dev-box-alice")
    # KWOK runs the shell on this machine: its pid shows the remote session is the real thing.
    term.type("echo remote-shell-$$")
    term.keys("Enter")
    remote = int(re.search(r"(?m)^remote-shell-(\d+)", term.wait_for(r"(?m)^remote-shell-\d+")).group(1))
    try:
        assert alive(remote)
        session = established_to(kwok) - before  # the API server's stream to KWOK for this exec
        assert session, "no exec stream from the API server to KWOK was found"
        ports = api_connections(term.pid, demo_cluster.port)
        end(term, ending)
        assert_api_connections_closed(ports, demo_cluster.port)
        # The remote session is closed: the API server dropped its stream to the node.
        deadline = time.monotonic() + SOCKETS_DEADLINE
        while session & established_to(kwok) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not session & established_to(kwok), "the exec stream to the node outlived the cockpit"
        # KWOK itself keeps the shell's pty open until the shell exits, whoever closed the stream
        # (kubectl exec leaves it the same way), so the shell is not asserted on: only reported.
        print(f"KWOK's shell {remote} {'still runs' if alive(remote) else 'ended'}")
    finally:
        if alive(remote):
            os.kill(remote, 9)


@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm"])
def test_with_a_port_forward_open(cockpit, demo_cluster, ending):
    term = start_live(cockpit, ending)
    on_alice(term)
    term.keys("F")
    term.wait_for(r"Port-forward team-vision/dev-box-alice")
    term.keys("Enter")
    local = int(re.search(r"forwarding http://127\.0\.0\.1:(\d+)", term.wait_for(r"forwarding http://")).group(1))
    # A live tunnel: one request answered, the connection kept open.
    conn = socket.create_connection(("127.0.0.1", local), timeout=10)
    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.recv(64).startswith(b"HTTP/1.")
    ports = api_connections(term.pid, demo_cluster.port)
    end(term, ending)
    assert_api_connections_closed(ports, demo_cluster.port)
    conn.settimeout(SOCKETS_DEADLINE)
    try:
        rest = b""
        while chunk := conn.recv(65536):  # the rest of the answer, then the end
            rest += chunk
    except ConnectionResetError:
        pass
    finally:
        conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", local), timeout=2).close()


@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm"])
def test_with_a_delete_confirmation_open(cockpit, demo_cluster, kube_admin, ending):
    term = start_live(cockpit, ending)
    on_alice(term)
    term.keys("C-d")
    term.wait_for(r"Delete 1 pod")
    ports = api_connections(term.pid, demo_cluster.port)
    end(term, ending)
    assert_api_connections_closed(ports, demo_cluster.port)
    pod = client.CoreV1Api(kube_admin).read_namespaced_pod("dev-box-alice", "team-vision")
    assert pod.metadata.deletion_timestamp is None, "a hang-up confirmed the delete"


@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm"])
def test_with_the_launch_form_open(cockpit, demo_cluster, ending):
    term = start_live(cockpit, ending)
    term.keys("n")
    term.wait_for(r"Launch: pick a preset")
    term.wait_for(r"pytorch-train")  # the presets arrive from a worker
    term.keys("Down", "Enter")
    term.wait_for(r"Launch \S+ into team-vision")
    ports = api_connections(term.pid, demo_cluster.port)
    end(term, ending)
    assert_api_connections_closed(ports, demo_cluster.port)


@pytest.fixture
def big_namespace(kube_admin, unique_name):
    """BIG_NAMESPACE_PODS pods that no scheduler takes (they stay Pending and cost nothing), each
    with a FILLER_BYTES annotation, so the cockpit's first list takes seconds on this machine."""
    core = client.CoreV1Api(kube_admin)
    ns = f"hangup-{unique_name}"[:63].rstrip("-")
    core.create_namespace({"metadata": {"name": ns}})
    filler = "x" * FILLER_BYTES

    def make(i: int) -> None:
        core.create_namespaced_pod(ns, {
            "metadata": {"name": f"p-{i:05d}", "annotations": {"demo.gpu-cockpit.dev/filler": filler}},
            "spec": {"schedulerName": "nobody", "containers": [{"name": "c", "image": "x"}]}})

    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(BIG_NAMESPACE_PODS)))
    print(f"\ncreated {BIG_NAMESPACE_PODS} pods in {time.monotonic() - t0:.1f} s")
    yield ns
    core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
    core.delete_namespace(ns)


@pytest.mark.e2e
@pytest.mark.parametrize("ending", ["kill-server", "sigterm"])
def test_during_the_first_list_of_a_big_cluster(cockpit, demo_cluster, big_namespace, ending):
    term = cockpit("--context cockpit-demo -A", block_sighup=ending == "eof")
    term.wait_for(r"connecting|Loading", timeout=20)
    deadline = time.monotonic() + 20
    ports: set[int] = set()
    while not ports and time.monotonic() < deadline:  # the list has begun
        ports = api_connections(term.pid, demo_cluster.port)
        time.sleep(0.02)
    screen = term.screen()
    assert "● live" not in screen, "the first list ended before the test could cut it"
    end(term, ending)
    assert_api_connections_closed(ports, demo_cluster.port)
