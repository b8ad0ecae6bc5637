"""Log lines: timestamps, resuming without loss or repetition, default containers, untrusted text."""

from __future__ import annotations

import threading

import orjson
import pytest

from cockpit.kube.logs import (
    ENDED,
    STOPPED,
    LogFollower,
    LogLine,
    LogTarget,
    ResumePoint,
    containers_of,
    parse_log_chunk,
    resolve,
    short_timestamp,
    targets_for,
    timestamp_key,
)

TS = "2025-03-01T10:00:00.{:09d}Z"


def chunk(*pairs: tuple[str, str]) -> bytes:
    return "".join(f"{ts} {text}\n" for ts, text in pairs).encode()


# -- timestamps -------------------------------------------------------------------------------

def test_timestamp_is_stripped_and_kept_per_line():
    lines, rest = parse_log_chunk(chunk((TS.format(5), "epoch 1 loss 0.5"), (TS.format(6), "epoch 2")), "w0")
    assert rest == b""
    assert lines == [LogLine("epoch 1 loss 0.5", TS.format(5), "w0"), LogLine("epoch 2", TS.format(6), "w0")]


def test_partial_line_waits_for_the_next_chunk():
    data = chunk((TS.format(1), "complete")) + f"{TS.format(2)} half".encode()
    lines, rest = parse_log_chunk(data)
    assert [ln.text for ln in lines] == ["complete"]
    lines, rest = parse_log_chunk(rest + b" of a line\n")
    assert lines == [LogLine("half of a line", TS.format(2))]
    assert rest == b""


def test_multibyte_character_split_across_chunks_survives():
    data = chunk((TS.format(1), "température ✓"))
    cut = data.index("✓".encode()) + 1  # inside the 3-byte sequence
    first, rest = parse_log_chunk(data[:cut])
    assert first == []
    lines, _ = parse_log_chunk(rest + data[cut:])
    assert lines[0].text == "température ✓"


def test_line_without_timestamp_is_kept_whole():
    lines, _ = parse_log_chunk(b"no timestamp here\n\n")
    assert lines == [LogLine("no timestamp here", ""), LogLine("", "")]


def test_empty_line_with_timestamp():
    lines, _ = parse_log_chunk(f"{TS.format(1)} \n{TS.format(2)}\n".encode())
    assert [(ln.text, ln.timestamp) for ln in lines] == [("", TS.format(1)), ("", TS.format(2))]


@pytest.mark.parametrize(("ts", "key"), [
    ("2025-03-01T10:00:00.123456789Z", "2025-03-01T10:00:00.123456789"),
    ("2025-03-01T10:00:00.5Z", "2025-03-01T10:00:00.500000000"),
    ("2025-03-01T10:00:00Z", "2025-03-01T10:00:00.000000000"),
    ("2025-03-01T12:00:00.25+02:00", "2025-03-01T10:00:00.250000000"),
    ("not-a-timestamp", ""),
])
def test_timestamp_key_sorts_like_the_instant(ts, key):
    assert timestamp_key(ts) == key


def test_trimmed_fractions_compare_correctly():
    # RFC3339Nano drops trailing zeros: ".5" is later than ".123456789" though it sorts first as text.
    assert timestamp_key("2025-03-01T10:00:00.5Z") > timestamp_key("2025-03-01T10:00:00.123456789Z")


def test_short_timestamp_is_milliseconds_utc():
    assert short_timestamp("2025-03-01T10:00:00.123456789Z") == "2025-03-01T10:00:00.123Z"


# -- untrusted text ---------------------------------------------------------------------------

