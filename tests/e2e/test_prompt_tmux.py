"""The `:` and `/` prompts in the installed `cockpit`, in tmux against the demo cluster, typed
the ways a terminal delivers keys: a whole string in one write (paste, SSH, a fast typist), one
key every 0.3 s, and a bracketed paste. Asserts on what the terminal shows and on the cluster:
nothing typed into a prompt may act on the table."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from kubernetes import client

from tests.conftest import wait_for
from tests.support.tmux import Tmux

ALL = "--context cockpit-demo -A"


def live(term: Tmux) -> str:
    return term.wait_for(r"● live")


def prompt_line(screen: str, rows: int) -> str:
    """The line just above the footer, where the prompt shows."""
    lines = screen.splitlines() + [""] * rows
    return lines[rows - 2]


def workflows(api) -> dict[str, tuple]:
    """Per workflow: what a stop, terminate, suspend or resubmit would change."""
    items = client.CustomObjectsApi(api).list_cluster_custom_object("argoproj.io", "v1alpha1", "workflows")["items"]
    return {f"{w['metadata']['namespace']}/{w['metadata']['name']}": (
        (w.get("spec") or {}).get("shutdown"), (w.get("spec") or {}).get("suspend"), w["metadata"].get("generation"))
        for w in items}


def paste(term: Tmux, text: str) -> None:
    """A bracketed paste, as a terminal sends one (ESC[200~ … ESC[201~)."""
    subprocess.run(["tmux", "-S", term.sock, "set-buffer", "-b", "e2e-paste", text], check=True)
    subprocess.run(["tmux", "-S", term.sock, "paste-buffer", "-p", "-d", "-b", "e2e-paste", "-t", "e2e"], check=True)


def test_burst_jobs_on_pods_opens_jobs_and_no_shell(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(":jobs", "Enter")
    screen = term.wait_for(r"Jobs \(\d+")
    assert "exec into" not in screen and "Shell" not in prompt_line(screen, 24)
    term.stays(r"Jobs \(\d+", 1.5)  # no shell, dialog or other pane took over


def test_burst_exp_on_workflows_stops_nothing(tmux_cockpit, kube_admin):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(":wf", "Enter")
    term.wait_for(r"Workflows \(\d+")
    before = workflows(kube_admin)
    assert before, "the demo cluster has workflows"
    term.burst(":exp", "Enter")  # `x` is stop, `p`… on the workflow table
    screen = term.wait_for(r"Experiments \(\d+")
    assert "Stop" not in screen.splitlines()[len(screen.splitlines()) // 2]
    time.sleep(2)  # a stop would have been sent by now
    after = workflows(kube_admin)
    assert {k: after.get(k) for k in before} == before


def test_unknown_command_with_a_hotkey_opens_nothing(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(":xxxd", "Enter")
    screen = term.wait_for(r"unknown command")
    assert "xxxd" in screen and "Describe Pod" not in screen
    term.stays(r"Pods \(\d+", 1.0)


def test_slow_typing_shows_each_key_in_the_prompt(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    term.type_slowly(":jobs", delay=0.3)
    screen = term.wait_for(r":jobs")
    assert prompt_line(screen, 24).strip() == ":jobs"
    term.keys("Enter")
    term.wait_for(r"Jobs \(\d+")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_typed_text_is_visible_above_the_footer(tmux_cockpit, size):
    term = tmux_cockpit(ALL, size=size)
    live(term)
    term.burst(":wor")
    screen = term.wait_for(r"(?s):wor.*⏎ Run")  # the footer follows within a repaint
    assert prompt_line(screen, size[1]).strip() == ":wor"
    footer = screen.splitlines()[size[1] - 1]
    assert "Run" in footer and "Cancel" in footer and "Logs" not in footer
    term.keys("Tab")  # completes to the common prefix of workflow(s) and workload(s)
    assert prompt_line(term.wait_for(r":work\b"), size[1]).strip() == ":work"
    term.burst("f")
    term.keys("Tab")  # now only workflow/workflows
    assert prompt_line(term.wait_for(r":workflow"), size[1]).strip() == ":workflow"
    term.keys("Escape")
    term.burst("/nvidia")
    assert prompt_line(term.wait_for(r"/nvidia"), size[1]).strip() == "/nvidia"


def test_bracketed_paste_of_a_command(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    paste(term, ":jobs")  # onto the table: opens the prompt with it
    assert prompt_line(term.wait_for(r":jobs"), 24).strip() == ":jobs"
    term.keys("Enter")
    term.wait_for(r"Jobs \(\d+")
    term.keys(":")
    paste(term, "pvc")  # into an open prompt
    term.keys("Enter")
    term.wait_for(r"PVCs \(\d+|Persistent")


def test_history_walks_back(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(":jobs", "Enter")
    term.wait_for(r"Jobs \(\d+")
    term.burst(":pods", "Enter")
    term.wait_for(r"Pods \(\d+")
    term.keys(":", "Up", "Up")
    assert prompt_line(term.wait_for(r":jobs"), 24).strip() == ":jobs"
    term.keys("Enter")
    term.wait_for(r"Jobs \(\d+")


@pytest.mark.parametrize("typed, says", [(":[/]", r"unknown command"), (":ctx [/]", r"no context named"),
                                         ("/[/]", r"filter: \[/\]"),  # a regex: rows with a "/" (READY 1/1)
                                         ("/[@click=app.quit]", r"filter: \[@click=app\.quit\]")])
def test_markup_looking_text_neither_crashes_nor_renders(tmux_cockpit, typed, says):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(typed, "Enter")
    screen = term.wait_for(says)
    assert "MarkupError" not in screen and "Traceback" not in screen
    term.stays(r"● live", 1.5)  # still running
    if typed.startswith(":"):
        assert "[/]" in screen  # the text shown as typed


def test_selector_in_gives_the_rows_kubectl_gives(tmux_cockpit, kube_admin):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst("/-l team in (vision,nlp)", "Enter")

    def matches() -> bool:
        expected = len(client.CoreV1Api(kube_admin).list_pod_for_all_namespaces(
            label_selector="team in (vision,nlp)").items)
        m = re.search(r"Pods \((\d+)/\d+\)", term.screen())
        return expected > 0 and m is not None and int(m.group(1)) == expected

    wait_for(matches, 30, what="the pane's count to be what the API selects")
    assert "filter: -l team in (vision,nlp)" in term.screen()


@pytest.mark.parametrize("typed, says", [("/[", r"invalid regex"),
                                         ("/-l team in (vision", r"invalid label selector")])
def test_invalid_regex_or_selector_says_so(tmux_cockpit, typed, says):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(typed, "Enter")
    screen = term.wait_for(says)
    assert "No rows match" not in screen


def test_unknown_namespace_is_refused(tmux_cockpit):
    term = tmux_cockpit(ALL)
    live(term)
    term.burst(":ns nosuchns", "Enter")
    screen = term.wait_for(r"no namespace named 'nosuchns'")
    assert re.search(r"ns all", screen)
    term.burst(":ns team-vision", "Enter")
    term.wait_for(r"ns team-vision")


def test_log_search_for_markup_does_not_crash(tmux_cockpit):
    term = tmux_cockpit("--context cockpit-demo -n team-vision")
    live(term)
    term.keys("/")
    term.burst("resnet50-train", "Enter")
    term.wait_for(r"Pods \(1/\d+\).*\n(?s:.*)resnet50-train\S*\s")  # Running or not: logs open either way
    term.keys("l")
    term.wait_for(r"Logs Pod")
    term.keys("/")
    term.burst("[/]", "Enter")
    time.sleep(1.0)
    screen = term.screen()
    assert "Logs Pod" in screen and "Traceback" not in screen
