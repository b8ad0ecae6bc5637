"""The main screen: the one live resource table, whose rows follow the place the user is at (a
pane, or a drill-down pushed on one), its status lines, the k9s-style `:` and `/` prompts and the
keys that act on the table's rows.

Where the user is, is one stack (`self.places`): a digit or `:pane` starts it again from a pane,
Enter on a row pushes the place it opens, esc pops. Describe, YAML, logs and dialogs are Textual
screens pushed over this one; esc there pops them.

The app's repaint tick calls `flush`, which drains what the hub's informer threads batched; so
nothing here waits on the network, and nothing polls the cluster. What a pane shows and what its
keys do is its kind's (cockpit/resources/); this module names no kind.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Static

from cockpit import __version__
from cockpit.kube.gpu_view import GPU_COLUMNS, gpu_rows, totals_line
from cockpit.kube.informer import CONNECTING, ERROR, FORBIDDEN, LIVE, NOT_SERVED
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.kube.utilization import IDLE_COLUMNS, UTIL_COLUMNS, idle_rows, node_util_cells
from cockpit.resources import registry
from cockpit.ui import commands
from cockpit.ui.actions import MUTATING_ACTIONS, ClusterActions
from cockpit.ui.prompt import Prompt, PromptBar, pasted_line
from cockpit.ui.views import View
from cockpit.ui.widgets.footer import CockpitFooter
from cockpit.ui.widgets.resource_table import ResourceTable

if TYPE_CHECKING:
    from cockpit.app import CockpitApp

CONTEXT_COLUMNS = (Column("CURRENT", 7), Column("NAME", 30), Column("CLUSTER", 24, priority=1),
                   Column("USER", 20, priority=2), Column("NAMESPACE", 16, priority=1))

GPU_PANE_COLUMNS = (*GPU_COLUMNS, *UTIL_COLUMNS)

# Pane order is also the digit shortcut order: the GPU pane, the kinds with a pane, contexts.
PANES = ("gpu", *(k.id for k in registry.panes()), "contexts")
PANE_TITLES = {"gpu": "GPU allocation", "contexts": "Contexts", **{k.id: k.title for k in registry.panes()}}
ALL_NAMESPACES = "(all namespaces)"  # the namespace pane's first row; no namespace can have this name
NAMESPACES = "namespaces"  # the kind whose rows scope every other pane


def _session(name: str) -> property:
    """A read-only view of the App's session state (connection, settings, scope)."""
    return property(lambda self: getattr(self.app, name))


# Kinds that add a line under the GPU totals (Kueue's quotas): their feeds' changes recompute it.
_GPU_NOTE_FEEDS = frozenset(k.id for k in registry.kinds().values() if k.adds_to_gpu_pane)


