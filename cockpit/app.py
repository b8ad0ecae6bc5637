"""The Textual app: the session's lifecycle, connection, themes and keymap. What the user sees
and does is the main screen's (cockpit/ui/main_screen.py): its table, prompts, places and keys.

Data arrives from `ClusterHub` informer threads; a timer here drains their batched changes into
the main screen at the configured repaint rate, so nothing waits on the network, and nothing polls
the cluster.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from cockpit.config import Settings, load_settings
from cockpit.kube.connection import ConnectionProblem, Kubeconfig, make_api_client
from cockpit.kube.hub import ClusterHub
from cockpit.kube.informer import CONNECTING
from cockpit.kube.utilization import MetricsScraper, UtilizationTracker
from cockpit.resources import registry
from cockpit.ui.main_screen import MainScreen
from cockpit.ui.prompt import PROMPT_ACTIONS, Prompt
from cockpit.ui.theming import install_themes, start_theme_reload, theme_variable_defaults
from cockpit.ui.widgets.resource_table import ResourceTable

__all__ = ["CockpitApp", "run_app"]


class ContextReady(Message):
    def __init__(self, context: str, api, problem: ConnectionProblem | None):
        super().__init__()
        self.context, self.api, self.problem = context, api, problem


class CockpitApp(App):
    TITLE = "gpu-cockpit"
    CSS_PATH = "ui/app.tcss"
    # `?` and `q` work on every screen; the table's keys are the main screen's.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        Binding("q", "quit", "Quit", id="app.quit"),
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
        self._crd_watch = None
        self.problem: ConnectionProblem | None = None
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        self._rest_pending: tuple[ClusterHub, object, float] | None = None  # see _start_the_rest
        self.main = MainScreen(start_pane)

    @property
    def read_only(self) -> bool:
        """Global flag, config key, or the current context's setting: any of them wins."""
        return self._read_only_flag or self.settings.for_context(self.context or "").read_only

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **theme_variable_defaults()}

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        for p in self.kubeconfig.problems:
            self.notify(str(p), severity="error", timeout=10)
        for e in [*self.theme_errors, *self.startup_problems]:
            self.notify(str(e), severity="error", timeout=10)
        if self.watch_themes:
            start_theme_reload(self, known_errors=self.theme_errors)
        if self.kubeconfig.files:
            self._watch_kubeconfig()
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        self.main.build_views()
        self.call_after_refresh(self._after_first_frame)
        if self.recorded is not None:
            self._load_recorded()
        elif self.context:
            self.connect(self.context)
        else:
            self.problem = self.kubeconfig.problems[0] if self.kubeconfig.problems else ConnectionProblem(
                "no kubeconfig context to connect to")
        # The tick is the app's: a screen pushed over the main one (describe, help) must not stop it.
        self._tick = self.set_interval(1 / max(1.0, min(self.repaint_hz, 60.0)), self._on_tick)
        self.main.refresh_bars()

    def _after_first_frame(self) -> None:
        if not gc.isenabled():  # turned off for the start (cli.main)
            # What the start made stays for the app's life: kept out of every later collection.
            gc.freeze()
            gc.enable()

    # -- connection --------------------------------------------------------------------------
    def _new_hub(self, api) -> ClusterHub:
        return ClusterHub(api, clock=self.clock, offline=api is None, wake=self._wake, **self.gpu_opts)

    def _wake(self) -> None:
        """From an informer thread: repaint now rather than at the next tick (a list's first
        rows, and its end, reach the screen up to a tick sooner)."""
        self._soon(self._flush_soon)

    def _soon(self, callback: Callable[[], None]) -> None:
        """From any thread: `callback` on the UI loop, without waiting for it (a thread that
        waited could hold up its informer or watch, or hang at exit)."""
        loop = self._ui_loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the app has ended and its loop is closed
            pass

    def _flush_soon(self) -> None:
        if self.is_running and self.hub is not None:
            self.main.flush()

    def _on_tick(self) -> None:
        self.main.flush()
        if self._rest_pending is not None:
            self.call_after_refresh(self._start_the_rest)  # after the frame the flush made

    def _load_recorded(self) -> None:
        self.hub = self._new_hub(None)
        for kind_id, objs in (self.recorded or {}).items():
            self.hub.load(registry.get(kind_id), objs)
        self.main.flush()

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
        self.main.clear_views()
        self._create_client(context)
        self.main.refresh_bars()

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
            self.main.refresh_bars()
            return
        self.hub = self._new_hub(msg.api)
        # The lists of the place shown first: on a small or busy cluster they share the API
        # server's CPU and this process's with nothing else. The other core kinds, discovery and
        # the metrics scraper follow once they are in (`_start_the_rest`).
        self.main.connected()
        shown = self.main.shown_feeds()
        self.hub.start_core(k for k in registry.kinds().values() if k.core and k.id in shown)
        self._rest_pending = (self.hub, msg.api, time.monotonic())
        self.permissions.clear()
        self.main.refresh_bindings()
        self.main.refresh_bars()

    # The rest waits at most this long for the first lists (a list of 50,000 pods takes longer).
    START_REST_AFTER = 3.0

    def _start_the_rest(self) -> None:
        """The core kinds not shown, discovery and the metrics scraper, once the lists of the
        place shown first have arrived (or failed, or START_REST_AFTER has passed)."""
        pending = self._rest_pending
        if pending is None:
            return
        hub, api, since = pending
        if hub is not self.hub:  # the context changed meanwhile: its own connect starts its own
            self._rest_pending = None
            return
        waiting = [f for f in hub.feeds.values() if not f.synced and f.state_name == CONNECTING]
        if waiting and time.monotonic() - since < self.START_REST_AFTER:
            return
        self._rest_pending = None
        hub.start_core(k for k in registry.kinds().values() if k.core)
        self._start_discovery(api)
        self.scraper = MetricsScraper(
            api, self.util, interval=5.0, on_update=self._util_from_thread,
            exporters=lambda: hub.feeds["pods"].snapshot() if "pods" in hub.feeds else []).start()
        self.main.refresh_bindings()
        self.main.refresh_bars()

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
            self.notify(str(p), severity="error", timeout=8)
        self.main.contexts_changed()

    # -- discovery: what the server serves, and CRDs installed while the cockpit runs --------------
    def _start_discovery(self, api) -> None:
        from cockpit.kube.discovery import CrdWatch, Discovery

        self.discovery = Discovery(api)
        self._crd_watch = CrdWatch(api, self.discovery, on_change=self._discovery_changed_from_thread).start()

    def _stop_discovery(self) -> None:
        if self._crd_watch is not None:
            self._crd_watch.stop()
        self._crd_watch = self.discovery = None

    def _discovery_changed_from_thread(self) -> None:
        self._soon(self._discovery_changed)

    def _discovery_changed(self) -> None:
        if self.is_running:
            self.main.discovery_changed()

    # -- GPU utilisation (dcgm-exporter, NVML) ----------------------------------------------------
    def _stop_scraper(self) -> None:
        if self.scraper is not None:
            self.scraper.stop(0.5)
            self.scraper = None

    def _util_from_thread(self) -> None:
        try:
            self.call_from_thread(self.main.util_updated)
        except RuntimeError:  # the app is gone
            pass

    # -- keys and pastes: read in order, each to where it belongs at the moment it is read ------------
    async def on_event(self, event: events.Event) -> None:
        # Keys are read in order, and each goes to the widget focused at the moment it is read;
        # a binding's action normally runs only when the key has come back up from that widget,
        # after the rest of a burst (`:jobs⏎` pasted or sent over SSH) has already been handed
        # out. So a key bound on the table or the App runs here, at once: `:` opens the prompt
        # and focuses it before the `j` is read, `d` pushes Describe before the `esc`.
        if isinstance(event, events.Key) and not event.is_forwarded and await self._run_key_now(event):
            return
        # A screen with prompts of its own (the main screen, the log view) takes a paste of `:cmd`
        # or `/text` as typing it would.
        if isinstance(event, events.Paste) and not event.is_forwarded and self.screen_stack:
            paste = getattr(self.screen, "paste_to_prompt", None)
            if paste is not None and paste(event.text):
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

    def notify(self, message, *, title: str = "", severity="information", timeout=None, markup: bool = True):
        # Toasts carry names, errors and typed text from users and clusters: never markup.
        return super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        # Textual's own hint is markup ("[b]q[/b]"); toasts here are plain text.
        self.notify("press q (or ctrl+q) to quit", title="Do you want to quit?")

    def action_help(self) -> None:
        from cockpit.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.main.help_sections()))

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "command_palette":
            # A screen that binds the palette's key (the launch form's ctrl+p preview) keeps it.
            return not self.screen._bindings.key_to_bindings.get(self.COMMAND_PALETTE_BINDING)
        return super().check_action(action, parameters)

    def on_unmount(self) -> None:
        if hasattr(self, "_tick"):
            self._tick.stop()
        self._stop_discovery()
        self._stop_scraper()
        self.forwards.stop_all()
        if self.hub:
            self.hub.close()



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
