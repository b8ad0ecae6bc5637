"""PersistentVolumes (core/v1, cluster-scoped): the storage PVCs bind to. Deleting one needs its
name typed: with a Delete reclaim policy the data goes with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.quantity import parse_quantity
from cockpit.kube.rows import _ACCESS, _age, _meta
from cockpit.kube.text import clean
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAME", 32, min_width=16, cut="middle"),
    Column("CAPACITY", 8, "right"),
    Column("ACCESS MODES", 12, priority=2),
    Column("RECLAIM POLICY", 14, priority=3),
    Column("STATUS", 11),
    Column("CLAIM", 30, priority=1, cut="middle"),
    Column("STORAGECLASS", 14, priority=3),
    Column("AGE", 6, "right", priority=2),
)
_HINT = {"Bound": "ok", "Available": "", "Pending": "pending", "Released": "warn", "Failed": "error",
         "Terminating": "warn"}


def pv_row(pv: Mapping[str, Any], now: float) -> Row:
    _, name, labels = _meta(pv)
    spec = pv.get("spec") or {}
    meta = pv.get("metadata") or {}
    raw_cap = str((spec.get("capacity") or {}).get("storage") or "")
    capacity = clean(raw_cap, 32)
    access = clean(",".join(_ACCESS.get(m, str(m)) for m in spec.get("accessModes") or ()), 64)
    reclaim = clean(spec.get("persistentVolumeReclaimPolicy") or "", 16)
    phase = "Terminating" if meta.get("deletionTimestamp") else (pv.get("status") or {}).get("phase") or ""
    phase = clean(phase, 16)
    ref = spec.get("claimRef") or {}
    claim = clean(f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref.get("name") else "", 253)
    sc = clean(spec.get("storageClassName") or "", 253)
    age, age_s = _age(pv, now)
    return Row(
        key=name,
        cells=(name, capacity, access, reclaim, phase, claim, sc, age),
        sort=(name, parse_quantity(raw_cap, 0.0), access, reclaim, phase, claim, sc, age_s),
        status=_HINT.get(phase, ""),
        labels=labels,
        name=name,
    )


class PersistentVolumes(Kind):
    id, title, api_kind, plural = "pvs", "PVs", "PersistentVolume", "persistentvolumes"
    namespaced = False
    aliases = ("pv",)
    commands = ("pv", "pvs", "persistentvolumes")
    columns = COLUMNS
    help = "persistent volumes"
    type_to_confirm = True
    delete_note = " (with a Delete reclaim policy, their data)"
    keep_objects = False
    rebuild_as_time_passes = False

    def build(self, obj, hub):
        return pv_row(obj, hub.clock())


KIND = PersistentVolumes()
