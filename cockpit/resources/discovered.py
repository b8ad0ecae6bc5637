"""Any kind the API server lists that no module of this package describes: a CRD installed a
minute ago, Services before someone writes their module. Its rows are the server's own Table
(the columns `kubectl get` shows, `additionalPrinterColumns` included), fed by a table-mode
informer like every other pane; delete when the server allows it.

This module sets no `KIND`: its kinds are made on demand from discovery (`kind_for`), one per
resource, and the same object is handed back each time so its feed id stays the same.
"""

from __future__ import annotations

import os
import threading

from cockpit.kube.discovery import ApiResource, Discovery
from cockpit.kube.informer import TableRow
from cockpit.kube.model import Column, Row
from cockpit.kube.table_rows import TableLayout, layout_for, table_layout, table_row
from cockpit.resources.base import Kind

# Until the first answer names the server's columns (then the kind's `columns` are those).
_PLACEHOLDER = ({"name": "Name", "type": "string", "format": "name"},
                {"name": "Age", "type": "string", "description": "CreationTimestamp"})


class DiscoveredKind(Kind):
    """A kind read from discovery, shown through the server's Table format."""

    table = True  # the informer asks for the Table format (Informer(..., table=True))
    keep_objects = True  # the kept TableRow rebuilds its ages as time passes
    rebuild_as_time_passes = True
    help = "any resource the API server lists"

    def __init__(self, resource: ApiResource):
        self.api_resource = resource
        self.id = resource.full_name
        self.title = _title(resource)
        self.api_kind = resource.kind
        self.group, self.version, self.plural = resource.group, resource.version, resource.plural
        self.namespaced = resource.namespaced
        self.aliases = tuple(s.lower() for s in resource.short_names)
        self.deletable = resource.can("delete")
        self._layout: TableLayout = table_layout(_PLACEHOLDER, all_namespaces=self.namespaced)
        self.layout_changes = 0  # counts column changes: the UI redraws its header when it moves

    @property
    def singular(self) -> str:
        return self.api_resource.singular

    @property
    def columns(self) -> tuple[Column, ...]:  # type: ignore[override]
        return self._layout.columns

    def columns_seen(self, definitions: tuple[dict, ...]) -> None:
        """The informer's column definitions (Sink.columns), which arrive with an empty list too:
        an empty pane shows the server's columns, not the placeholder's."""
        layout = layout_for(definitions, self.namespaced)
        if layout.columns != self._layout.columns:
            self._layout = layout
            self.layout_changes += 1

    def build(self, obj: TableRow, hub) -> Row:  # type: ignore[override]
        # Namespaced kinds always show NAMESPACE, as the cockpit's own kinds do.
        layout = layout_for(obj.columns, self.namespaced)
        if layout is not self._layout and layout.columns != self._layout.columns:
            self._layout = layout
            self.layout_changes += 1
        return table_row(obj, hub.clock(), layout=layout)


def _title(r: ApiResource) -> str:
    """The Kind's capitals on the plural: "NetworkPolicies" for networkpolicies/NetworkPolicy."""
    n = len(os.path.commonprefix([r.kind.lower(), r.plural]))
    title = r.kind[:n] + r.plural[n:]
    return title[:1].upper() + title[1:]


_made: dict[tuple[str, str, str], DiscoveredKind] = {}
_lock = threading.Lock()


def discovered_kind(resource: ApiResource) -> DiscoveredKind:
    """The kind for `resource`, the same object each time it is asked for (while discovery says
    the same of it)."""
    key = (resource.group, resource.version, resource.plural)
    with _lock:
        kind = _made.get(key)
        if kind is None or kind.api_resource != resource:
            kind = _made[key] = DiscoveredKind(resource)
        return kind


def kind_for(resource: ApiResource) -> Kind:
    """The cockpit's own kind for this resource when a module describes it, else one made from
    discovery."""
    from cockpit.resources import registry

    for k in registry.kinds().values():
        if k.group == resource.group and k.plural == resource.plural:
            return k
    return discovered_kind(resource)


def resolve_kind(discovery: Discovery, name: str) -> Kind | None:
    """The kind `:name` opens: the registry's own kinds first, then anything discovery knows (read
    again when the name is unknown). Blocking when discovery must be re-read: call it from a
    worker. None when the server serves nothing by that name, or nothing that can be listed
    and watched."""
    from cockpit.resources import registry

    own = registry.by_name(name)
    if own is not None:
        return own
    found = discovery.resolve_or_refresh(name)
    if found is None or not found.listable:
        return None
    return kind_for(found)
