"""Watch streams in the API server's protobuf encoding, decoded into the typed schemas' dicts.

For the kinds Kubernetes itself defines (pods), the API server encodes protobuf at a fraction of
the CPU that JSON costs it: streaming 10,000 pods took it 0.4-0.8 s of CPU against 1.2-3.4 s for
the same list as JSON, and 27 MB on the wire against 43 MB (bench/RESULTS.md). On a small or busy
cluster the server's encoding is most of what a user waits for at start, so the informer asks for
protobuf where a kind has a schema here, and takes JSON where the server answers with it (custom
resources, aggregated API servers): the response's Content-Type decides.

Only the fields of the kind's TypedDict schema (cockpit/kube/typed.py) are declared, with
Kubernetes' own field numbers (k8s.io/api core/v1 and apimachinery generated.proto); the parser
(`protobuf`'s upb, in C) skips the rest, managedFields included. Each object becomes the same
plain dict the JSON decoding gives: empty strings, lists and maps left out as JSON's omitempty
leaves them, times as RFC 3339 strings, quantities as their strings, a volume's source inlined as
in JSON. `tests/unit/test_proto.py` holds the declared fields to the TypedDict's, and
`tests/integration/test_proto_stream.py` compares both decodings of every pod of the demo cluster.

The stream (`application/vnd.kubernetes.protobuf;stream=watch`) is a sequence of frames, each a
4-byte big-endian length and a meta/v1 WatchEvent, whose object is the enveloped encoding: the
magic `k8s\\0`, then a runtime.Unknown holding the object's bytes.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

PROTOBUF_WATCH = "application/vnd.kubernetes.protobuf;stream=watch"
# Asked for by the informer's watches of kinds with a schema here; JSON where the server has no
# protobuf encoding for the resource.
ACCEPT_WATCH = f"{PROTOBUF_WATCH}, application/json"
MAGIC = b"k8s\x00"

# message -> (field, number, type): "[T]" repeated, "map<V>" a map with string keys, "Time" a
# meta/v1 Time, "inline:T" a struct that JSON inlines into its parent (a volume's VolumeSource),
# "int32?" a number that JSON leaves out when it is 0 (omitempty).
SCHEMA: dict[str, tuple[tuple[str, int, str], ...]] = {
    "Pod": (("metadata", 1, "ObjectMeta"), ("spec", 2, "PodSpec"), ("status", 3, "PodStatus")),
    "ObjectMeta": (("name", 1, "string"), ("namespace", 3, "string"), ("uid", 5, "string"),
                   ("resourceVersion", 6, "string"), ("creationTimestamp", 8, "Time"),
                   ("deletionTimestamp", 9, "Time"), ("labels", 11, "map<string>"),
                   ("ownerReferences", 13, "[OwnerRef]")),
    "OwnerRef": (("kind", 1, "string"), ("name", 3, "string"), ("uid", 4, "string"), ("apiVersion", 5, "string"),
                 ("controller", 6, "bool")),
    "Time": (("seconds", 1, "int64"), ("nanos", 2, "int32")),
    "Quantity": (("string", 1, "string"),),
    "PodSpec": (("volumes", 1, "[Volume]"), ("containers", 2, "[Container]"), ("nodeName", 10, "string"),
                ("initContainers", 20, "[Container]"), ("overhead", 32, "map<Quantity>"),
                ("resourceClaims", 39, "[PodResourceClaim]")),
    "Container": (("name", 1, "string"), ("resources", 8, "Resources"), ("restartPolicy", 24, "string")),
    "Resources": (("limits", 1, "map<Quantity>"), ("requests", 2, "map<Quantity>")),
    "Volume": (("name", 1, "string"), ("volumeSource", 2, "inline:VolumeSource")),
    "VolumeSource": (("persistentVolumeClaim", 10, "ClaimSource"), ("ephemeral", 29, "Present")),
    "ClaimSource": (("claimName", 1, "string"),),
    "Present": (),
    "PodResourceClaim": (("name", 1, "string"),),
    "PodStatus": (("phase", 1, "string"), ("conditions", 2, "[Condition]"), ("message", 3, "string"),
                  ("reason", 4, "string"), ("startTime", 7, "Time"), ("containerStatuses", 8, "[ContainerStatus]"),
                  ("initContainerStatuses", 10, "[ContainerStatus]")),
    "Condition": (("type", 1, "string"), ("status", 2, "string"), ("reason", 5, "string"), ("message", 6, "string")),
    "ContainerStatus": (("name", 1, "string"), ("state", 2, "ContainerState"), ("ready", 4, "bool"),
                        ("restartCount", 5, "int32"), ("started", 9, "bool")),
    "ContainerState": (("waiting", 1, "Waiting"), ("running", 2, "Present"), ("terminated", 3, "Terminated")),
    "Waiting": (("reason", 1, "string"), ("message", 2, "string")),
    "Terminated": (("exitCode", 1, "int32"), ("signal", 2, "int32?"), ("reason", 3, "string"), ("message", 4, "string")),
    # What a bookmark's object carries: the resourceVersion, and the annotation that ends a
    # streaming list's initial events.
    "BookmarkMeta": (("resourceVersion", 6, "string"), ("annotations", 12, "map<string>")),
    "Bookmark": (("metadata", 1, "BookmarkMeta"),),
    # meta/v1 Status, the object of an ERROR event (410 Gone: relist).
    "Status": (("status", 2, "string"), ("message", 3, "string"), ("reason", 4, "string"), ("code", 6, "int32")),
    # The envelope: runtime.Unknown (its raw bytes read as the object they hold), the watch event.
    "TypeMeta": (("apiVersion", 1, "string"), ("kind", 2, "string")),
    "RawExtension": (("raw", 1, "bytes"),),
    "WatchEvent": (("type", 1, "string"), ("object", 2, "RawExtension")),
}
# Top-level kinds: the schema's message for a TypedDict's name in cockpit/kube/typed.py.
KINDS = {"Pod": "Pod"}
_ENVELOPED = ("Pod", "Bookmark", "Status")
_SCALARS = ("string", "int64", "int32", "bool", "bytes")


class ProtoError(ValueError):
    """A frame that is not what the schema expects."""


def _classes() -> dict[str, Any]:
    """The message classes, built from SCHEMA at run time (no generated code to keep in step)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FieldDescriptorProto
    types = {"string": fdp.TYPE_STRING, "int64": fdp.TYPE_INT64, "int32": fdp.TYPE_INT32, "bool": fdp.TYPE_BOOL,
             "bytes": fdp.TYPE_BYTES}
    file = descriptor_pb2.FileDescriptorProto(name="cockpit/kube/proto.proto", package="cockpit", syntax="proto2")

    def add(msg, name: str, number: int, typ: str) -> None:
        field = msg.field.add(name=name, number=number, label=fdp.LABEL_OPTIONAL)
        typ = typ.rstrip("?")
        if typ.startswith("["):
            field.label, typ = fdp.LABEL_REPEATED, typ[1:-1]
        typ = typ.removeprefix("inline:")
        if typ.startswith("map<"):
            entry = msg.nested_type.add(name=name[0].upper() + name[1:] + "Entry")
            entry.options.map_entry = True
            add(entry, "key", 1, "string")
            # A Quantity is read as its message's bytes (wire-compatible, see _quantity): a map of
            # messages costs a Python object per value read, a map of bytes does not.
            add(entry, "value", 2, "bytes" if typ == "map<Quantity>" else typ[4:-1])
            field.label, field.type, field.type_name = fdp.LABEL_REPEATED, fdp.TYPE_MESSAGE, f".cockpit.{msg.name}.{entry.name}"
        elif typ in types:
            field.type = types[typ]
        else:
            field.type, field.type_name = fdp.TYPE_MESSAGE, f".cockpit.{typ}"

    for name, fields in SCHEMA.items():
        msg = file.message_type.add(name=name)
        for field_name, number, typ in fields:
            add(msg, field_name, number, typ)
    # Each object's envelope, with its raw bytes read as the object (wire-compatible: bytes and an
    # embedded message are both length-delimited).
    for name in _ENVELOPED:
        msg = file.message_type.add(name=f"Unknown{name}")
        add(msg, "typeMeta", 1, "TypeMeta")
        add(msg, "raw", 2, name)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"cockpit.{n}"))
            for n in [*SCHEMA, *(f"Unknown{e}" for e in _ENVELOPED)]}


