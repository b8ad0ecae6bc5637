"""A focused JSON Schema validator that works on YAML nodes, so every error has a line.

It understands the keywords preset.schema.json uses (and refuses a schema with others):
type, enum, const, properties, required, additionalProperties, propertyNames, items, minItems,
maxItems, minLength, maxLength, pattern, minimum, maximum and local `$ref`s; annotations
(title, description, default, examples, $schema, $id, $defs, $comment) are ignored.
"""

from __future__ import annotations

import difflib
import json
import re
from importlib import resources
from typing import Any

from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cockpit.launch.errors import PresetError

_CHECKS = {"type", "enum", "const", "properties", "required", "additionalProperties", "propertyNames", "items",
           "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "$ref"}
_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$defs", "$comment"}
_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "nothing (null)"}


def load_schema() -> dict:
    """The preset schema shipped in this package."""
    text = resources.files("cockpit.launch").joinpath("preset.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    check_supported(schema)
    return schema


def check_supported(schema: Any, path: str = "#") -> None:
    """Raise if the schema uses a keyword this validator does not implement."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise TypeError(f"{path}: a schema must be an object or a boolean")
    unknown = set(schema) - _CHECKS - _ANNOTATIONS
    if unknown:
        raise ValueError(f"{path}: unsupported schema keyword(s): {', '.join(sorted(unknown))}")
    for key in ("additionalProperties", "propertyNames", "items"):
        if key in schema:
            check_supported(schema[key], f"{path}/{key}")
    for name, sub in schema.get("properties", {}).items():
        check_supported(sub, f"{path}/properties/{name}")
    for name, sub in schema.get("$defs", {}).items():
        check_supported(sub, f"{path}/$defs/{name}")


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _matches_type(value: Any, want: str) -> bool:
    got = type_of(value)
    return got == want or (want == "number" and got == "integer")


def describe(value: Any) -> str:
    kind = type_of(value)
    words = _TYPE_WORDS.get(kind, f"a {kind}")
    if kind in ("string", "integer", "number", "boolean"):
        text = json.dumps(value) if kind != "string" else repr(value)
        if len(text) > 30:
            text = text[:27] + "..."
        return f"{words} ({text})"
    return words


class NodeValidator:
    """Validate a composed YAML document against a JSON schema; collect PresetErrors."""

    def __init__(self, schema: dict, file: str) -> None:
        self.root = schema
        self.file = file
        self.errors: list[PresetError] = []
        self._constructor = SafeConstructor()

    # plain values of nodes
    def value(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            try:
                return self._constructor.construct_object(node, deep=True)
            except ConstructorError as e:
                self.error(node, "", f"cannot read this value: {e.problem or e}")
                return None
            except Exception as e:  # noqa: BLE001 - PyYAML's constructors fail in many ways on odd tags
                self.error(node, "", f"cannot read this value ({node.tag}): {e or type(e).__name__}")
                return None
        if isinstance(node, SequenceNode):
            return [self.value(n) for n in node.value]
        if isinstance(node, MappingNode):
            out = {}
            for k, v in node.value:
                key = self.value(k)
                try:
                    out[key] = self.value(v)
                except TypeError:
                    pass
            return out
        return None

    def error(self, node: Node, field: str, message: str) -> None:
        self.errors.append(PresetError(self.file, node.start_mark.line + 1, field, message))

    def _ref(self, schema: dict) -> dict:
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $refs are supported: {ref}")
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def validate(self, node: Node, schema: Any, field: str = "") -> None:
        if schema is True or schema == {}:
            return
        if schema is False:
            self.error(node, field, "is not allowed here")
            return
        schema = self._ref(schema)
        value = self.value(node) if isinstance(node, ScalarNode) else None
        kind = "object" if isinstance(node, MappingNode) else "array" if isinstance(node, SequenceNode) \
            else type_of(value)
        if "type" in schema:
            wants = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            shown = value if isinstance(node, ScalarNode) else ({} if kind == "object" else [])
            if not any(_matches_type(shown, w) for w in wants):
                expected = " or ".join(_TYPE_WORDS.get(w, w) for w in wants)
                self.error(node, field, f"wrong type: expected {expected}, got {describe(shown)}")
                return
        if "enum" in schema or "const" in schema:
            plain = value if isinstance(node, ScalarNode) else self.value(node)
            choices = schema["enum"] if "enum" in schema else [schema["const"]]
            if not any(plain == c and type_of(plain) == type_of(c) for c in choices):
                close = difflib.get_close_matches(str(plain), [str(c) for c in choices], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(node, field, f"{describe(plain)} is not one of: {', '.join(map(str, choices))}{hint}")
                return
        if kind == "string":
            self._string(node, value, schema, field)
        elif kind in ("integer", "number"):
            if "minimum" in schema and value < schema["minimum"]:
                self.error(node, field, f"must be at least {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                self.error(node, field, f"must be at most {schema['maximum']}")
        elif kind == "array":
            self._array(node, schema, field)
        elif kind == "object":
            self._object(node, schema, field)

    def _string(self, node: Node, value: str, schema: dict, field: str) -> None:
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.error(node, field, "must not be empty" if schema["minLength"] == 1
                       else f"must be at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.error(node, field, f"must be at most {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            self.error(node, field, f"{value!r} does not match {schema['pattern']}")

    def _array(self, node: SequenceNode, schema: dict, field: str) -> None:
        items = node.value
        if "minItems" in schema and len(items) < schema["minItems"]:
            self.error(node, field, f"needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(items) > schema["maxItems"]:
            self.error(node, field, f"takes at most {schema['maxItems']} item(s)")
        if "items" in schema:
            for i, item in enumerate(items):
                self.validate(item, schema["items"], f"{field}[{i}]")

    def _object(self, node: MappingNode, schema: dict, field: str) -> None:
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        seen: set = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, field, "a key must be a plain name")
                continue
            key = self.value(key_node)
            if not isinstance(key, str):
                self.error(key_node, field, f"a key must be a name, got {describe(key)}")
                continue
            sub = f"{field}.{key}" if field else key
            if key in seen:
                self.error(key_node, sub, "duplicate key")
                continue
            seen.add(key)
            if "propertyNames" in schema:
                before = len(self.errors)
                self.validate(key_node, schema["propertyNames"], sub)
                if len(self.errors) > before:
                    self.errors[-1] = PresetError(self.file, key_node.start_mark.line + 1, sub,
                                                  f"bad name: {self.errors[-1].message}")
                    continue
            if key in props:
                self.validate(value_node, props[key], sub)
            elif extra is False:
                close = difflib.get_close_matches(key, list(props), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.error(key_node, sub, f"unknown field {key!r} ({hint}expected one of: {', '.join(props)})")
            else:
                self.validate(value_node, extra, sub)
        for req in schema.get("required", []):
            if req not in seen:
                where = f"{field}.{req}" if field else req
                self.error(node, where, f"missing required field {req!r}")
