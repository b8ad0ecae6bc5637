"""Settings: one typed, frozen object read from YAML at `locations.config_file()`, with COCKPIT_* overrides.

Every key is listed once in `KEYS` (path, type, description, environment variable); the validator, the
defaults shown by `cockpit config keys` and the README table all come from that list. Each key's value
is checked by msgspec against a typed declaration (`bool`, `Annotated[int, Meta(ge=100)]`, a tuple of
non-empty strings), and the error is put back into words from that same declaration.

Bad content never raises: each wrong value is reported as a `ConfigProblem` naming file:line and the
dotted field path, and the default is kept for that field.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, get_args, get_origin

import msgspec
import msgspec.inspect
import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cockpit import locations
from cockpit.kube.gpu import DEFAULT_GPU_PREFIXES, DEFAULT_GPU_RESOURCES
from cockpit.kube.quantity import parse_quantity

__all__ = [
    "KEYS",
    "CleanupSettings",
    "ConfigKey",
    "ConfigProblem",
    "ContextDefaults",
    "ContextSettings",
    "GpuResourceSettings",
    "IdleSettings",
    "LocatedYaml",
    "ResourceDefaults",
    "Settings",
    "StorageDefaults",
    "YamlSyntaxError",
    "check_aliases",
    "format_duration",
    "format_keys",
    "load_settings",
    "parse_duration",
    "read_located_yaml",
]


# --------------------------------------------------------------------------------------------------
# The settings object


@dataclass(frozen=True)
class StorageDefaults:
    pvc: str = ""
    size: str = ""
    mount_path: str = ""
    storage_class: str = ""


@dataclass(frozen=True)
class ResourceDefaults:
    cpu: str = ""
    memory: str = ""
    gpus: int = 0


@dataclass(frozen=True)
class ContextDefaults:
    """What one kubeconfig context's entry under `contexts:` says."""

    read_only: bool = False
    namespace: str = ""
    registry: str = ""
    storage: StorageDefaults = field(default_factory=StorageDefaults)
    resources: ResourceDefaults = field(default_factory=ResourceDefaults)


@dataclass(frozen=True)
class ContextSettings:
    """The settings in force for one context: the global ones merged with the context's own."""

    name: str
    read_only: bool
    namespace: str
    registry: str
    storage: StorageDefaults
    resources: ResourceDefaults
    read_only_reason: str = ""  # which setting made it read-only, in words, for messages

    def preset_defaults(self) -> dict[str, object]:
        """Launch preset parameters this context sets (resources, storage), unset ones left out."""
        values = {"cpu": self.resources.cpu, "memory": self.resources.memory, "gpus": self.resources.gpus,
                  "pvc": self.storage.pvc, "pvc_size": self.storage.size, "pvc_mount": self.storage.mount_path,
                  "storage_class": self.storage.storage_class}
        return {k: v for k, v in values.items() if v not in ("", None, 0)}


@dataclass(frozen=True)
class GpuResourceSettings:
    names: tuple[str, ...] = DEFAULT_GPU_RESOURCES
    prefixes: tuple[str, ...] = DEFAULT_GPU_PREFIXES


@dataclass(frozen=True)
class CleanupSettings:
    finished_after: int = 24 * 3600  # seconds
    idle_dev_pod_after: int = 8 * 3600  # seconds


@dataclass(frozen=True)
class IdleSettings:
    window: int = 30 * 60  # seconds


