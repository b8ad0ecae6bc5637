"""README flows in the installed `cockpit`, in tmux at 80x24 against the demo cluster: describe and
YAML, logs with search, pause and save, exec, port-forward, delete with confirmation, `:cleanup`,
read-only refusals and the viewer context.

Each journey asserts on what the terminal shows (`tmux capture-pane`) and on the cluster's state
through the API. Each makes its own objects under a unique name and deletes them afterwards.
Keys go in as a terminal delivers them: one at a time with pauses, or whole strings in one write.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from cockpit.demo.simulator import append_lines
from tests.conftest import wait_for
from tests.support.tmux import Tmux

NS = "team-vision"
ADMIN = f"--context cockpit-demo -n {NS}"
BOX = "│╭╮╰╯─▊▎▔▁▌▐"  # dialog borders and input edges, dropped by flat()


def flat(screen: str) -> str:
    """The screen as one line of words: text wrapped inside a dialog reads as one sentence."""
    return " ".join(screen.translate({ord(c): " " for c in BOX}).split())


def short_name(prefix: str) -> str:
    # Short on purpose: at 80 columns a long name is shortened in the middle on screen.
    return f"{prefix}-{int(time.time() * 1000) % 100000:05d}"


@pytest.fixture
def undo(kube_admin):
    """Callables run after the test (each may 404: the journey may have deleted it already)."""
    todo: list = []
    yield todo.append
    for fn in reversed(todo):
        try:
            fn()
        except ApiException as e:
            if e.status != 404:
                raise


def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def pod_exists(api, name: str, ns: str = NS) -> bool:
    try:
        pod = core(api).read_namespaced_pod(name, ns)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return pod.metadata.deletion_timestamp is None


def running_pod(api, undo, name: str, *, ports=(), ns: str = NS, labels: dict | None = None) -> None:
    """A bare pod on the demo's CPU node, Running (KWOK), deleted after the test."""
    container = {"name": "main", "image": "busybox", "command": ["sleep", "infinity"]}
    if ports:
        container["ports"] = [{"name": n, "containerPort": p} for n, p in ports]
    core(api).create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": name, "labels": {"e2e": "readme-flows", **(labels or {})}},
                                         "spec": {"nodeName": "cpu-01", "containers": [container]}})
    undo(lambda: core(api).delete_namespaced_pod(name, ns, grace_period_seconds=0))
    wait_for(lambda: core(api).read_namespaced_pod(name, ns).status.phase == "Running", 90, what=f"{name} Running")


def open_on(term: Tmux, name: str) -> str:
    """Wait for the pane to be live, then filter it down to `name` (typed in one burst)."""
    term.wait_for(r"● live")
    term.keys("/")
    term.burst(name, "Enter")
    return term.wait_for(rf"{re.escape(name)}\s.*Running" if name else r"● live")


def open_pane_on(term: Tmux, command: str, title: str, name: str, row: str = r"\s") -> str:
    """`:command`, wait for its pane, then filter it down to `name` (both typed in one burst)."""
    term.wait_for(r"● live")
    term.keys(":")
    term.burst(command, "Enter")
    term.wait_for(title)
    term.keys("/")
    term.burst(name, "Enter")
    return term.wait_for(rf"{re.escape(name)}{row}")


def on_table(term: Tmux, name: str) -> str:
    """Back on the pane: the top bar and the row are there, no dialog or pushed screen."""
    return term.wait_for(rf"(?s)● live.*{re.escape(name)}\s")


# --- 1. describe and YAML ----------------------------------------------------------------------

