"""Exec and port-forward through the demo cluster's API server (KWOK runs exec commands on this
host and forwards pod ports to a local HTTP stand-in that answers "Jupyter")."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import struct
import termios
import threading
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.kube.exec import ExecError, ExecSession, exit_status, run_command, shell_command
from cockpit.kube.portforward import ACTIVE, POD_GONE, STOPPED, PortForwardManager
from tests.conftest import wait_for

NS = "cockpit-pf-test"
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def core(api):
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def namespace(kube_admin):
    api = core(kube_admin)
    try:
        api.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    except ApiException as e:
        if e.status != 409:
            raise

    def default_sa():
        return any(sa.metadata.name == "default" for sa in api.list_namespaced_service_account(NS).items)

    wait_for(default_sa, 30, what="default service account")
    yield NS
    api.delete_namespace(NS)


@pytest.fixture
def manager(kube_admin):
    m = PortForwardManager(lambda: kube_admin)
    yield m
    m.stop_all()


def make_pod(kube_admin, name: str, labels: dict | None = None) -> None:
    api = core(kube_admin)
    api.create_namespaced_pod(NS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "web", "image": "busybox", "command": ["sleep", "infinity"],
                                 "ports": [{"containerPort": 8888, "name": "http"}]}]}})
    wait_for(lambda: api.read_namespaced_pod(name, NS).status.phase == "Running", 30, what=f"{name} Running")


def http_get(port: int, idle_before_request: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if idle_before_request:
            time.sleep(idle_before_request)
        s.sendall(REQUEST)
        data = b""
        # The stand-in sends Content-Length; stop reading once the body is complete.
        while True:
            part = s.recv(4096)
            if not part:
                break
            data += part
            head, sep, body = data.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if sep and length and len(body) >= length[0]:
                break
    return data


# --- exec -------------------------------------------------------------------------------------


def test_exit_status_reads_kubelet_and_kwok_forms():
    assert exit_status(b'{"status":"Success"}') == 0
    kubelet = (b'{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":'
               b'[{"reason":"ExitCode","message":"7"}]},"message":"command terminated with non-zero exit code"}')
    assert exit_status(kubelet) == 7
    assert exit_status(b'{"status":"Failure","message":"cmd wait: sh -c exit 3: exit status 3","code":500}') == 3
    with pytest.raises(ExecError, match="executable file not found"):
        exit_status(b'{"status":"Failure","message":"exec: \\"bash\\": executable file not found in $PATH"}')
    with pytest.raises(ExecError):
        exit_status(b"")


def test_shell_command_prefers_bash_and_falls_back_to_sh():
    argv = shell_command()
    assert argv[:2] == ["sh", "-c"] and "bash" in argv[2] and "exec sh" in argv[2]


def test_run_command_returns_output_and_exit_code(kube_admin):
    code, out = run_command(kube_admin, "team-vision", "dev-box-alice", "jupyter",
                            ["sh", "-c", "echo out-$((6*7)); echo err >&2; exit 4"])
    assert code == 4
    assert "out-42" in out and "err" in out
    assert run_command(kube_admin, "team-vision", "dev-box-alice", "jupyter", ["true"]) == (0, "")


def test_run_command_in_a_missing_container_is_an_exec_error(kube_admin):
    with pytest.raises(ExecError, match="not valid") as e:
        run_command(kube_admin, "team-vision", "dev-box-alice", "no-such-container", ["true"])
    assert e.value.status == 400


def test_exec_is_forbidden_for_the_viewer(kube_viewer):
    with pytest.raises(ExecError, match="forbidden") as e:
        run_command(kube_viewer, "team-vision", "dev-box-alice", "jupyter", ["true"])
    assert e.value.status == 403


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_interactive_session_through_a_pty_sends_sizes_and_returns_the_exit_status(kube_admin):
    master, slave = os.openpty()
    set_size(slave, 33, 100)
    output = bytearray()
    got = threading.Condition()

    def read_master():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            with got:
                output.extend(data)
                got.notify_all()

    def wait_output(text: bytes, timeout: float = 15) -> bool:
        with got:
            return got.wait_for(lambda: text in output, timeout)

    def type_commands():
        os.write(master, b"stty size\r")
        if not wait_output(b"33 100"):
            return
        set_size(slave, 40, 120)
        os.kill(os.getpid(), signal.SIGWINCH)  # what the terminal does on a resize
        time.sleep(0.5)
        # h''i: the echo of the typed line must not be what matches "hi" below. The sleep: KWOK
        # closes the session when the shell exits without waiting for the pty's last output.
        os.write(master, b"stty size; echo h''i; sleep 0.5; exit 3\r")

    reader = threading.Thread(target=read_master, daemon=True)
    typist = threading.Thread(target=type_commands, daemon=True)
    reader.start()
    typist.start()
    session = ExecSession(kube_admin, "team-vision", "dev-box-alice", "jupyter")
    before = termios.tcgetattr(slave)
    try:
        status = session.run_interactive(slave, slave)
        assert termios.tcgetattr(slave) == before  # raw mode undone
        # What the session wrote to the pty may still be on its way to the reader thread.
        assert wait_output(b"\nhi\r\n", 5), bytes(output)
    finally:
        typist.join(20)
        os.close(slave)  # the reader then gets EIO and ends
        reader.join(5)
        os.close(master)
    text = re.sub(rb"\x1b\[[0-?]*[ -/]*[@-~]", b"", bytes(output)).replace(b"\r", b"")
    assert status == 3
    assert b"\nhi\n" in text, text
    assert b"\n33 100\n" in text and b"\n40 120\n" in text, text
    assert session.sent_sizes == [(100, 33), (120, 40)]


# --- port-forward -----------------------------------------------------------------------------


def test_forward_carries_http_counts_traffic_and_survives_idle(manager):
    fwd = manager.start("team-vision", "dev-box-alice", 8888, local_port=0)
    assert fwd.local_address == "127.0.0.1" and fwd.local_port > 0
    wait_for(lambda: fwd.status == ACTIVE, 20, what="forward active")

    reply = http_get(fwd.local_port)
    assert reply.startswith(b"HTTP/1.") and b"Jupyter" in reply
    wait_for(lambda: fwd.bytes_in >= len(reply), 10, what="bytes counted")
    assert fwd.bytes_out == len(REQUEST)
    assert fwd.total_connections == 1

    time.sleep(3)  # an idle listener stays
    assert b"Jupyter" in http_get(fwd.local_port)
    assert b"Jupyter" in http_get(fwd.local_port, idle_before_request=3)  # an idle connection too
    assert fwd.total_connections == 3 and fwd.status == ACTIVE
    assert fwd.bytes_out == 3 * len(REQUEST)
    assert [f.id for f in manager.list()] == [fwd.id]


def test_default_local_port_is_the_remote_one_when_free(manager):
    from cockpit.kube.portforward import port_is_free

    was_free = port_is_free(6006)
    first = manager.start("team-vision", "dev-box-alice", 6006)
    assert first.local_port == 6006 if was_free else first.local_port not in (0, 6006)
    second = manager.start("team-vision", "dev-box-alice", 6006)  # 6006 is taken now: another port
    assert second.local_port not in (0, 6006, first.local_port)
    assert b"Jupyter" in http_get(second.local_port)


def test_deleting_the_pod_breaks_the_forward(kube_admin, namespace, manager, unique_name):
    make_pod(kube_admin, unique_name)
    fwd = manager.start(namespace, unique_name, 8888, local_port=0)
    wait_for(lambda: fwd.status == ACTIVE, 20, what="forward active")
    assert b"Jupyter" in http_get(fwd.local_port)

    core(kube_admin).delete_namespaced_pod(unique_name, namespace)
    wait_for(lambda: fwd.status == POD_GONE, 30, what="status broken")
    assert fwd.broken
    # The listener stays (the pod may come back); a connection is accepted and closed.
    with socket.create_connection(("127.0.0.1", fwd.local_port), timeout=10) as s:
        assert s.recv(4096) == b""
    assert fwd.status == POD_GONE


def test_forward_with_an_owner_retargets_to_the_replacement_pod(kube_admin, namespace, manager, unique_name):
    label = {"app": unique_name}
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    make_pod(kube_admin, first, label)
    fwd = manager.start(namespace, first, 8888, local_port=0,
                        owner={"kind": "ReplicaSet", "selector": f"app={unique_name}"})
    wait_for(lambda: fwd.status == ACTIVE, 20, what="forward active")
    assert b"Jupyter" in http_get(fwd.local_port)

    core(kube_admin).delete_namespaced_pod(first, namespace)
    wait_for(lambda: fwd.status == POD_GONE, 30, what="broken while no replacement runs")
    make_pod(kube_admin, second, label)
    wait_for(lambda: fwd.pod == second and fwd.status == ACTIVE, 30, what="re-targeted")
    assert fwd.target == f"{namespace}/{second}:8888" and fwd.retargets == 1
    assert b"Jupyter" in http_get(fwd.local_port)


def test_stop_and_stop_all_close_the_listeners(manager):
    a = manager.start("team-vision", "dev-box-alice", 8888, local_port=0)
    b = manager.start("team-vision", "dev-box-alice", 6006, local_port=0)
    assert b"Jupyter" in http_get(a.local_port)
    # A connection that is open when the forward stops is closed too.
    live = socket.create_connection(("127.0.0.1", b.local_port), timeout=10)
    wait_for(lambda: b.open_connections == 1, 10, what="connection accepted")

    assert manager.stop(a.id) and not manager.stop(a.id)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", a.local_port), timeout=5)
    manager.stop_all()
    assert manager.list() == [] and b.status == STOPPED
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", b.local_port), timeout=5)
    try:
        live.settimeout(10)
        assert live.recv(4096) == b""
    finally:
        live.close()
    wait_for(lambda: b.open_connections == 0, 10, what="connection threads ended")


def test_forward_refuses_a_taken_local_port(manager):
    from cockpit.kube.portforward import ForwardError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ForwardError, match="cannot listen"):
            manager.start("team-vision", "dev-box-alice", 8888, local_port=s.getsockname()[1])
    assert manager.list() == []
