"""Columns get the width their values need, and names too long for theirs are cut in the middle
so the unique tail (a pod's hash) stays: two pods of one Job stay apart at 80 columns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from cockpit.kube.model import Column
from cockpit.kube.rows import POD_COLUMNS, pod_row
from cockpit.ui.widgets.resource_table import _fit, layout_columns, shorten_middle

A = "pytorch-train-20261201-223344-worker-x7k2p"
B = "pytorch-train-20261201-223344-worker-q9z8w"


def test_middle_cut_keeps_the_tail_that_tells_pods_apart():
    a, b = shorten_middle(A, 24), shorten_middle(B, 24)
    assert cell_len(a) == 24 and a != b
    assert a.endswith("worker-x7k2p") and a.startswith("pytorch-tra") and "…" in a
    # before: both read "pytorch-train-20261201-…"
    assert _fit(A, 24, "left") == _fit(B, 24, "left")
    assert _fit(A, 24, "left", "middle") != _fit(B, 24, "left", "middle")


# Cells hold cleaned text (no control or combining characters), ASCII or wide.
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp", "Mn", "Me"))


@given(st.text(PRINTABLE, min_size=0, max_size=60), st.integers(min_value=0, max_value=40))
def test_middle_cut_fits_its_cells(text, width):
    out = _fit(text, width, "left", "middle")
    assert cell_len(out) == width
    if cell_len(text) <= width:
        assert out.rstrip(" ") == text.rstrip(" ")


def test_wide_characters_are_cut_by_cells():
    out = shorten_middle("训练-作业-" * 6 + "x7k2p", 15)
    assert cell_len(out) <= 15 and out.endswith("x7k2p")


def test_columns_take_what_their_values_need():
    # STATUS prefers 20 cells; its values need 9 ("Completed"): the name gets the room.
    pod = {"metadata": {"name": A, "namespace": "team-vision", "creationTimestamp": "2026-12-01T22:00:00Z"},
           "spec": {"nodeName": "gpu-a100-01", "containers": [{"name": "c"}]},
           "status": {"phase": "Running", "containerStatuses": [
               {"name": "c", "ready": True, "state": {"running": {}}}]}}
    row = pod_row(pod, 1796162700.0)  # 5 minutes after creation
    content = {i: cell_len(c) for i, c in enumerate(row.cells)}
    cols = list(POD_COLUMNS)
    before = {i: w for i, w, _ in layout_columns(cols, 78)}
    after = {i: w for i, w, _ in layout_columns(cols, 78, content)}
    name, status = 1, 3
    assert before[name] < len(A)  # the old layout cut every long name at 80 columns
    assert after[status] == len("STATUS") + 1 < before[status]  # "Running"
    assert after[name] > before[name]
    assert sum(after.values()) + len(after) - 1 == 78


def test_a_dropped_column_leaves_its_room_to_the_name():
    cols = [Column("NAME", 40, min_width=40, cut="middle"), Column("NODE", 20, priority=1), Column("AGE", 3)]
    layout = layout_columns(cols, 50, {0: 45, 1: 20, 2: 3})
    assert [i for i, _, _ in layout] == [0, 2]
    assert layout[0][1] == 45


def test_a_long_message_does_not_crowd_out_the_other_columns():
    cols = [Column("NAME", 30, min_width=20, cut="middle"), Column("PHASE", 12),
            Column("MESSAGE", 30, priority=4)]
    layout = layout_columns(cols, 120, {0: 25, 1: 9, 2: 250})
    assert [i for i, _, _ in layout] == [0, 1, 2]  # shown, cut at the end, taking what is left
    assert layout[0][1] == 25 and layout[2][1] == 120 - 25 - 9 - 2
