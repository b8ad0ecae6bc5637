"""Katib Trials: one run of an experiment's parameters (shown under their experiment)."""

from __future__ import annotations

from cockpit.kube import rows
from cockpit.resources.base import Kind


class Trials(Kind):
    id, title, api_kind, group, version, plural = "trials", "Trials", "Trial", "kubeflow.org", "v1beta1", "trials"
    columns = rows.TRIAL_COLUMNS
    help = "Katib trials"
    has_logs = True
    log_kind = "trial"

    def build(self, obj, hub):
        return rows.trial_row(obj, hub.clock())


KIND = Trials()
