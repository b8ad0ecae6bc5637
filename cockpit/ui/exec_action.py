"""`s` on a pod: a shell in the container, on the real terminal, then back to the cockpit.

Threading, on purpose: `App.suspend()` must be entered on the UI thread (it stops the driver,
gives the terminal back in its original mode, and restarts the driver on exit), so the blocking
`ExecSession` runs right there, inside the `with` block. The event loop is paused meanwhile;
nothing is lost by that: informer threads keep batching changes into the hub and the UI drains
them when it resumes. The same thread is also the main thread, which lets the session install
its SIGWINCH handler for terminal resizes.

While the session runs the event loop cannot act on a hang-up, so the process's shutdown (see
`cockpit.hangup`) ends the session itself. A session cut that way leaves the `with` block by an
exception: Textual then does not take the terminal back (it may be gone), and the app exits.
"""

from __future__ import annotations

import sys

from textual.app import App, SuspendNotSupported

from cockpit import hangup
from cockpit.kube.exec import ExecError, ExecSession, SessionHungUp
from cockpit.kube.text import clean


def banner(namespace: str, pod: str, container: str) -> str:
    return f"exec into {clean(namespace)}/{clean(pod)} ({clean(container)}) — exit the shell to return"


def exec_into(app: App, api, namespace: str, pod: str, container: str,
              command: list[str] | None = None) -> int | None:
    """Run an interactive shell (or `command`) in the container with the app suspended, then
    tell the user how it ended. Call on the UI thread (from an action). Returns the exit status,
    or None when the session could not run."""
    session = ExecSession(api, namespace, pod, container, command)
    where = f"{clean(namespace)}/{clean(pod)}"
    status: int | None = None
    error = ""
    shutdown = hangup.installed()
    stop_watching = shutdown.on_stop(session.hang_up) if shutdown else None
    try:
        with app.suspend():
            # The terminal Textual drew on: its driver writes to stderr, the user may redirect stdout.
            out = sys.__stdout__ if sys.__stdout__.isatty() or not sys.__stderr__.isatty() else sys.__stderr__
            out.write(f"\r\n{banner(namespace, pod, container)}\r\n")
            out.flush()
            try:
                status = session.run_interactive(sys.__stdin__.fileno(), out.fileno())
            except ExecError as e:
                error = str(e)
            except OSError as e:  # the terminal or the connection failed mid-session
                error = clean(f"{type(e).__name__}: {e}", 300)
    except SuspendNotSupported:
        app.notify("exec needs a real terminal; this one cannot hand over", severity="error", timeout=6)
        return None
    except SessionHungUp:
        # The terminal is gone or the process is ending: nothing to show, nobody to show it to.
        if shutdown:
            shutdown.trigger(hangup.TERMINAL_GONE)
        app.exit()
        return None
    finally:
        if stop_watching:
            stop_watching()
    if error:
        app.notify(f"exec into {where} failed: {error}", severity="error", timeout=8)
    elif status == 0:
        app.notify(f"exec into {where} ended (exit 0)", timeout=3)
    else:
        app.notify(f"exec into {where} ended with exit status {status}", severity="warning", timeout=6)
    return status