_times: dict[int, str] = {}
_quantity_class: Any = None  # the Quantity message class, once built


def _time(msg) -> str:
    """A meta/v1 Time as JSON writes it (seconds, UTC)."""
    seconds = msg.seconds
    text = _times.get(seconds)
    if text is None:
        if len(_times) > 100_000:
            _times.clear()
        text = _times[seconds] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    return text


def _quantity(raw: bytes) -> str:
    """A resource.Quantity message's bytes -> its string: field 1, length-delimited. A quantity
    is a few characters: one length byte; anything else goes through the parser."""
    if len(raw) > 2 and raw[0] == 0x0A and raw[1] == len(raw) - 2:
        return raw[2:].decode()
    return _quantity_class.FromString(raw).string if raw else ""


def _converters() -> dict[str, Callable[[Any], dict]]:
    """message -> dict, one function per message, written from SCHEMA: attribute reads on the
    parsed message are much cheaper than walking it generically (ListFields)."""
    src: list[str] = []
    for name, fields in SCHEMA.items():
        body = [f"def c_{name}(m):", "    d = {}"]
        for field, _, typ in fields:
            key = repr(field)
            if typ.startswith("["):
                body += [f"    v = m.{field}", f"    if v: d[{key}] = [c_{typ[1:-1]}(x) for x in v]"]
            elif typ == "map<string>":
                body += [f"    v = m.{field}", f"    if v: d[{key}] = {{k: v[k] for k in v}}"]
            elif typ == "map<Quantity>":
                body += [f"    v = m.{field}", f"    if v: d[{key}] = {{k: _quantity(v[k]) for k in v}}"]
            elif typ in ("string", "bytes"):  # JSON leaves empty strings out (omitempty)
                body += [f"    v = m.{field}", f"    if v: d[{key}] = v"]
            elif typ.endswith("?"):
                body += [f"    v = m.{field}", f"    if v: d[{key}] = v"]
            elif typ in _SCALARS:
                body += [f"    if m.HasField({key}): d[{key}] = m.{field}"]
            elif typ == "Time":
                body += [f"    if m.HasField({key}): d[{key}] = _time(m.{field})"]
            elif typ.startswith("inline:"):
                body += [f"    if m.HasField({key}): d.update(c_{typ[7:]}(m.{field}))"]
            else:
                body += [f"    if m.HasField({key}): d[{key}] = c_{typ}(m.{field})"]
        body.append("    return d")
        src.append("\n".join(body))
    ns: dict[str, Any] = {"_time": _time, "_quantity": _quantity}
    exec(compile("\n\n".join(src), "<cockpit.kube.proto converters>", "exec"), ns)  # noqa: S102
    return {name: ns[f"c_{name}"] for name in SCHEMA}


