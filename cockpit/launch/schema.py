"""Check a preset file against preset.schema.json with `jsonschema`, every error on its YAML line.

The file is composed into YAML nodes and turned into plain data once (`YamlTree`), keeping the
node of every value and every mapping key by its JSON path. The Draft 2020-12 validator then
checks the data, and each error's `absolute_path` leads back to the node, so the user reads
`file:line: field: message` in their own words rather than the validator's.

`check_supported` keeps the schema to the keywords `_message` puts into words: a new keyword in
preset.schema.json needs its message here first, or users would read jsonschema's wording.
"""

from __future__ import annotations

import difflib
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cockpit.launch.errors import PresetError

__all__ = ["YamlTree", "check_supported", "describe", "load_schema", "schema_errors", "type_of"]

_CHECKS = {"type", "enum", "const", "properties", "required", "additionalProperties", "propertyNames", "items",
           "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "$ref"}
_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$defs", "$comment"}
_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "nothing (null)"}

JsonPath = tuple[str | int, ...]


def load_schema() -> dict:
    """The preset schema shipped in this package (itself checked against the 2020-12 meta-schema)."""
    text = resources.files("cockpit.launch").joinpath("preset.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    check_supported(schema)
    return schema


def check_supported(schema: Any, path: str = "#") -> None:
    """Raise if the schema uses a keyword whose errors have no message of ours."""
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
    """The JSON type name of a YAML value (a date or bytes keeps its Python name)."""
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


def describe(value: Any) -> str:
    kind = type_of(value)
    words = _TYPE_WORDS.get(kind, f"a {kind}")
    if kind in ("string", "integer", "number", "boolean"):
        text = json.dumps(value) if kind != "string" else repr(value)
        if len(text) > 30:
            text = text[:27] + "..."
        return f"{words} ({text})"
    return words


def field_name(path: JsonPath) -> str:
    """`("parameters", "gpus", "type")` -> `parameters.gpus.type`; `("templates", 0)` -> `templates[0]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class YamlTree:
    """A composed YAML document as plain data, with the node of each value and key by JSON path.

    What JSON cannot hold is reported here, on its line, and left out of `data`: keys that are
    not plain names, a key given twice, a scalar PyYAML cannot construct (its value is None)."""

    def __init__(self, root: Node, file: str) -> None:
        self.file = file
        self.root = root
        self.values: dict[JsonPath, Node] = {}
        self.keys: dict[JsonPath, Node] = {}
        self.errors: list[PresetError] = []
        self._constructor = SafeConstructor()
        self.data = self._plain(root, ())

    def line(self, path: JsonPath) -> int:
        """The line of the value at `path`, or of its nearest ancestor that has one."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, self.root).start_mark.line + 1

    def key_line(self, path: JsonPath) -> int:
        node = self.keys.get(path)
        return node.start_mark.line + 1 if node is not None else self.line(path)

    def _error(self, node: Node, path: JsonPath, message: str) -> None:
        self.errors.append(PresetError(self.file, node.start_mark.line + 1, field_name(path), message))

    def _plain(self, node: Node, path: JsonPath) -> Any:
        self.values[path] = node
        if isinstance(node, SequenceNode):
            return [self._plain(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self._error(key_node, path, "a key must be a plain name")
                    continue
                key = self._scalar(key_node, path)
                if not isinstance(key, str):
                    self._error(key_node, path, f"a key must be a name, got {describe(key)}")
                    continue
                sub = (*path, key)
                if key in out:
                    self._error(key_node, sub, "duplicate key")
                    continue
                self.keys[sub] = key_node
                out[key] = self._plain(value_node, sub)
            return out
        return self._scalar(node, path)

    def _scalar(self, node: Node, path: JsonPath) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as e:
            self._error(node, path, f"cannot read this value: {e.problem or e}")
        except Exception as e:  # noqa: BLE001 - PyYAML's constructors fail in many ways on odd tags
            self._error(node, path, f"cannot read this value ({node.tag}): {e or type(e).__name__}")
        return None


def _is_integer(_checker: Any, value: Any) -> bool:
    # YAML `1.0` is a float; JSON Schema's "integer" would take it, the preset format does not.
    return isinstance(value, int) and not isinstance(value, bool)


# The validator class, with the integer check above; one validator per schema object, reused.
_PresetValidator = extend(Draft202012Validator,
                          type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))
_validators: dict[int, tuple[dict, Any]] = {}


def _validator(schema: dict) -> Any:
    held = _validators.get(id(schema))
    if held is None or held[0] is not schema:
        held = _validators[id(schema)] = (schema, _PresetValidator(schema))
    return held[1]


def schema_errors(tree: YamlTree, schema: dict) -> list[PresetError]:
    """Every schema error in the tree as a PresetError on its line (the tree's own errors first)."""
    errors = list(tree.errors)
    unreadable = {e.field for e in tree.errors}
    seen: set[tuple[str, int | None, str]] = set()
    bad_names: set[JsonPath] = set()
    found = sorted(_validator(schema).iter_errors(tree.data), key=lambda e: len(e.absolute_path))
    for error in found:
        path: JsonPath = tuple(error.absolute_path)
        if any(path[: len(b)] == b for b in bad_names) or field_name(path) in unreadable:
            continue
        for problem in _problems(error, path, tree, bad_names):
            key = (problem.field, problem.line, problem.message)
            if key not in seen:
                seen.add(key)
                errors.append(problem)
    return errors


def _problems(error: ValidationError, path: JsonPath, tree: YamlTree, bad_names: set[JsonPath]) -> list[PresetError]:
    file = tree.file
    schema_path = list(error.absolute_schema_path)
    if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
        # The error is about a key (the instance is the name), reported on the key's line.
        sub = (*path, error.instance)
        bad_names.add(sub)
        return [PresetError(file, tree.key_line(sub), field_name(sub), f"bad name: {_message(error)}")]
    if error.validator == "required":
        return [PresetError(file, tree.line(path), field_name((*path, name)), f"missing required field {name!r}")
                for name in error.validator_value if name not in error.instance]
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = list(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            sub = (*path, key)
            out.append(PresetError(file, tree.key_line(sub), field_name(sub),
                                   f"unknown field {key!r} ({hint}expected one of: {', '.join(known)})"))
        return out
    return [PresetError(file, tree.line(path), field_name(path), _message(error))]


def _message(error: ValidationError) -> str:
    """One validator error in the preset format's words."""
    kind, want, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        wants = want if isinstance(want, list) else [want]
        return f"wrong type: expected {' or '.join(_TYPE_WORDS.get(w, w) for w in wants)}, got {describe(value)}"
    if kind in ("enum", "const"):
        choices = want if kind == "enum" else [want]
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{describe(value)} is not one of: {', '.join(map(str, choices))}{hint}"
    if kind == "minLength":
        return "must not be empty" if want == 1 else f"must be at least {want} characters"
    if kind == "maxLength":
        return f"must be at most {want} characters"
    if kind == "pattern":
        return f"{value!r} does not match {want}"
    if kind == "minimum":
        return f"must be at least {want}"
    if kind == "maximum":
        return f"must be at most {want}"
    if kind == "minItems":
        return f"needs at least {want} item(s)"
    if kind == "maxItems":
        return f"takes at most {want} item(s)"
    if kind is None or error.schema is False:
        return "is not allowed here"
    return error.message
