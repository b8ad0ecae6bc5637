"""ServiceAccounts (core/v1): the identities pods run as."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.kube.model import Column, Row
from cockpit.kube.rows import _age, _key, _meta
from cockpit.resources.base import Kind

COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 40, min_width=16, cut="middle"),
    Column("SECRETS", 7, "right", priority=1),
    Column("PULL-SECRETS", 12, "right", priority=3),
    Column("AGE", 6, "right", priority=2),
)


def serviceaccount_row(sa: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(sa)
    secrets = len(sa.get("secrets") or ())
    pulls = len(sa.get("imagePullSecrets") or ())
    age, age_s = _age(sa, now)
    return Row(
        key=_key(ns, name),
        cells=(ns, name, str(secrets), str(pulls), age),
        sort=(ns, name, secrets, pulls, age_s),
        labels=labels,
        namespace=ns,
        name=name,
    )


class ServiceAccounts(Kind):
    id, title, api_kind, plural = "serviceaccounts", "ServiceAccounts", "ServiceAccount", "serviceaccounts"
    aliases = ("sa",)
    commands = ("sa", "serviceaccounts", "serviceaccount")
    columns = COLUMNS
    help = "service accounts"
    keep_objects = False  # rows change only on events; AGE counts from the kept creation time
    rebuild_as_time_passes = False

    def build(self, obj, hub):
        return serviceaccount_row(obj, hub.clock())


KIND = ServiceAccounts()
