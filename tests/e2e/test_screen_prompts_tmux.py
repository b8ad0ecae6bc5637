"""The prompts and fields of the screens over the table, in the installed `cockpit`, in tmux at
80x24 against the demo cluster: the log view's search and save, the typed-name delete
confirmation, and the launch form's Tab. Keys go in as a terminal delivers them in one burst
(a single write: SSH, a paste, a fast typist) and as a bracketed paste; the assertions read the
captured screen and the cluster (or the saved file)."""

from __future__ import annotations

import re
import subprocess
import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.demo.simulator import append_lines
from tests.conftest import wait_for
from tests.e2e.test_prompt_tmux import paste
from tests.e2e import test_readme_flows as flows
from tests.e2e.test_readme_flows import NS, core, flat, open_on, running_pod, short_name
from tests.support.tmux import Tmux

undo = flows.undo  # objects made by a journey are deleted after it

ADMIN = f"--context cockpit-demo -n {NS}"
# Every letter of these is a key of the log view (s save, t timestamps, e, p previous, w wrap,
# c container, n next match, G follow, k/j scroll): typed into the prompt, none may act.
WORD = "stepwatch-42"
OTHER = "gnarly-jinks"


def one_write(term: Tmux, text: str) -> None:
    """`text` in a single send-keys -l: one write to the terminal, `\\r` is Enter."""
    subprocess.run(["tmux", "-S", term.sock, "send-keys", "-t", "e2e", "-l", text], check=True)


def status_line(screen: str) -> str:
    """The log view's status line: the one saying whether it follows."""
    return next(line for line in screen.splitlines() if re.search(r"\b(following|paused)\b", line))


def picker_or_prompt(screen: str) -> bool:
    """The container picker (a box titled Container) or a log prompt is open."""
    return bool(re.search(r"╭[─ ]*Container|^ ?(/|save to )", screen, re.M))


