"""StorageClasses (storage.k8s.io/v1, cluster-scoped): what a PVC's storageClassName asks for;
the default class is the one a PVC without a class gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _meta
from cockpit.kube.text import clean
from cockpit.kube.why import is_default_class as is_default
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAME", 24, min_width=12),
    Column("DEFAULT", 7),
    Column("PROVISIONER", 32, priority=1, cut="middle"),
    Column("RECLAIMPOLICY", 13, priority=2),
    Column("VOLUMEBINDINGMODE", 20, priority=3),
    Column("AGE", 6, "right", priority=2),
)


def storageclass_row(sc: Mapping[str, Any], now: float) -> Row:
    _, name, labels = _meta(sc)
    default = "default" if is_default(sc) else ""
    provisioner = clean(sc.get("provisioner") or "", 253)
    reclaim = clean(sc.get("reclaimPolicy") or "Delete", 16)  # the API's default when unset
    binding = clean(sc.get("volumeBindingMode") or "Immediate", 32)
    age, age_s = _age(sc, now)
    return Row(
        key=name,
        cells=(name, default, provisioner, reclaim, binding, age),
        sort=(name, 0 if default else 1, provisioner, reclaim, binding, age_s),
        status="ok" if default else "",
        labels=labels,
        name=name,
    )


class StorageClasses(Kind):
    id, title, api_kind, group, plural = (
        "storageclasses", "StorageClasses", "StorageClass", "storage.k8s.io", "storageclasses")
    namespaced = False
    aliases = ("sc",)
    commands = ("sc", "storageclasses", "storageclass")
    columns = COLUMNS
    help = "storage classes"
    rebuild_as_time_passes = False  # kept (a handful): a Pending PVC's WHY PENDING reads them

    def build(self, obj, hub):
        return storageclass_row(obj, hub.clock())


KIND = StorageClasses()
