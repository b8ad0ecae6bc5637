"""Describe and YAML for any object: fetched on demand (rows keep only what they show), with
the object's events, every string neutralised for the terminal. Blocking: call from a worker."""

from __future__ import annotations

import time

import yaml

from cockpit.kube.informer import Resource
from cockpit.kube.text import clean, clean_log_line
from cockpit.kube.connection import object_path, request_json


def fetch(api, resource: Resource, namespace: str, name: str) -> dict:
    return request_json(api, "GET", object_path(resource, namespace, name), timeout=(5, 20))


def events_for(api, namespace: str, name: str, uid: str = "") -> list[dict]:
    sel = f"involvedObject.name={name}" + (f",involvedObject.uid={uid}" if uid else "")
    path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
    items = request_json(api, "GET", path, query=[("fieldSelector", sel)], timeout=(5, 20)).get("items") or []
    return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def _scrub(obj):
    """Every string in the object, keys included, made safe to print."""
    if isinstance(obj, dict):
        return {clean(k, 256): _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    if isinstance(obj, str):
        return "\n".join(clean_log_line(line) for line in obj.split("\n"))
    return obj


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def hide_secret_values(obj: dict) -> dict:
    """A Secret with its values replaced by their sizes (`data`, `stringData`, and the
    last-applied annotation `kubectl apply` leaves, which holds them in plain text). Describe and
    YAML show this; only the reveal key (`v`, refused in read-only mode) shows values."""
    if obj.get("kind") != "Secret":
        return obj
    import base64
    import binascii

    def size(field: str, value: object) -> str:
        text = str(value or "")
        if field == "data":
            try:
                return f"{len(base64.b64decode(text, validate=True))} bytes"
            except (binascii.Error, ValueError):
                return "not valid base64"
        return f"{len(text.encode())} bytes"

    out = dict(obj)
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, dict):
            out[field] = {k: f"<hidden: {size(field, v)}; v reveals>" for k, v in values.items()}
    meta = dict(obj.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = "<hidden: it holds the Secret's values>"
        meta["annotations"] = annotations
        out["metadata"] = meta
    return out


def as_yaml(obj: dict) -> str:
    obj = hide_secret_values(obj)
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    obj = {**obj, "metadata": meta}
    return yaml.safe_dump(_scrub(obj), sort_keys=False, allow_unicode=True, width=120)


def event_age(e: dict, now: float | None = None) -> str:
    """When an event was last seen, as kubectl describe says it ("3m", "2h5m"): a timestamp with
    microseconds (eventTime) was cut to "2026-12-01T21:18:42.12…" in 25 cells."""
    from cockpit.kube.rows import fmt_age, parse_time

    when = parse_time(e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime")
                      or e.get("eventTime") or e.get("firstTimestamp"))
    if when is None:
        return "-"
    return fmt_age((time.time() if now is None else now) - when)


def describe_text(obj: dict, events: list[dict], now: float | None = None,
                  owner_chain: list[str] | None = None, why_pending: str = "") -> str:
    """A kubectl-describe-like summary: identity, labels, status conditions, the spec, events."""
    obj = hide_secret_values(obj)
    meta = obj.get("metadata") or {}
    lines = [f"Name:         {clean(meta.get('name'))}"]
    if meta.get("namespace"):
        lines.append(f"Namespace:    {clean(meta.get('namespace'))}")
    lines.append(f"Kind:         {clean(obj.get('kind'))} ({clean(obj.get('apiVersion'))})")
    lines.append(f"Created:      {clean(meta.get('creationTimestamp'))}")
    for title, mapping in (("Labels", meta.get("labels")), ("Annotations", meta.get("annotations"))):
        items = sorted((mapping or {}).items())
        lines.append(f"{title + ':':<14}" + ("<none>" if not items else f"{clean(items[0][0])}={clean(items[0][1], 200)}"))
        lines.extend(f"{'':<14}{clean(k)}={clean(v, 200)}" for k, v in items[1:])
    owners = meta.get("ownerReferences") or []
    if owners:
        lines.append("Controlled By: " + ", ".join(f"{clean(o.get('kind'))}/{clean(o.get('name'))}" for o in owners))
    if owner_chain:
        # The whole way up: pod ← ReplicaSet ← Deployment (who to scale or delete, not the pod).
        lines.append("Owner Chain:  " + " ← ".join(clean(o, 120) for o in owner_chain))
    if why_pending:
        # Why it does not run, in one line: the scheduler's, Kueue's or storage's reason (kube/why.py).
        lines.append(f"Why Pending:  {clean(why_pending, 400)}")
    status = obj.get("status") or {}
    if isinstance(status, dict):
        for key in ("phase", "reason", "message", "progress", "nodeName", "podIP", "startTime", "startedAt",
                    "finishedAt", "completionTime"):
            if status.get(key):
                lines.append(f"{key[0].upper() + key[1:] + ':':<14}{clean(status.get(key), 300)}")
        conds = status.get("conditions") or []
        if conds:
            lines.append("Conditions:")
            lines.append(f"  {'Type':<26}{'Status':<8}Reason / Message")
            for c in conds:
                msg = clean(c.get("reason") or "", 60) + (f": {clean(c.get('message'), 160)}" if c.get("message") else "")
                lines.append(f"  {clean(c.get('type'), 26):<26}{clean(c.get('status'), 8):<8}{msg}")
    spec = obj.get("spec")
    if spec:
        lines.append("Spec:")
        body = yaml.safe_dump(_scrub(spec), sort_keys=False, allow_unicode=True, width=120)
        lines.extend("  " + line for line in body.splitlines())
    lines.append("Events:")
    if not events:
        lines.append("  <none>")
    else:
        lines.append(f"  {'Type':<8}{'Reason':<22}{'Age':>6}  {'Count':<6}From: Message")
    for e in events[-50:]:
        count = e.get("count") or (e.get("series") or {}).get("count") or 1
        src = clean((e.get("source") or {}).get("component") or e.get("reportingComponent") or "", 30)
        lines.append(f"  {clean(e.get('type'), 8):<8}{clean(e.get('reason'), 21):<22}{event_age(e, now):>6}  "
                     f"x{count:<5}{src}: {clean(e.get('message'), 300)}")
    return "\n".join(lines)
