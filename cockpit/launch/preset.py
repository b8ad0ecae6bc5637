"""Launch presets: a YAML file with typed parameters and manifest templates.

    name: pytorch-train
    description: One GPU, one pod
    creates: [Job]
    parameters:
      image: {type: image, default: "nvcr.io/nvidia/pytorch:24.08-py3"}
      gpus:  {type: integer, default: 1, min: 0}
    templates:
      - |
        apiVersion: batch/v1
        kind: Job
        ...

`parse_preset` checks the file against preset.schema.json and then what a schema cannot say
(defaults valid for their type, templates that compile and only use declared names), raising a
`PresetError` with the file line. `Preset.render(values, namespace)` coerces the user's values
(`ParameterError` when one is wrong) and returns the manifests as dicts.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cockpit.config import YamlSyntaxError, check_aliases
from cockpit.launch.errors import ParameterError, PresetError, TemplateError
from cockpit.launch.params import NUMERIC, PATTERNED, Parameter
from cockpit.launch.schema import YamlTree, load_schema, schema_errors
from cockpit.launch.template import Template

__all__ = ["BUILTIN_NAMES", "CLUSTER_SCOPED", "MANAGED_BY", "Preset", "load_preset", "parse_preset",
           "parse_set", "validate_preset_text"]

# Names every template may use besides its parameters.
BUILTIN_NAMES = ("namespace", "preset", "timestamp")
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "RuntimeClass", "IngressClass", "ClusterWorkflowTemplate",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService", "VolumeSnapshotClass",
})
MANAGED_BY = "gpu-cockpit"
LABEL_PRESET = "gpu-cockpit.dev/preset"
LABEL_RUN = "gpu-cockpit.dev/run"
_SCHEMA: dict | None = None


def _schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = load_schema()
    return _SCHEMA


def utc_stamp(now: dt.datetime | None = None) -> str:
    """The run timestamp: UTC, YYYYMMDD-HHMMSS."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


