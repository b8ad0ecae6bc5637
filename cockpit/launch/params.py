"""Preset parameter types: turning what a user typed (or a form field holds) into a checked value.

Every failure is a `ValueError` whose text is meant for the user as it is; `Parameter.coerce`
never lets anything else out. Values after coercion:

    string, image, quantity   str
    integer                   int
    number                    float (or int)
    boolean                   bool
    list                      list[str]                          --set: shell words, or [a, b]
    map                       dict[str, str]                     --set: K=V,K2=V2, or {K: V}
    secretRefs                dict[ENV, {"secret": s, "key": k}] --set: ENV=secret[:key],...
    ports                     list[{"name": str|None, "port": int}]  --set: 8888,jupyter=8888
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from cockpit.kube.quantity import parse_quantity

TYPES = ("string", "integer", "number", "boolean", "quantity", "image", "list", "map", "secretRefs", "ports")
NUMERIC = ("integer", "number", "quantity")
PATTERNED = ("string", "image", "list", "map")

QUANTITY = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::\d+)?)/)?"
    rf"(?P<path>{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?")
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_MAX_TEXT = 1 << 16  # longer values are certainly a mistake


class BadValue(ValueError):
    """A value the user gave does not fit its parameter; the text says why."""


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_KIND_WORDS = {"null": "nothing", "boolean": "a boolean", "integer": "an integer", "number": "a number",
               "string": "text", "array": "a list", "object": "a map"}


def _kind(value: Any) -> str:
    """The JSON type of a value, in the words error messages use."""
    from cockpit.launch.schema import type_of

    name = type_of(value)
    return _KIND_WORDS.get(name, name)


def _scalar_text(value: Any, what: str) -> str:
    """A scalar as text (numbers allowed); lists, maps and None are refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(f"{what} must be finite, got {value}")
        return repr(value)
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise BadValue(f"{what} is too long ({len(value)} characters)")
        return value
    raise BadValue(f"expected {what}, got {_kind(value)}")


