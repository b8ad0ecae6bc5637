"""Argo Workflows helpers: the pod behind a workflow node, and the step tree of a workflow.

Works on raw `argoproj.io/v1alpha1` Workflow objects (DOMAIN.md section 4).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.kube.rows import duration_seconds, fmt_age, parse_time
from cockpit.kube.text import clean

__all__ = [
    "OFFLOADED_MESSAGE",
    "POD_NAME_ANNOTATION",
    "StepLine",
    "fnv1a_32",
    "node_template_name",
    "step_tree",
    "workflow_node_pod_name",
]

POD_NAME_ANNOTATION = "workflows.argoproj.io/pod-name-format"
OFFLOADED_MESSAGE = "node status is compressed/offloaded; open in argo-server"

_MAX_NAME = 253  # Kubernetes object name limit
_HASH_RESERVE = 10  # decimal digits of a 32-bit hash
_MAX_PREFIX = _MAX_NAME - _HASH_RESERVE - 1  # 242: room for "-" and the hash


def fnv1a_32(s: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes of `s` (Go's hash/fnv New32a)."""
    h = 0x811C9DC5
    for byte in s.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def node_template_name(node: Mapping[str, Any]) -> str:
    """The template a node ran: templateRef.template wins over templateName, as in the controller."""
    ref = node.get("templateRef")
    if ref:
        return str(ref.get("template") or "")
    return str(node.get("templateName") or "")


def workflow_node_pod_name(wf_name: str, node: Mapping[str, Any], version: str = "v2") -> str:
    """Name of the pod that ran workflow node `node` (meaningful for nodes of type Pod).

    v2 (the default since Argo 3.2): `<wf>-<template>-<fnv1a_32(node.name)>`, the prefix cut to
    242 characters; the node named like the workflow (single-pod workflow root) runs in pod
    `<wf>`. v1 (annotation pod-name-format: v1): the node id.
    """
    if version == "v1":
        return str(node.get("id", ""))
    node_name = str(node.get("name", ""))
    if node_name == wf_name:
        return wf_name
    template = node_template_name(node)
    prefix = f"{wf_name}-{template}" if template else wf_name
    return f"{prefix[:_MAX_PREFIX]}-{fnv1a_32(node_name)}"


@dataclass(frozen=True, slots=True)
class StepLine:
    depth: int
    name: str  # display name, cleaned
    type: str = ""
    phase: str = ""
    pod_name: str = ""  # only for nodes of type Pod
    duration: str = ""
    message: str = ""
    node_id: str = ""
    template: str = ""


def _line(wf_name: str, node: Mapping[str, Any], depth: int, now: float, version: str) -> StepLine:
    node_type = str(node.get("type", ""))
    pod = workflow_node_pod_name(wf_name, node, version) if node_type == "Pod" else ""
    dur = duration_seconds(node.get("startedAt"), node.get("finishedAt"), now)
    return StepLine(
        depth=depth,
        name=clean(node.get("displayName") or node.get("name", ""), 253),
        type=clean(node_type, 32),
        phase=clean(node.get("phase") or "Pending", 32),
        pod_name=clean(pod, 253),
        duration=fmt_age(dur),
        message=clean(node.get("message", ""), 512),
        node_id=clean(node.get("id", ""), 253),
        template=clean(node_template_name(node), 253),
    )


_GROUP_TYPES = frozenset({"StepGroup", "TaskGroup", "Retry"})


def step_tree(wf: Mapping[str, Any], now: float | None = None) -> list[StepLine]:
    """Depth-first lines of the node tree, from the root node (id == workflow name).

    `children` alone is not the display tree: in a steps template each step lists the *next*
    step group as its child, and in a DAG each task lists its dependants. So, as `argo get`
    does, a node hangs under the group (StepGroup/TaskGroup/Retry) that lists it, else under
    its boundary (the Steps/DAG node it belongs to), else under any node that lists it.
    Siblings are ordered by start time. Nodes with no parent (exit handlers) follow as
    further roots. Offloaded or compressed node status gives a single explanatory line; a
    workflow that has not started gives no lines.
    """
    if now is None:
        now = time.time()
    meta = wf.get("metadata") or {}
    status = wf.get("status") or {}
    wf_name = str(meta.get("name", ""))
    version = "v1" if (meta.get("annotations") or {}).get(POD_NAME_ANNOTATION) == "v1" else "v2"
    raw_nodes = status.get("nodes")
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        if status.get("compressedNodes") or status.get("offloadNodeStatusVersion"):
            return [StepLine(depth=0, name=OFFLOADED_MESSAGE, message=OFFLOADED_MESSAGE)]
        return []
    nodes: dict[str, Mapping[str, Any]] = {str(k): v for k, v in raw_nodes.items() if isinstance(v, Mapping)}

    group_parent: dict[str, str] = {}
    any_parent: dict[str, str] = {}
    for node_id, node in nodes.items():
        is_group = node.get("type") in _GROUP_TYPES
        for child in node.get("children") or ():
            if child in nodes and child != node_id:
                any_parent.setdefault(child, node_id)
                if is_group:
                    group_parent.setdefault(child, node_id)

    tree: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    roots: list[str] = []
    for node_id, node in nodes.items():
        boundary = node.get("boundaryID")
        if node_id == wf_name:
            parent = None
        elif node_id in group_parent:
            parent = group_parent[node_id]
        elif boundary in nodes and boundary != node_id:
            parent = boundary
        else:
            parent = any_parent.get(node_id)
        if parent is None:
            roots.append(node_id)
        else:
            tree[parent].append(node_id)

    def start_key(node_id: str) -> tuple[float, str]:
        started = parse_time(nodes[node_id].get("startedAt"))
        return (started if started is not None else float("inf"), str(nodes[node_id].get("name", "")))

    for kids in tree.values():
        kids.sort(key=start_key)
    roots.sort(key=lambda n: (n != wf_name, *start_key(n)))

    lines: list[StepLine] = []
    seen: set[str] = set()

    def walk(root: str) -> None:
        stack = [(root, 0)]
        while stack:
            node_id, depth = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            lines.append(_line(wf_name, nodes[node_id], depth, now, version))
            stack.extend((c, depth + 1) for c in reversed(tree[node_id]))

    for root in roots:
        walk(root)
    # Nodes whose parent links form a loop (malformed status) are still shown.
    for node_id in sorted((n for n in nodes if n not in seen), key=start_key):
        walk(node_id)
    return lines