class MainScreen(ClusterActions, Screen):
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    #topbar { height: auto; max-height: 3; background: $panel; color: $foreground; padding: 0 1; }
    #panebar { height: auto; max-height: 4; background: $boost; color: $text-muted; padding: 0 1; }
    ResourceTable { scrollbar-size-vertical: 1; }
    """
    # Ids stay "app.*": they are what a user's keymap (config `keys:`) names.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "command", "Command", id="app.command", key_display=":"),
        Binding("slash", "filter", "Filter", id="app.filter", key_display="/"),
        # The app's `?` and `q` (they work on every screen), here too to keep their place in the footer.
        Binding("question_mark", "app.help", "Help", id="app.help", key_display="?"),
        Binding("escape", "back", "Back", id="app.back", show=False),
        Binding("l", "logs", "Logs", id="app.logs"),
        Binding("d", "describe", "Describe", id="app.describe"),
        Binding("y", "yaml", "YAML", id="app.yaml"),
        Binding("J", "owner", "Owner", id="app.owner", key_display="shift+j", show=False),
        Binding("ctrl+a", "api_resources", "API resources", id="app.api_resources", show=False),
        Binding("q", "app.quit", "Quit", id="app.quit"),
        # Actions that change the cluster: hidden and refused in read-only mode.
        Binding("ctrl+d", "delete", "Delete", id="app.delete"),
        # What these mean on a pane is its kind's (resources/): only the kind's own show.
        Binding("ctrl+k", "kind_action('kill')", "Kill", id="app.kill"),
        Binding("x", "kind_action('stop')", "Stop", id="app.wf_stop"),
        Binding("X", "kind_action('terminate')", "Terminate", id="app.wf_terminate"),
        Binding("z", "kind_action('suspend')", "Suspend", id="app.wf_suspend"),
        Binding("u", "kind_action('resume')", "Resume", id="app.wf_resume"),
        Binding("R", "kind_action('retry')", "Retry/Restart", id="app.retry"),
        Binding("ctrl+r", "kind_action('resubmit')", "Resubmit", id="app.wf_resubmit"),
        Binding("S", "kind_action('scale')", "Scale", id="app.scale", key_display="shift+s"),
        Binding("t", "kind_action('trigger')", "Trigger", id="app.trigger"),
        Binding("v", "kind_action('reveal')", "Reveal", id="app.reveal"),
        Binding("n", "launch", "Launch", id="app.launch"),
        Binding("s", "shell", "Shell", id="app.shell"),
        Binding("F", "port_forward", "Port-forward", id="app.port_forward", key_display="shift+f"),
        *(Binding(str(i + 1), f"pane('{p}')", PANE_TITLES[p], show=False, id=f"app.pane_{p}")
          for i, p in enumerate(PANES)),
    ]

    app: CockpitApp

    def __init__(self, start_pane: str = "pods") -> None:
        super().__init__()
        self.views: dict[str, View] = {}
        self.places: list[View] = []  # where the user is: a pane, then what was opened from it
        self._discovered_kinds: dict = {}  # kinds made from discovery that have a pane now
        self._prompt_mode = ""
        self._filter_timer = None
        self._start_pane = start_pane
        self._gpu_totals = ""
        self._gpu_notes: list[str] = []
        self._bars: dict[str, Text] = {}
        self._gpu_dirty: set[str] = set()
        self._node_dirty: set[str] = set()
        self._last_age_refresh = 0.0
        self._loading_painted, self._loading_feed = 0.0, None  # see LOADING_REPAINT

    @property
    def current(self) -> View | None:
        return self.places[-1] if self.places else None

    # What the screen reads of the session (cockpit/app.py holds it).
    hub = _session("hub")
    settings = _session("settings")
    kubeconfig = _session("kubeconfig")
    context = _session("context")
    namespace = _session("namespace")
    read_only = _session("read_only")
    permissions = _session("permissions")
    forwards = _session("forwards")
    util = _session("util")
    scraper = _session("scraper")
    clock = _session("clock")
    discovery = _session("discovery")
    problem = _session("problem")
    recorded = _session("recorded")

    @property
    def covered(self) -> bool:
        """A screen (describe, logs, a dialog) is over this one."""
        return self.app.screen is not self

    def push_screen(self, screen, callback=None):
        return self.app.push_screen(screen, callback)

    def pop_screen(self):
        return self.app.pop_screen()

    def call_from_thread(self, callback, *args, **kwargs):
        return self.app.call_from_thread(callback, *args, **kwargs)

    def on_mount(self) -> None:
        if not self.places:  # a command typed while the cockpit started may have chosen one
            self.show_pane(self._start_pane if self._start_pane in self.views else "pods")
        if self.focused is None:  # a `:` typed while the cockpit starts keeps its prompt
            self.table.focus()
        # The bars say what is known once the screen can show it: a kubeconfig problem found
        # before it mounted, with no hub to tick for.
        self.call_after_refresh(self.refresh_bars)

    def connected(self) -> None:
        """A context's client is ready: the feed of the place shown starts; RBAC is asked."""
        self._ensure_feed(self.current)
        self._probe_permissions()

    def contexts_changed(self) -> None:
        """The kubeconfig changed on disk (kubectl, a cloud CLI)."""
        self._set_context_rows()
        self.refresh_bars()

    def clear_views(self) -> None:
        """The context changed: every kind's rows go; the contexts pane marks the new one."""
        for view in self.views.values():
            if view.feed_id:
                self._apply(view, view.store.clear())
        self._add_all_namespaces_row()
        self._set_context_rows()
        self._gpu_notes = []
    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield Static(id="panebar")
        # Held from here on: keys typed while the cockpit starts (`:jobs⏎` sent with the command)
        # can run a command before on_mount.
        self._table = ResourceTable(list(GPU_PANE_COLUMNS), id="table")
        yield self._table
        yield PromptBar(id="prompt-bar")
        yield CockpitFooter()

    @property
    def table(self) -> ResourceTable:
        return self._table

    def build_views(self) -> None:
        """Every pane's view, before the screen shows (recorded rows may arrive first)."""
        self.views["gpu"] = View("gpu", PANE_TITLES["gpu"], GPU_PANE_COLUMNS, RowStore(), kind_id="nodes")
        self.views["contexts"] = View("contexts", "Contexts", CONTEXT_COLUMNS, RowStore(self._context_rows()),
                                      on_enter=self._switch_context)
        for kind in registry.kinds().values():
            self._kind_view(kind)
        self._add_all_namespaces_row()
        self._apply_scope()

    def _kind_view(self, kind) -> View:
        """The pane of a kind (every kind has one; those with a digit are in PANES)."""
        view = self.views.get(kind.id)
        if view is None:
            view = self.views[kind.id] = View(kind.id, kind.title, kind.columns, RowStore(), feed_id=kind.id,
                                              kind_id=kind.id)
            if kind.namespaced:
                view.store.set_scope(self.namespace)
            if kind.default_sort is not None:
                view.store.set_sort(*kind.default_sort)
        return view

    def _add_all_namespaces_row(self) -> None:
        view = self.views[NAMESPACES]
        row = Row(key=ALL_NAMESPACES, cells=(ALL_NAMESPACES, "", ""), sort=("", "", -1.0),
                  status="ok" if self.namespace is None else "")
        self._apply(view, view.store.apply([row], []))

    def _switch_context(self, name: str) -> None:
        self.app.connect(name)
        self.notify(f"switched to context {name}", timeout=3)

    def _context_rows(self) -> list[Row]:
        out = []
        for name, c in self.kubeconfig.contexts.items():
            mark = "*" if name == self.context else ""
            out.append(Row(key=name, cells=(mark, clean(name), clean(c.cluster), clean(c.user), clean(c.namespace)),
                           status="ok" if mark else "", name=name))
        return out

    def _set_context_rows(self) -> None:
        view = self.views["contexts"]
        store = view.store
        delta = store.apply(self._context_rows(), [k for k in store.keys() if k not in self.kubeconfig.contexts])
        self._apply(view, delta)

    # -- the repaint tick ---------------------------------------------------------------------
    # While the shown list arrives, its rows and the title's count are painted at most this
    # often: each repaint's rendering shares the process (and its lock on Python) with the
    # parsing of the rest of the list. Its first rows and its end are painted at once.
    LOADING_REPAINT = 0.3

    def flush(self) -> None:
        hub = self.hub
        if hub is None:
            return
        view = self.current
        feed = hub.feeds.get(view.feed_id) if view is not None and view.feed_id else None
        if feed is not None and feed.loading is not None:
            now = time.monotonic()
            if now - self._loading_painted < self.LOADING_REPAINT and self._loading_feed is feed:
                return
            self._loading_painted, self._loading_feed = now, feed
        changed_feeds = set()
        for ch in hub.drain():
            changed_feeds.add(ch.kind)
            view = self.views.get(ch.kind)
            if view is None or view.feed_id != ch.kind:
                continue
            deletes = ch.deletes
            if ch.reset:
                keep = {r.key for r in ch.upserts}
                deletes = [k for k in view.store.keys() if k not in keep and k != ALL_NAMESPACES]
            self._apply(view, view.store.apply(ch.upserts, deletes))
        for view in self.views.values():
            kind = self.kind_of(view.feed_id or "")
            if kind is None or not changed_feeds.intersection(kind.rebuilds_on):
                continue
            keys = kind.rebuild_keys(hub, changed_feeds)
            if keys:
                self._apply(view, view.store.apply(hub.rebuild(view.feed_id, keys), []))
        now = time.monotonic()
        refresh_times = now - self._last_age_refresh > 5
        if refresh_times:
            self._last_age_refresh = now
            for view in self.views.values():
                if view.feed_id:
                    rows = hub.refresh_times(view.feed_id)
                    if rows:
                        self._apply(view, view.store.apply(rows, []))
        # GPU rows are rebuilt only while the GPU pane shows: no work for 1,000 nodes while
        # the user looks at pods. What changed meanwhile waits in _gpu_dirty.
        dirty = hub.gpu.take_dirty()
        self._gpu_dirty |= dirty
        self._node_dirty |= dirty
        self._catch_up_gpu()
        self._follow_server_columns()
        if changed_feeds & _GPU_NOTE_FEEDS:
            self._gpu_notes = self._gpu_pane_notes()
        for view in self.places:
            if view.refill_every is not None and now - view.extra.get("refilled", 0.0) >= view.refill_every:
                view.extra["stale"] = True  # IDLE FOR keeps counting; forward counters change unseen
            if view.rows_fn and (set(view.depends_on) & changed_feeds or view.extra.get("stale", True)):
                view.extra["stale"] = False
                view.extra["refilled"] = now
                self._refill(view)
        self.refresh_bars()

    def _follow_server_columns(self) -> None:
        """A kind shown in the server's Table format learns its columns from the first answer."""
        view = self.current
        kind = self.kind_of(view.kind_id or "") if view is not None else None
        changes = getattr(kind, "layout_changes", None)
        if changes is None or view.extra.get("layout") == changes:
            return
        view.extra["layout"] = changes
        view.columns = tuple(kind.columns)
        self.table.set_store(view.store, list(view.columns))

    def _catch_up_gpu(self) -> None:
        """Apply GPU allocation changes to the GPU and node panes, when one of them shows."""
        if self.hub is None:
            return
        if self._gpu_dirty and self.current is self.views["gpu"]:
            dirty, self._gpu_dirty = self._gpu_dirty, set()
            self._update_gpu(dirty)
        view = self.current
        kind = self.kind_of(view.feed_id or "") if view else None
        if self._node_dirty and kind is not None and kind.follows_gpu_allocation:
            dirty, self._node_dirty = self._node_dirty, set()
            self._apply(view, view.store.apply(self.hub.rebuild(view.feed_id, dirty), []))

    # -- discovery: every kind the server has -------------------------------------------------------
    def discovery_changed(self) -> None:
        for view in self.places:
            if "discovery" in view.depends_on:
                view.extra["stale"] = True

    @work(thread=True, group="resolve", exclusive=True, exit_on_error=False)
    def _open_by_name(self, name: str, text: str) -> None:
        """`:NAME` that no pane answers to: whatever the server serves under that name (a CRD
        installed a moment ago included), with the server's own columns."""
        from cockpit.kube.discovery import DiscoveryError
        from cockpit.resources.discovered import resolve_kind

        discovery = self.discovery
        kind = None
        if discovery is not None:
            try:
                kind = resolve_kind(discovery, name)
            except DiscoveryError as e:
                self.call_from_thread(self.notify, f"cannot read what the server serves: {clean(str(e), 200)}",
                                      severity="error")
                return
        if kind is None:
            self.call_from_thread(self.notify, f"unknown command: {clean(text, 80)!r}; ? lists the commands, "
                                  ":api-resources what the cluster serves", severity="warning")
            return
        self.call_from_thread(self.show_kind, kind)

    def action_api_resources(self) -> None:
        self.open_api_resources()

    def open_api_resources(self) -> None:
        from cockpit.kube.table_rows import API_RESOURCE_COLUMNS, api_resource_rows

        def rows() -> list[Row]:
            return api_resource_rows(self.discovery.preferred()) if self.discovery is not None else []

        self.push_view(View("api-resources", "API resources (enter opens one)", API_RESOURCE_COLUMNS, RowStore(),
                            rows_fn=rows, depends_on=("discovery",), on_enter=self.open_by_name))
        self.table.placeholder = "Reading what the server serves…" if self.discovery else "Not connected"

    def util_updated(self) -> None:
        if self.hub is not None:
            self._gpu_dirty |= set(self.hub.gpu.nodes)
        for view in self.places:
            if "util" in view.depends_on:
                self._refill(view)

    def open_idle(self) -> None:
        window = self.settings.idle.window
        title = f"Idle GPUs: held at 0% utilisation for at least {window // 60}m (:gpuhours for totals)"
        self.push_view(View("idle", title, IDLE_COLUMNS, RowStore(), kind_id=self.pods_kind.id,
                            rows_fn=lambda: idle_rows(self.util, self.clock()), depends_on=("util",),
                            refill_every=5.0))
        if self.scraper is None or self.scraper.state == "off":
            self.table.placeholder = "No dcgm-exporter and no NVML found: utilisation is unavailable"

    def open_gpu_hours(self) -> None:
        from cockpit.kube.gpuhours import GPU_HOURS_COLUMNS, gpu_hours_rows
        from cockpit.kube.gpu_view import short_product
        from cockpit.kube.utilization import idle_share

        def product_of(node: str) -> str:
            info = self.hub.gpu.nodes.get(node) if self.hub else None
            return short_product(info.product) if info else ""

        def idle_of(key: str) -> float | None:
            use = self.util.pod_summary(key)
            return idle_share(use.spark) if use else None

        def rows() -> list[Row]:
            if self.hub is None:
                return []
            return gpu_hours_rows(self.hub.gpu_hours.snapshot(), self.clock(), product_of, idle_of)

        self.push_view(View("gpu-hours", "GPU-hours held by running pods (by product, namespace, user, owner)",
                            GPU_HOURS_COLUMNS, RowStore(), rows_fn=rows, depends_on=("pods", "util"),
                            refill_every=5.0))
        self.table.placeholder = "No running pod holds a GPU"

    def _update_gpu(self, dirty: set[str]) -> None:
        hub = self.hub
        view = self.views["gpu"]
        upserts: list[Row] = []
        deletes: list[str] = []
        for name in dirty:
            alloc = hub.gpu.allocation(name)
            old = [k for k in view.store.keys() if k.split("|", 1)[0] == name]
            new = [self._with_util(r) for r in gpu_rows(alloc)] if alloc else []
            upserts.extend(new)
            keep = {r.key for r in new}
            deletes.extend(k for k in old if k not in keep)
        self._apply(view, view.store.apply(upserts, deletes))
        self._gpu_totals = totals_line(hub.gpu.all_allocations())

    def _with_util(self, row: Row) -> Row:
        node, _, resource = row.key.partition("|")
        cells = node_util_cells(self.util, node, resource)
        summary = self.util.node_summary(node)
        util = summary.avg_util if summary and summary.avg_util is not None else -1
        return Row(key=row.key, cells=(*row.cells, *cells), sort=(*row.sort, util, cells[1], util),
                   status=row.status, labels=row.labels, namespace=row.namespace, name=row.name)

    def _refill(self, view: View) -> None:
        rows = view.rows_fn() if view.rows_fn else []
        keep = {r.key for r in rows}
        delta = view.store.apply(rows, [k for k in view.store.keys() if k not in keep])
        self._apply(view, delta)

    def _apply(self, view: View, delta) -> None:
        if view is self.current:
            self.table.apply(delta)

    # -- panes and drill-downs -----------------------------------------------------------------
    def show_pane(self, pane: str) -> None:
        """Start the places again from a pane (a digit, `:pods`)."""
        self._leave()
        for view in self.places[1:]:
            self._drop_feed(view)
        self.places = [self.views[pane]]
        self._show(self.views[pane])
        self._catch_up_gpu()
        self._ensure_feed(self.views[pane])
        if pane == "gpu" and self.hub:
            for kind_id in _GPU_NOTE_FEEDS:
                self.hub.ensure(registry.get(kind_id))
            self._gpu_notes = self._gpu_pane_notes()

    def _gpu_pane_notes(self) -> list[str]:
        """Lines kinds add under the GPU totals (Kueue: each team's GPU quota beside allocation)."""
        if self.hub is None:
            return []
        lines = (registry.get(k).gpu_pane_note(self.hub.objects_of(k)) for k in sorted(_GPU_NOTE_FEEDS))
        return [line for line in lines if line]

    def shown_feeds(self) -> set[str]:
        """The feeds the place shown reads: its own, its kind's companions, what its rows depend on."""
        view = self.current
        if view is None:
            return set()
        out = set(view.depends_on)
        if view.feed_id:
            out.add(view.feed_id)
        kind = self.kind_of(view.kind_id or view.feed_id or "")
        if kind is not None:
            out.add(kind.id)
            out.update(kind.companions)
        if view.id == "gpu":
            out.update(("nodes", "pods"))  # the allocation is computed from both
        return out

    def _ensure_feed(self, view: View | None) -> None:
        if self.hub and view is not None and view.feed_id:
            kind = self.kind_of(view.kind_id or view.feed_id)
            self.hub.ensure(kind, feed_id=view.feed_id)
            for companion in kind.companions:
                if (other := registry.find(companion)) is not None:
                    self.hub.ensure(other)

    def _leave(self) -> None:
        """Remember the cursor of the place being left, for when the user comes back to it."""
        if self.current is not None:
            self.current.cursor = self.table.cursor_key

    def _drop_feed(self, view: View) -> None:
        if view.extra.get("drop_feed") and self.hub:
            self.hub.drop(view.extra["drop_feed"])

    def _show(self, view: View) -> None:
        table = self.table
        table.set_store(view.store, list(view.columns))
        table.opens = self._enter_opens(view)  # the footer offers ⏎ only where it does something
        if view.cursor and view.store.index(view.cursor) is not None:
            table.move_cursor(view.store.index(view.cursor))
        self.refresh_bindings()
        self.refresh_bars()

    def push_view(self, view: View) -> None:
        """Enter on a row: the place it opens goes on top."""
        self._leave()
        self.places.append(view)
        self._show(view)
        if view.rows_fn:
            self._refill(view)

    def pop_view(self) -> bool:
        """esc: back to the place below, if there is one."""
        if len(self.places) < 2:
            return False
        self._drop_feed(self.places.pop())
        self._show(self.places[-1])
        return True

    def _enter_opens(self, view: View) -> bool:
        if view.on_enter is not None:
            return True
        kind = self.kind_of(view.kind_id or "")
        return kind is not None and kind.opens

    def on_resource_table_selected(self, msg: ResourceTable.Selected) -> None:
        view, key = self.current, msg.key
        if view is None:
            return
        if view.on_enter is not None:
            view.on_enter(key)
            return
        kind = self.kind_of(view.kind_id or "")
        row = view.store.get(key)
        if kind is not None and kind.opens and row is not None:
            kind.open(self, row)

    # -- what kinds ask of the screen (resources.base.Navigator) --------------------------------------
    @property
    def pods_kind(self):
        return registry.get("pods")

    def pod_rows(self, pred: Callable[[Row], bool]) -> list[Row]:
        feed = self.hub.feeds.get(self.pods_kind.id) if self.hub else None
        return [r for r in feed.snapshot() if pred(r)] if feed else []

    def show_pods_named(self, namespace: str, name: str) -> None:
        self.show_pane(self.pods_kind.id)
        self.current.cursor = f"{namespace}/{name}" if namespace else name
        self._set_filter(name)

    def open_key(self, key: str) -> None:
        """Open the row `key` of the current pane as Enter would, whether or not it has arrived."""
        view = self.current
        kind = self.kind_of(view.kind_id or "") if view else None
        if kind is None:
            return
        ns, _, name = key.rpartition("/")
        row = view.store.get(key) or Row(key=key, cells=(), namespace=ns, name=name)
        view.cursor = key
        kind.open(self, row)

    def set_namespace(self, namespace: str | None) -> None:
        self.app.namespace = namespace
        self._add_all_namespaces_row()
        self._apply_scope()
        self.notify(f"namespace: {namespace or 'all'}", timeout=2)
        self.refresh_bars()

    def switch_namespace(self, name: str) -> None:
        """`:ns NAME`: only to a namespace that exists; a typo must not show an empty cluster."""
        feed = self.hub.feeds.get(NAMESPACES) if self.hub else None
        if self.recorded is not None or (feed is not None and feed.state_name == LIVE):
            known = set(self.views[NAMESPACES].store.keys()) - {ALL_NAMESPACES}
            if name in known:
                self.set_namespace(name)
            else:
                self.notify(f"no namespace named {clean(name, 80)!r}: nothing changed (:ns lists them)",
                            severity="error")
            return
        self._check_namespace(name)

    @work(thread=True, group="ns-check", exclusive=True, exit_on_error=False)
    def _check_namespace(self, name: str) -> None:
        from cockpit.kube.rest import api_errors

        from cockpit.kube import describe

        api = self.hub.api if self.hub else None
        note = ""
        if api is None:
            note = "not connected: cannot check that it exists"
        else:
            try:
                describe.fetch(api, registry.get(NAMESPACES).resource, "", name)
            except api_errors() as e:
                if e.status == 404:
                    self.call_from_thread(self.notify, f"no namespace named {clean(name, 80)!r}: nothing changed",
                                          severity="error")
                    return
                note = f"cannot check that it exists ({e.status} {clean(e.reason or '', 80)})"
            except Exception as e:  # network trouble: switch, and say it is unchecked
                note = f"cannot check that it exists: {clean(str(e), 120)}"
        self.call_from_thread(self._namespace_checked, name, note)

    def _namespace_checked(self, name: str, note: str) -> None:
        self.set_namespace(name)
        if note:
            self.notify(f"namespace {clean(name, 80)}: {note}", severity="warning", timeout=5)

    def _apply_scope(self) -> None:
        for view in self.views.values():
            kind = self.kind_of(view.id)
            if kind and kind.namespaced:
                self._apply(view, view.store.set_scope(self.namespace))

    # -- status lines ---------------------------------------------------------------------------
    def _connection_text(self) -> tuple[str, str]:
        if self.problem:
            return "✖ " + str(self.problem), "error"
        if self.hub is None:
            return "◌ connecting", ""
        view = self.current
        feed_id = view.feed_id if view and view.feed_id else "pods"
        state, detail = self.hub.state(feed_id)
        if state == LIVE:
            return "● live", "ok"
        if state == FORBIDDEN:
            return "⊘ forbidden", "warn"
        if state == ERROR:
            wait, _ = self.hub.retry(feed_id)
            when = f", retrying in {math.ceil(wait)} s" if wait >= 0.5 else ", retrying"
            return f"✖ {detail or 'API server unreachable'}{when}", "error"
        return "◌ connecting", ""

    def refresh_bars(self) -> None:
        if not self.is_mounted or self.current is None or not self._table.is_attached:
            return
        conn, _ = self._connection_text()
        ns = self.namespace or "all"
        top = Text.assemble(("gpu-cockpit ", "bold"), f"{__version__}  ",
                            ("ctx ", "dim"), clean(self.context or "-"), ("  ns ", "dim"), clean(ns), "  ", conn)
        if self.read_only:
            top.append("  [READ-ONLY]", "bold reverse")
            forced = self.settings.read_only_reason
            if forced.startswith("read-only because of"):
                # Read-only that nobody asked for: say which file and line caused it, where it stays in view.
                top.append("\n")
                top.append(clean(forced), "bold")
        self._set_bar("#topbar", top)
        view = self.current
        store = view.store
        shown, total = len(store), store.total
        if ALL_NAMESPACES in store:  # that row is no namespace: not counted
            total -= 1
            shown -= store.index(ALL_NAMESPACES) is not None
        count = f"{shown}" if shown == total else f"{shown}/{total}"
        feed = self.hub.feeds.get(view.feed_id) if self.hub and view.feed_id else None
        loading = feed.loading if feed is not None else None
        if loading is not None:  # a big list pages in: how far it is
            arrived, expected = loading
            count = f"loading {arrived:,} of ~{expected:,}" if expected else f"loading {arrived:,}"
        bar = Text.assemble((view.title, "bold"), f" ({count})")
        stale = self.hub.retry(view.feed_id)[1] if self.hub and view.feed_id else 0.0
        if stale:
            # The rows stay on screen, but they are what the server said last, not what is true now.
            bar.append(f"  stale since {time.strftime('%H:%M:%S', time.localtime(stale))}", "bold reverse")
        if store.filter_text:
            bar.append(f"  filter: {store.filter_text}")
        if view.id == "gpu":
            bar.append("  " + (self._gpu_totals or ""))
            if self.hub and not self.hub.gpu.pods_known:
                bar.append("  allocation unknown: pods cannot be listed", "bold")
            for line in self._gpu_notes:
                bar.append("\n" + line)
        self._set_bar("#panebar", bar)
        self._update_placeholder()

    def _set_bar(self, selector: str, text: Text) -> None:
        # Called on every repaint tick: only an actual change costs a repaint.
        if self._bars.get(selector) != text:
            self._bars[selector] = text
            self.query_one(selector, Static).update(text)

    def _update_placeholder(self) -> None:
        view = self.current
        table = self.table
        if self.problem:
            table.placeholder = f"Not connected: {self.problem}"
            return
        feed_id = view.feed_id or next(iter(view.depends_on), None)
        if self.hub and feed_id:
            state, detail = self.hub.state(feed_id)
            if state == FORBIDDEN:
                table.placeholder = f"Forbidden: {detail}"
                return
            if state == ERROR:
                kind = self.kind_of(view.kind_id or "")
                if detail == NOT_SERVED and kind is not None and kind.not_served:
                    table.placeholder = kind.not_served  # "Kueue is not installed on this cluster"
                else:
                    table.placeholder = f"Cannot list: {detail}"
                return
            if state == CONNECTING:
                table.placeholder = "Loading…"
                return
        table.placeholder = f"No {view.title.lower()}"

    # -- prompt: command and filter --------------------------------------------------------------
    def action_command(self) -> None:
        self._open_prompt("command", ":")

    def action_filter(self) -> None:
        self._open_prompt("filter", "/", self.current.store.filter_text if self.current else "")

    def _open_prompt(self, mode: str, placeholder: str, value: str = "") -> None:
        if mode == "command":
            placeholder = commands.hint()
            if self.hub and self.hub.api:
                self.hub.ensure(registry.get(NAMESPACES))  # what `:ns <tab>` completes from
            completer = commands.completer({
                "namespace": lambda: sorted(self.views["namespaces"].store.keys()),
                "context": lambda: sorted(self.kubeconfig.contexts),
                "theme": lambda: sorted(self.app.available_themes)})
        else:
            placeholder = "text, regex or -l selector (app=web, team in (a,b), !key)"
            completer = None
        self._prompt_mode = mode
        self.query_one("#prompt", Prompt).open(mode, value, placeholder=placeholder, completer=completer,
                                               on_submit=self._submit_prompt, on_cancel=self.action_back,
                                               sigil=":" if mode == "command" else "/")
        self.refresh_bindings()

    def _close_prompt(self) -> None:
        if self._filter_timer:
            # A live-filter update still pending from a keystroke before Enter (or esc) must not
            # fire after it: under load it set the filter back to the text typed so far.
            self._filter_timer.stop()
            self._filter_timer = None
        self.query_one("#prompt", Prompt).close()
        self._prompt_mode = ""
        self.set_focus(self.table)
        self.refresh_bindings()

    def paste_to_prompt(self, text: str) -> bool:
        """A paste of `:cmd` or `/filter` onto the table opens that prompt with the rest; a paste
        into an open prompt is typed into it now, before an Enter read right after it."""
        focused = self.app.focused
        if isinstance(focused, Prompt):
            focused.type_paste(text)
            return True
        pasted = pasted_line(text, ":/")
        if self.covered or focused is not self.table or self._prompt_mode or pasted is None:
            return False
        sigil, rest = pasted
        self._open_prompt("command" if sigil == ":" else "filter", sigil, rest)
        return True

    def check_action(self, action: str, parameters) -> bool | None:
        # Under a dialog or describe, the footer beneath offers none of the table's keys.
        if self.covered:
            return False
        # The table's keys, not the prompt's: ctrl+r and ctrl+k reach the screen from it.
        if self._prompt_mode and action != "back":
            return False
        return ClusterActions.check_action(self, action, parameters)

    @on(Input.Changed, "#prompt")
    def _prompt_changed(self, event: Input.Changed) -> None:
        if self._prompt_mode != "filter":
            return
        if self._filter_timer:
            self._filter_timer.stop()
        value = event.value
        self._filter_timer = self.set_timer(0.15, lambda: self._live_filter(value))

    def _live_filter(self, text: str) -> None:
        # A timer stopped at Enter may already have fired, its callback queued behind the Enter:
        # only a prompt still open applies what was typed so far.
        if self._prompt_mode == "filter":
            self._set_filter(text)

    def _set_filter(self, text: str) -> None:
        view = self.current
        if view:
            self._apply(view, view.store.set_filter(text))
            self.refresh_bars()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.input.remember(self._prompt_mode, event.value)
        self._submit_prompt(event.value)

    def _submit_prompt(self, value: str) -> None:
        mode = self._prompt_mode
        self._close_prompt()
        if mode == "filter":
            self._set_filter(value)
            error = self.current.store.filter_error if self.current else ""
            if error:
                self.notify(error, severity="warning", timeout=5)
        elif mode == "command":
            self.run_command(value)

    def run_command(self, text: str) -> None:
        """`:WORD [ARG]`, as the command table (ui/commands.py) says; a word no command has is
        whatever the server serves under that name (a CRD's plural, `:group/version/plural`)."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        head, args = words[0].lower(), words[1:]
        command = commands.find(head)
        if command is None:
            if head == "api-resources" or self.discovery is None:
                self.notify(f"unknown command: {clean(text, 80)!r}; ? lists the commands", severity="warning")
            else:
                self._open_by_name(words[0], text)
        elif args and command.argument:
            getattr(self, f"cmd_{command.argument}")(args[0])
        elif command.run:
            getattr(self, command.run)()
        else:
            self.show_pane(command.pane)

    # What the command table's `run` and `argument` name.
    def cmd_namespace(self, name: str) -> None:
        if name in ("all", "-A", "*", ALL_NAMESPACES):
            self.set_namespace(None)
        else:
            self.switch_namespace(name)

    def cmd_context(self, name: str) -> None:
        why = self.kubeconfig.unknown_context(name)
        if why is None:
            self.app.connect(name)
        else:
            self.notify(clean(why, 300), severity="error", timeout=8)

    def cmd_theme(self, name: str | None = None) -> None:
        themes = self.app.available_themes
        if name is None:
            self.notify("themes: " + ", ".join(sorted(themes)), timeout=6)
        elif name in themes:
            self.app.theme = name
        else:
            self.notify(f"no theme named {clean(name)}", severity="error")

    def cmd_quit(self) -> None:
        self.app.exit()

    def cmd_doctor(self) -> None:
        from cockpit.ui.screens.doctor import DoctorScreen

        self.push_screen(DoctorScreen(self.kubeconfig, self.context, self.namespace, self.settings))

    def cmd_launch(self) -> None:
        if self.read_only:
            self.notify("read-only: nothing is launched", severity="warning")
        else:
            self.action_launch()

    def cmd_cleanup(self) -> None:
        if self.read_only:
            self.notify("read-only: clean-up is not available", severity="warning")
        else:
            self.open_cleanup()

    # -- actions ---------------------------------------------------------------------------------
    def action_pane(self, pane: str) -> None:
        self.show_pane(pane)

    def action_back(self) -> None:
        if self._prompt_mode:
            if self._prompt_mode == "filter":
                self._set_filter("")
            self._close_prompt()
            return
        if self.pop_view():
            return
        if self.current and self.current.store.filter_text:
            self._set_filter("")

    def help_sections(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        """The `?` screen's key lists: this screen's, the app's, the prompt's and the log view's."""
        from cockpit.ui.screens.help import key_names
        from cockpit.ui.screens.logs import LogScreen
        from cockpit.ui.widgets.log_view import LogView

        def rows(bindings) -> list[tuple[str, str, str]]:
            out, seen = [], set()
            for b in bindings:
                if not isinstance(b, Binding) or (b.id and b.id in seen):
                    continue
                seen.add(b.id)
                if self.read_only and b.action.split("(", 1)[0] in MUTATING_ACTIONS:
                    continue
                out.append((key_names(self.app, b, self.app._keymap), b.description, b.id or ""))
            return out

        return [("Keys", rows([*self.BINDINGS, *self.app.BINDINGS, *ResourceTable.BINDINGS])),
                ("In a prompt (: and /)", rows(Prompt.BINDINGS)),
                ("In the log view", rows([*LogScreen.BINDINGS, *LogView.BINDINGS]))]

    def _selected_object(self) -> tuple[str, str, str] | None:
        view = self.current
        key = self.table.cursor_key
        if not view or not key or not view.kind_id:
            return None
        row = view.store.get(key)
        if row is None or not row.name:
            return None
        return view.kind_id, row.namespace, row.name

    def action_logs(self) -> None:
        target = self._selected_object()
        if target is None or not self.kind_of(target[0]).has_logs or not (self.hub and self.hub.api):
            self.notify("no logs here", severity="warning", timeout=2)
            return
        from cockpit.ui.screens.logs import LogScreen

        kind_id, ns, name = target
        self.push_screen(LogScreen.for_object(self.hub.api, kind_id, ns, name, read_only=self.read_only,
                                              line_cap=self.settings.log_line_cap))

    def action_describe(self) -> None:
        self._open_text("describe")

    def action_yaml(self) -> None:
        self._open_text("yaml")

    def _open_text(self, mode: str) -> None:
        target = self._selected_object()
        if target is None or self.hub is None or self.hub.api is None:
            self.notify("nothing to show here", severity="warning", timeout=2)
            return
        from cockpit.ui.screens.text import TextScreen

        kind_id, ns, name = target
        title = f"{'Describe' if mode == 'describe' else 'YAML'} {self.kind_of(kind_id).api_kind} {ns + '/' if ns else ''}{name}"
        screen = TextScreen(clean(title))
        self.push_screen(screen)
        self._fetch_text(screen, mode, kind_id, ns, name)

    @work(thread=True, group="fetch", exit_on_error=False)
    def _fetch_text(self, screen, mode: str, kind_id: str, ns: str, name: str) -> None:
        from cockpit.kube.rest import api_errors

        from cockpit.kube import describe

        api = self.hub.api if self.hub else None
        try:
            obj = describe.fetch(api, self.kind_of(kind_id).resource, ns, name)
            if mode == "yaml":
                text = describe.as_yaml(obj)
            else:
                from cockpit.resources.owners import owner_chain

                try:
                    events = describe.events_for(api, ns, name, (obj.get("metadata") or {}).get("uid", ""))
                except api_errors():
                    events = []
                from cockpit.kube.why import why_for

                chain = [f"{k} {n}" for _, k, _, n in owner_chain(api, obj)]
                try:
                    why = why_for(api, obj)
                except Exception:  # noqa: BLE001 - describe shows without it
                    why = ""
                text = describe.describe_text(obj, events, owner_chain=chain, why_pending=why)
        except api_errors() as e:
            text = f"Cannot fetch: {e.status} {clean(e.reason)}"
        except Exception as e:  # network trouble must not crash the app
            text = f"Cannot fetch: {clean(str(e), 300)}"
        self.call_from_thread(screen.set_text, text)

    def action_owner(self) -> None:
        """shift+j: to the object that controls this one (pod → its Job, ReplicaSet → Deployment)."""
        target = self._selected_object()
        if target is None or self.hub is None or self.hub.api is None:
            self.notify("no owner here", severity="warning", timeout=2)
            return
        self._find_owner(*target)

    @work(thread=True, group="fetch", exit_on_error=False)
    def _find_owner(self, kind_id: str, ns: str, name: str) -> None:
        from cockpit.kube import describe
        from cockpit.resources.owners import controller_ref, kind_of_ref

        try:
            obj = describe.fetch(self.hub.api, self.kind_of(kind_id).resource, ns, name)
        except Exception as e:  # gone, forbidden, network
            self.call_from_thread(self.notify, f"cannot read {clean(name, 80)}: {clean(str(e), 200)}",
                                  severity="error")
            return
        ref = controller_ref(obj)
        if ref is None:
            self.call_from_thread(self.notify, f"{clean(name, 80)} has no owner", severity="warning", timeout=3)
            return
        kind = kind_of_ref(ref)
        owner = str(ref.get("name") or "")
        if kind is None:
            self.call_from_thread(self.notify, f"owned by {clean(ref.get('kind'), 40)} {clean(owner, 80)}, "
                                  "a kind the cockpit has no pane for", severity="warning", timeout=5)
            return
        self.call_from_thread(self._show_owner, kind, f"{ns}/{owner}" if kind.namespaced and ns else owner)

    def _show_owner(self, kind, key: str) -> None:
        self.show_kind(kind)
        self.current.cursor = key
        index = self.current.store.index(key)
        if index is not None:
            self.table.move_cursor(index)

    def open_by_name(self, name: str) -> None:
        """Open the pane of whatever the server serves as `name` (Enter on a CRD)."""
        self._open_by_name(name, name)

    def show_kind(self, kind) -> None:
        """Show a kind's pane, making it first if the kind is new (a CRD found by discovery)."""
        if registry.find(kind.id) is None:
            self._discovered_kinds[kind.id] = kind
        self._kind_view(kind)
        self.show_pane(kind.id)

    def kind_of(self, kind_id: str):
        """The kind of a pane or a row: the registry's, or one discovery made for this session."""
        return registry.find(kind_id) or self._discovered_kinds.get(kind_id)
