"""Katib Experiments: restart (more trials) and delete; Enter lists the trials."""

from __future__ import annotations

from cockpit.kube import actions, rows
from cockpit.kube.store import RowStore
from cockpit.resources.base import Kind, KindAction


class Experiments(Kind):
    id, title, api_kind, group, version, plural = (
        "experiments", "Experiments", "Experiment", "kubeflow.org", "v1beta1", "experiments")
    aliases = ("exp",)
    commands = ("exp", "experiments", "experiment")
    columns = rows.EXPERIMENT_COLUMNS
    pane_order = 5
    help = "Katib experiments"
    delete_note = " (and their trials)"
    opens = True
    actions = {
        "retry": KindAction("retry", actions.experiment_restart, "update",
                            confirm=("restart", "Katib runs more trials."), done="restart requested"),
    }

    def build(self, obj, hub):
        return rows.experiment_row(obj, hub.clock())

    def open(self, nav, row):
        from cockpit.resources import registry
        from cockpit.ui.views import View

        key, ns, name = row.key, row.namespace, row.name
        trials = registry.get("trials")
        feed_id = f"trials:{key}"
        if nav.hub:
            nav.hub.ensure(trials, namespace=ns, label_selector=f"katib.kubeflow.org/experiment={name}",
                           feed_id=feed_id)

        def trial_rows():
            feed = nav.hub.feeds.get(feed_id) if nav.hub else None
            return feed.snapshot() if feed else []

        nav.push_view(View(f"exp:{key}", f"Trials of experiment {key}", trials.columns, RowStore(),
                           rows_fn=trial_rows, depends_on=(feed_id,), kind_id="trials", extra={"drop_feed": feed_id}))

    def follow(self, nav, namespace, name):
        nav.show_pane(self.id)
        nav.open_key(f"{namespace}/{name}")


KIND = Experiments()
