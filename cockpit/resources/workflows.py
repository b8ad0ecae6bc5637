"""Argo Workflows (DOMAIN.md section 4): stop, terminate, suspend, resume, retry, resubmit;
Enter shows the step tree."""

from __future__ import annotations

from cockpit.kube import actions, rows
from cockpit.kube import argo as argomod
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.resources.base import Kind, KindAction

STEP_COLUMNS = (Column("STEP", 34), Column("TYPE", 9, priority=2), Column("PHASE", 10),
                Column("POD", 40, priority=1, cut="middle"),
                Column("DURATION", 8, "right", priority=2), Column("MESSAGE", 30, priority=3))


def _resubmitted(targets, new_names) -> str:
    # The toast names the new workflows: they are where to look next.
    return "resubmitted " + ", ".join(f"{ns}/{old} as {new}" for (ns, old), new in zip(targets, new_names, strict=False))


def _control(what: str, confirm: tuple[str, str] | None, verb: str = "patch", done=None) -> KindAction:
    return KindAction(what, actions.WORKFLOW_ACTIONS[what], verb, confirm=confirm,
                      done=done or (lambda targets, _: f"{what}: {', '.join(n for _, n in targets)}"))


class Workflows(Kind):
    id, title, api_kind, group, version, plural = "workflows", "Workflows", "Workflow", "argoproj.io", "v1alpha1", "workflows"
    aliases = ("wf",)
    commands = ("wf", "workflows", "workflow")
    columns = rows.WORKFLOW_COLUMNS
    pane_order = 4
    help = "Argo workflows"
    has_logs = True
    log_kind = "workflow"
    opens = True
    actions = {
        "stop": _control("stop", ("stop", "Running steps are stopped; exit handlers still run.")),
        "terminate": _control("terminate", ("terminate", "Running steps are killed at once; exit handlers do not run.")),
        # Suspend and resume ask nothing: one key undoes the other.
        "suspend": _control("suspend", None),
        "resume": _control("resume", None),
        "retry": _control("retry", ("retry", "The pods of failed steps are deleted and those steps run again."),
                          verb="update"),
        "resubmit": _control("resubmit", ("resubmit", "A new workflow is created from the same spec."),
                             verb="create", done=_resubmitted),
    }

    def build(self, obj, hub):
        return rows.workflow_row(obj, hub.clock())

    def open(self, nav, row):
        from cockpit.ui.views import View

        key, ns = row.key, row.namespace

        def step_rows() -> list[Row]:
            feed = nav.hub.feeds.get(self.id) if nav.hub else None
            wf = feed.get_object(key) if feed else None
            if not wf:
                return []
            out = []
            for i, s in enumerate(argomod.step_tree(wf, nav.clock())):
                hint = {"Succeeded": "done", "Running": "ok", "Failed": "error", "Error": "error",
                        "Pending": "pending"}.get(s.phase, "")
                out.append(Row(key=f"{i:04d}|{s.pod_name or s.node_id}", cells=(
                    "  " * s.depth + s.name, s.type, s.phase, s.pod_name, s.duration, s.message),
                    sort=(i, s.type, s.phase, s.pod_name, s.duration, s.message), status=hint,
                    namespace=ns, name=s.pod_name))
            return out

        nav.push_view(View(f"wf:{key}", f"Steps of workflow {key}", STEP_COLUMNS, RowStore(), rows_fn=step_rows,
                           depends_on=(self.id,), kind_id="pods"))

    def follow(self, nav, namespace, name):
        nav.show_pane(self.id)
        nav.open_key(f"{namespace}/{name}")


KIND = Workflows()
