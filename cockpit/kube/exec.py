"""Exec into a container through the API server, the way `kubectl exec -it` does, without kubectl.

The API server speaks the v4 channel protocol over a websocket: every frame starts with a
channel byte (0 stdin, 1 stdout, 2 stderr, 3 the final status as JSON, 4 terminal size).
`kubernetes.stream` opens the websocket; the frames are read here directly so that the pump
can `select()` on the socket together with the local terminal (the TLS layer may hold
decrypted frames `select()` does not see, so those are drained before waiting again).

Blocking calls only: the interactive session takes over the process's terminal and is meant to
run while the UI is suspended (see `cockpit.ui.exec_action`); `run_command` belongs in a worker
thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import ssl
import termios
import threading
import time
import tty

from cockpit.kube.text import clean

STDIN, STDOUT, STDERR, STATUS, RESIZE = 0, 1, 2, 3, 4

# bash when the image has it, else sh: distroless-ish images often have only busybox sh.
SHELL_PROBE = "command -v bash >/dev/null 2>&1 && exec bash || exec sh"

# Without a signal handler (a thread other than the main one), the terminal size is polled.
_SIZE_POLL_SECONDS = 0.5


class ExecError(Exception):
    """The exec could not start, or ended without an exit status. The message is clean text."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status of a refused handshake (403, 404, ...), if any


class SessionHungUp(Exception):
    """The session was cut from this side: the local terminal went away, or the process was told
    to end (`ExecSession.hang_up`). The remote side's connection is closed, so its shell ends."""


def shell_command() -> list[str]:
    """The command of an interactive session: bash if the container has it, else sh."""
    return ["sh", "-c", SHELL_PROBE]


# --- errors and status ------------------------------------------------------------------------

_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def websocket_failure(e: BaseException) -> tuple[int | None, str]:
    """(HTTP status, message) of a failed `kubernetes.stream` call.

    The client wraps a refused websocket handshake in an ApiException with status 0 and a
    reason of the form "Handshake status 404 Not Found -+-+- {headers} -+-+- {Status JSON}";
    the numbers and the API server's own message are in there.
    """
    reason = str(getattr(e, "reason", "") or e)
    m = _HANDSHAKE.search(reason)
    code = int(m.group(1)) if m else (getattr(e, "status", None) or None)
    message = ""
    body = reason.rsplit(" -+-+- ", 1)[-1].strip()
    if body.startswith(("b'", 'b"')):
        body = body[2:-1]
    if body.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(body).get("message") or "")
    if not message:
        message = reason.split(" -+-+- ", 1)[0]
    return code, clean(message or type(e).__name__, 300)


def exit_status(raw: bytes | str | None) -> int:
    """The exit code carried by the final frame on the status channel.

    A kubelet sends Success, or Failure with reason NonZeroExitCode and the code as an ExitCode
    cause. KWOK (the demo cluster) sends an InternalError whose message ends in "exit status N".
    Anything else means the command did not run: ExecError with the server's message.
    """
    if not raw:
        raise ExecError("the connection closed without an exit status")
    try:
        st = json.loads(raw)
    except ValueError:
        raise ExecError(f"unreadable exit status: {clean(raw, 200)}") from None
    if not isinstance(st, dict):
        raise ExecError(f"unreadable exit status: {clean(raw, 200)}")
    if st.get("status") == "Success":
        return 0
    for cause in (st.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(cause.get("message"))
    message = str(st.get("message") or "")
    m = re.search(r"exit (?:status|code) (\d+)\s*$", message)
    if m:
        return int(m.group(1))
    raise ExecError(clean(message or "exec failed", 300))


# --- frames -----------------------------------------------------------------------------------


def _read_frames(ws) -> tuple[list[tuple[int, bytes]], bool]:
    """Every frame that can be read now without blocking past the first: [(channel, data)],
    and whether the connection is still open."""
    from websocket import ABNF, WebSocketConnectionClosedException

    sock = ws.sock
    frames: list[tuple[int, bytes]] = []
    while True:
        try:
            opcode, frame = sock.recv_data_frame(True)
        except (WebSocketConnectionClosedException, OSError):
            return frames, False
        if opcode == ABNF.OPCODE_CLOSE:
            return frames, False
        if opcode in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) and frame.data:
            data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            if len(data) > 1:
                frames.append((data[0], data[1:]))
        if not (isinstance(sock.sock, ssl.SSLSocket) and sock.sock.pending()):
            return frames, True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def _terminal_size(*fds: int) -> tuple[int, int] | None:
    for fd in fds:
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.columns and size.lines:
            return size.columns, size.lines
    return None


def _open(api, namespace: str, pod: str, container: str, command: list[str], *, tty_: bool, stdin: bool):
    from kubernetes import client
    from kubernetes.stream import stream

    try:
        return stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace,
                      container=container, command=command, stdin=stdin, stdout=True,
                      # With a TTY the remote side merges stderr into stdout (kubectl asks the same).
                      stderr=not tty_, tty=tty_, _preload_content=False, binary=True)
    except Exception as e:  # ApiException, the read-only guard, network errors
        code, message = websocket_failure(e)
        raise ExecError(message, code) from e


# --- the sessions -----------------------------------------------------------------------------