def test_escape_sequences_are_neutralised():
    evil = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07red \x1b[31malert\x1b[0m\x9b6n\x07bell"
    lines, _ = parse_log_chunk(f"{TS.format(1)} {evil}\n".encode())
    text = lines[0].text
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "pwned" not in text  # the OSC title payload goes with its sequence
    assert "red" in text and "alert" in text and "bell" in text


def test_carriage_return_progress_bar_shows_its_last_state():
    lines, _ = parse_log_chunk(f"{TS.format(1)}  10%|#   |\r 50%|##  |\r100%|####|\n".encode())
    assert lines[0].text == "100%|####|"


def test_tabs_become_spaces_and_invalid_utf8_is_replaced():
    lines, _ = parse_log_chunk(f"{TS.format(1)} a\tb ".encode() + b"\xff\n")
    assert lines[0].text == "a    b \ufffd"


# -- resuming -----------------------------------------------------------------------------------

def stream_through(point: ResumePoint, data: bytes) -> list[str]:
    lines, _ = parse_log_chunk(data)
    return [ln.text for ln in lines if point.admit(ln)]


def test_replayed_chunk_after_reconnect_is_not_repeated():
    point = ResumePoint()
    first = chunk((TS.format(1), "a"), (TS.format(2), "b"), (TS.format(2), "c"))
    assert stream_through(point, first) == ["a", "b", "c"]
    point.resume()
    # sinceTime is cut to the second by the API server: the replay starts earlier than asked.
    replay = chunk((TS.format(1), "a"), (TS.format(2), "b"), (TS.format(2), "c"), (TS.format(2), "d"),
                   (TS.format(3), "e"))
    assert stream_through(point, replay) == ["d", "e"]


def test_same_timestamp_lines_are_counted_not_collapsed():
    point = ResumePoint()
    same = TS.format(7)
    assert stream_through(point, chunk((same, "x"), (same, "x"))) == ["x", "x"]
    point.resume()
    assert stream_through(point, chunk((same, "x"), (same, "x"), (same, "x"))) == ["x"]
    assert point.count == 3


def test_resume_twice_in_a_row():
    point = ResumePoint()
    assert stream_through(point, chunk((TS.format(1), "a"))) == ["a"]
    point.resume()
    assert stream_through(point, b"") == []  # the connection broke again before any line
    point.resume()
    assert stream_through(point, chunk((TS.format(1), "a"), (TS.format(2), "b"))) == ["b"]


def test_lines_without_timestamps_are_never_dropped():
    point = ResumePoint()
    point.admit(LogLine("a", TS.format(5)))
    point.resume()
    assert point.admit(LogLine("plain", ""))


# -- containers and targets -------------------------------------------------------------------

def pod(name="p", containers=("a", "b"), init=("init",), annotations=None, labels=None, ns="team"):
    return {"metadata": {"name": name, "namespace": ns, "annotations": annotations or {}, "labels": labels or {}},
            "spec": {"containers": [{"name": c} for c in containers],
                     "initContainers": [{"name": c} for c in init]}}


def test_default_container_annotation_wins():
    names, default = containers_of(pod(annotations={"kubectl.kubernetes.io/default-container": "b"}))
    assert names == ["a", "b", "init"]
    assert default == "b"


def test_first_container_without_annotation_or_with_a_wrong_one():
    assert containers_of(pod())[1] == "a"
    assert containers_of(pod(annotations={"kubectl.kubernetes.io/default-container": "nope"}))[1] == "a"


def test_argo_step_pod_defaults_to_main():
    step = pod(containers=("wait", "main"), labels={"workflows.argoproj.io/workflow": "wf"})
    assert containers_of(step)[1] == "main"
    assert targets_for("pods", step, api=None) == [LogTarget("team", "p", "main")]


class FakeApi:
    """Answers pod list requests from a dict of label selector -> pods."""

    def __init__(self, pods_by_selector):
        self.pods_by_selector = pods_by_selector
        self.requests = []

    def call_api(self, path, method, query_params=(), **kw):
        self.requests.append((path, dict(query_params)))
        selector = dict(query_params).get("labelSelector", "")
        return FakeResponse(orjson.dumps({"items": self.pods_by_selector.get(selector, [])}))


class FakeResponse:
    def __init__(self, data):
        self.data = data

    def release_conn(self):
        pass


def test_job_targets_are_all_its_pods_prefixed():
    job = {"metadata": {"name": "train", "namespace": "team"}}
    api = FakeApi({"job-name=train": [pod("train-0-abcde"), pod("train-1-fghij")]})
    sel = resolve("jobs", job, api)
    assert sel.targets == [LogTarget("team", "train-0-abcde", "a", "0-abcde"),
                           LogTarget("team", "train-1-fghij", "a", "1-fghij")]
    assert sel.containers == ["a", "b", "init"]
    assert api.requests[0][0] == "/api/v1/namespaces/team/pods"


def test_trial_targets_use_the_primary_container():
    trial = {"metadata": {"name": "exp-abc", "namespace": "team"}, "spec": {"primaryContainerName": "trainer"}}
    api = FakeApi({"katib.kubeflow.org/trial=exp-abc": [pod("exp-abc-xyz", containers=("trainer", "metrics"))]})
    assert targets_for("trials", trial, api) == [LogTarget("team", "exp-abc-xyz", "trainer", "xyz")]
    trial["spec"] = {}
    api = FakeApi({"katib.kubeflow.org/trial=exp-abc": [pod("exp-abc-xyz", containers=("training-container",))]})
    assert targets_for("trials", trial, api)[0].container == "training-container"


def test_job_without_pods_says_so():
    sel = resolve("jobs", {"metadata": {"name": "j", "namespace": "team"}}, FakeApi({}))
    assert sel.targets == [] and "no pods" in sel.problem


# -- the follower, against a scripted API -------------------------------------------------------

class ScriptedStream:
    """A response that yields chunks, then either ends or breaks (raises)."""

    def __init__(self, chunks, breaks=False):
        self.chunks, self.breaks = chunks, breaks
        self.closed = threading.Event()

    def stream(self, amt, decode_content=True):
        yield from self.chunks
        if self.breaks:
            raise ConnectionResetError("connection reset by peer")

    def shutdown(self):
        self.closed.set()

    def close(self):
        self.closed.set()

    def release_conn(self):
        pass


class ScriptedApi:
    def __init__(self, streams, phase="Running"):
        self.streams = list(streams)
        self.phase = phase
        self.log_queries = []

    def call_api(self, path, method, query_params=(), **kw):
        if path.endswith("/log"):
            self.log_queries.append(dict(query_params))
            return self.streams.pop(0)
        return FakeResponse(orjson.dumps({"status": {"phase": self.phase}}))


def run_follower(api, **kw):
    got, states = [], []
    done = threading.Event()

    def on_state(target, state, detail):
        states.append(state)
        if state == STOPPED:
            done.set()

    f = LogFollower(api, LogTarget("team", "p", "main", "x"), lambda t, batch: got.append(list(batch)), on_state, **kw)
    f.BACKOFF_MIN = 0.01
    f.start()
    assert done.wait(10), states
    return got, states


def test_follower_resumes_after_a_break_without_loss_or_repeat():
    first = ScriptedStream([chunk((TS.format(1), "one"), (TS.format(2), "two")),
                            f"{TS.format(3)} thr".encode()], breaks=True)  # broke mid-line
    replay = ScriptedStream([chunk((TS.format(1), "one"), (TS.format(2), "two"), (TS.format(3), "three"),
                                   (TS.format(4), "four"))])
    api = ScriptedApi([first, replay], phase="Running")

    def finished_after_replay(path, method, query_params=(), **kw):
        if path.endswith("/log"):
            return ScriptedApi.call_api(api, path, method, query_params, **kw)
        return FakeResponse(orjson.dumps({"status": {"phase": "Succeeded" if not api.streams else "Running"}}))

    api.call_api = finished_after_replay
    got, states = run_follower(api)
    texts = [ln.text for batch in got for ln in batch]
    assert texts == ["one", "two", "three", "four"]
    assert all(ln.prefix == "x" for batch in got for ln in batch)
    assert api.log_queries[0]["tailLines"] == "500" and "sinceTime" not in api.log_queries[0]
    assert api.log_queries[1]["sinceTime"] == TS.format(2) and "tailLines" not in api.log_queries[1]
    assert api.log_queries[0]["follow"] == "true" and api.log_queries[0]["timestamps"] == "true"
    assert ENDED in states


def test_previous_logs_are_read_once_without_follow():
    api = ScriptedApi([ScriptedStream([chunk((TS.format(1), "crashed: CUDA out of memory"))])])
    got, states = run_follower(api, previous=True)
    assert [ln.text for batch in got for ln in batch] == ["crashed: CUDA out of memory"]
    q = api.log_queries[0]
    assert q["previous"] == "true" and "follow" not in q
    assert states[-2:] == [ENDED, STOPPED]


def test_batches_are_one_list_per_chunk():
    data = chunk(*[(TS.format(i), f"l{i}") for i in range(100)])
    api = ScriptedApi([ScriptedStream([data])])
    got, _ = run_follower(api, previous=True)
    assert len(got) == 1 and len(got[0]) == 100


# -- the view (headless, no cluster) ------------------------------------------------------------

def numbered(start: int, stop: int, prefix: str = "") -> list[LogLine]:
    return [LogLine(f"line {i}", TS.format(i), prefix) for i in range(start, stop)]


def view_app(cap: int = 1000):
    from textual.app import App

    from cockpit.ui.widgets.log_view import LogView

    class ViewApp(App):
        def compose(self):
            yield LogView(cap, id="v")

    return ViewApp()


def rows(view) -> list[str]:
    """The non-blank rows on screen."""
    return [r for r in (view.render_line(y).text.rstrip() for y in range(view.size.height)) if r]


async def test_view_follows_the_end_and_keeps_at_most_the_cap():
    app = view_app(cap=100)
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one("#v")
        view.append_lines(numbered(0, 250))
        await pilot.pause()
        assert view.line_count == 100 and view.received == 250 and view.dropped == 150
        assert [ln.text for ln in view.lines()] == [f"line {i}" for i in range(150, 250)]
        assert rows(view)[-1] == "line 249"
        view.append_lines(numbered(250, 251))
        await pilot.pause()
        assert rows(view)[-1] == "line 250"


async def test_scrolling_up_pauses_and_counts_new_lines_then_end_resumes():
    app = view_app(cap=100)
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one("#v")
        view.append_lines(numbered(0, 50))
        await pilot.pause()
        view.focus()
        await pilot.press("up")
        assert not view.following
        shown = rows(view)
        view.append_lines(numbered(50, 80))
        await pilot.pause()
        assert view.new_lines == 30 and rows(view) == shown  # paused: the screen does not move
        view.append_lines(numbered(80, 120))  # the cap drops 20 lines from the top
        await pilot.pause()
        assert view.new_lines == 70 and rows(view) == shown  # still the same lines on screen
        await pilot.press("G")
        assert view.following and view.new_lines == 0
        await pilot.pause()
        assert rows(view)[-1] == "line 119"
        await pilot.press("space")
        assert not view.following


async def test_wrap_and_timestamps_toggles():
    app = view_app()
    async with app.run_test(size=(20, 6)) as pilot:
        view = app.query_one("#v")
        view.append_lines([LogLine("a" * 45, TS.format(1)), LogLine("short", TS.format(2), "w0")])
        await pilot.pause()
        view.focus()
        await pilot.press("w")
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert view.virtual_size.height == -(-45 // width) + 1
        assert rows(view)[-1] == "w0 short" and "".join(rows(view)[:-1]).count("a") == 45
        await pilot.press("t")
        await pilot.pause()
        assert "2025-03-01T10:00:00.000Z" in "".join(rows(view))
        await pilot.press("w", "t")
        await pilot.pause()
        assert rows(view)[-1] == "w0 short"


async def test_search_highlights_and_moves_between_matches():
    app = view_app()
    async with app.run_test(size=(40, 5)) as pilot:
        view = app.query_one("#v")
        view.append_lines([LogLine(t) for t in ["loss NaN at step 3", "ok", "ok", "Loss nan again", "ok", "ok", "ok"]])
        await pilot.pause()
        assert view.search("nan")  # lower case: case-insensitive
        assert not view.following
        first = view._match_index()
        view.next_match()
        second = view._match_index()
        assert {first, second} == {0, 3}
        view.previous_match()
        assert view._match_index() == first
        await pilot.pause()
        strip = view._line_strip(first)
        styled = [seg for seg in strip if seg.text.lower() == "nan"]
        assert styled and styled[0].style != view._base_style
        assert not view.search("NAN")  # capitals: case-sensitive


async def test_wrapped_view_stays_put_while_paused_and_the_cap_drops_lines():
    app = view_app(cap=60)
    async with app.run_test(size=(24, 8)) as pilot:
        view = app.query_one("#v")
        view.set_wrap(True)
        view.append_lines([LogLine(f"{i:03d} " + "x" * (i % 50), TS.format(i)) for i in range(60)])
        await pilot.pause()
        assert rows(view)[-1] == "059 " + "x" * 9
        view.focus()
        await pilot.press("pageup")
        assert not view.following
        shown = rows(view)
        view.append_lines([LogLine(f"{i:03d} " + "x" * (i % 50), TS.format(i)) for i in range(60, 70)])
        await pilot.pause()
        assert view.dropped == 10 and rows(view) == shown
        await pilot.press("end")
        await pilot.pause()
        assert view.following and any(r.startswith("069") for r in rows(view))
