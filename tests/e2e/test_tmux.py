"""The installed `cockpit` command in a real terminal (tmux) against the demo cluster."""

from __future__ import annotations

import os
import re
import subprocess
import time

from kubernetes import client

# Tmux, cockpit_command and the tmux_cockpit fixture live in tests/support/tmux.py; they stay
# importable from here for the e2e files that import them from this module.
from tests.support import tmux as _tmux
from tests.support.tmux import Tmux, cockpit_command  # noqa: F401

tmux_cockpit = _tmux.tmux_cockpit  # the fixture itself comes from tests/e2e/conftest.py


def api_gpu_used(api, node: str) -> int:
    pods = client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return sum(int((c.resources.limits or {}).get("nvidia.com/gpu", 0)) for p in pods
               if p.status.phase not in ("Succeeded", "Failed") for c in p.spec.containers if c.resources)


def test_gpu_pane_shows_what_the_api_says(tmux_cockpit, kube_admin):
    term = tmux_cockpit("--context cockpit-demo -A")
    term.wait_for(r"● live")
    term.keys(":", "gpu", "Enter")
    screen = term.wait_for(r"gpu-a100-02\s+gpu\s+\d+/8")
    used = int(re.search(r"gpu-a100-02\s+gpu\s+(\d+)/8", screen).group(1))
    assert used == api_gpu_used(kube_admin, "gpu-a100-02")
    assert "GPU allocation" in screen
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)


def test_quit_leaves_nothing_running(tmux_cockpit):
    def ours() -> list[str]:
        return subprocess.run(["pgrep", "-f", f"{cockpit_command()} --context cockpit-demo$"], capture_output=True,
                              text=True).stdout.split()

    term = tmux_cockpit("--context cockpit-demo")
    term.wait_for(r"● live")
    assert ours(), "the cockpit process should be running before quitting"
    term.keys("q")
    deadline = time.monotonic() + 3
    while ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ours()


def test_sighup_ends_the_cockpit_within_a_second(tmux_cockpit):
    import signal

    term = tmux_cockpit("--context cockpit-demo -A")
    term.wait_for(r"● live")
    pids = subprocess.run(["pgrep", "-f", f"{cockpit_command()} --context cockpit-demo -A$"], capture_output=True,
                          text=True).stdout.split()
    assert len(pids) == 1
    pid = int(pids[0])
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.02)
    state = open(f"/proc/{pid}/stat").read().split()[2] if os.path.exists(f"/proc/{pid}") else "gone"
    assert state in ("gone", "Z"), f"cockpit still running {time.monotonic() - deadline + 1.0:.2f}s after SIGHUP"


def test_shell_into_a_pod_and_back(tmux_cockpit):
    term = tmux_cockpit("--context cockpit-demo -n team-vision", size=(100, 30))
    term.wait_for(r"● live")
    term.keys("/", "dev-box-alice", "Enter")
    term.wait_for(r"dev-box-alice\s")
    term.keys("s")
    term.wait_for(r"exec into team-vision/dev-box-alice")
    time.sleep(1.0)
    term.keys("echo hello-from-$((6*7))", "Enter")
    term.wait_for(r"hello-from-42")
    term.keys("stty size", "Enter")
    term.wait_for(r"\b30 100\b")  # the terminal's size reached the remote side
    term.keys("exit", "Enter")
    screen = term.wait_for(r"● live", timeout=15)
    assert "dev-box-alice" in screen