def test_describe_with_events_and_yaml_then_back(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-desc")
    running_pod(kube_admin, undo, name)
    pod = core(kube_admin).read_namespaced_pod(name, NS)
    core(kube_admin).create_namespaced_event(NS, client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"{name}.e2e"), type="Normal", reason="E2ECheckup",
        message=f"looked at by the e2e test {name}", count=1, source=client.V1EventSource(component="e2e"),
        involved_object=client.V1ObjectReference(kind="Pod", namespace=NS, name=name, uid=pod.metadata.uid),
        first_timestamp=pod.metadata.creation_timestamp, last_timestamp=pod.metadata.creation_timestamp))
    undo(lambda: core(kube_admin).delete_namespaced_event(f"{name}.e2e", NS))

    term = tmux_cockpit(ADMIN)
    open_on(term, name)
    term.keys("d")
    term.wait_for(rf"Describe Pod {NS}/{name}")
    term.wait_for(r"Status:\s+Running|Running")
    term.keys("End")  # the events come last
    screen = term.wait_for(rf"(?s)E2ECheckup.*looked at by the e2e test\s+{name}")  # (the message may wrap)
    assert re.search(r"Normal\s+E2ECheckup\s+\d+s\s+x1\s+e2e:", screen), screen
    term.keys("Escape")
    on_table(term, name)
    assert "Describe Pod" not in term.screen()  # (the footer still offers "d Describe")

    term.keys("y")
    screen = term.wait_for(rf"YAML Pod {NS}/{name}")
    screen = term.wait_for(r"apiVersion: v1")
    assert "kind: Pod" in term.wait_for(r"kind: Pod")
    term.keys("Escape")
    on_table(term, name)
    assert "YAML Pod" not in term.screen()