def _flow(text: str, want: type, what: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or "cannot be read"
        raise BadValue(f"{what}: {_show(text)} is not a valid YAML flow value ({problem})") from None
    except (RecursionError, ValueError, OverflowError):
        raise BadValue(f"{what}: {_show(text)} cannot be read") from None
    if not isinstance(value, want):
        raise BadValue(f"expected {what}, got {_kind(value)} from {_show(text)}")
    return value


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue(f"expected an integer, got {_kind(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise BadValue(f"expected an integer, got {value}")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,18}", text):
            return int(text)
        raise BadValue(f"expected an integer, got {_show(value)}")
    raise BadValue(f"expected an integer, got {_kind(value)}")


def parse_number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise BadValue(f"expected a number, got {_kind(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", text):
            raise BadValue(f"expected a number, got {_show(value)}")
        result = float(text)
    else:
        raise BadValue(f"expected a number, got {_kind(value)}")
    if not math.isfinite(result):
        raise BadValue(f"expected a finite number, got {_show(value)}")
    return result


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadValue(f"expected true or false, got {_show(value)}")


def parse_quantity_text(value: Any) -> str:
    if isinstance(value, bool):
        raise BadValue(f"expected a quantity like 4, 500m or 32Gi, got {_kind(value)}")
    text = _scalar_text(value, "a quantity like 4, 500m or 32Gi").strip()
    if not QUANTITY.fullmatch(text) or len(text) > 64:
        raise BadValue(f"expected a quantity like 4, 500m or 32Gi, got {_show(value)}")
    if text.startswith("-"):
        raise BadValue(f"must not be negative, got {text}")
    return text


def parse_image(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue(f"expected an image reference, got {_kind(value)}")
    text = value.strip()
    if not text or len(text) > 512 or not IMAGE.fullmatch(text):
        raise BadValue(f"not an image reference: {_show(value)} "
                         "(expected [registry[:port]/]name[:tag][@sha256:digest], lowercase name)")
    return text


def parse_list(value: Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _flow(text, list, "a list")
        else:
            try:
                return [w for w in shlex.split(value)]
            except ValueError as e:
                raise BadValue(f"cannot split {_show(value)} into words: {e}") from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise BadValue(f"expected a list, got {_kind(value)}")
    out = []
    for i, item in enumerate(value):
        if item is None or isinstance(item, (list, dict)):
            raise BadValue(f"item {i + 1} must be text, got {_kind(item)}")
        out.append(_scalar_text(item, "text"))
    return out


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise BadValue(f"expected {what} as KEY=VALUE[,KEY=VALUE...], got {_show(part.strip())}")
        k, v = part.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


def parse_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        text = value.strip()
        value = _flow(text, dict, "a map") if text.startswith("{") else dict(_pairs(text, "a map"))
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue(f"expected a map, got {_kind(value)}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if k is None or isinstance(k, (list, dict, tuple)):
            raise BadValue("map keys must be text")
        key = _scalar_text(k, "a key").strip()
        if not key:
            raise BadValue("map keys must not be empty")
        if v is None:
            v = ""
        if isinstance(v, (list, dict)):
            raise BadValue(f"the value of {key!r} must be text, got {_kind(v)}")
        out[key] = _scalar_text(v, "text")
    return out


def parse_secret_refs(value: Any) -> dict[str, dict[str, str]]:
    if isinstance(value, str):
        text = value.strip()
        value = _flow(text, dict, "secret references") if text.startswith("{") else \
            dict(_pairs(text, "secret references (ENV=secret[:key])"))
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadValue(f"expected secret references ENV=secret[:key], got {_kind(value)}")
    out: dict[str, dict[str, str]] = {}
    for env, ref in value.items():
        if not isinstance(env, str) or not ENV_NAME.fullmatch(env):
            raise BadValue(f"{_show(env)} is not an environment variable name")
        if isinstance(ref, dict):
            secret, key = ref.get("secret"), ref.get("key", env)
            extra = set(ref) - {"secret", "key"}
            if extra:
                raise BadValue(f"{env}: unknown field(s) {', '.join(sorted(map(str, extra)))} (use secret, key)")
        elif isinstance(ref, str):
            secret, _, key = ref.partition(":")
            key = key or env
        else:
            raise BadValue(f"{env}: expected secret[:key], got {_kind(ref)}")
        if not isinstance(secret, str) or not secret or len(secret) > 253 or not DNS_SUBDOMAIN.fullmatch(secret):
            raise BadValue(f"{env}: {_show(secret)} is not a Secret name (lowercase letters, digits, '-', '.')")
        if not isinstance(key, str) or len(key) > 253 or not SECRET_KEY.fullmatch(key):
            raise BadValue(f"{env}: {_show(key)} is not a Secret key (letters, digits, '-', '_', '.')")
        out[env] = {"secret": secret, "key": key}
    return out


def _port(value: Any, name: Any = None) -> dict[str, Any]:
    try:
        port = parse_int(value)
    except ValueError:
        raise BadValue(f"expected a port number, got {_show(value)}") from None
    if not 1 <= port <= 65535:
        raise BadValue(f"port {port} is outside 1..65535")
    if name in (None, ""):
        return {"name": None, "port": port}
    if not isinstance(name, str) or len(name) > 15 or not PORT_NAME.fullmatch(name) or "--" in name \
            or not re.search(r"[a-z]", name):
        raise BadValue(f"{_show(name)} is not a port name (up to 15 lowercase letters, digits and '-')")
    return {"name": name, "port": port}


def parse_ports(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _flow(text, list, "a list of ports")
        else:
            value = [p.strip() for p in text.split(",") if p.strip()]
    if value is None:
        return []
    if isinstance(value, (int, dict)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        raise BadValue(f"expected ports like 8888,jupyter=8888, got {_kind(value)}")
    out: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, dict):
            extra = set(item) - {"name", "port"}
            if extra or "port" not in item:
                raise BadValue("a port is {port: N} or {name: x, port: N}")
            out.append(_port(item["port"], item.get("name")))
        elif isinstance(item, str) and re.search(r"[=:]", item):
            name, _, number = re.split(r"([=:])", item, maxsplit=1)
            out.append(_port(number.strip(), name.strip()))
        else:
            out.append(_port(item))
    seen_ports, seen_names = set(), set()
    for p in out:
        if p["port"] in seen_ports:
            raise BadValue(f"port {p['port']} is given twice")
        if p["name"] and p["name"] in seen_names:
            raise BadValue(f"port name {p['name']!r} is given twice")
        seen_ports.add(p["port"])
        seen_names.add(p["name"])
    return out


_PARSERS = {
    "integer": parse_int,
    "number": parse_number,
    "boolean": parse_bool,
    "quantity": parse_quantity_text,
    "image": parse_image,
    "list": parse_list,
    "map": parse_map,
    "secretRefs": parse_secret_refs,
    "ports": parse_ports,
}


def _bound(ptype: str, value: Any) -> float:
    return parse_quantity(value) if ptype == "quantity" else float(value)


@dataclass(frozen=True)
class Parameter:
    """One preset parameter, as declared in the preset file."""

    name: str
    type: str
    default: Any = None
    has_default: bool = False
    required: bool = False
    description: str = ""
    min: Any = None
    max: Any = None
    enum: tuple | None = None
    pattern: str | None = None
    line: int | None = None

    def coerce(self, value: Any) -> Any:
        """`value` (text from --set, or a typed value from a form) checked and converted."""
        if self.type == "string":
            if value is None or isinstance(value, (list, dict)):
                raise BadValue(f"expected text, got {_kind(value)}")
            result: Any = _scalar_text(value, "text")
        else:
            result = _PARSERS[self.type](value)
        self.check(result)
        return result

    def check(self, result: Any) -> None:
        if self.enum is not None and result not in self.enum:
            choices = ", ".join(str(e) for e in self.enum)
            raise BadValue(f"{_show(result)} is not one of: {choices}")
        if self.pattern is not None:
            texts = {"list": lambda: result, "map": lambda: list(result)}.get(self.type, lambda: [result])()
            for text in texts:
                if not re.fullmatch(self.pattern, text):
                    raise BadValue(f"{_show(text)} does not match the pattern {self.pattern}")
        if self.type in NUMERIC:
            amount = _bound(self.type, result)
            if self.min is not None and amount < _bound(self.type, self.min):
                raise BadValue(f"{result} is below the minimum {self.min}")
            if self.max is not None and amount > _bound(self.type, self.max):
                raise BadValue(f"{result} is above the maximum {self.max}")

    def example(self) -> Any:
        """A value that passes the checks where one is easy to find (for trial renders)."""
        if self.has_default:
            return self.default
        if self.enum:
            return self.enum[0]
        samples = {
            "string": "example", "integer": self.min if self.min is not None else 1,
            "number": self.min if self.min is not None else 1.0, "boolean": True,
            "quantity": str(self.min) if self.min is not None else "1", "image": "busybox:1",
            "list": ["example"], "map": {"KEY": "value"}, "secretRefs": {"KEY": {"secret": "example", "key": "key"}},
            "ports": [{"name": None, "port": 8080}],
        }
        return samples[self.type]

    def describe_type(self) -> str:
        text = self.type
        if self.enum:
            text += " (" + "|".join(str(e) for e in self.enum) + ")"
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min}")
        if self.max is not None:
            bounds.append(f"<= {self.max}")
        if bounds:
            text += " " + ", ".join(bounds)
        return text
