"""Pods decoded into just their declared fields (cockpit.kube.typed) give the same rows, GPU
allocation, claim users and GPU-hours as the whole objects, and the code that reads them asks
for no field the schema leaves out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from cockpit.kube.hub import ClusterHub
from cockpit.kube.informer import Gone, Informer, Resource, Sink, object_key
from cockpit.kube.typed import Decoders, declared_paths
from cockpit.resources import registry

HERE = Path(__file__).parent
PODS_KIND = registry.get("pods")


def _recorded_pods() -> list[dict[str, Any]]:
    crafted = yaml.safe_load((HERE / "fixtures" / "pods.yaml").read_text())["items"]
    demo = json.loads((HERE.parent / "ui" / "recorded" / "demo-cluster.json").read_text())["pods"]
    return [*crafted, *demo]


PODS = _recorded_pods()


class _Noting(dict):
    """A dict that notes every key path asked of it, present or not."""

    def __init__(self, data: dict, path: tuple[str, ...], asked: set[tuple[str, ...]]):
        super().__init__({k: _note(v, path + (k,), asked) for k, v in data.items()})
        self._path, self._asked = path, asked

    def _ask(self, key: str) -> None:
        self._asked.add(self._path + (key,))

    def get(self, key, default=None):
        self._ask(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._ask(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._ask(key)
        return super().__contains__(key)

    def _all(self) -> None:
        self._ask("*")

    def items(self):
        self._all()
        return super().items()

    def keys(self):
        self._all()
        return super().keys()

    def values(self):
        self._all()
        return super().values()

    def __iter__(self):
        self._all()
        return super().__iter__()


def _note(value: Any, path: tuple[str, ...], asked: set[tuple[str, ...]]) -> Any:
    if isinstance(value, dict):
        return _Noting(value, path, asked)
    if isinstance(value, list):
        return [_note(v, path + ("[]",), asked) for v in value]
    return value


def _covered(path: tuple[str, ...], declared: set[tuple[str, ...]]) -> bool:
    return path in declared or any(path[:i] + ("*",) in declared for i in range(len(path)))


def _run_consumers(hub: ClusterHub, pods: list[dict]) -> None:
    transform = hub._transform(PODS_KIND, True)
    for pod in pods:
        object_key(pod)
        transform(pod)


def test_the_pod_consumers_read_only_declared_fields() -> None:
    asked: set[tuple[str, ...]] = set()
    hub = ClusterHub(None, offline=True)
    _run_consumers(hub, [_note(p, (), asked) for p in PODS])
    declared = declared_paths(PODS_KIND.typed)
    missing = sorted(".".join(p) for p in asked if not _covered(p, declared))
    assert not missing, f"read but not declared in cockpit.kube.typed.Pod: {missing}"
    # The noting dict does see the reads (a test that notes nothing proves nothing).
    assert ("status", "containerStatuses") in asked and ("spec", "volumes") in asked


def _typed(pods: list[dict]) -> list[dict]:
    body = orjson.dumps({"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": pods})
    return Decoders(PODS_KIND.typed).list.decode(body).items


def test_typed_pods_give_the_same_rows_allocation_claims_and_gpu_hours() -> None:
    typed = _typed(PODS)
    assert len(typed) == len(PODS)
    whole, slim = ClusterHub(None, offline=True, clock=lambda: 1.79e9), ClusterHub(None, offline=True, clock=lambda: 1.79e9)
    whole.load(PODS_KIND, PODS)
    slim.load(PODS_KIND, typed)
    assert whole.feeds["pods"].snapshot() == slim.feeds["pods"].snapshot()
    nodes = {(p.get("spec") or {}).get("nodeName") for p in PODS} - {None}
    assert any(whole.gpu.index.allocated(n) for n in nodes)  # GPU pods are among them
    for node in nodes:
        assert whole.gpu.index.allocated(node) == slim.gpu.index.allocated(node)
        assert whole.gpu.index.has_dra_claims(node) == slim.gpu.index.has_dra_claims(node)
    assert whole.claims.users and whole.claims.users == slim.claims.users
    assert whole.gpu_hours.snapshot() and whole.gpu_hours.snapshot() == slim.gpu_hours.snapshot()


def test_typed_pods_drop_what_no_consumer_reads() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "annotations": {"a": "b" * 1000},
                        "managedFields": [{"manager": "kubelet"}]},
           "spec": {"containers": [{"name": "c", "image": "x", "env": [{"name": "A", "value": "1"}],
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
           "status": {"phase": "Running", "podIP": "10.0.0.1"}}
    (slim,) = _typed([pod])
    assert slim == {"metadata": {"name": "p", "namespace": "n"},
                    "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
                    "status": {"phase": "Running"}}


class _Pages(Sink):
    def __init__(self) -> None:
        self.got: dict[str, Any] = {}

    def reset(self, items):
        self.got = items


def _informer() -> Informer:
    return Informer(None, Resource("", "v1", "pods"), _Pages(), lambda o: o, typed=PODS_KIND.typed)


def test_an_answer_the_schema_does_not_fit_is_read_whole_not_lost() -> None:
    odd = {"metadata": {"name": "p", "namespace": "n"},
           "status": {"phase": "Running", "containerStatuses": [{"name": "c", "restartCount": "3"}]}}
    items, meta = _informer()._parse_list(orjson.dumps({"metadata": {"resourceVersion": "9"}, "items": [odd]}))
    assert items == [odd] and meta["resourceVersion"] == "9"
    fits = {"metadata": {"name": "q", "namespace": "n", "uid": "u1"}, "status": {"phase": "Pending"}}
    items, meta = _informer()._parse_list(orjson.dumps({"metadata": {"continue": "c1", "remainingItemCount": 4},
                                                        "items": [fits]}))
    assert items == [{"metadata": {"name": "q", "namespace": "n", "uid": "u1"}, "status": {"phase": "Pending"}}]
    assert meta == {"continue": "c1", "remainingItemCount": 4}


def test_typed_watch_events_upsert_delete_and_an_expired_watch_relists() -> None:
    seen: list[tuple[str, Any]] = []

    class Events(Sink):
        def upsert(self, key, item):
            seen.append(("upsert", key, item))

        def delete(self, key):
            seen.append(("delete", key))

    inf = Informer(None, Resource("", "v1", "pods"), Events(), lambda o: o, typed=PODS_KIND.typed)
    pod = {"metadata": {"name": "p", "namespace": "n", "resourceVersion": "11", "annotations": {"x": "y"}},
           "status": {"phase": "Running"}}
    inf._line(orjson.dumps({"type": "ADDED", "object": pod}))
    inf._line(orjson.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}}))
    inf._line(orjson.dumps({"type": "DELETED", "object": pod}))
    assert seen == [("upsert", "n/p", {"metadata": {"name": "p", "namespace": "n", "resourceVersion": "11"},
                                       "status": {"phase": "Running"}}),
                    ("delete", "n/p")]
    assert inf.resource_version == "11"  # the DELETED event carries the object's own version
    with pytest.raises(Gone):
        inf._line(orjson.dumps({"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "code": 410,
                                                             "reason": "Expired", "message": "too old"}}))
