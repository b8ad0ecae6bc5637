"""Typed decoding of big lists: only the fields the rows and the GPU math read.

A list of 10,000 pods is 42 MB of JSON, most of it managedFields, annotations, env and probes
that no row shows. `msgspec` decodes straight into the declared shape and skips the rest without
building it: the same list decodes in a fraction of the time and memory `orjson` needs for the
whole dicts (bench/RESULTS.md). The results are still plain dicts, so the row builders, the GPU
index and the claim users read them as before; describe and YAML fetch the object itself.

A kind opts in with `typed = <its TypedDict>`. What its code reads must be declared here:
`tests/unit/test_typed_decoding.py` runs every consumer on recorded objects through a dict that
notes each key asked for and fails on one the schema leaves out. Anything that does not fit the
declared types (a server that sends something odd) makes the informer decode that answer in full
instead, so nothing is lost, only time.
"""

from __future__ import annotations

from typing import Any, Generic, TypedDict, TypeVar, get_args, get_origin, get_type_hints

import msgspec

T = TypeVar("T")

Quantities = dict[str, Any]  # "nvidia.com/gpu": "1" (a string, sometimes a number)


class OwnerRef(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    creationTimestamp: str
    deletionTimestamp: str
    labels: dict[str, str]
    ownerReferences: list[OwnerRef]


class Resources(TypedDict, total=False):
    requests: Quantities
    limits: Quantities


class Container(TypedDict, total=False):
    name: str
    restartPolicy: str  # "Always" on an init container makes it a sidecar
    resources: Resources


class ClaimSource(TypedDict, total=False):
    claimName: str


class Present(TypedDict, total=False):
    """A field whose presence is all that is read (a volume's `ephemeral`, a running state)."""


class Volume(TypedDict, total=False):
    name: str
    persistentVolumeClaim: ClaimSource
    ephemeral: Present


class PodResourceClaim(TypedDict, total=False):
    name: str


class PodSpec(TypedDict, total=False):
    nodeName: str
    containers: list[Container]
    initContainers: list[Container]
    overhead: Quantities
    resourceClaims: list[PodResourceClaim]
    volumes: list[Volume]


class Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str


class Terminated(TypedDict, total=False):
    reason: str
    message: str
    exitCode: int
    signal: int


class Waiting(TypedDict, total=False):
    reason: str
    message: str


class ContainerState(TypedDict, total=False):
    running: Present
    waiting: Waiting
    terminated: Terminated


class ContainerStatus(TypedDict, total=False):
    name: str
    ready: bool
    started: bool
    restartCount: int
    state: ContainerState


class PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    message: str
    startTime: str
    conditions: list[Condition]
    containerStatuses: list[ContainerStatus]
    initContainerStatuses: list[ContainerStatus]


class Pod(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


# "continue" is a Python keyword: the functional form.
ListMeta = TypedDict("ListMeta", {"continue": str, "resourceVersion": str, "remainingItemCount": int},
                     total=False)


class ObjectList(msgspec.Struct, Generic[T]):
    items: list[T] | None = None
    metadata: ListMeta = {}


class WatchEvent(msgspec.Struct, Generic[T]):
    type: str = ""
    object: T | None = None


class Decoders:
    """A list decoder and a watch-event decoder for one schema; `proto_kind` names its message in
    cockpit/kube/proto.py where the API server can stream it as protobuf (built on first use)."""

    def __init__(self, schema: type) -> None:
        from cockpit.kube import proto

        self.list = msgspec.json.Decoder(ObjectList[schema])  # type: ignore[valid-type]
        self.event = msgspec.json.Decoder(WatchEvent[schema])  # type: ignore[valid-type]
        self.proto_kind = proto.KINDS.get(schema.__name__, "")
        self._proto = None

    def proto_events(self):
        """The protobuf watch-event decoder (cockpit.kube.proto.EventDecoder) of this schema."""
        if self._proto is None:
            from cockpit.kube.proto import EventDecoder

            self._proto = EventDecoder(self.proto_kind)
        return self._proto


def declared_paths(schema: type, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path a TypedDict schema keeps ("[]" for list items, "*" where any key is kept),
    for the test that holds the consumers to it."""
    out: set[tuple[str, ...]] = set()
    for name, tp in get_type_hints(schema).items():
        path = prefix + (name,)
        out.add(path)
        out |= _paths_of(tp, path)
    return out


def _paths_of(tp: Any, path: tuple[str, ...]) -> set[tuple[str, ...]]:
    origin = get_origin(tp)
    if origin is list:
        return _paths_of(get_args(tp)[0], path + ("[]",))
    if origin is dict:
        return {path + ("*",)}
    if isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__"):
        return declared_paths(tp, path) | {path}
    return set()
