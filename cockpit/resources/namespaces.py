"""Namespaces; Enter scopes every pane to one and opens its pods (as k9s does)."""

from __future__ import annotations

from cockpit.kube import rows
from cockpit.resources.base import Kind

ALL_NAMESPACES = "(all namespaces)"  # the pane's first row; no namespace can have this name


class Namespaces(Kind):
    id, title, api_kind, plural = "namespaces", "Namespaces", "Namespace", "namespaces"
    namespaced = False
    aliases = ("ns",)
    commands = ("ns", "namespaces", "namespace")
    columns = rows.NAMESPACE_COLUMNS
    pane_order = 8
    help = "namespaces / switch"
    command_argument = ("namespace", "[NAME|all]")
    delete_note = " (and everything in them)"
    type_to_confirm = True
    opens = True

    def build(self, obj, hub):
        return rows.namespace_row(obj, hub.clock())

    def open(self, nav, row):
        nav.set_namespace(None if row.key == ALL_NAMESPACES else row.key)
        nav.show_pane("pods")


KIND = Namespaces()
