"""PersistentVolumeClaims, with the pods using each; deleting one needs its name typed."""

from __future__ import annotations

from cockpit.kube import rows
from cockpit.kube.informer import object_key
from cockpit.resources.base import Kind


class Pvcs(Kind):
    id, title, api_kind, plural = "pvcs", "PVCs", "PersistentVolumeClaim", "persistentvolumeclaims"
    aliases = ("pvc",)
    commands = ("pvc", "pvcs")
    columns = rows.PVC_COLUMNS
    pane_order = 6
    help = "persistent volume claims"
    type_to_confirm = True
    rebuilds_on = ("pods", "storageclasses")
    companions = ("storageclasses",)  # WHY PENDING names a missing class or the lack of a default

    def build(self, obj, hub):
        key = object_key(obj)
        return rows.pvc_row(obj, hub.clock(), {key: hub.claims.used_by(key)},
                            lambda: hub.objects_of("storageclasses"))

    def rebuild_keys(self, hub, changed):
        dirty, _ = hub.claims.take()
        if "storageclasses" in changed:
            dirty = set(dirty) | hub.keys_of(self.id, lambda obj: (obj.get("status") or {}).get("phase") != "Bound")
        return dirty


KIND = Pvcs()
