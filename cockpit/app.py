"""The Textual app: one live resource table whose contents follow the pane the user picked, a
status line, k9s-style command and filter prompts, drill-downs and describe/YAML views.

Data arrives from `ClusterHub` informer threads; a timer drains their batched changes at the
configured repaint rate, so nothing here waits on the network, and nothing polls the cluster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, Input, Static

from cockpit import __version__
from cockpit.config import Settings, load_settings
from cockpit.kube.connection import ConnectionProblem, Kubeconfig, make_api_client
from cockpit.kube.gpu_view import GPU_COLUMNS, gpu_rows, totals_line
from cockpit.kube.hub import ClusterHub
from cockpit.kube.informer import CONNECTING, ERROR, FORBIDDEN, LIVE, NOT_SERVED
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.kube.utilization import (
    IDLE_COLUMNS,
    UTIL_COLUMNS,
    MetricsScraper,
    UtilizationTracker,
    idle_rows,
    node_util_cells,
)
from cockpit.resources import registry
from cockpit.ui import commands
from cockpit.ui.actions import MUTATING_ACTIONS, ClusterActions
from cockpit.ui.prompt import PROMPT_ACTIONS, Prompt, PromptBar
from cockpit.ui.views import View
from cockpit.ui.theming import install_themes, start_theme_reload, theme_variable_defaults
from cockpit.ui.widgets.resource_table import ResourceTable

CONTEXT_COLUMNS = (Column("CURRENT", 7), Column("NAME", 30), Column("CLUSTER", 24, priority=1),
                   Column("USER", 20, priority=2), Column("NAMESPACE", 16, priority=1))

GPU_PANE_COLUMNS = (*GPU_COLUMNS, *UTIL_COLUMNS)

# Pane order is also the digit shortcut order: the GPU pane, the kinds with a pane, contexts.
PANES = ("gpu", *(k.id for k in registry.panes()), "contexts")
PANE_TITLES = {"gpu": "GPU allocation", "contexts": "Contexts", **{k.id: k.title for k in registry.panes()}}
ALL_NAMESPACES = "(all namespaces)"  # the namespace pane's first row; no namespace can have this name
COMMAND_ALIASES = {"gpu": "gpu", "gpus": "gpu", "ctx": "contexts", "context": "contexts", "contexts": "contexts"}
NAMESPACES = "namespaces"  # the kind whose rows scope every other pane


class ContextReady(Message):
    def __init__(self, context: str, api, problem: ConnectionProblem | None):
        super().__init__()
        self.context, self.api, self.problem = context, api, problem


class CockpitApp(ClusterActions, App):
    TITLE = "gpu-cockpit"
    CSS_PATH = "ui/app.tcss"
    CSS = """
    Screen { layout: vertical; }
    #topbar { height: auto; max-height: 3; background: $panel; color: $foreground; padding: 0 1; }
    #panebar { height: auto; max-height: 4; background: $boost; color: $text-muted; padding: 0 1; }
    ResourceTable { scrollbar-size-vertical: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "command", "Command", id="app.command", key_display=":"),
        Binding("slash", "filter", "Filter", id="app.filter", key_display="/"),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        Binding("escape", "back", "Back", id="app.back", show=False),
        Binding("l", "logs", "Logs", id="app.logs"),
        Binding("d", "describe", "Describe", id="app.describe"),
        Binding("y", "yaml", "YAML", id="app.yaml"),
        Binding("J", "owner", "Owner", id="app.owner", key_display="shift+j", show=False),
        Binding("ctrl+a", "api_resources", "API resources", id="app.api_resources", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
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

    def __init__(self, kubeconfig: Kubeconfig | None = None, *, context: str | None = None,
                 namespace: str | None = None, read_only: bool = False, start_pane: str = "pods",
                 recorded: dict[str, list[dict]] | None = None, clock: Callable[[], float] = time.time,
                 settings: Settings | None = None, watch_themes: bool = False):
        super().__init__()
        self.settings = settings or Settings()
        self.kubeconfig = kubeconfig or Kubeconfig([], {}, "", [])
        self.context = context or self.kubeconfig.current
        self.namespace = namespace  # None: all namespaces
        self._read_only_flag = read_only
        self.clock = clock
        self.recorded = recorded
        self.repaint_hz = self.settings.repaint_hz
        self.gpu_opts = {"gpu_names": self.settings.gpu_resources.names,
                         "gpu_prefixes": self.settings.gpu_resources.prefixes}
        self.theme_errors = install_themes(self, self.settings)
        self.watch_themes = watch_themes
        self.permissions: dict[tuple[str, str], bool | None] = {}
        self.startup_problems: list[str] = []  # configuration problems found before the app ran
        self.util = UtilizationTracker(window_seconds=self.settings.idle.window, clock=clock)
        self.scraper: MetricsScraper | None = None
        from cockpit.kube.portforward import PortForwardManager

        self.forwards = PortForwardManager(lambda: self.hub.api if self.hub else None)
        self.hub: ClusterHub | None = None
        self.discovery = None  # what the API server serves (kube/discovery.py), per connection
        self._discovered_kinds: dict = {}  # kinds made from discovery that have a pane now
        self._crd_watch = None
        self.problem: ConnectionProblem | None = None
        self.views: dict[str, View] = {}
        self.stack: list[View] = []
        self.current: View | None = None
        self._prompt_mode = ""
        self._filter_timer = None
        self._start_pane = start_pane
        self._gpu_totals = ""
        self._bars: dict[str, Text] = {}
        self._gpu_dirty: set[str] = set()
        self._node_dirty: set[str] = set()
        self._last_age_refresh = 0.0

    @property
    def read_only(self) -> bool:
        """Global flag, config key, or the current context's setting: any of them wins."""
        return self._read_only_flag or self.settings.for_context(self.context or "").read_only

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **theme_variable_defaults()}

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield Static(id="panebar")
        yield ResourceTable(list(GPU_PANE_COLUMNS), id="table")
        yield PromptBar(id="prompt-bar")
        yield Footer()

    @property
    def table(self) -> ResourceTable:
        return self._table

    def on_mount(self) -> None:
        # Held directly: pushed screens (describe, help) must not hide it from the repaint tick.
        self._table = self.query_one("#table", ResourceTable)
        self._build_views()
        for p in self.kubeconfig.problems:
            self.notify(str(p), severity="error", timeout=10, markup=False)
        for e in [*self.theme_errors, *self.startup_problems]:
            self.notify(str(e), severity="error", timeout=10, markup=False)
        if self.watch_themes:
            start_theme_reload(self, known_errors=self.theme_errors)
        if self.kubeconfig.files:
            self._watch_kubeconfig()
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        self.show_pane(self._start_pane if self._start_pane in self.views else "pods")
        if self.recorded is not None:
            self._load_recorded()
        elif self.context:
            self.connect(self.context)
        else:
            self.problem = self.kubeconfig.problems[0] if self.kubeconfig.problems else ConnectionProblem(
                "no kubeconfig context to connect to")
        self._tick = self.set_interval(1 / max(1.0, min(self.repaint_hz, 60.0)), self.flush)
        self.table.focus()
        self.refresh_bars()

    def _build_views(self) -> None:
        self.views["gpu"] = View("gpu", PANE_TITLES["gpu"], GPU_PANE_COLUMNS, RowStore(), kind_id="nodes")
        self.views["contexts"] = View("contexts", "Contexts", CONTEXT_COLUMNS, RowStore(self._context_rows()))
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

    def _context_rows(self) -> list[Row]:
        out = []
        for name, c in self.kubeconfig.contexts.items():
            mark = "*" if name == self.context else ""
            out.append(Row(key=name, cells=(mark, clean(name), clean(c.cluster), clean(c.user), clean(c.namespace)),
                           status="ok" if mark else "", name=name))
        return out

    # -- connection --------------------------------------------------------------------------
    def _new_hub(self, api) -> ClusterHub:
        return ClusterHub(api, clock=self.clock, offline=api is None, **self.gpu_opts)

    def _load_recorded(self) -> None:
        self.hub = self._new_hub(None)
        for kind_id, objs in (self.recorded or {}).items():
            self.hub.load(registry.get(kind_id), objs)
        self.flush()

    def connect(self, context: str) -> None:
        self.context = context
        if self.read_only and self.forwards.list():
            # A forward made in a writable context must not outlive the switch into a read-only one.
            count = len(self.forwards.list())
            self.forwards.stop_all()
            self.notify(f"read-only context: closed {count} port-forward(s)", severity="warning", markup=False)
        self._stop_scraper()
        self.util = UtilizationTracker(window_seconds=self.settings.idle.window, clock=self.clock)
        if self.hub:
            self.hub.close()
        self.hub = None
        self._stop_discovery()
        self.problem = None
        for view in self.views.values():
            if view.feed_id:
                self._apply(view, view.store.clear())
        self._add_all_namespaces_row()
        self._set_context_rows()
        self._create_client(context)
        self.refresh_bars()

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _create_client(self, context: str) -> None:
        api = make_api_client(self.kubeconfig, context, read_only=self.read_only)
        if isinstance(api, ConnectionProblem):
            self.post_message(ContextReady(context, None, api))
        else:
            self.post_message(ContextReady(context, api, None))

    def on_context_ready(self, msg: ContextReady) -> None:
        if msg.context != self.context:
            return
        if not self.is_running or not self.screen_stack:
            # The client came back while the app was shutting down (quit during a context switch).
            if msg.api is not None:
                msg.api.close()
            return
        if msg.problem:
            self.problem = msg.problem
            self.notify(str(msg.problem), severity="error", timeout=10)
            self.refresh_bars()
            return
        self.hub = self._new_hub(msg.api)
        self.hub.start_core(k for k in registry.kinds().values() if k.core)
        self._ensure_feed(self.current)
        self.permissions.clear()
        self._probe_permissions()
        self._start_discovery(msg.api)
        hub = self.hub
        self.scraper = MetricsScraper(
            msg.api, self.util, interval=5.0, on_update=self._util_from_thread,
            exporters=lambda: hub.feeds["pods"].snapshot() if "pods" in hub.feeds else []).start()
        self.refresh_bindings()
        self.refresh_bars()

    @work(thread=True, exclusive=True, group="kubeconfig-watch", exit_on_error=False)
    def _watch_kubeconfig(self) -> None:
        """Contexts added or removed by another tool (kubectl, a cloud CLI) appear at once."""
        import watchfiles
        from textual.worker import get_current_worker

        worker = get_current_worker()
        files = {str(f.resolve()) for f in self.kubeconfig.files}
        dirs = {str(f.resolve().parent) for f in self.kubeconfig.files if f.resolve().parent.exists()}
        if not dirs:
            return
        explicit = self.kubeconfig.files[0] if len(self.kubeconfig.files) == 1 else None
        for changes in watchfiles.watch(*dirs, debounce=200, step=50, rust_timeout=500, yield_on_timeout=True,
                                        stop_event=_WorkerStop(worker)):
            if not any(path in files for _, path in changes):
                continue
            kc = Kubeconfig.load(explicit) if explicit else Kubeconfig.load(None)
            self.call_from_thread(self._kubeconfig_changed, kc)

    def _kubeconfig_changed(self, kc: Kubeconfig) -> None:
        self.kubeconfig = kc
        for p in kc.problems:
            self.notify(str(p), severity="error", timeout=8, markup=False)
        self._set_context_rows()
        self.refresh_bars()

    def _set_context_rows(self) -> None:
        view = self.views["contexts"]
        store = view.store
        delta = store.apply(self._context_rows(), [k for k in store.keys() if k not in self.kubeconfig.contexts])
        self._apply(view, delta)

    # -- the repaint tick ---------------------------------------------------------------------
    def flush(self) -> None:
        hub = self.hub
        if hub is None:
            return
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
            keys = kind.rebuild_keys(hub) if kind else ()
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
        for view in self.stack + ([self.current] if self.current else []):
            if view.id in ("idle", "gpu-hours") and refresh_times or view.id == "pf":
                view.extra["stale"] = True  # IDLE FOR keeps counting; forward counters change unseen
            if view.rows_fn and (set(view.depends_on) & changed_feeds or view.extra.get("stale", True)):
                view.extra["stale"] = False
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
    def _start_discovery(self, api) -> None:
        from cockpit.kube.discovery import CrdWatch, Discovery

        self.discovery = Discovery(api)
        self._crd_watch = CrdWatch(api, self.discovery, on_change=self._discovery_changed_from_thread).start()

    def _stop_discovery(self) -> None:
        if self._crd_watch is not None:
            self._crd_watch.stop()
        self._crd_watch = self.discovery = None

    def _discovery_changed_from_thread(self) -> None:
        try:
            self.call_from_thread(self._discovery_changed)
        except RuntimeError:  # the app is gone
            pass

    def _discovery_changed(self) -> None:
        for view in [*self.stack, self.current]:
            if view is not None and "discovery" in view.depends_on:
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
                            rows_fn=rows, depends_on=("discovery",)))
        self.table.placeholder = "Reading what the server serves…" if self.discovery else "Not connected"

    def _stop_scraper(self) -> None:
        if self.scraper is not None:
            self.scraper.stop(0.5)
            self.scraper = None

    def _util_from_thread(self) -> None:
        try:
            self.call_from_thread(self._util_updated)
        except RuntimeError:  # the app is gone
            pass

    def _util_updated(self) -> None:
        if self.hub is not None:
            self._gpu_dirty |= set(self.hub.gpu.nodes)
        for view in [*self.stack, self.current]:
            if view is not None and (view.id == "idle" or "util" in view.depends_on):
                self._refill(view)

    def open_idle(self) -> None:
        window = self.settings.idle.window
        title = f"Idle GPUs: held at 0% utilisation for at least {window // 60}m (:gpuhours for totals)"
        self.push_view(View("idle", title, IDLE_COLUMNS, RowStore(), kind_id=self.pods_kind.id,
                            rows_fn=lambda: idle_rows(self.util, self.clock())))
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
                            GPU_HOURS_COLUMNS, RowStore(), rows_fn=rows, depends_on=("pods", "util")))
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
        self.stack.clear()
        self._show(self.views[pane])
        self._catch_up_gpu()
        self._ensure_feed(self.views[pane])
        if pane == "gpu" and self.hub:
            for kind in registry.kinds().values():
                if kind.adds_to_gpu_pane:
                    self.hub.ensure(kind)

    def _gpu_pane_notes(self) -> list[str]:
        """Lines kinds add under the GPU totals (Kueue: each team's GPU quota beside allocation)."""
        if self.hub is None:
            return []
        out = []
        for kind in registry.kinds().values():
            feed = self.hub.feeds.get(kind.id)
            line = kind.gpu_pane_note(feed.objects() if feed is not None else []) if kind.adds_to_gpu_pane else ""
            if line:
                out.append(line)
        return out

    def _ensure_feed(self, view: View | None) -> None:
        if self.hub and view is not None and view.feed_id:
            self.hub.ensure(self.kind_of(view.kind_id or view.feed_id), feed_id=view.feed_id)

    def _show(self, view: View) -> None:
        if self.current is not None:
            self.current.cursor = self.table.cursor_key
        self.current = view
        table = self.table
        table.set_store(view.store, list(view.columns))
        table.opens = self._enter_opens(view)  # the footer offers ⏎ only where it does something
        if view.cursor and view.store.index(view.cursor) is not None:
            table.move_cursor(view.store.index(view.cursor))
        self.refresh_bindings()
        self.refresh_bars()

    def push_view(self, view: View) -> None:
        if self.current:
            self.stack.append(self.current)
        self._show(view)
        if view.rows_fn:
            self._refill(view)

    def pop_view(self) -> bool:
        if not self.stack:
            return False
        view = self.current
        if view and view.extra.get("drop_feed") and self.hub:
            self.hub.drop(view.extra["drop_feed"])
        self._show(self.stack.pop())
        return True

    def _enter_opens(self, view: View) -> bool:
        if view.id in ("contexts", "api-resources"):
            return True
        kind = self.kind_of(view.kind_id or "")
        return kind is not None and kind.opens

    def on_resource_table_selected(self, msg: ResourceTable.Selected) -> None:
        view, key = self.current, msg.key
        if view is None:
            return
        if view.id == "contexts":
            self.connect(key)
            self.notify(f"switched to context {key}", timeout=3)
            return
        if view.id == "api-resources":
            self._open_by_name(key, key)
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
        self.namespace = namespace
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
        from kubernetes.client.rest import ApiException

        from cockpit.kube import describe

        api = self.hub.api if self.hub else None
        note = ""
        if api is None:
            note = "not connected: cannot check that it exists"
        else:
            try:
                describe.fetch(api, registry.get(NAMESPACES).resource, "", name)
            except ApiException as e:
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
            for line in self._gpu_pane_notes():
                bar.append("\n" + line)
        self._set_bar("#panebar", bar)
        self._update_placeholder()

    def _set_bar(self, selector: str, text: Text) -> None:
        # Called on every repaint tick: only an actual change costs a repaint.
        if self._bars.get(selector) != text:
            self._bars[selector] = text
            self._table.screen.query_one(selector, Static).update(text)

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
            placeholder = "pods, gpu, jobs, wf, exp, pvc, nodes, ns, ctx …"
            if self.hub and self.hub.api:
                self.hub.ensure(registry.get(NAMESPACES))  # what `:ns <tab>` completes from
            completer = commands.completer({
                "namespace": lambda: sorted(self.views["namespaces"].store.keys()),
                "context": lambda: sorted(self.kubeconfig.contexts),
                "theme": lambda: sorted(self.available_themes)})
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
        self.screen_stack[0].set_focus(self.table)
        self.refresh_bindings()

    async def on_event(self, event: events.Event) -> None:
        # Keys are read in order, and each goes to the widget focused at the moment it is read;
        # a binding's action normally runs only when the key has come back up from that widget,
        # after the rest of a burst (`:jobs⏎` pasted or sent over SSH) has already been handed
        # out. So a key bound on the table or the App runs here, at once: `:` opens the prompt
        # and focuses it before the `j` is read, `d` pushes Describe before the `esc`.
        if isinstance(event, events.Key) and not event.is_forwarded and await self._run_key_now(event):
            return
        if isinstance(event, events.Paste) and not event.is_forwarded and self._paste_to_prompt(event.text):
            return
        await super().on_event(event)

    async def _run_key_now(self, event: events.Key) -> bool:
        focused = self.focused
        if isinstance(focused, Prompt):
            if event.is_printable and event.character:
                focused.type_key(event.character)
                return True
            active = self.screen.active_bindings.get(event.key)
            if active is None or not active.enabled:
                return False
            await self.run_action(active.binding.action, active.node)  # enter, tab, ↑, ←, backspace…
            return True
        if isinstance(focused, Input):
            return False  # typing: the input takes the key
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.binding.priority or not active.enabled:
            return False  # the usual way; a refused key then says why (on_key)
        action = active.binding.action
        opens_prompt = action.rpartition(".")[2].split("(", 1)[0] in PROMPT_ACTIONS
        if not (opens_prompt or isinstance(focused, ResourceTable)):
            return False
        # An action that skips (SkipAction: ctrl+c with nothing selected) goes the usual way,
        # where the next binding of the key gets its turn.
        return await self.run_action(action, active.node)

    def _paste_to_prompt(self, text: str) -> bool:
        """A paste of `:cmd` or `/filter` onto the table opens that prompt with the rest; a paste
        into an open prompt is typed into it now, before an Enter read right after it."""
        focused = self.focused
        if isinstance(focused, Prompt):
            lines = text.splitlines()
            if lines:
                focused.type_key(lines[0])
            return True
        if self.screen is not self.screen_stack[0] or focused is not self.table or self._prompt_mode:
            return False
        line = text.lstrip().splitlines()[0] if text.strip() else ""  # as pasted, trailing spaces too
        if line[:1] == ":":
            self._open_prompt("command", ":", line[1:])
        elif line[:1] == "/":
            self._open_prompt("filter", "/", line[1:])
        else:
            return False
        return True

    def notify(self, message, *, title: str = "", severity="information", timeout=None, markup: bool = True):
        # Toasts carry names, errors and typed text from users and clusters: never markup.
        return super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        # Textual's own hint is markup ("[b]q[/b]"); toasts here are plain text.
        self.notify("press q (or ctrl+q) to quit", title="Do you want to quit?")

    def check_action(self, action: str, parameters) -> bool | None:
        if action in _TABLE_ACTIONS:
            # Only for the table: not from a prompt (ctrl+r, ctrl+k reach the App from it), and not
            # from a screen pushed over it (YAML must not stack on Describe, nor logs on logs).
            if self.screen is not self.screen_stack[0]:
                return False
            if self._prompt_mode and action != "back":
                return False
        return super().check_action(action, parameters)

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
        words = text.strip().lstrip(":").split()
        if not words:
            return
        head, args = words[0].lower(), words[1:]
        if head in ("q", "quit", "q!"):
            self.exit()
            return
        if head in ("ns", "namespace", "namespaces") and args:
            if args[0] in ("all", "-A", "*", ALL_NAMESPACES):
                self.set_namespace(None)
            else:
                self.switch_namespace(args[0])
            return
        if head in ("ctx", "context", "contexts") and args:
            why = self.kubeconfig.unknown_context(args[0])
            if why is None:
                self.connect(args[0])
            else:
                self.notify(clean(why, 300), severity="error", markup=False, timeout=8)
            return
        if head == "theme":
            if not args:
                self.notify("themes: " + ", ".join(sorted(self.available_themes)), timeout=6, markup=False)
            elif args[0] in self.available_themes:
                self.theme = args[0]
            else:
                self.notify(f"no theme named {clean(args[0])}", severity="error", markup=False)
            return
        if head in ("pf", "portforwards", "port-forwards"):
            self.open_forwards()
            return
        if head == "doctor":
            from cockpit.ui.screens.doctor import DoctorScreen

            self.push_screen(DoctorScreen(self.kubeconfig, self.context, self.namespace, self.settings))
            return
        if head == "idle":
            self.open_idle()
            return
        if head in ("gpuhours", "gpu-hours", "usage"):
            self.open_gpu_hours()
            return
        if head == "launch":
            self.action_launch() if not self.read_only else self.notify(
                "read-only: nothing is launched", severity="warning")
            return
        if head == "cleanup":
            if self.read_only:
                self.notify("read-only: clean-up is not available", severity="warning")
            else:
                self.open_cleanup()
            return
        pane = COMMAND_ALIASES.get(head)
        if pane is None:
            kind = registry.by_name(head)
            pane = kind.id if kind and kind.id in self.views else None
        if pane is None:
            if head == "api-resources":
                self.open_api_resources()
            elif self.discovery is not None:
                self._open_by_name(words[0], text)
            else:
                self.notify(f"unknown command: {clean(text, 80)!r}; ? lists the commands", severity="warning")
            return
        self.show_pane(pane)

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

    def action_help(self) -> None:
        from cockpit.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self._help_sections()))

    def _help_sections(self) -> list[tuple[str, list[tuple[str, str, str]]]]:
        from cockpit.ui.screens.help import key_names
        from cockpit.ui.screens.logs import LogScreen
        from cockpit.ui.widgets.log_view import LogView

        def rows(bindings) -> list[tuple[str, str, str]]:
            out = []
            for b in bindings:
                if not isinstance(b, Binding):
                    continue
                if self.read_only and b.action.split("(", 1)[0] in MUTATING_ACTIONS:
                    continue
                out.append((key_names(self, b, self._keymap), b.description, b.id or ""))
            return out

        return [("Keys", rows([*self.BINDINGS, *ResourceTable.BINDINGS])),
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
        from kubernetes.client.rest import ApiException

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
                except ApiException:
                    events = []
                from cockpit.kube.why import why_for

                chain = [f"{k} {n}" for _, k, _, n in owner_chain(api, obj)]
                try:
                    why = why_for(api, obj)
                except Exception:  # noqa: BLE001 - describe shows without it
                    why = ""
                text = describe.describe_text(obj, events, owner_chain=chain, why_pending=why)
        except ApiException as e:
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

    def on_unmount(self) -> None:
        self._tick.stop()
        self._stop_discovery()
        self._stop_scraper()
        self.forwards.stop_all()
        if self.hub:
            self.hub.close()


# The App's own key actions that work on the main table; `?` and `q` work everywhere.
_TABLE_ACTIONS = frozenset(b.action.split("(", 1)[0] for b in CockpitApp.BINDINGS if isinstance(b, Binding)) - {
    "quit", "help"}


class _WorkerStop:
    """Lets watchfiles stop when the worker is cancelled (the app is quitting)."""

    def __init__(self, worker):
        self.worker = worker

    def is_set(self) -> bool:
        return self.worker.is_cancelled


def run_app(args) -> int:
    import dataclasses
    import sys

    from cockpit import hangup

    settings, problems = load_settings()
    if args.theme:
        settings = dataclasses.replace(settings, theme=args.theme)
    kubeconfig = Kubeconfig.load(args.kubeconfig)
    context = args.context
    if context and kubeconfig.unknown_context(context):
        # Refused before the UI opens: connecting to the current context instead could land
        # a mistyped `--context` on the admin one.
        print(f"error: {kubeconfig.unknown_context(context)}", file=sys.stderr)
        return 2
    ctx_settings = settings.for_context(context or kubeconfig.current)
    namespace = None if args.all_namespaces else (args.namespace or ctx_settings.namespace or None)
    app = CockpitApp(kubeconfig, context=context, namespace=namespace, read_only=args.read_only,
                     settings=settings, watch_themes=True)
    app.startup_problems = [str(p) for p in problems]

    # SIGHUP, SIGTERM or the terminal's end: out within a second, in every state (cockpit/hangup.py).
    shutdown = hangup.install()
    shutdown.on_stop(lambda: app.call_later(app.exit))  # the way that restores the terminal
    shutdown.on_stop(app.forwards.stop_all)  # listeners and tunnels closed, not left to the kernel
    shutdown.on_stop(lambda: app.hub and app.hub.close())
    shutdown.on_stop(lambda: app.scraper and app.scraper.stop(timeout=0))
    app.run()
    if shutdown.requested:
        shutdown.terminal_restored = True
        shutdown.finish()  # threads still blocked on the network must not hold the exit up
    return 0
