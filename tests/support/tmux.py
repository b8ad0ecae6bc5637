"""The installed `cockpit` in a real terminal: a tmux server of the test's own, keys sent the
ways a terminal delivers them, and the screen read back with `capture-pane`.

Keys: `keys()` sends each key alone with a pause (slow typing, one key at a time); `burst()`
sends a whole string in one `send-keys -l` (what a paste, SSH or a fast typist delivers);
`press()` sends named keys (Enter, Escape, C-d) together in one write.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import unavailable

PAUSE = 0.2  # between slow keys: a lone ESC followed at once by a key reads as alt+key


def cockpit_command() -> str:
    exe = Path(sys.executable).parent / "cockpit"
    return str(exe) if exe.exists() else (shutil.which("cockpit") or "")


class Tmux:
    def __init__(self, tmp: Path, env: dict, cmd: str, size=(80, 24), cwd: Path | None = None):
        # A short path of its own: a socket path over ~100 bytes fails, and two terminals in one
        # test must not share a server.
        self.sock = os.path.join(tempfile.mkdtemp(prefix="cockpit-e2e-"), "tmux.sock")
        self.env = env
        args = ["tmux", "-S", self.sock, "new-session", "-d", "-s", "e2e", "-x", str(size[0]), "-y", str(size[1])]
        if cwd is not None:
            args += ["-c", str(cwd)]
        subprocess.run([*args, cmd], env=env, check=True)

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "e2e").stdout

    def keys(self, *keys: str) -> None:
        """Each argument in a send-keys of its own, with a pause after it (tmux key names work)."""
        for k in keys:
            subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "e2e", k], check=True)
            time.sleep(PAUSE)

    def press(self, *keys: str) -> None:
        """Named keys (or words) in one send-keys: they reach the app in one read."""
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "e2e", *keys], check=True)

    def burst(self, text: str, then: str = "") -> None:
        """`text` literally, in one write, then the named key `then` (e.g. Enter) right after."""
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "e2e", "-l", text], check=True)
        if then:
            subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "e2e", then], check=True)

    def type_slowly(self, text: str, delay: float = 0.08) -> None:
        for ch in text:
            subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "e2e", "-l", ch], check=True)
            time.sleep(delay)

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; screen:\n{text}")

    def wait_gone(self, pattern: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if not re.search(pattern, text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} is still on the screen:\n{text}")

    def stays(self, pattern: str, seconds: float = 1.5) -> str:
        """The screen keeps matching `pattern` for `seconds` (nothing else took over)."""
        deadline = time.monotonic() + seconds
        text = self.screen()
        while time.monotonic() < deadline:
            text = self.screen()
            assert re.search(pattern, text), f"{pattern!r} left the screen:\n{text}"
            time.sleep(0.2)
        return text

    def kill(self) -> None:
        self._tmux("kill-server")
        shutil.rmtree(os.path.dirname(self.sock), ignore_errors=True)


@pytest.fixture
def tmux_cockpit(demo_cluster, tmp_path):
    """start(args, size, env=..., cwd=...) -> Tmux running the installed cockpit on the demo cluster.

    The configuration is the test's own (XDG dirs under tmp_path), so the developer's files
    never change what a test sees; `env` adds variables such as COCKPIT_CONFIG.
    """
    if not shutil.which("tmux"):
        unavailable("tmux is not installed")
    exe = cockpit_command()
    if not exe:
        unavailable("the cockpit command is not installed")
    base = {**os.environ, "KUBECONFIG": str(demo_cluster.kubeconfig), "TERM": "xterm-256color",
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
    for k in [k for k in base if k.startswith("COCKPIT_")]:
        del base[k]
    started = []

    def start(args: str = "", size=(80, 24), env: dict | None = None, cwd: Path | None = None) -> Tmux:
        # `sleep` keeps the pane (and what the cockpit printed last) after it exits.
        t = Tmux(tmp_path, {**base, **(env or {})}, f"{shlex.quote(exe)} {args}; sleep 60", size, cwd=cwd)
        started.append(t)
        return t

    yield start
    for t in started:
        t.kill()
