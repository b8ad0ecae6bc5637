"""Protobuf watch streams (cockpit/kube/proto.py) on recorded server output.

tests/unit/fixtures/watch/ holds what the demo cluster's API server (Kubernetes v1.36) sent for
one streaming list of the team-nlp namespace's pods, once as protobuf and once as JSON at the
same moment, and the ERROR event it sends for a watch from a resourceVersion it no longer has
(recorded by tests/support/record_watch.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.kube import proto, typed

FIXTURES = Path(__file__).parent / "fixtures" / "watch"


def _paths(message: str, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The key paths the converter of `message` can produce, in declared_paths' notation."""
    out: set[tuple[str, ...]] = set()
    for field, _, typ in proto.SCHEMA[message]:
        typ = typ.rstrip("?")
        if typ.startswith("inline:"):
            out |= _paths(typ[7:], prefix)  # JSON inlines it: its fields are the parent's
            continue
        path = prefix + (field,)
        out.add(path)
        if typ.startswith("["):
            out |= _paths(typ[1:-1], path + ("[]",)) | {path + ("[]",)}
        elif typ.startswith("map<"):
            out.add(path + ("*",))
        elif typ not in ("string", "int32", "int64", "bool", "bytes", "Time"):
            out |= _paths(typ, path)
    return out


def test_the_protobuf_schema_declares_exactly_the_typed_schemas_fields():
    # The rows and the GPU maths read what typed.Pod declares (test_typed_decoding holds them to
    # it); protobuf must give them the same fields, no fewer and no more.
    assert _paths("Pod") == typed.declared_paths(typed.Pod)


def _events(data: bytes, chunk: int) -> list[tuple[str, dict]]:
    decoder = proto.EventDecoder("Pod")
    buffer, out = bytearray(), []
    for i in range(0, len(data), chunk):
        buffer += data[i:i + chunk]
        out.extend(decoder.decode(frame) for frame in proto.frames(buffer))
    assert not buffer  # nothing left over: the stream was whole frames
    return out


def test_each_pod_decodes_as_its_json_does():
    events = _events((FIXTURES / "pods.pb").read_bytes(), 1 << 16)
    json_events = typed.Decoders(typed.Pod).event
    expected = {}
    for line in (FIXTURES / "pods.jsonl").read_bytes().splitlines():
        if line.startswith(b'{"type":"BOOKMARK"'):
            continue  # the informer reads those whole (orjson)
        ev = json_events.decode(line)
        if ev.type == "ADDED":
            meta = ev.object["metadata"]
            expected[f"{meta['namespace']}/{meta['name']}"] = ev.object
    added = [obj for kind, obj in events if kind == "ADDED"]
    assert len(added) == len(expected) >= 5
    for obj in added:
        meta = obj["metadata"]
        assert obj == expected[f"{meta['namespace']}/{meta['name']}"]
    # Pods of the kinds the fixture holds: GPUs requested, pending on the scheduler, Argo's init containers.
    assert any("nvidia.com/gpu" in str(o["spec"]["containers"]) for o in added)
    assert any(o["status"].get("phase") == "Pending" for o in added)
    assert any(o["spec"].get("initContainers") for o in added)


def test_the_bookmark_that_ends_the_initial_events_keeps_its_annotation():
    kind, obj = _events((FIXTURES / "pods.pb").read_bytes(), 1 << 16)[-1]
    assert kind == "BOOKMARK"
    assert obj["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert obj["metadata"]["resourceVersion"].isdigit()


@pytest.mark.parametrize("chunk", [1, 3, 4, 5, 997])
def test_frames_split_anywhere_by_the_network_decode_the_same(chunk):
    data = (FIXTURES / "pods.pb").read_bytes()
    assert _events(data, chunk) == _events(data, len(data))


def test_an_error_event_carries_the_servers_status():
    [(kind, obj)] = _events((FIXTURES / "too-old.pb").read_bytes(), 1 << 16)
    assert kind == "ERROR"
    assert obj["code"] == 410  # the informer relists
    assert "too old resource version" in obj["message"]


def test_a_partial_frame_waits_for_the_rest():
    data = (FIXTURES / "too-old.pb").read_bytes()
    buffer = bytearray(data[:-1])
    assert proto.frames(buffer) == []
    assert bytes(buffer) == data[:-1]  # kept for the next chunk
    buffer += data[-1:]
    assert len(proto.frames(buffer)) == 1 and not buffer


@pytest.mark.parametrize("frame", [
    b"\x0a\x05ADDED\x12\x05\x0a\x03{}\n",  # an object without the protobuf envelope (JSON)
    b"\x0a\x05ADDED\x12\x09\x0a\x07k8s\x00\xff\xff\xff",  # the envelope, then bytes that are no message
])
def test_what_is_not_the_expected_protobuf_is_an_error_not_a_guess(frame):
    with pytest.raises(proto.ProtoError):
        proto.EventDecoder("Pod").decode(frame)