def test_yaml_does_not_stack_on_describe(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-stack")
    running_pod(kube_admin, undo, name)
    term = tmux_cockpit(ADMIN)
    open_on(term, name)
    term.keys("d")
    term.wait_for(rf"Describe Pod {NS}/{name}")
    term.wait_for(r"Phase:\s+Running")  # loaded
    term.keys("y")  # on the Describe screen: not a second screen on top of it
    time.sleep(1.0)
    assert "YAML Pod" not in term.screen()
    term.keys("Escape")
    on_table(term, name)
    time.sleep(1.0)
    screen = term.screen()
    assert "Describe Pod" not in screen and "YAML Pod" not in screen, screen


# --- 2. logs ------------------------------------------------------------------------------------

LOG_LINES = 1200  # more than the 500 lines the view asks for first


def log_text(i: int) -> str:
    tag = {800: " needle-one", 950: " needle-two", 1100: " needle-three"}.get(i, "")
    return f"line {i:04d} of the e2e log{tag}"


def test_logs_follow_pause_search_and_save_everything(tmux_cockpit, kube_admin, demo_cluster, undo, tmp_path):
    name = short_name("e2e-lg")
    logfile = demo_cluster.logs_dir / f"{name}.log"
    append_lines(logfile, [log_text(i) for i in range(LOG_LINES)])
    undo(lambda: logfile.unlink(missing_ok=True))
    running_pod(kube_admin, undo, name)
    custom = client.CustomObjectsApi(kube_admin)
    custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", NS, "logs", {
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": name},
        "spec": {"logs": [{"containers": ["main"], "logsFile": str(logfile), "follow": True}]}})
    undo(lambda: custom.delete_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", NS, "logs", name))
    wait_for(lambda: _served(kube_admin, name, log_text(LOG_LINES - 1)), 30, what="log served")

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    term = tmux_cockpit(ADMIN, cwd=cwd)
    open_on(term, name)
    term.keys("l")
    term.wait_for(rf"Logs Pod {NS}/{name}")
    term.wait_for(re.escape(log_text(LOG_LINES - 1)))
    term.wait_for(r"streaming.*following")

    # Lines written while the view is open appear at the bottom.
    append_lines(logfile, [f"live line one of {name}"])
    term.wait_for(rf"live line one of {name}")

    # space pauses: a new line is counted, not shown; space again follows and shows it.
    term.keys("Space")
    term.wait_for(r"paused")
    append_lines(logfile, [f"live line two of {name}"])
    term.wait_for(r"paused, 1 new")
    assert "live line two" not in term.screen()
    term.keys("Space")
    term.wait_for(rf"live line two of {name}")
    term.wait_for(r"following")

    # / searches (the prompt shows what is typed); n and N walk the matches.
    term.keys("/")
    term.burst("needle")
    term.wait_for(r"needle")  # the prompt shows it before Enter
    term.keys("Enter")
    term.wait_for(r"line 0800 of the e2e log needle-one")
    term.keys("n")
    screen = term.wait_for(r"line 0950 of the e2e log needle-two")
    term.keys("n")
    term.wait_for(r"line 1100 of the e2e log needle-three")
    term.keys("N")
    term.wait_for(r"line 0950 of the e2e log needle-two")

    # s saves: the prompt offers ./<pod>-<container>-<time>.log; the file has every line.
    term.keys("s")
    term.wait_for(rf"\./{name}-main-\d{{8}}T\d{{6}}Z\.log")
    term.keys("Enter")
    term.wait_for(r"saved \d+ lines")
    files = wait_for(lambda: list(cwd.glob(f"{name}-main-*.log")), 10, what="the saved file")
    saved = files[0].read_text().splitlines()
    expected = [log_text(i) for i in range(LOG_LINES)] + [f"live line one of {name}", f"live line two of {name}"]
    assert saved == expected, f"saved {len(saved)} lines, first {saved[:1]}, expected {len(expected)}"
    screen = flat(term.wait_for(r"saved \d+ lines"))
    assert f"saved {len(expected)} lines" in screen

    term.keys("Escape")
    on_table(term, name)


def _served(api, pod: str, text: str) -> bool:
    try:
        return text in core(api).read_namespaced_pod_log(pod, NS, container="main", tail_lines=5)
    except ApiException:
        return False


# --- 3. exec --------------------------------------------------------------------------------------

def test_exec_into_a_running_pod_and_back(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-sh")
    running_pod(kube_admin, undo, name)
    term = tmux_cockpit(ADMIN)
    open_on(term, name)
    term.keys("s")
    term.wait_for(rf"exec into {NS}/{name} \(main\)")
    # The remote shell's prompt (bash's, from the host's bash.bashrc: the demo runs it there).
    term.wait_for(r"(?m)[$#] *$")
    term.burst("echo hi", "Enter")
    term.wait_for(r"(?m)^hi\s*$")
    term.burst("exit", "Enter")
    screen = on_table(term, name)
    assert "echo hi" not in screen  # the cockpit's own screen again, not the shell's
    screen = flat(term.wait_for(r"ended \(exit", timeout=10))
    assert f"exec into {NS}/{name} ended (exit 0)" in screen, screen


# --- 4. port-forward ---------------------------------------------------------------------------

def test_port_forward_connect_list_and_stop(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-pf")
    running_pod(kube_admin, undo, name, ports=[("jupyter", 8888)])
    term = tmux_cockpit(ADMIN)
    open_on(term, name)
    term.keys("F")  # shift+f
    screen = term.wait_for(rf"Port-forward {NS}/{name}")
    assert re.search(r"8888\s+jupyter\s+\(container main\)", screen), screen
    term.keys("Enter")  # the highlighted (declared) port, local port as suggested
    term.wait_gone(rf"Port-forward {NS}/{name}")
    term.keys(":")
    term.burst("pf", "Enter")
    # The target is cut in the middle at 80 columns: the pod's unique tail and the port stay.
    tail = name[-5:]
    screen = term.wait_for(rf"\bpf\d+\s+team-vision\S*{tail}:8888\s+127\.0\.0\.1:(\d+)\s+active")
    port = int(re.search(r"127\.0\.0\.1:(\d+)", screen).group(1))

    # The local port reaches what KWOK forwards the pod's 8888 to: the demo's Jupyter stand-in.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        body = resp.read()
    assert b"Jupyter demo" in body
    # :pf counts the traffic: the connection and the bytes both ways (the response came in).
    counted = (r"\bpf\d+\s.*127\.0\.0\.1:\d+\s+active\s+\d+/[1-9]\d*\s+"
               r"(?P<got>[1-9][\d.]*(Ki)?)\s+(?P<sent>[1-9][\d.]*(Ki)?)\s")
    got = re.search(counted, term.wait_for(counted, timeout=15))["got"]
    assert got.endswith("Ki") or int(got) >= len(body), got

    term.press("C-d")  # ctrl+d on the :pf pane stops the forward
    term.wait_gone(r"\bpf\d+\s", timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_port_forward_a_service_follows_its_selector_to_the_next_pod(tmux_cockpit, kube_admin, undo):
    """shift+f on a Service: its port 80 goes to the pod port its named targetPort means; when
    that pod goes, the forward moves to another pod the Service selects, on the same local port."""
    name = short_name("e2e-svc")
    app = {"app": name}
    running_pod(kube_admin, undo, f"{name}-a", ports=[("http", 8888)], labels=app)
    core(kube_admin).create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {
        "selector": app, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
    undo(lambda: core(kube_admin).delete_namespaced_service(name, NS))
    term = tmux_cockpit(ADMIN)
    open_pane_on(term, "svc", r"Services \(", name, r"\s+ClusterIP")
    term.keys("F")
    screen = flat(term.wait_for(rf"Port-forward service {NS}/{name}"))
    assert f"(pod {name}-a)" in screen, screen
    # Named by the Service's port name ("web"), and the quick target the pod port is.
    assert re.search(r"8888\s+web / jupyter\s+\(service port 80 → pod port 8888\)", screen), screen
    term.keys("Enter")
    term.wait_gone(rf"Port-forward service {NS}/{name}")
    term.keys(":")
    term.burst("pf", "Enter")
    active = r"\bpf\d+\s+\S*-a:8888\s+127\.0\.0\.1:(\d+)\s+active"
    port = int(re.search(active, term.wait_for(active)).group(1))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        assert b"Jupyter demo" in resp.read()

    # The pod goes; another the Service selects takes its place, on the same local port.
    core(kube_admin).delete_namespaced_pod(f"{name}-a", NS, grace_period_seconds=0)
    running_pod(kube_admin, undo, f"{name}-b", ports=[("http", 8888)], labels=app)
    term.wait_for(rf"\bpf\d+\s+\S*-b:8888\s+127\.0\.0\.1:{port}\s+active", timeout=30)  # cut in the middle
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        assert b"Jupyter demo" in resp.read()
    term.press("C-d")
    term.wait_gone(r"\bpf\d+\s", timeout=10)


def test_port_forward_a_service_that_selects_no_running_pod_says_so(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-svc0")
    core(kube_admin).create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {
        "selector": {"app": name}, "ports": [{"port": 80}]}})
    undo(lambda: core(kube_admin).delete_namespaced_service(name, NS))
    term = tmux_cockpit(ADMIN)
    open_pane_on(term, "svc", r"Services \(", name, r"\s+ClusterIP")
    term.keys("F")
    screen = flat(term.wait_for(r"selects"))  # a toast, wrapped inside its box: read as one line
    assert f"service {name} selects no running pod (app={name})" in screen.replace("\n", " "), screen
    assert "Port-forward service" not in screen


# --- 5. delete with confirmation ------------------------------------------------------------------

def test_delete_a_pod_asks_first_naming_it(tmux_cockpit, kube_admin, demo_cluster, undo):
    name = short_name("e2e-del")
    running_pod(kube_admin, undo, name)
    since = time.time() - 1
    term = tmux_cockpit(ADMIN)
    open_on(term, name)

    for cancel in ("n", "Escape"):
        term.press("C-d")
        screen = flat(term.wait_for(r"Delete 1 pod"))
        assert f"Pod {NS}/{name}" in screen
        term.keys(cancel)
        term.wait_gone(r"Delete 1 pod")
        time.sleep(1.0)
        assert pod_exists(kube_admin, name), f"{cancel} must leave the pod alone"
    assert cockpit_changes(demo_cluster, since) == []

    term.press("C-d")
    term.wait_for(r"Delete 1 pod")
    term.keys("y")
    wait_for(lambda: not pod_exists(kube_admin, name), 30, what=f"{name} gone from the API")
    term.wait_for(r"deleted 1 pod")
    assert cockpit_changes(demo_cluster, since) == [f"delete pods/ {name}"]


def test_delete_a_pvc_needs_its_name_typed(tmux_cockpit, kube_admin, undo):
    name = short_name("e2e-pvc")
    core(kube_admin).create_namespaced_persistent_volume_claim(NS, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    undo(lambda: core(kube_admin).delete_namespaced_persistent_volume_claim(name, NS))

    def claim():
        try:
            return core(kube_admin).read_namespaced_persistent_volume_claim(name, NS)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    term = tmux_cockpit(ADMIN)
    open_pane_on(term, "pvc", r"PersistentVolumeClaims|PVC", name)
    term.press("C-d")
    screen = flat(term.wait_for(r"to delete, esc to cancel"))
    assert f"Type '{name}' and press enter to delete" in screen
    term.burst("wrong-name", "Enter")
    screen = flat(term.wait_for(r"nothing deleted"))
    assert f"'wrong-name' is not '{name}': nothing deleted" in screen
    time.sleep(1.0)
    assert claim() is not None and claim().metadata.deletion_timestamp is None

    term.type_slowly(name)  # this time a key at a time, as a person types
    term.keys("Enter")
    term.wait_gone(r"to delete, esc to cancel")
    wait_for(lambda: claim() is None or claim().metadata.deletion_timestamp is not None, 30,
             what="the claim deleted")
    wait_for(lambda: claim() is None, 30, what="the claim gone (pvc-protection lets it go: no pod uses it)")


# --- 6. :cleanup --------------------------------------------------------------------------------

def test_cleanup_deletes_exactly_the_ticked_jobs(tmux_cockpit, kube_admin, undo, tmp_path):
    ns = short_name("e2e-clean")
    core(kube_admin).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    undo(lambda: core(kube_admin).delete_namespace(ns))
    batch = client.BatchV1Api(kube_admin)
    names = ["done-a", "done-b", "done-c"]
    for n in names:
        batch.create_namespaced_job(ns, {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": n},
            "spec": {"backoffLimit": 0, "template": {
                "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "1s"}},
                "spec": {"restartPolicy": "Never", "nodeSelector": {"kubernetes.io/hostname": "cpu-01"},
                         "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}}}})

    def complete(n: str) -> bool:
        st = batch.read_namespaced_job(n, ns).status
        return any(c.type == "Complete" and c.status == "True" for c in st.conditions or [])

    wait_for(lambda: all(complete(n) for n in names), 90, what="the jobs complete")
    config = tmp_path / "config.yaml"
    config.write_text("cleanup:\n  finished_after: 1s\n")
    time.sleep(1.5)  # older than the threshold

    term = tmux_cockpit(f"--context cockpit-demo -n {ns}", env={"COCKPIT_CONFIG": str(config)})
    term.wait_for(r"● live")
    term.keys(":")
    term.burst("cleanup", "Enter")
    # (the pods pane behind it lists done-a-xxxxx too: wait for the clean-up rows themselves)
    screen = term.wait_for(r"(?s)Clean up:.*•job\s+\S+\s+done-a\s+job completed.*done-b\s+job completed"
                           r".*done-c\s+job completed")
    term.keys("Down", "Space")  # untick done-b
    term.press("C-d")
    screen = flat(term.wait_for(r"Delete these 2 objects"))
    assert f"{ns}/done-a" in screen and f"{ns}/done-c" in screen and "done-b" not in screen.split("objects?")[1]
    term.keys("y")
    term.wait_for(r"deleted 2 objects")

    def left() -> set[str]:
        return {j.metadata.name for j in batch.list_namespaced_job(ns).items if j.metadata.deletion_timestamp is None}

    wait_for(lambda: left() == {"done-b"}, 30, what="only done-b left")
    time.sleep(1.0)
    assert left() == {"done-b"}


# --- 7. read-only ---------------------------------------------------------------------------------

def cockpit_changes(demo_cluster, since: float) -> list[str]:
    """What the cockpit asked the API server to change (or to open a shell or tunnel into) since
    `since`, from the audit log: `verb resource/subresource name`. Access reviews are reads."""
    import datetime as dt

    out = []
    for line in demo_cluster.audit_log.read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if not str(ev.get("userAgent", "")).startswith("gpu-cockpit"):
            continue
        when = dt.datetime.fromisoformat(ev.get("requestReceivedTimestamp", "1970-01-01T00:00:00Z")).timestamp()
        ref = ev.get("objectRef") or {}
        if when < since or ev.get("verb") in ("get", "list", "watch") or ref.get("resource", "").endswith(
                "accessreviews") or ref.get("resource") == "selfsubjectrulesreviews":
            continue
        out.append(f"{ev.get('verb')} {ref.get('resource')}/{ref.get('subresource', '')} {ref.get('name', '')}")
    return out


def test_read_only_refuses_every_change_and_says_why(tmux_cockpit, kube_admin, demo_cluster, undo):
    name = short_name("e2e-ro")
    running_pod(kube_admin, undo, name, ports=[("jupyter", 8888)])
    since = time.time() - 1
    term = tmux_cockpit(f"{ADMIN} --read-only")
    screen = open_on(term, name)
    assert "[READ-ONLY]" in screen.splitlines()[0]

    for key, opened in (("C-d", r"Delete 1 pod"), ("s", r"exec into"), ("n", r"Launch|preset"),
                        ("F", r"Port-forward "), ("C-k", r"Kill 1 pod")):
        term.press(key)
        screen = flat(term.wait_for(r"read-only", timeout=10))
        assert "read-only: this cockpit changes nothing in the cluster" in screen, (key, screen)
        assert not re.search(opened, term.screen()), f"{key} opened something: {term.screen()}"
        term.wait_gone(r"this cockpit changes", timeout=10)

    term.keys(":")
    term.burst("wf", "Enter")
    term.wait_for(r"Workflows")
    term.wait_for(r"Succeeded|Running|Failed")
    term.keys("x")
    screen = flat(term.wait_for(r"read-only: this cockpit changes", timeout=10))
    assert "read-only: this cockpit changes nothing in the cluster" in screen
    assert not re.search(r"Stop 1 workflow", term.screen())

    time.sleep(1.0)
    assert pod_exists(kube_admin, name)
    assert cockpit_changes(demo_cluster, since) == []


def test_a_wrong_read_only_value_reads_as_read_only_naming_the_file_and_line(tmux_cockpit, kube_admin):
    folder = Path(tempfile.mkdtemp(prefix="ck-"))  # short: the whole path fits the top bar
    config = folder / "config.yaml"
    config.write_text('theme: cockpit-dark\nread_only: "yes"\n')
    try:
        term = tmux_cockpit(ADMIN, env={"COCKPIT_CONFIG": str(config)})
        screen = term.wait_for(r"● live")
        top = flat("\n".join(screen.splitlines()[:3]))
        assert "[READ-ONLY]" in top
        assert f"read-only because of {config}:2: read_only: expected true or false" in top, top
        term.wait_for(r"dev-box-alice")
        term.press("C-d")
        screen = flat(term.wait_for(r"read-only: this cockpit changes", timeout=10))
        assert "read-only: this cockpit changes nothing in the cluster" in screen
        assert not re.search(r"Delete 1 pod", term.screen())
    finally:
        config.unlink()
        folder.rmdir()


# --- 8. the viewer context ----------------------------------------------------------------------

def test_viewer_context_lists_but_may_not_delete_and_says_so(tmux_cockpit, kube_admin, demo_cluster):
    term = tmux_cockpit(f"--context cockpit-demo-viewer -n {NS}")
    term.wait_for(r"● live")
    open_on(term, "dev-box-alice")
    time.sleep(2.0)  # the access review (may this context delete pods?) answers after the first list
    term.press("C-d")
    screen = flat(term.wait_for(r"forbidden", timeout=10))
    assert "forbidden: context cockpit-demo-viewer may not delete pods in namespace team-vision (RBAC)" in screen
    assert "Delete 1 pod" not in screen
    assert pod_exists(kube_admin, "dev-box-alice")
