"""ConfigMaps (core/v1): how many entries each holds and their keys (values are in describe)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _key, _meta
from cockpit.kube.text import clean
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 32, min_width=16, cut="middle"),
    Column("DATA", 4, "right"),
    Column("KEYS", 40, priority=1),
    Column("AGE", 6, "right", priority=2),
)


def data_keys(obj: Mapping[str, Any], *fields: str) -> list[str]:
    """The keys of the given maps (data, binaryData), sorted, each once."""
    keys: set[str] = set()
    for f in fields:
        value = obj.get(f)
        if isinstance(value, Mapping):
            keys.update(str(k) for k in value)
    return sorted(keys)


def configmap_row(cm: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(cm)
    keys = data_keys(cm, "data", "binaryData")
    shown = clean(",".join(keys), 512)
    age, age_s = _age(cm, now)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, str(len(keys)), shown, age),
        sort=(ns, name, len(keys), shown, age_s),
        labels=labels,
        namespace=ns,
        name=name,
    )


class ConfigMaps(Kind):
    id, title, api_kind, plural = "configmaps", "ConfigMaps", "ConfigMap", "configmaps"
    aliases = ("cm",)
    commands = ("cm", "configmaps", "configmap")
    columns = COLUMNS
    help = "config maps"
    # Values can be a MiB each and rows show only keys: nothing is kept, AGE counts from the
    # creation time the hub keeps anyway.
    keep_objects = False
    rebuild_as_time_passes = False

    def build(self, obj, hub):
        return configmap_row(obj, hub.clock())


KIND = ConfigMaps()