class EventDecoder:
    """Frames of one kind's protobuf watch stream -> (event type, object dict)."""

    _shared: tuple[dict, dict] | None = None

    def __init__(self, kind: str) -> None:
        global _quantity_class
        if EventDecoder._shared is None:
            EventDecoder._shared = (_classes(), _converters())
            _quantity_class = EventDecoder._shared[0]["Quantity"]
        classes, converters = EventDecoder._shared
        self.kind = kind
        self._event = classes["WatchEvent"]
        self._object = classes[f"Unknown{kind}"]
        self._bookmark = classes["UnknownBookmark"]
        self._status = classes["UnknownStatus"]
        self._convert = converters[kind]
        self._convert_bookmark = converters["Bookmark"]
        self._convert_status = converters["Status"]
        from google.protobuf.message import DecodeError

        self._decode_error = DecodeError

    def decode(self, frame: bytes | memoryview) -> tuple[str, dict]:
        try:
            ev = self._event.FromString(frame)
            raw = ev.object.raw
            if not raw.startswith(MAGIC):
                raise ProtoError("the event's object is not in the protobuf envelope")
            kind = ev.type
            body = memoryview(raw)[4:]
            if kind == "BOOKMARK":
                return kind, self._convert_bookmark(self._bookmark.FromString(body).raw)
            if kind == "ERROR":
                return kind, self._convert_status(self._status.FromString(body).raw)
            return kind, self._convert(self._object.FromString(body).raw)
        except self._decode_error as e:
            raise ProtoError(str(e)) from None


def frames(buffer: bytearray) -> list[bytes]:
    """The whole frames at the front of `buffer`, removed from it; a partial frame stays there
    for the next chunk."""
    out: list[bytes] = []
    start, end = 0, len(buffer)
    while end - start >= 4:
        (length,) = struct.unpack_from(">I", buffer, start)
        if end - start - 4 < length:
            break
        out.append(bytes(buffer[start + 4:start + 4 + length]))
        start += 4 + length
    del buffer[:start]
    return out