class ExecSession:
    """An interactive TTY session in one container; `run_interactive` blocks until it ends."""

    def __init__(self, api, namespace: str, pod: str, container: str, command: list[str] | None = None):
        self.api = api
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.command = list(command) if command else shell_command()
        self.sent_sizes: list[tuple[int, int]] = []  # (cols, rows) sent on the resize channel
        self.hung_up = False
        self._wake_w = -1

    def hang_up(self) -> None:
        """End the session from any thread or a signal handler: `run_interactive` closes the
        connection and raises SessionHungUp."""
        self.hung_up = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"h")

    def run_interactive(self, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
        """Connect the local terminal to the container until the remote side closes; returns
        the command's exit status. Raises ExecError when the exec cannot start (forbidden, pod
        or container gone, no such command) or ends without a status, and SessionHungUp when the
        local terminal goes away (end of file on a tty) or `hang_up` is called.

        The local terminal is in raw mode for the session (every key, ctrl-c included, goes to
        the container) and is restored however the session ends."""
        ws = _open(self.api, self.namespace, self.pod, self.container, self.command, tty_=True, stdin=True)
        saved = None
        if os.isatty(stdin_fd):
            saved = termios.tcgetattr(stdin_fd)
            # TCSADRAIN rather than setraw's default TCSAFLUSH: keys typed ahead are not lost.
            tty.setraw(stdin_fd, termios.TCSADRAIN)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        self._wake_w = wake_w
        previous_handler = None
        on_main = threading.current_thread() is threading.main_thread()
        if on_main:
            def on_winch(_sig, _frame):
                with contextlib.suppress(OSError):
                    os.write(wake_w, b"w")
            previous_handler = signal.signal(signal.SIGWINCH, on_winch)
        try:
            if self.hung_up:  # asked to end while the connection was being opened
                raise SessionHungUp("the session was ended")
            return self._pump(ws, stdin_fd, stdout_fd, wake_r, poll_size=not on_main, on_tty=saved is not None)
        finally:
            self._wake_w = -1
            if on_main:
                signal.signal(signal.SIGWINCH, previous_handler or signal.SIG_DFL)
            if saved is not None:
                # TCSANOW when hung up: draining output to a terminal that is gone could wait forever.
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(stdin_fd, termios.TCSANOW if self.hung_up else termios.TCSADRAIN, saved)
            os.close(wake_r)
            os.close(wake_w)
            with contextlib.suppress(Exception):
                # Hung up: no waiting for the server's close frame; the process may be ending.
                ws.close(timeout=0.2) if self.hung_up else ws.close()

    def _send_size(self, ws, size: tuple[int, int] | None) -> None:
        if size is None or (self.sent_sizes and self.sent_sizes[-1] == size):
            return
        cols, rows = size
        ws.write_channel(RESIZE, json.dumps({"Width": cols, "Height": rows}).encode())
        self.sent_sizes.append(size)

    def _pump(self, ws, stdin_fd: int, stdout_fd: int, wake_r: int, *, poll_size: bool, on_tty: bool) -> int:
        from websocket import WebSocketConnectionClosedException

        self._send_size(ws, _terminal_size(stdout_fd, stdin_fd))
        status = b""
        sock = ws.sock.sock
        reading_stdin = True
        while True:
            watch = [sock, wake_r] + ([stdin_fd] if reading_stdin else [])
            try:
                ready, _, _ = select.select(watch, [], [], _SIZE_POLL_SECONDS if poll_size else None)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select itself
                continue
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 64)
            if self.hung_up:
                raise SessionHungUp("the session was ended")
            if wake_r in ready or poll_size:
                with contextlib.suppress(WebSocketConnectionClosedException, OSError):
                    self._send_size(ws, _terminal_size(stdout_fd, stdin_fd))
            if stdin_fd in ready:
                try:
                    data = os.read(stdin_fd, 65536)
                except OSError:  # EIO: the terminal hung up
                    data = b""
                if not data and on_tty:
                    # A terminal only ends when it goes away (raw mode: ctrl-d is a byte).
                    self.hung_up = True
                    raise SessionHungUp("the terminal went away")
                if data:
                    with contextlib.suppress(WebSocketConnectionClosedException, OSError):
                        ws.write_channel(STDIN, data)
                else:
                    # End of input (not a terminal). The v4 protocol cannot half-close stdin,
                    # so the remote command decides when the session ends.
                    reading_stdin = False
            if sock in ready:
                frames, open_ = _read_frames(ws)
                for channel, data in frames:
                    if channel in (STDOUT, STDERR):
                        _write_all(stdout_fd, data)
                    elif channel == STATUS:
                        status += data
                if not open_:
                    return exit_status(status)


def run_command(api, namespace: str, pod: str, container: str, argv: list[str],
                timeout: float = 60.0) -> tuple[int, str]:
    """Run `argv` without a TTY; (exit code, stdout and stderr interleaved as received).
    Blocking: call from a worker thread. Raises ExecError when the command could not run or
    did not finish within `timeout` seconds."""
    ws = _open(api, namespace, pod, container, list(argv), tty_=False, stdin=False)
    out = bytearray()
    status = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExecError(f"{' '.join(argv)[:80]} did not finish within {timeout:g}s")
            ready, _, _ = select.select([ws.sock.sock], [], [], left)
            if not ready:
                continue
            frames, open_ = _read_frames(ws)
            for channel, data in frames:
                if channel in (STDOUT, STDERR):
                    out += data
                elif channel == STATUS:
                    status += data
            if not open_:
                return exit_status(status), out.decode("utf-8", "replace")
    finally:
        with contextlib.suppress(Exception):
            ws.close()
