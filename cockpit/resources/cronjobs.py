"""CronJobs (batch/v1): Jobs on a schedule (nightly evaluation, data refresh). Trigger one now,
suspend, resume, delete; Enter lists the Jobs it made."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cockpit.kube import actions
from cockpit.kube.informer import Resource
from cockpit.kube.model import Column, Row
from cockpit.kube.rows import NO_VALUE, _age, _key, _meta, fmt_age, parse_time
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.resources import _workload
from cockpit.resources.base import Kind, KindAction

CRONJOBS = Resource("batch", "v1", "cronjobs")
JOBS = Resource("batch", "v1", "jobs")
MANUAL = "cronjob.kubernetes.io/instantiate"  # the annotation `kubectl create job --from` sets

CRONJOB_COLUMNS: tuple[Column, ...] = (
    Column("NAMESPACE", 16, priority=2, min_width=11),
    Column("NAME", 32, min_width=20, cut="middle"),
    Column("SCHEDULE", 14, min_width=9),
    Column("SUSPEND", 7),
    Column("ACTIVE", 6, "right", priority=1),
    Column("LAST SCHEDULE", 13, "right", priority=1),
    Column("AGE", 6, "right", priority=2),
)


def cronjob_row(cj: Mapping[str, Any], now: float) -> Row:
    ns, name, labels = _meta(cj)
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    schedule = clean(spec.get("schedule", ""), 100)
    suspended = bool(spec.get("suspend"))
    active = len(status.get("active") or ())
    last = parse_time(status.get("lastScheduleTime"))
    since = None if last is None else now - last
    age, age_s = _age(cj, now)
    deleting = bool((cj.get("metadata") or {}).get("deletionTimestamp"))
    return Row(
        key=_key(ns, name),
        cells=(ns, name, schedule, "True" if suspended else "False", str(active),
               "<none>" if since is None else fmt_age(since), age),
        sort=(ns, name, schedule, int(suspended), active, NO_VALUE if since is None else since, age_s),
        status="warn" if deleting or suspended else ("ok" if active else ""),
        labels=labels, namespace=ns, name=name,
    )


def manual_job(cj: Mapping[str, Any], now: float) -> dict:
    """The Job `kubectl create job <cronjob>-manual-<time> --from=cronjob/<cronjob>` makes: the
    CronJob's job template, owned by it, marked as started by hand."""
    meta = cj.get("metadata") or {}
    template = cj.get("spec", {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    suffix = str(int(now))[-6:]  # short, and unique for 11 days
    # A Job's name goes into its pods' job-name label: 63 characters at most.
    base = str(meta.get("name", ""))[:63 - len("-manual-") - len(suffix)].rstrip("-.")
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": f"{base}-manual-{suffix}",
            "namespace": meta.get("namespace", ""),
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": {**(tmeta.get("annotations") or {}), MANUAL: "manual"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": meta.get("name", ""),
                                 "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": dict(template.get("spec") or {}),
    }


def trigger(api, namespace: str, name: str) -> str:
    """Create a Job from the CronJob's template now; returns the Job's name."""
    from cockpit.kube.rest import api_errors

    actions._refuse_if_read_only(api)  # before the read, as every action does
    cj = actions.get(api, CRONJOBS, namespace, name)
    now = time.time()
    for attempt in range(3):
        try:
            return actions.create(api, JOBS, namespace, manual_job(cj, now + attempt))["metadata"]["name"]
        except api_errors() as e:
            if e.status != 409:  # only a name already taken (two triggers in one second) tries again
                raise
    raise actions.ActionError(f"a Job named like {name}-manual-… already exists; try again in a second")


def set_suspend(api, namespace: str, name: str, suspend: bool) -> None:
    actions.merge_patch(api, CRONJOBS, namespace, name, {"spec": {"suspend": suspend}})


def _triggered(targets, jobs) -> str:
    return "triggered " + ", ".join(f"{n} as {job}" for (_, n), job in zip(targets, jobs, strict=False))


class CronJobs(Kind):
    id, title, api_kind, group, plural = "cronjobs", "CronJobs", "CronJob", "batch", "cronjobs"
    aliases = ("cj",)
    commands = ("cj", "cronjobs", "cronjob")
    columns = CRONJOB_COLUMNS
    rebuild_as_time_passes = True  # LAST SCHEDULE counts up
    help = "cron jobs (Enter: the jobs they made)"
    delete_note = " (and their jobs)"
    opens = True
    actions = {
        "trigger": KindAction("trigger", trigger, "create", resource="jobs",
                              confirm=("trigger", "A Job is created now from its template."), done=_triggered),
        # Suspend and resume ask nothing: one key undoes the other, and running Jobs go on.
        "suspend": KindAction("suspend", lambda api, ns, n: set_suspend(api, ns, n, True), "patch", done="suspended"),
        "resume": KindAction("resume", lambda api, ns, n: set_suspend(api, ns, n, False), "patch", done="resumed"),
    }

    def build(self, obj, hub):
        return cronjob_row(obj, hub.clock())

    def open(self, nav, row):
        """The Jobs it controls (by uid), from a feed of the namespace's Jobs."""
        from cockpit.resources import registry
        from cockpit.ui.views import View

        jobs = registry.get("jobs")
        key, ns, name = row.key, row.namespace, row.name
        obj = _workload.kept_object(nav, self, key) or {}
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        feed_id = f"jobs:{key}"
        if nav.hub:
            nav.hub.ensure(jobs, namespace=ns, feed_id=feed_id)

        def job_rows() -> list[Row]:
            feed = nav.hub.feeds.get(feed_id) if nav.hub else None
            if feed is None:
                return []
            return [r for r in feed.snapshot()
                    if _workload.controlled_by(feed.get_object(r.key) or {}, self.api_kind, name, uid)]

        nav.push_view(View(f"cj:{key}", f"Jobs of cronjob {key}", jobs.columns, RowStore(), rows_fn=job_rows,
                           depends_on=(feed_id,), kind_id=jobs.id, extra={"drop_feed": feed_id}))


KIND = CronJobs()
