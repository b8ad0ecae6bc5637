"""Jobs (batch/v1): training runs; Enter lists their pods."""

from __future__ import annotations

from cockpit.kube import rows
from cockpit.kube.store import RowStore
from cockpit.resources.base import Kind


class Jobs(Kind):
    id, title, api_kind, group, plural = "jobs", "Jobs", "Job", "batch", "jobs"
    commands = ("jobs", "job")
    columns = rows.JOB_COLUMNS
    pane_order = 3
    help = "jobs"
    delete_note = " (and their pods)"
    has_logs = True
    log_kind = "job"
    opens = True

    def build(self, obj, hub):
        return rows.job_row(obj, hub.clock(), hub.gpu.index.names, hub.gpu.index.prefixes)

    def open(self, nav, row):
        from cockpit.resources import registry
        from cockpit.ui.views import View

        ns, name = row.namespace, row.name
        nav.push_view(View(f"job:{row.key}", f"Pods of job {row.key}", registry.get("pods").columns, RowStore(),
                           rows_fn=lambda: nav.pod_rows(lambda r: r.namespace == ns and r.labels.get("job-name") == name),
                           depends_on=("pods",), kind_id="pods"))

    def follow(self, nav, namespace, name):
        nav.show_pane(self.id)
        nav.open_key(f"{namespace}/{name}")


KIND = Jobs()