@dataclass
class Preset:
    name: str
    description: str
    creates: list[str]
    parameters: dict[str, Parameter]
    templates: list[Template]
    file: str
    origin: str = "user"  # "builtin" or "user"
    text: str = field(default="", repr=False)

    # -- values ----------------------------------------------------------------------------------
    def check_values(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(coerced values with defaults filled in, errors by parameter name)."""
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for key in values:
            if key not in self.parameters:
                close = difflib.get_close_matches(str(key), list(self.parameters), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                errors[str(key)] = f"unknown parameter ({hint}{self.name} takes: {', '.join(self.parameters)})"
        for name, param in self.parameters.items():
            given = values.get(name)
            if given is not None:
                try:
                    out[name] = param.coerce(given)
                except ValueError as e:
                    errors[name] = str(e)
                except Exception as e:  # noqa: BLE001 - a checker bug must still read as a value error
                    errors[name] = f"cannot use {given!r}: {e}"
            elif param.has_default:
                out[name] = param.default
            elif param.required:
                errors[name] = "a value is required"
            else:
                out[name] = None
        return out, errors

    def resolve(self, values: Mapping[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
        """Coerced values plus the built-in names; ParameterError lists every wrong value."""
        out, errors = self.check_values(values)
        if errors:
            raise ParameterError(errors)
        stamp = utc_stamp(now)
        if "name" in self.parameters and not out.get("name"):
            out["name"] = generated_name(self.name, stamp)
        return {**out, "preset": self.name, "timestamp": stamp}

    def render(self, values: Mapping[str, Any], namespace: str = "default", *,
               now: dt.datetime | None = None) -> list[dict]:
        """The manifests for these values, with metadata.namespace set on namespaced kinds."""
        context = self.resolve(values, now=now)
        context["namespace"] = namespace
        return self.render_context(context)

    def render_context(self, context: Mapping[str, Any]) -> list[dict]:
        namespace = context.get("namespace") or "default"
        run = context.get("name") if isinstance(context.get("name"), str) else None
        docs: list[dict] = []
        for template in self.templates:
            for doc in template.render(context):
                check_manifest(doc, template)
                meta = doc["metadata"]
                if doc["kind"] not in CLUSTER_SCOPED:
                    meta["namespace"] = namespace
                labels = meta.get("labels")
                if labels is None:
                    labels = meta["labels"] = {}
                if isinstance(labels, dict):
                    labels.setdefault("app.kubernetes.io/managed-by", MANAGED_BY)
                    labels.setdefault(LABEL_PRESET, self.name)
                    if run and doc["kind"] not in ("PersistentVolumeClaim", "Namespace"):
                        labels.setdefault(LABEL_RUN, run)
                docs.append(doc)
        return docs

    def example_values(self) -> dict[str, Any]:
        return {name: p.example() for name, p in self.parameters.items() if not p.has_default}


def generated_name(preset: str, stamp: str) -> str:
    return f"{preset[: 52 - len(stamp) - 1].rstrip('-')}-{stamp}"


def check_manifest(doc: dict, template: Template) -> None:
    def bad(message: str) -> TemplateError:
        return TemplateError(template.file, template.first_line, template.field, message)

    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise bad(f"a rendered manifest has no {key}")
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        raise bad(f"the rendered {doc['kind']} has no metadata")
    name = meta.get("name")
    if not (isinstance(name, str) and name) and not (isinstance(meta.get("generateName"), str)
                                                      and meta["generateName"]):
        raise bad(f"the rendered {doc['kind']} has no metadata.name")


# -- reading preset files ------------------------------------------------------------------------

def _compose(text: str, file: str) -> Node:
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, max(e.position, 0)) + 1
        raise PresetError(file, line, "", f"bad YAML: unacceptable character #x{ord(e.character):04x}"
                          if isinstance(e.character, str) else f"bad YAML: {e.reason}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        context = getattr(e, "context", None)
        raise PresetError(file, line, "", f"bad YAML: {context + ', ' if context else ''}{problem}") from None
    except (ValueError, RecursionError) as e:
        raise PresetError(file, 1, "", f"bad YAML: {e}") from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise PresetError(file, 1, "", "the file is empty; a preset needs at least name and templates")
    if len(docs) > 1:
        raise PresetError(file, docs[1].start_mark.line + 1, "", "one preset per file (found a second document)")
    try:
        # The document becomes plain data before it is checked: an alias loop or bomb must stop here.
        check_aliases(docs[0])
    except YamlSyntaxError as e:
        raise PresetError(file, e.line, "", e.message.replace("invalid YAML", "bad YAML", 1)) from None
    return docs[0]


def _item(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _template_line(node: Node) -> int:
    """The file line of a template's first line of text."""
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        return node.start_mark.line + 2
    return node.start_mark.line + 1


def validate_preset_text(text: str, file: str) -> tuple[Preset | None, list[PresetError]]:
    """The preset and every problem found (errors sorted by line); the preset is None on errors."""
    try:
        return _validate(text, file)
    except PresetError:
        raise
    except RecursionError:
        return None, [PresetError(file, None, "", "nested too deeply (a recursive YAML alias?)")]


def _validate(text: str, file: str) -> tuple[Preset | None, list[PresetError]]:
    root = _compose(text, file)
    if not isinstance(root, MappingNode):
        return None, [PresetError(file, root.start_mark.line + 1, "", "a preset must be a mapping "
                                  "with name, parameters and templates")]
    tree = YamlTree(root, file)
    errors = schema_errors(tree, _schema())
    if errors:
        return None, sorted(errors, key=lambda e: e.line or 0)
    data = tree.data
    params: dict[str, Parameter] = {}
    params_item = _item(root, "parameters")
    if params_item is not None and isinstance(params_item[1], MappingNode):
        for key_node, spec_node in params_item[1].value:
            try:
                params[key_node.value] = _parameter(key_node.value, spec_node, data["parameters"][key_node.value],
                                                     file)
            except PresetError as e:
                errors.append(e)
    templates: list[Template] = []
    tmpl_item = _item(root, "templates")
    assert tmpl_item is not None and isinstance(tmpl_item[1], SequenceNode)
    for i, node in enumerate(tmpl_item[1].value):
        fname = f"templates[{i}]"
        try:
            t = Template(node.value, file=file, first_line=_template_line(node), field=fname)
        except TemplateError as e:
            errors.append(e)
            continue
        lines = t.name_lines()
        for name in sorted(t.names, key=lambda n: lines.get(n, 0)):
            if name not in params and name not in BUILTIN_NAMES:
                close = difflib.get_close_matches(name, [*params, *BUILTIN_NAMES], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                errors.append(PresetError(file, lines.get(name), fname,
                                          f"{{{{ {name} }}}} is not a declared parameter{hint}"))
        templates.append(t)
    if errors:
        return None, sorted(errors, key=lambda e: e.line or 0)
    preset = Preset(name=data["name"], description=data.get("description", ""), creates=data.get("creates", []),
                    parameters=params, templates=templates, file=file, text=text)
    trial = _trial_render(preset)
    if trial is not None:
        return None, [trial]
    return preset, []


def _trial_render(preset: Preset) -> PresetError | None:
    """Render once with the defaults (and examples for required values) to find broken templates."""
    values = preset.example_values()
    try:
        preset.render(values, "default", now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except ParameterError:
        return None  # no simple example passes a required parameter's checks; skip the trial
    except PresetError as e:
        return e
    return None


def _parameter(name: str, node: MappingNode, spec: dict[str, Any], file: str) -> Parameter:

    def node_of(key: str) -> Node:
        item = _item(node, key)
        return item[1] if item else node

    def fail(key: str, message: str) -> PresetError:
        return PresetError(file, node_of(key).start_mark.line + 1, f"parameters.{name}.{key}", message)

    if name in BUILTIN_NAMES:
        raise PresetError(file, node.start_mark.line + 1, f"parameters.{name}",
                          f"{name!r} is a built-in name ({', '.join(BUILTIN_NAMES)}); choose another")
    ptype = spec["type"]
    for key in ("min", "max"):
        if key in spec and ptype not in NUMERIC:
            raise fail(key, f"{key} only applies to {', '.join(NUMERIC)} parameters, not {ptype}")
    if "pattern" in spec:
        if ptype not in PATTERNED:
            raise fail("pattern", f"pattern only applies to {', '.join(PATTERNED)} parameters, not {ptype}")
        try:
            re.compile(spec["pattern"])
        except re.error as e:
            raise fail("pattern", f"not a regular expression: {e}") from None
    base = Parameter(name=name, type=ptype, description=spec.get("description", ""),
                     required=bool(spec.get("required", False)), pattern=spec.get("pattern"),
                     line=node.start_mark.line + 1)
    bounds: dict[str, Any] = {}
    for key in ("min", "max"):
        if key in spec:
            try:
                bounds[key] = Parameter(name=name, type=ptype).coerce(spec[key])
            except ValueError as e:
                raise fail(key, f"bad {key}: {e}") from None
    base = Parameter(**{**base.__dict__, **bounds})
    if "min" in bounds and "max" in bounds:
        try:
            base.check(bounds["max"])
        except ValueError:
            raise fail("max", f"max {bounds['max']} is below min {bounds['min']}") from None
    enum = None
    if "enum" in spec:
        try:
            enum = tuple(base.coerce(v) for v in spec["enum"])
        except ValueError as e:
            raise fail("enum", f"bad enum value: {e}") from None
        except TypeError:
            raise fail("enum", "enum values must be scalars") from None
        base = Parameter(**{**base.__dict__, "enum": enum})
    if "default" in spec:
        raw = spec["default"]
        if raw is None:
            return Parameter(**{**base.__dict__, "default": None, "has_default": False})
        try:
            default = base.coerce(raw)
        except ValueError as e:
            raise fail("default", f"bad default: {e}") from None
        return Parameter(**{**base.__dict__, "default": default, "has_default": True})
    return base


def parse_preset(text: str, file: str = "<preset>", origin: str = "user") -> Preset:
    """The preset in `text`; raises the first PresetError (by line)."""
    preset, errors = validate_preset_text(text, file)
    if errors:
        raise errors[0]
    assert preset is not None
    preset.origin = origin
    return preset


def load_preset(path: str | Path, origin: str = "user") -> Preset:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PresetError(str(path), None, "", f"not UTF-8 text: {e.reason}") from None
    except OSError as e:
        raise PresetError(str(path), None, "", f"cannot read: {e.strerror or e}") from None
    return parse_preset(text, str(path), origin)


def parse_set(items: Iterable[str], preset: Preset | None = None) -> dict[str, Any]:
    """`--set key=value` strings -> raw values. `key.sub=value` sets one entry of a map parameter
    (`--set env.LR=0.1`); a repeated key replaces the earlier value. Raises ParameterError."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            errors[item or "--set"] = f"expected key=value, got {item!r}"
            continue
        key, value = item.split("=", 1)
        key = key.strip()
        if "." in key:
            base, sub = key.split(".", 1)
            param = preset.parameters.get(base) if preset else None
            if param is not None and param.type not in ("map", "secretRefs"):
                errors[key] = f"{base} is a {param.type}; only map parameters take {base}.KEY=VALUE"
                continue
            current = values.get(base)
            if not isinstance(current, dict):
                current = values[base] = {}
            current[sub] = value
            continue
        if not key:
            errors[item] = "the key before '=' is empty"
            continue
        values[key] = value
    if errors:
        raise ParameterError(errors)
    return values