def _frozen_map(m: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class Settings:
    read_only: bool = False
    contexts: Mapping[str, ContextDefaults] = field(default_factory=_frozen_map)
    theme: str = "cockpit-dark"
    repaint_hz: float = 10.0
    log_line_cap: int = 20000
    gpu_resources: GpuResourceSettings = field(default_factory=GpuResourceSettings)
    cleanup: CleanupSettings = field(default_factory=CleanupSettings)
    idle: IdleSettings = field(default_factory=IdleSettings)
    keys: Mapping[str, str] = field(default_factory=_frozen_map)
    # Which setting made the cockpit read-only, in words: the file's key, the environment, or a
    # problem that left it unknown (see ConfigProblem.forces_read_only).
    read_only_reason: str = ""
    config_file: str = field(default="", compare=False)

    def for_context(self, name: str | None) -> ContextSettings:
        """Global settings merged with the context's own; read-only if either says so."""
        own = self.contexts.get(name or "", ContextDefaults())
        reason = ""
        if self.read_only:
            reason = self.read_only_reason or "read_only is true in the configuration"
        elif own.read_only:
            reason = f"contexts.{name}.read_only is true in {self.config_file or 'the configuration'}"
        return ContextSettings(
            name=name or "",
            read_only=self.read_only or own.read_only,
            read_only_reason=reason,
            namespace=own.namespace,
            registry=own.registry,
            storage=own.storage,
            resources=own.resources,
        )

    @property
    def keymap(self) -> dict[str, str]:
        """The `keys:` remapping as a plain dict, ready for `App.set_keymap`."""
        return dict(self.keys)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (durations as "24h" strings), e.g. for `cockpit config show`."""
        return _plain(self, ())


def _plain(value: Any, path: tuple[str, ...]) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name), (*path, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v, (*path, "*")) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    if path and path[0] in ("cleanup", "idle"):
        return format_duration(value)
    return value


# --------------------------------------------------------------------------------------------------
# Problems and YAML with line numbers


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in the configuration; `line` is 1-based, None where there is no line."""

    file: str
    line: int | None
    field: str
    message: str
    # True when the problem leaves it unknown whether the user asked for read-only: the cockpit
    # then runs read-only (fail closed), never writable because of a typo.
    forces_read_only: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class LocatedYaml:
    """Plain YAML data plus the 1-based line of every mapping key, by path of keys."""

    data: Any
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    duplicates: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def line(self, path: Iterable[str]) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


# libyaml's parser where PyYAML was built with it (its wheels are): the same nodes and marks,
# several times faster than the pure-Python one for the theme and settings files read at start.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_located_yaml(text: str) -> LocatedYaml:
    """Parse YAML (safe tags only) recording key lines; raises YamlSyntaxError."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise YamlSyntaxError(mark.line + 1 if mark else None, _yaml_message(e)) from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(None, str(e)) from None
    except RecursionError:
        raise YamlSyntaxError(None, "invalid YAML: nested too deeply") from None
    doc = LocatedYaml(None)
    if root is None:
        return doc
    check_aliases(root)
    doc.lines[()] = root.start_mark.line + 1
    constructor = SafeConstructor()
    doc.data = _located(root, (), doc, constructor)
    return doc


# Far more values than any settings or theme file holds, few enough to read in a blink.
MAX_YAML_VALUES = 100_000


def _node_children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_aliases(root: Node) -> None:
    """Refuse an alias loop, and aliases that expand to more than MAX_YAML_VALUES values.

    The composed document is a graph: an alias is the anchored node itself, so a dozen lines of
    anchors can stand for billions of values ("billion laughs") and `&a [*a]` for an endless
    list. Reading the values would then take all the memory, or never end. The size each node
    expands to is counted once per node (iteratively: no recursion limit to hit)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _node_children(node)
        if finished:
            on_path.discard(key)
            size = 1 + sum(sizes[id(c)] for c in children)
            if size > MAX_YAML_VALUES:
                raise YamlSyntaxError(node.start_mark.line + 1,
                                      f"invalid YAML: its aliases expand to more than {MAX_YAML_VALUES:,} values")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise YamlSyntaxError(child.start_mark.line + 1,
                                      "invalid YAML: an alias refers to a value that contains it (a loop)")
            if id(child) not in sizes:
                stack.append((child, False))


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    if "maximum nesting depth" in str(e.problem):  # libyaml's own limit
        return "invalid YAML: nested too deeply"
    parts = [p for p in (e.context, e.problem) if p]
    return "invalid YAML: " + ", ".join(parts) if parts else "invalid YAML"


def _located(node: Node, path: tuple[str, ...], doc: LocatedYaml, constructor: SafeConstructor) -> Any:
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, constructor) if isinstance(key_node, ScalarNode) else repr(key_node)
            sub = (*path, str(key))
            line = key_node.start_mark.line + 1
            if key in out:
                doc.duplicates.append((sub, line))
            doc.lines[sub] = line
            out[key] = _located(value_node, sub, doc, constructor)
        return out
    if isinstance(node, SequenceNode):
        return [_located(item, path, doc, constructor) for item in node.value]
    return _scalar(node, constructor)