def log_pod(kube_admin, demo_cluster, undo, name: str, lines: list[str]) -> None:
    """A Running pod whose log (served by KWOK through the API server) is `lines`."""
    logfile = demo_cluster.logs_dir / f"{name}.log"
    append_lines(logfile, lines)
    undo(lambda: logfile.unlink(missing_ok=True))
    running_pod(kube_admin, undo, name)
    custom = client.CustomObjectsApi(kube_admin)
    custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", NS, "logs", {
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": name},
        "spec": {"logs": [{"containers": ["main"], "logsFile": str(logfile), "follow": True}]}})
    undo(lambda: custom.delete_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", NS, "logs", name))

    def served():
        try:
            return lines[-1] in core(kube_admin).read_namespaced_pod_log(name, NS, container="main", tail_lines=3)
        except ApiException:
            return False

    wait_for(served, 30, what="log served")


def test_log_search_and_save_typed_in_one_burst_and_pasted(tmux_cockpit, kube_admin, demo_cluster, undo, tmp_path):
    name = short_name("e2e-sp")
    lines = [f"line {i:02d} of the burst log" for i in range(40)]
    lines[12] += f" checkpoint {WORD} written"
    lines[30] += f" and {OTHER} here"
    log_pod(kube_admin, demo_cluster, undo, name, lines)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    term = tmux_cockpit(ADMIN, cwd=cwd)
    open_on(term, name)
    term.keys("l")
    term.wait_for(rf"Logs Pod {NS}/{name}")
    term.wait_for(r"streaming.*following.*40 lines")

    # `/`, the word and Enter in one write: the search applies, no key of it acted on the view.
    one_write(term, f"/{WORD}\r")
    screen = term.wait_for(rf"/{WORD}\s*$|/{WORD}\s*\n")
    status = status_line(screen)
    # At 80 columns the search stays on the status line (the pod, in the title, gave way).
    assert status.rstrip().endswith(f"/{WORD}"), status
    assert "paused" in status and "streaming" in status  # a search stops on its match
    assert not re.search(r"\b(wrap|timestamps|previous)\b", status), status
    assert f"Logs Pod {NS}/{name}" in screen and not picker_or_prompt(screen), screen
    # The status line can show the search one frame before the view has scrolled to its match.
    term.wait_for(rf"line 12 of the burst log checkpoint {WORD} written", timeout=5)

    # `/`, then the word as a bracketed paste, then Enter, back to back.
    term.press("/")
    paste(term, OTHER)
    term.press("Enter")
    # The pasted word shows in the prompt at once; the status line takes it once Enter is read.
    status = wait_for(lambda: (lambda st: st if st.rstrip().endswith(f"/{OTHER}") else "")(
        status_line(term.screen())), 15, interval=0.2, what=f"/{OTHER} on the status line")
    assert not re.search(r"\b(wrap|timestamps|previous)\b", status), status

    # `s`, ctrl+u (clears the offered name), a name full of log-view keys, Enter: one write.
    saved_as = "steps-twice c.log"
    one_write(term, f"s\x15{saved_as}\r")
    term.wait_for(r"saved \d+ lines")
    files = wait_for(lambda: sorted(p.name for p in cwd.iterdir()), 10, what="the saved file")
    assert files == [saved_as]
    assert (cwd / saved_as).read_text().splitlines() == lines
    screen = term.screen()
    assert not re.search(r"\b(wrap|timestamps|previous)\b", status_line(screen)), screen
    assert not picker_or_prompt(screen), screen


def test_typed_name_confirmation_shows_an_empty_field(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-pvt")
    core(kube_admin).create_namespaced_persistent_volume_claim(NS, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    undo(lambda: core(kube_admin).delete_namespaced_persistent_volume_claim(name, NS))
    term = tmux_cockpit(ADMIN)
    term.wait_for(r"● live")
    one_write(term, ":pvc\r")
    term.wait_for(r"PersistentVolumeClaims|PVC")
    one_write(term, f"/{name}\r")
    term.wait_for(rf"{name}\s")
    term.press("C-d")
    screen = term.wait_for(r"to delete, esc to cancel")
    assert f"Type '{name}' and press enter to delete, esc to cancel." in flat(screen)
    rows = screen.splitlines()
    hint = next(i for i, row in enumerate(rows) if "and press enter to delete" in row or "to delete, esc" in row)
    field = [row for row in rows[hint:] if "▊" in row and "▔" not in row and "▁" not in row]
    assert field, screen
    assert re.fullmatch(r"\s*│?\s*▊\s*▎\s*│?\s*", field[0]), f"the field is not empty:\n{screen}"
    # What is typed shows in the field; the name was nowhere in it before.
    one_write(term, name[:5])
    typed = term.wait_for(rf"▊\s*{re.escape(name[:5])}\s*▎")
    assert f"Type '{name}'" in flat(typed)
    term.keys("Escape")
    term.wait_gone(r"to delete, esc to cancel")


def test_text_typed_right_after_tab_lands_in_the_next_field(tmux_cockpit):
    term = tmux_cockpit(ADMIN)
    term.wait_for(r"● live", timeout=60)
    term.keys("n")
    term.wait_for(r"pytorch-train  PyTorch", timeout=60)
    term.keys("End", "Up", "Enter")  # pytorch-train: the one before the last (tensorboard)
    term.wait_for(rf"Launch pytorch-train into {NS}", timeout=60)
    # Tab, a name, Tab, an image: one write, as a paste or a fast typist delivers it.
    one_write(term, "\te2e-tab-run\tbusybox:1.36")
    screen = term.wait_for(r"busybox:1\.36", timeout=30)
    time.sleep(1.0)  # anything still queued has landed by now
    screen = term.screen()
    assert re.search(rf"namespace\s+▊?\s*{NS}\s*▎", screen), screen
    assert re.search(r"\bname\s+▊?\s*e2e-tab-run\s*▎", screen), screen
    assert re.search(r"\bimage\s+▊?\s*busybox:1\.36\s*▎", screen), screen
    term.keys("Escape")  # back to the preset list: nothing was created
    term.wait_for(r"pick a preset", timeout=30)
