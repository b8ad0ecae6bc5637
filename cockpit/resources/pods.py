"""Pods: the unit that holds GPUs. Always watched cluster-wide (when allowed), because GPU
allocation and PVC users are computed from every pod."""

from __future__ import annotations

from cockpit.kube import actions, rows
from cockpit.kube.typed import Pod as PodFields
from cockpit.resources.base import Kind, KindAction


class Pods(Kind):
    id, title, api_kind, plural = "pods", "Pods", "Pod", "pods"
    aliases = ("po",)
    commands = ("pods", "po", "pod")
    columns = rows.POD_COLUMNS
    keep_objects = False  # 10,000 of them: rows only, the object is fetched when opened
    typed = PodFields  # decoded into just what the row, the GPU index and the claim users read
    core = True
    pane_order = 2
    help = "pods"
    has_logs = True
    log_kind = "pod"
    ui_actions = frozenset({"shell", "port_forward"})
    actions = {
        "kill": KindAction("kill", lambda api, ns, name: actions.kill_pod(api, ns, name), "delete",
                           confirm=("kill", "Pods are killed at once (grace period 0)."), done="killed"),
    }

    def forward_offer(self, api, namespace, name):
        from cockpit.ui.screens.portforward import pod_offer

        return pod_offer(actions.get(api, self.resource, namespace, name))

    def build(self, obj, hub):
        return rows.pod_row(obj, hub.clock(), hub.gpu.index.names, hub.gpu.index.prefixes)

    def seen(self, obj, hub):
        hub.gpu.pod_seen(obj)
        hub.claims.pod_seen(obj)
        hub.gpu_hours.pod_seen(obj)

    def gone(self, key, hub):
        hub.gpu.pod_gone(key)
        hub.claims.pod_gone(key)
        hub.gpu_hours.pod_gone(key)

    def reset(self, gone, hub):
        hub.gpu.pods_reset(gone)
        for key in gone:
            hub.claims.pod_gone(key)
            hub.gpu_hours.pod_gone(key)


KIND = Pods()
