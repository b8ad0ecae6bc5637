"""The terminal went away (an SSH drop, `tmux kill-server`) or someone asked the process to stop:
end it within a second, whatever it was doing, so no orphan keeps watching the cluster.

Three ways in: SIGHUP, SIGTERM, and the terminal's end (poll() reports a hang-up on the tty, which
also covers a process that never saw the SIGHUP). Each starts the same shutdown, once, in a thread
of its own, because the UI thread may be the one that is stuck: inside an exec session, or blocked
writing to a terminal that is gone. The shutdown

1. runs the registered closers (wake an exec session, ask the app to exit, close port-forwards and
   watches), each guarded, none allowed to block for long;
2. gives the process `grace` seconds to end by itself (the normal exit restores the terminal;
   when the terminal hung up there is nothing to restore, and the wait is shorter);
3. then restores the terminal as it was before the app started (it may still be there after a
   SIGTERM) and ends the process with os._exit. The kernel closes whatever sockets are left.

Signals reach this module through `signal.set_wakeup_fd`, which the interpreter writes at delivery
time, so the watcher thread hears them even while the main thread is inside a blocking call that
does not return to Python. Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import termios
import threading
import time
from collections.abc import Callable

# Leave the alternate screen, show the cursor, stop mouse, focus and paste reporting, wrap lines:
# what a full-screen app has to undo when it could not stop cleanly.
_RESET_TERMINAL = (b"\x1b[<u\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l"
                   b"\x1b[?2004l\x1b[?7h\x1b[?1049l\x1b[?25h")

TERMINAL_GONE = -1  # the reason when the tty hung up without a signal

_installed: Shutdown | None = None


def installed() -> Shutdown | None:
    """The process's shutdown, once `install` ran (the TUI installs it; tests of parts need not)."""
    return _installed


def install(grace: float = 0.5, terminal_fd: int = 0) -> Shutdown:
    """Take over SIGHUP and SIGTERM and watch the terminal. Call on the main thread, before the
    app takes the terminal (its mode then is the one to restore)."""
    global _installed
    if _installed is None:
        _installed = Shutdown(grace=grace, terminal_fd=terminal_fd)
        _installed._install()
    return _installed


class Shutdown:
    def __init__(self, grace: float = 0.5, terminal_fd: int = 0):
        self.grace = grace
        self.terminal_fd = terminal_fd
        self.reason: int | None = None  # the signal number, or TERMINAL_GONE
        self.started_at: float | None = None
        self.terminal_restored = False  # the app restored it on its way out
        self._closers: list[Callable[[], None]] = []
        # Re-entrant: the signal handler runs on the main thread, maybe while it holds the lock.
        self._lock = threading.RLock()
        self._saved_mode = None
        self._wake_r = self._wake_w = -1
        self._watch_terminal = False

    @property
    def requested(self) -> bool:
        return self.reason is not None

    @property
    def exit_code(self) -> int:
        """128 + the signal, as a shell reports a process killed by it; a lost terminal is a hang-up."""
        return 128 + (signal.SIGHUP if self.reason in (None, TERMINAL_GONE) else self.reason)

    def on_stop(self, closer: Callable[[], None]) -> Callable[[], None]:
        """Run `closer` (from the shutdown thread) when the process is told to end; returns a
        function that unregisters it. Registered after the shutdown began, it runs at once."""
        with self._lock:
            late = self.requested
            if not late:
                self._closers.append(closer)
        if late:
            _guarded(closer)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._closers.remove(closer)
        return remove

    # -- ways in ---------------------------------------------------------------------------------
    def _install(self) -> None:
        # Decided here, not in the watcher: a terminal that hung up no longer passes isatty().
        self._watch_terminal = os.isatty(self.terminal_fd)
        if self._watch_terminal:
            with contextlib.suppress(termios.error):
                self._saved_mode = termios.tcgetattr(self.terminal_fd)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        on_main = threading.current_thread() is threading.main_thread()
        if on_main:
            signal.signal(signal.SIGHUP, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
            with contextlib.suppress(ValueError):
                previous = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
                if previous != -1:  # someone else listens there: leave it to them
                    signal.set_wakeup_fd(previous)
        threading.Thread(target=self._watch, name="terminal-watch", daemon=True).start()

    def _on_signal(self, signum, _frame) -> None:
        # Runs on the main thread whenever it gets back to Python; the watcher usually won already.
        self.trigger(signum)

    def _watch(self) -> None:
        poll = select.poll()
        poll.register(self._wake_r, select.POLLIN)
        if self._watch_terminal:
            poll.register(self.terminal_fd, 0)  # only POLLHUP / POLLERR: the input is Textual's
        while not self.requested:
            for fd, events in poll.poll():
                if fd == self._wake_r:
                    for byte in os.read(self._wake_r, 64):
                        if byte in (signal.SIGHUP, signal.SIGTERM):
                            self.trigger(byte)
                elif events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    self.trigger(TERMINAL_GONE)
                    return

    def trigger(self, reason: int) -> None:
        """Begin the shutdown (once; later calls do nothing). Safe from a signal handler."""
        with self._lock:
            if self.requested:
                return
            self.reason = reason
            self.started_at = time.monotonic()
            closers = list(self._closers)
        threading.Thread(target=self._shut_down, args=(closers,), name="shutdown", daemon=True).start()

    # -- the way out -----------------------------------------------------------------------------
    def _shut_down(self, closers: list[Callable[[], None]]) -> None:
        # The closers get a thread of their own: one that blocks must not move the deadline.
        threading.Thread(target=lambda: [_guarded(c) for c in closers], name="shutdown-closers",
                         daemon=True).start()
        assert self.started_at is not None
        # Waiting only buys a clean hand-back of the terminal; one that hung up needs none.
        grace = self.grace if self._terminal_still_there() else min(self.grace, 0.2)
        left = self.started_at + grace - time.monotonic()
        if left > 0:
            time.sleep(left)
        self.finish()

    def finish(self) -> None:
        """End the process now (restoring the terminal first unless the app already did)."""
        if not self.terminal_restored:
            # In a thread of its own: a write to a terminal that is stopped or gone must not hold
            # the exit up.
            t = threading.Thread(target=self._restore_terminal, name="terminal-restore", daemon=True)
            t.start()
            t.join(0.15)
        os._exit(self.exit_code)

    def _terminal_still_there(self) -> bool:
        return self._watch_terminal and os.isatty(self.terminal_fd)  # a hung-up tty fails isatty()

    def _restore_terminal(self) -> None:
        fd = self.terminal_fd
        if self._saved_mode is None:
            return
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, self._saved_mode)
        out = 2 if os.isatty(2) else fd  # Textual draws on stderr
        with contextlib.suppress(OSError):
            os.write(out, _RESET_TERMINAL)


def _guarded(closer: Callable[[], None]) -> None:
    try:
        closer()
    except Exception:  # noqa: BLE001 - one failing closer must not keep the others from running
        pass