def _scalar(node: Node, constructor: SafeConstructor) -> Any:
    try:
        return constructor.construct_object(node, deep=True)
    except ConstructorError as e:
        raise YamlSyntaxError(node.start_mark.line + 1, f"unsupported YAML value: {e.problem}") from None


# --------------------------------------------------------------------------------------------------
# Value types: msgspec checks each YAML value against its key's type (strict: no "yes" for true,
# no 1.0 for a whole number); what a type cannot say (durations, quantities) is parsed after it.


NonEmptyText = Annotated[str, msgspec.Meta(pattern=r"\S")]
QUANTITY_WORDS = "a quantity such as 4, 500m or 16Gi"
DURATION_WORDS = "a duration such as 30m, 24h or 7d"


def _type_name(v: Any) -> str:
    if v is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(v), type(v).__name__)


def _expects(info: msgspec.inspect.Type) -> str:
    """What a value of this type is, in words: "a whole number of at least 100"."""
    if isinstance(info, msgspec.inspect.BoolType):
        return "true or false"
    if isinstance(info, msgspec.inspect.StrType):
        return "a non-empty string" if info.pattern else "a string"
    if isinstance(info, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        noun = "a whole number" if isinstance(info, msgspec.inspect.IntType) else "a number"
        if info.ge is not None and info.le is not None:
            return f"{noun} from {info.ge:g} to {info.le:g}"
        return f"{noun} of at least {info.ge}" if info.ge else noun
    if isinstance(info, (msgspec.inspect.VarTupleType, msgspec.inspect.ListType)):
        item = _expects(info.item_type)
        return "a list of " + (item.removeprefix("a ") + "s" if item.startswith("a ") else item)
    return str(info)


def _bound_text(value: float, info: msgspec.inspect.Type) -> str:
    """Why a value of the right type is outside its key's bounds."""
    lo, hi = getattr(info, "ge", None), getattr(info, "le", None)
    if lo is not None and hi is not None:
        return f"{value:g} is out of range {lo:g}..{hi:g}"
    if lo == 0:
        return f"expected 0 or more, got {value}"
    return f"{value} is less than the minimum {lo}"


def _plain_type(t: Any) -> Any:
    """The type without its msgspec.Meta constraints."""
    return get_args(t)[0] if get_origin(t) is Annotated else t


def _convert(value: Any, t: Any) -> Any:
    return msgspec.convert(value, t, strict=True)


def _fits(value: Any, t: Any) -> bool:
    try:
        _convert(value, t)
    except msgspec.ValidationError:
        return False
    return True


def _typed(value: Any, t: Any, words: str = "") -> Any:
    """`value` as type `t`; TypeError or ValueError with the reason in the settings' words."""
    try:
        return _convert(value, t)
    except msgspec.ValidationError:
        pass
    info = msgspec.inspect.type_info(t)
    expects = words or _expects(info)
    plain = _plain_type(t)
    if get_origin(plain) in (tuple, list) and isinstance(value, list):
        bad = [item for item in value if not _fits(item, get_args(plain)[0])]
        raise ValueError(f"expected {expects}; bad entries: {bad!r}")
    if not _fits(value, plain) or (isinstance(value, float) and not math.isfinite(value)):
        raise TypeError(f"expected {expects}, got {_type_name(value)} ({value!r})")
    if isinstance(info, msgspec.inspect.StrType):
        raise ValueError(f"expected {expects}")
    raise ValueError(_bound_text(value, info))


def _quantity(v: str | int | float) -> str:
    """A Kubernetes quantity ("4", "500m", "16Gi"); plain YAML numbers are accepted."""
    text = str(v).strip()
    try:
        if parse_quantity(text) < 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not {QUANTITY_WORDS}") from None
    return text


def _strip_all(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item.strip() for item in items)


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> int:
    """ "30m", "24h", "7d", "1h30m", "90s" -> seconds. Raises ValueError."""
    s = text.strip().lower()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 24h or 7d")
    return round(total)


def format_duration(seconds: int) -> str:
    """Seconds -> "7d", "24h", "1h30m": days only for whole days from two up."""
    seconds = int(seconds)
    if seconds <= 0:
        return "0s"
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    out, rest = [], seconds
    for unit in ("h", "m", "s"):
        n, rest = divmod(rest, _DURATION_UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def _duration(text: str) -> int:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be longer than zero")
    return seconds


# --------------------------------------------------------------------------------------------------
# The key table


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key. `path` uses <placeholders> for free-form mapping keys.

    `value_type` is what msgspec checks the YAML value against; `parse`, when set, turns the
    checked value into the setting (a duration's seconds, a trimmed name); `words` says what the
    value is where the type alone cannot ("a duration such as 30m")."""

    path: str
    type: str
    description: str
    value_type: Any = field(repr=False, compare=False)
    env: str | None = None
    parse: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    words: str = field(default="", repr=False, compare=False)

    @property
    def default(self) -> str:
        """The default as it would be written in the YAML file."""
        return _default_text(self.path)

    def check(self, value: Any) -> Any:
        """The setting for this YAML value; TypeError or ValueError with the reason in words."""
        typed = _typed(value, self.value_type, self.words)
        return self.parse(typed) if self.parse is not None else typed


def _text_key(path: str, description: str, env: str | None = None) -> ConfigKey:
    return ConfigKey(path, "str", description, NonEmptyText, env, str.strip)


def _quantity_key(path: str, description: str) -> ConfigKey:
    return ConfigKey(path, "quantity", description, str | int | float, parse=_quantity, words=QUANTITY_WORDS)


def _duration_key(path: str, description: str) -> ConfigKey:
    return ConfigKey(path, "duration", description, str, parse=_duration, words=DURATION_WORDS)


def _names_key(path: str, description: str) -> ConfigKey:
    return ConfigKey(path, "list[str]", description, tuple[NonEmptyText, ...], parse=_strip_all)


_CTX = "contexts.<name>"

KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("read_only", "bool", "Never change anything in any cluster", bool, "COCKPIT_READ_ONLY"),
    ConfigKey(f"{_CTX}.read_only", "bool", "Never change anything through this kubeconfig context", bool),
    _text_key(f"{_CTX}.namespace", "Namespace to open and launch into for this context"),
    _text_key(f"{_CTX}.registry", "Image registry that launched images are pushed to"),
    _text_key(f"{_CTX}.storage.pvc", "PersistentVolumeClaim mounted into launched pods"),
    _quantity_key(f"{_CTX}.storage.size", "Size of the claim when the cockpit creates it"),
    _text_key(f"{_CTX}.storage.mount_path", "Where the claim is mounted in the pod"),
    _text_key(f"{_CTX}.storage.storage_class", "StorageClass of a claim the cockpit creates"),
    _quantity_key(f"{_CTX}.resources.cpu", "Default CPU request of launched pods"),
    _quantity_key(f"{_CTX}.resources.memory", "Default memory request of launched pods"),
    ConfigKey(f"{_CTX}.resources.gpus", "int", "Default GPU count of launched pods", Annotated[int, msgspec.Meta(ge=0)]),
    _text_key("theme", "Theme name (built-in or a file in the user themes folder)", "COCKPIT_THEME"),
    ConfigKey("repaint_hz", "float", "Most screen repaints per second for live tables (1..60)",
              Annotated[float, msgspec.Meta(ge=1, le=60)], "COCKPIT_REPAINT_HZ"),
    ConfigKey("log_line_cap", "int", "Most log lines kept per log view (at least 100)",
              Annotated[int, msgspec.Meta(ge=100)], "COCKPIT_LOG_LINE_CAP"),
    _names_key("gpu_resources.names", "Extended resource names counted as GPUs"),
    _names_key("gpu_resources.prefixes", "Resource name prefixes counted as GPUs (MIG slices)"),
    _duration_key("cleanup.finished_after", "Offer to delete finished jobs older than this"),
    _duration_key("cleanup.idle_dev_pod_after", "Flag dev pods with idle GPUs for longer than this"),
    _duration_key("idle.window", "Window over which GPU utilisation is judged idle"),
    _text_key("keys.<binding_id>", 'Key remapping, e.g. quit: "ctrl+q,q" (passed to App.set_keymap)'),
)

ENV_CONFIG_PATH = "COCKPIT_CONFIG"


def _schema() -> dict[str, Any]:
    """KEYS as a tree: segment -> subtree | ConfigKey; "<...>" segments match any key."""
    tree: dict[str, Any] = {}
    for key in KEYS:
        *parents, last = key.path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = key
    return tree


_SCHEMA = _schema()


def _default_text(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "keys":
        return "(none)"
    obj: Any = Settings()
    for part in parts:
        obj = ContextDefaults() if part.startswith("<") else getattr(obj, part)
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, tuple):
        return "[" + ", ".join(obj) + "]"
    if parts[0] in ("cleanup", "idle"):
        return format_duration(obj)
    if isinstance(obj, float) and obj.is_integer():
        return str(int(obj))
    if obj == "":
        return '""'
    return str(obj)


def format_keys(markdown: bool = False) -> str:
    """The key table for `cockpit config keys` (plain) or the README (markdown)."""
    rows = [(k.path, k.type, k.default, k.env or "", k.description) for k in KEYS]
    rows.append(
        (
            "(config file)",
            "path",
            str(locations.config_file()),
            ENV_CONFIG_PATH,
            "Read the configuration from this file instead",
        )
    )
    if markdown:
        head = "| Key | Type | Default | Environment | Description |\n|---|---|---|---|---|\n"
        return head + "\n".join(
            f"| `{p}` | {t} | `{d}` | {e and f'`{e}`'} | {desc} |" for p, t, d, e, desc in rows
        )
    blocks = []
    for path, type_, default, env, desc in rows:
        extra = f", env {env}" if env else ""
        blocks.append(f"{path}  ({type_}, default {default}{extra})\n    {desc}")
    return "\n".join(blocks)


# --------------------------------------------------------------------------------------------------
# Loading


def load_settings(
    path: Path | str | None = None, env: Mapping[str, str] = os.environ
) -> tuple[Settings, list[ConfigProblem]]:
    """Read the settings file (default `locations.config_file()`) and apply COCKPIT_* overrides.

    Never raises for bad content: a missing file gives the defaults; each bad value keeps its default and
    is reported.
    """
    if path is None:
        configured = env.get(ENV_CONFIG_PATH)
        path = Path(configured) if configured else locations.config_file()
    path = Path(path)
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as e:
        problems.append(ConfigProblem(str(path), None, "", f"cannot read: {e}", forces_read_only=True))
        text = ""
    if text.strip():
        values = _validate_text(text, str(path), problems)
    _apply_env(values, env, problems)
    settings = replace(_build(values), config_file=str(path))
    closing = next((p for p in problems if p.forces_read_only), None)
    if closing is not None:
        settings = replace(settings, read_only=True, read_only_reason=f"read-only because of {closing}")
    elif settings.read_only:
        env_set = any(p.field == ENV_READ_ONLY for p in problems) is False and _truthy(env.get(ENV_READ_ONLY, ""))
        settings = replace(settings, read_only_reason=f"{ENV_READ_ONLY} is set" if env_set
                           else f"read_only is true in {path}")
    return settings, problems


ENV_READ_ONLY = "COCKPIT_READ_ONLY"


def _truthy(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


# Keys that hold a read-only switch; a problem at one of them, or at a section above one, makes
# the cockpit read-only.
_READ_ONLY_PATHS = (("read_only",), ("contexts", "*", "read_only"))


def _touches_read_only(path: tuple[str, ...], unknown: bool = False) -> bool:
    for pattern in _READ_ONLY_PATHS:
        if len(path) <= len(pattern) and all(q in ("*", p) for p, q in zip(path, pattern, strict=False)):
            return True
        # An unknown key spelt like a read-only switch ("readonly", "read-only") in the right place.
        if unknown and len(path) == len(pattern) and all(q in ("*", p) for p, q in zip(path[:-1], pattern, strict=False)):
            if difflib.get_close_matches(path[-1].lower().replace("-", "_"), ["read_only"], cutoff=0.75):
                return True
    return False


def _validate_text(text: str, file: str, problems: list[ConfigProblem]) -> dict[str, Any]:
    try:
        doc = read_located_yaml(text)
    except YamlSyntaxError as e:
        problems.append(ConfigProblem(file, e.line, "", f"{e.message}; using all defaults, read-only", forces_read_only=True))
        return {}
    for dup_path, line in doc.duplicates:
        problems.append(ConfigProblem(file, line, ".".join(dup_path), "key given twice; the last one wins",
                                      forces_read_only=_touches_read_only(dup_path)))
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        problems.append(
            ConfigProblem(file, doc.line(()), "", "expected a mapping of settings at the top level",
                          forces_read_only=True)
        )
        return {}
    out = _walk(doc.data, _SCHEMA, (), doc, file, problems)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return out


def _walk(
    data: dict[Any, Any],
    tree: dict[str, Any],
    path: tuple[str, ...],
    doc: LocatedYaml,
    file: str,
    problems: list[ConfigProblem],
) -> dict[str, Any]:
    wildcard = next((tree[k] for k in tree if k.startswith("<")), None)
    out: dict[str, Any] = {}
    for key, value in data.items():
        sub = (*path, str(key))
        dotted = ".".join(sub)
        line = doc.line(sub)
        closes = _touches_read_only(sub)
        if not isinstance(key, str):
            problems.append(ConfigProblem(file, line, dotted, f"keys must be strings, got {_type_name(key)}",
                                          forces_read_only=_touches_read_only((*path, "*"))))
            continue
        spec = wildcard if wildcard is not None else tree.get(key)
        if spec is None:
            hint = difflib.get_close_matches(key, list(tree), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(sorted(tree))}"
            problems.append(ConfigProblem(file, line, dotted, f"unknown key{extra}",
                                          forces_read_only=_touches_read_only(sub, unknown=True)))
            continue
        if isinstance(spec, ConfigKey):
            if value is None:
                problems.append(ConfigProblem(file, line, dotted, f"no value; {_fallback(spec)}",
                                              forces_read_only=closes))
                continue
            try:
                out[key] = spec.check(value)
            except (TypeError, ValueError) as e:
                problems.append(ConfigProblem(file, line, dotted, f"{e}; {_fallback(spec)}", forces_read_only=closes))
            continue
        if value is None:  # an empty section: everything in it keeps its default
            continue
        if not isinstance(value, dict):
            problems.append(
                ConfigProblem(
                    file, line, dotted, f"expected a mapping, got {_type_name(value)}; using defaults",
                    forces_read_only=closes,
                )
            )
            continue
        out[key] = _walk(value, spec, sub, doc, file, problems)
    return out


def _fallback(key: ConfigKey) -> str:
    if key.path.endswith("read_only"):
        return "the cockpit runs read-only until this is fixed"
    return "ignored" if key.path.startswith("keys.") else f"using the default {key.default}"


def _env_value(key: ConfigKey, raw: str) -> Any:
    if key.type == "bool":
        word = raw.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected 1/true/yes/on or 0/false/no/off, got {raw!r}")
    if key.type == "str":
        return key.check(raw)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key.check(value)


def _apply_env(values: dict[str, Any], env: Mapping[str, str], problems: list[ConfigProblem]) -> None:
    for key in KEYS:
        if not key.env or not env.get(key.env, "").strip():
            continue
        try:
            value = _env_value(key, env[key.env])
        except (TypeError, ValueError) as e:
            problems.append(ConfigProblem("environment", None, key.env, f"{e}; {_fallback(key)}",
                                          forces_read_only=_touches_read_only(tuple(key.path.split(".")))))
            continue
        *parents, last = key.path.split(".")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value


def _build(values: dict[str, Any]) -> Settings:
    contexts = {
        name: ContextDefaults(
            **{k: v for k, v in ctx.items() if k not in ("storage", "resources")},
            storage=StorageDefaults(**ctx.get("storage", {})),
            resources=ResourceDefaults(**ctx.get("resources", {})),
        )
        for name, ctx in values.get("contexts", {}).items()
    }
    sections = {
        "gpu_resources": GpuResourceSettings,
        "cleanup": CleanupSettings,
        "idle": IdleSettings,
    }
    top = {k: v for k, v in values.items() if k not in sections and k not in ("contexts", "keys")}
    return Settings(
        **top,
        contexts=_frozen_map(contexts),
        keys=_frozen_map(values.get("keys")),
        **{name: cls(**values.get(name, {})) for name, cls in sections.items()},
    )
