"""Secrets (core/v1): type and key names only. Values reach the screen on one explicit key
(`v`, reveal), which fetches the Secret then; like every kind action it is refused in read-only
mode. Nothing of a Secret is kept between events: no value can sit in the cockpit's memory or
leak into a row, a filter or a drill-down."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cockpit.kube import actions
from cockpit.kube.informer import Resource
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _key, _meta
from cockpit.kube.text import clean
from cockpit.resources.base import Kind, KindAction
from cockpit.resources.configmaps import data_keys

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 32, min_width=16, cut="middle"),
    Column("TYPE", 24, priority=1),
    Column("DATA", 4, "right"),
    Column("KEYS", 32, priority=1),
    Column("AGE", 6, "right", priority=2),
)
SECRETS = Resource("", "v1", "secrets")
VALUE_LIMIT = 4096  # cells per shown line of a value


def secret_row(secret: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(secret)
    kind = clean(secret.get("type") or "Opaque", 64)
    # stringData is write-only (the server folds it into data), but a recorded object may have it.
    keys = data_keys(secret, "data", "stringData")
    shown = clean(",".join(keys), 512)
    age, age_s = _age(secret, now)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, kind, str(len(keys)), shown, age),
        sort=(ns, name, kind, len(keys), shown, age_s),
        labels=labels,
        namespace=ns,
        name=name,
    )


def _text_of(raw: bytes) -> str | None:
    """The value as text, or None when it is binary: not UTF-8, or control characters other
    than tab and line ends (a keystore, a gzip, a DER certificate)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 and c not in "\t\n\r" or ord(c) == 0x7F for c in text):
        return None
    return text


def revealed_text(secret: Mapping[str, Any]) -> str:
    """"key: value" per key, decoded and cleaned; a multi-line value (a PEM) as an indented block;
    binary values as "<N bytes binary>"."""
    data = secret.get("data") or {}
    if not isinstance(data, Mapping) or not data:
        return "(no data)"
    lines: list[str] = []
    for key in sorted(data, key=str):
        shown_key = clean(key, 253)
        try:
            raw = base64.b64decode(str(data[key] or ""), validate=True)
        except (binascii.Error, ValueError):
            lines.append(f"{shown_key}: <not valid base64>")
            continue
        text = _text_of(raw)
        if text is None:
            lines.append(f"{shown_key}: <{len(raw)} bytes binary>")
            continue
        body = text.rstrip("\r\n")
        if "\n" in body or "\r" in body:
            lines.append(f"{shown_key}: |")
            lines.extend("  " + clean(line, VALUE_LIMIT) for line in body.splitlines())
        else:
            lines.append(f"{shown_key}: {clean(body, VALUE_LIMIT)}")
    return "\n".join(lines)


def reveal(api, namespace: str, name: str) -> str:
    """Fetch the Secret now (blocking: runs in a worker) and return its values as text."""
    return revealed_text(actions.get(api, SECRETS, namespace, name))


class Secrets(Kind):
    id, title, api_kind, plural = "secrets", "Secrets", "Secret", "secrets"
    commands = ("secrets", "secret")
    columns = COLUMNS
    help = "secrets (keys; v reveals values)"
    # Nothing kept: the object carries the values, and rows need only AGE to move with time.
    keep_objects = False
    rebuild_as_time_passes = False
    actions = {
        "reveal": KindAction("reveal", reveal, "get", shows=True),
    }

    def build(self, obj, hub):
        return secret_row(obj, hub.clock())


KIND = Secrets()
