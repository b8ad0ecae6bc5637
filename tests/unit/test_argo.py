"""cockpit.kube.argo: pod names of workflow nodes and the step tree."""

from __future__ import annotations

from functools import reduce
from pathlib import Path
from typing import Any

import pytest
import yaml

from cockpit.kube.argo import OFFLOADED_MESSAGE, fnv1a_32, step_tree, workflow_node_pod_name

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1717243200.0  # 2024-06-01T12:00:00Z


def ref_fnv1a(s: str) -> int:
    """An independent FNV-1a (32 bit): offset basis 2166136261, prime 16777619."""
    return reduce(lambda h, b: ((h ^ b) * 16777619) % 2**32, s.encode(), 2166136261)


def workflows() -> dict[str, dict[str, Any]]:
    items = yaml.safe_load((FIXTURES / "workflows.yaml").read_text())["items"]
    return {wf["metadata"]["name"]: wf for wf in items}


@pytest.mark.parametrize(
    ("s", "expected"),
    [("", 0x811C9DC5), ("a", 0xE40C292C), ("foobar", 0xBF9CF968)],  # published FNV-1a vectors
)
def test_fnv1a_vectors(s: str, expected: int) -> None:
    assert fnv1a_32(s) == expected


@pytest.mark.parametrize("s", ["hello", "hello-world-abc12[0].step1", "ünï[3](0:x)", "x" * 300])
def test_fnv1a_matches_reference(s: str) -> None:
    assert fnv1a_32(s) == ref_fnv1a(s)


def test_pod_name_hard_example() -> None:
    node = {"name": "hello-world-abc12[0].step1", "templateName": "whalesay", "type": "Pod"}
    expected = f"hello-world-abc12-whalesay-{ref_fnv1a('hello-world-abc12[0].step1')}"
    assert workflow_node_pod_name("hello-world-abc12", node) == expected


def test_template_ref_wins_over_template_name() -> None:
    node = {
        "name": "wf[0].train",
        "templateName": "ignored",
        "templateRef": {"name": "shared-ml-templates", "template": "train-gpu"},
    }
    assert workflow_node_pod_name("wf", node) == f"wf-train-gpu-{ref_fnv1a('wf[0].train')}"


def test_root_node_of_single_pod_workflow_is_named_like_the_workflow() -> None:
    assert workflow_node_pod_name("whalesay-x7k2p", {"name": "whalesay-x7k2p", "templateName": "w"}) == (
        "whalesay-x7k2p"
    )


def test_long_prefix_is_cut_to_242() -> None:
    wf, template = "w" * 200, "t" * 100
    name = workflow_node_pod_name(wf, {"name": "n", "templateName": template})
    prefix = f"{wf}-{template}"[:242]
    assert name == f"{prefix}-{ref_fnv1a('n')}"
    assert len(name) <= 253


def test_no_template_and_v1_names() -> None:
    assert workflow_node_pod_name("wf", {"name": "wf.x"}) == f"wf-{ref_fnv1a('wf.x')}"
    assert workflow_node_pod_name("wf", {"id": "wf-123", "name": "wf.x"}, version="v1") == "wf-123"


def test_step_tree_of_a_steps_workflow() -> None:
    lines = step_tree(workflows()["hello-world-abc12"], NOW)
    assert [(line.depth, line.name, line.type, line.phase) for line in lines] == [
        (0, "hello-world-abc12", "Steps", "Failed"),
        (1, "[0]", "StepGroup", "Succeeded"),
        (2, "step1", "Pod", "Succeeded"),
        (2, "train", "Pod", "Succeeded"),
        (1, "[1]", "StepGroup", "Failed"),
        (2, "evaluate", "Pod", "Failed"),
        (0, "hello-world-abc12.onExit", "Pod", "Succeeded"),  # exit handler: a second root
    ]
    by_name = {line.name: line for line in lines}
    assert by_name["step1"].pod_name == (
        f"hello-world-abc12-whalesay-{ref_fnv1a('hello-world-abc12[0].step1')}"
    )
    assert (
        by_name["train"].pod_name == f"hello-world-abc12-train-gpu-{ref_fnv1a('hello-world-abc12[0].train')}"
    )
    assert by_name["[0]"].pod_name == "" and by_name["hello-world-abc12"].pod_name == ""
    assert by_name["step1"].duration == "35s"
    assert by_name["hello-world-abc12"].duration == "3m15s"
    assert by_name["evaluate"].message == "Error (exit code 1): AssertionError: accuracy 0.61 < 0.9"


def test_step_tree_of_a_single_pod_workflow() -> None:
    (line,) = step_tree(workflows()["whalesay-x7k2p"], NOW)
    assert (line.depth, line.type, line.pod_name, line.duration) == (0, "Pod", "whalesay-x7k2p", "2m")


@pytest.mark.parametrize("name", ["sweep-lr-9qz4t", "compressed-8kd2f"])
def test_offloaded_or_compressed_nodes(name: str) -> None:
    assert [line.name for line in step_tree(workflows()[name], NOW)] == [OFFLOADED_MESSAGE]


def test_workflow_not_started_has_no_lines() -> None:
    assert step_tree(workflows()["fresh-5n2lx"], NOW) == []
    assert step_tree({"metadata": {"name": "x"}}, NOW) == []


def test_malformed_status_is_tolerated() -> None:
    wf = {
        "metadata": {"name": "wf"},
        "status": {
            "nodes": {
                # no root node; a dangling child id; a children cycle
                "wf-1": {"id": "wf-1", "name": "wf.a", "type": "Pod", "children": ["wf-2", "missing"]},
                "wf-2": {"id": "wf-2", "name": "wf.b", "type": "Pod", "children": ["wf-1"]},
                "wf-3": {"id": "wf-3", "name": "wf.c\x1b[31m", "type": "Pod", "phase": "Running"},
            }
        },
    }
    lines = step_tree(wf, NOW)
    assert sorted(line.node_id for line in lines) == ["wf-1", "wf-2", "wf-3"]
    assert all("\x1b" not in line.name for line in lines)
