"""What the cockpit changes in a cluster, from the keyboard: delete and kill with confirmation,
Argo and Katib controls, clean-up, exec, port-forward and launching. A mixin of the main screen
(ui/main_screen.py): it uses its table, places and the session's hub. The requests themselves live in `cockpit.kube.actions`,
below the UI, where the read-only guard refuses them.
"""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from cockpit.kube import actions as kactions
from cockpit.kube.connection import ReadOnlyRefused, can_i
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.resources import registry
from cockpit.ui.views import View

CLEANUP_COLUMNS = (Column("KIND", 5), Column("NAMESPACE", 14, priority=1, min_width=10),
                   Column("NAME", 36, min_width=20, cut="middle"), Column("WHY", 30), Column("GPUS", 5, "right", priority=2))

# The key actions that change the cluster (or hand out access to it): hidden in read-only mode,
# greyed out where RBAC refuses them. Which of them a pane offers is up to its kind.
MUTATING_ACTIONS = frozenset({"delete", "kind_action", "launch", "shell", "port_forward"})


def _count(n: int, kind) -> str:
    """"1 workflow", "3 pods", "1 PVC", "2 StatefulSets": the kind's title as a noun."""
    many = kind.title
    word = many if n != 1 else (many[:-1] if many.endswith("s") else many)
    return f"{n} {word if any(c.isupper() for c in word[1:]) else word.lower()}"


class ClusterActions:
    """Mixed into MainScreen."""

    # -- changing the cluster ------------------------------------------------------------------
    def _pane_kind(self):
        """The kind whose objects the table's rows are, or None (contexts, :pf, :cleanup)."""
        view = self.current
        if view is None or view.on_delete is not None:  # :pf, :cleanup act on their own rows
            return None
        return self.kind_of(view.kind_id or "")

    @staticmethod
    def _action_name(action: str, parameters) -> str:
        """`kind_action('stop')` -> "stop"; `delete` -> "delete"."""
        if action == "kind_action" and parameters:
            return str(parameters[0])
        return action

    def check_action(self, action: str, parameters) -> bool | None:
        if action not in MUTATING_ACTIONS or self._stopping_a_forward(action):
            return True
        if self.read_only:
            return False
        if action == "launch":
            return True
        if action == "delete" and self.current is not None and self.current.on_delete is not None:
            return True
        name = self._action_name(action, parameters)
        kind = self._pane_kind()
        if kind is None or not kind.supports(name):
            return False
        return None if self._forbidden(name) else True

    def on_key(self, event) -> None:
        # A refused mutating key: read-only hides its binding and RBAC greys it out; either
        # way this says why nothing happens.
        action = self._mutating_keys().get(event.key)
        if action is None or self.covered or self._prompt_mode:
            return
        if self._stopping_a_forward(action):
            return
        if self.read_only:
            event.stop()
            self.notify("read-only: values are not revealed" if action == "reveal" else
                        "read-only: this cockpit changes nothing in the cluster", severity="warning", timeout=3)
            return
        why = self._forbidden(action)
        if why:
            event.stop()
            self.notify(why, severity="warning", timeout=5)

    def _stopping_a_forward(self, action: str) -> bool:
        # Closing a local port-forward changes nothing in the cluster: always allowed, read-only too.
        view = self.current
        return action == "delete" and view is not None and view.on_delete is not None and view.delete_is_local

    def _forbidden(self, action: str) -> str:
        """Why RBAC refuses `action` on this pane, or "" when it does not."""
        kind = self._pane_kind()
        needs = kind.needs(action) if kind is not None else None
        if needs is None:
            return ""
        verb, plural, _ = needs
        if self.permissions.get((verb, plural)) is not False:
            return ""
        where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        return f"forbidden: context {clean(self.context or '-', 60)} may not {verb} {plural} in {where} (RBAC)"

    def _mutating_keys(self) -> dict[str, str]:
        """Key -> action name ("delete", "stop"...) for every binding that changes the cluster."""
        keys: dict[str, str] = {}
        for b in self.BINDINGS:
            if not isinstance(b, Binding):
                continue
            action, _, rest = b.action.partition("(")
            if action not in MUTATING_ACTIONS:
                continue
            name = rest.strip("')\"") if action == "kind_action" else action
            keys.update({k.strip(): name for k in b.key.split(",")})
        return keys

    @work(thread=True, group="permissions", exit_on_error=False)
    def _probe_permissions(self) -> None:
        hub = self.hub
        if hub is None or hub.api is None or self.read_only:
            return
        ns = self.namespace or ""
        found = {(verb, plural): can_i(hub.api, verb, plural, group, ns)
                 for verb, plural, group in registry.rbac_probes()}
        if self.hub is hub:
            self.call_from_thread(self._set_permissions, found)

    def _set_permissions(self, found: dict) -> None:
        self.permissions.update(found)
        self.refresh_bindings()

    def _targets(self) -> list[tuple[str, str]]:
        """(namespace, name) of the marked rows, else of the cursor row."""
        view = self.current
        if view is None:
            return []
        keys = list(self.table.marked_keys) or ([self.table.cursor_key] if self.table.cursor_key else [])
        out = []
        for key in keys:
            row = view.store.get(key)
            if row is not None and row.name:
                out.append((row.namespace, row.name))
        return out

    def action_delete(self) -> None:
        if self.current is not None and self.current.on_delete is not None:
            self.current.on_delete()
            return
        kind = self._pane_kind()
        targets = self._targets()
        if kind is None or not kind.deletable or not targets:
            return
        items = [f"{kind.api_kind} {ns + '/' if ns else ''}{name}" for ns, name in targets]
        typed = None
        if kind.type_to_confirm:
            if len(targets) > 1:
                self.notify(f"delete {kind.title.lower()} one at a time: each needs its name typed",
                            severity="warning")
                return
            typed = targets[0][1]
        from cockpit.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._run_action(f"deleted {_count(len(targets), kind)}",
                                 [(kactions.delete, (kind.resource, ns, name)) for ns, name in targets])
                self.table.clear_marks()

        self.push_screen(ConfirmScreen(f"Delete {_count(len(targets), kind)}{kind.delete_note}?", items,
                                       type_to_confirm=typed), done)

    def action_kind_action(self, name: str) -> None:
        """A key whose meaning the pane's kind gives (stop, suspend, retry, kill, scale...)."""
        kind = self._pane_kind()
        action = kind.actions.get(name) if kind is not None else None
        targets = self._targets()
        if action is None or not targets:
            return
        calls = [(action.run, (ns, n)) for ns, n in targets]
        if callable(action.done):
            def summary(results: list, _done=action.done) -> str:
                return _done(targets, results)
        else:
            summary = f"{action.done or name} {_count(len(targets), kind)}: {', '.join(n for _, n in targets)}"
        items = [f"{kind.api_kind} {ns + '/' if ns else ''}{n}" for ns, n in targets]
        if action.shows:
            self._show_result(action, kind, *targets[0])
            return
        if action.ask:
            self._ask_then(action, kind, targets, items)
            return
        if action.confirm is None:
            self._run_action(summary, calls)
            return
        verb, effect = action.confirm
        self._confirm_then(f"{verb.capitalize()} {_count(len(targets), kind)}? {effect}", items, verb,
                           lambda: self._run_action(summary, calls))

    def _show_result(self, action, kind, ns: str, name: str) -> None:
        from cockpit.ui.screens.text import TextScreen

        screen = TextScreen(clean(f"{action.name.capitalize()} {kind.api_kind} {ns + '/' if ns else ''}{name}"))
        self.push_screen(screen)
        self._fetch_result(screen, action, ns, name)

    @work(thread=True, group="fetch", exit_on_error=False)
    def _fetch_result(self, screen, action, ns: str, name: str) -> None:
        try:
            text = str(action.run(self.hub.api if self.hub else None, ns, name))
        except Exception as e:  # network trouble, RBAC, read-only refusal: said, never a crash
            text = f"Cannot {action.name}: {clean(str(e), 300)}"
        self.call_from_thread(screen.set_text, text)

    def _ask_then(self, action, kind, targets, items) -> None:
        """An action that needs a value first (scale: how many replicas)."""
        from cockpit.ui.screens.ask import AskScreen

        def answered(value: str | None) -> None:
            if value is None:
                return
            self._run_action(f"{action.done or action.name} {_count(len(targets), kind)} → {value}",
                             [(action.run, (ns, n, value)) for ns, n in targets])
            self.table.clear_marks()

        self.push_screen(AskScreen(f"{action.ask} ({', '.join(n for _, n in targets)})", items), answered)

    def _confirm_then(self, title: str, items: list[str], verb: str, then) -> None:
        """Ask first, naming every object; `then` runs only on yes."""
        from cockpit.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                then()
                self.table.clear_marks()

        self.push_screen(ConfirmScreen(title, items, verb=verb), done)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_action(self, summary, calls: list) -> None:
        """Run the calls in turn; `summary` is the toast, or a function of the calls' results."""
        from cockpit.kube.rest import api_errors

        api = self.hub.api if self.hub else None
        errors = []
        results = []
        for fn, args in calls:
            try:
                results.append(fn(api, *args))
            except ReadOnlyRefused as e:
                errors.append(str(e))
                break
            except kactions.ActionError as e:
                errors.append(str(e))
            except api_errors() as e:
                errors.append(f"{e.status} {clean(e.reason)}: {clean(_api_message(e), 200)}")
            except Exception as e:  # network trouble: report, never crash
                errors.append(clean(str(e), 200))
        if errors:
            self.call_from_thread(self.notify, "; ".join(errors), severity="error", timeout=8, markup=False)
        else:
            text = summary(results) if callable(summary) else summary
            self.call_from_thread(self.notify, clean(text, 300), timeout=6, markup=False)

    # -- exec and port-forward --------------------------------------------------------------------
    def action_shell(self) -> None:
        targets = self._targets()
        if self.hub is None or self.hub.api is None or not targets:
            return
        ns, name = targets[0]
        self._fetch_pod_then(ns, name, self._exec_into)

    def action_port_forward(self) -> None:
        targets, kind = self._targets(), self._pane_kind()
        if self.hub is None or self.hub.api is None or not targets or kind is None:
            return
        ns, name = targets[0]
        self._offer_then(kind, ns, name)

    @work(thread=True, group="pod-fetch", exit_on_error=False)
    def _offer_then(self, kind, ns: str, name: str) -> None:
        """What the kind offers to forward (a pod's ports; a Service's, on a pod it selects)."""
        try:
            offer = kind.forward_offer(self.hub.api, ns, name)
        except LookupError as e:
            self.call_from_thread(self.notify, str(e), severity="warning")
            return
        except Exception as e:
            self.call_from_thread(self.notify, f"cannot read {kind.api_kind.lower()} {ns}/{name}: {clean(str(e), 200)}",
                                  severity="error")
            return
        self.call_from_thread(self._forward_dialog, offer)

    @work(thread=True, group="pod-fetch", exit_on_error=False)
    def _fetch_pod_then(self, ns: str, name: str, then) -> None:
        try:
            pod = kactions.get(self.hub.api, self.pods_kind.resource, ns, name)
        except Exception as e:
            self.call_from_thread(self.notify, f"cannot read pod {ns}/{name}: {clean(str(e), 200)}",
                                  severity="error", markup=False)
            return
        self.call_from_thread(then, pod)

    def _exec_into(self, pod: dict) -> None:
        # Runs on the UI thread on purpose: App.suspend hands the terminal to the shell.
        from cockpit.kube.connection import clone_api
        from cockpit.kube.logs import containers_of
        from cockpit.ui.exec_action import exec_into

        names, default = containers_of(pod)
        meta = pod.get("metadata") or {}
        if not names:
            return
        exec_into(self.app, clone_api(self.hub.api), meta.get("namespace", ""), meta.get("name", ""),
                  default or names[0])

    def _forward_dialog(self, offer) -> None:
        from cockpit.kube.portforward import ForwardError
        from cockpit.ui.screens.portforward import PortForwardDialog

        def chosen(choice) -> None:
            if not choice:
                return
            try:
                fwd = self.forwards.start(**choice.start_args())
            except ForwardError as e:
                self.notify(str(e), severity="error", markup=False)
                return
            self.notify(f"forwarding {fwd.url} → {fwd.target}", timeout=5, markup=False)

        self.push_screen(PortForwardDialog(offer), chosen)

    def open_forwards(self) -> None:
        from cockpit.ui.screens.portforward import FORWARD_COLUMNS, forward_rows

        # Stopping one closes a local listener: allowed in read-only mode too. Its counters change
        # unseen, so its rows are read again every tick.
        self.push_view(View("pf", "Port-forwards (ctrl+d stops one)", FORWARD_COLUMNS, RowStore(),
                            rows_fn=lambda: forward_rows(self.forwards, self.clock()),
                            on_delete=self._stop_forwards, delete_is_local=True, refill_every=0.0))
        self.table.placeholder = "No port-forwards: shift+f on a pod or a service starts one"

    def _stop_forwards(self) -> None:
        for key in list(self.table.marked_keys) or [self.table.cursor_key]:
            if key:
                self.forwards.stop(key)
        self._refill(self.current)

    # -- launching -----------------------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.hub is None or self.hub.api is None:
            self.notify("not connected", severity="warning")
            return
        from cockpit.ui.screens.launch import LaunchScreen

        from cockpit.kube.gpu import free_by_product

        # Free as the GPU pane counts it: only nodes a new pod can land on.
        offer = free_by_product(self.hub.gpu.all_allocations())
        ctx = self.settings.for_context(self.context or "")
        defaults = ctx.preset_defaults()
        self.push_screen(LaunchScreen(self.hub.api, namespace=self.namespace or ctx.namespace or "default",
                                      gpu_offer=offer, read_only=self.read_only,
                                      on_created=self._launched, registry=ctx.registry, defaults=defaults))

    def _launched(self, result) -> None:
        """Land on the new workload's pods: logs are one key away."""
        from cockpit.ui.screens.launch import LaunchScreen

        if isinstance(self.app.screen, LaunchScreen):
            self.pop_screen()
        w = result.workload
        if w is None:
            return
        key = f"{w.namespace}/{w.name}" if w.namespace else w.name
        self.notify(f"created {w.kind} {key}", timeout=4, markup=False)
        kind = registry.by_api_kind(w.kind)
        (kind or self.pods_kind).follow(self, w.namespace, w.name)

    # -- :cleanup ----------------------------------------------------------------------------------
    def open_cleanup(self) -> None:
        if self.hub is None or self.hub.api is None:
            self.notify("not connected", severity="warning")
            return
        view = self.cleanup_view()
        self.push_view(view)
        self.table.placeholder = "Looking for finished work…"
        self._load_cleanup(view)

    def cleanup_view(self) -> View:
        return View("cleanup", "Clean up: finished work and idle GPU holders (space unticks, ctrl+d deletes)",
                    CLEANUP_COLUMNS, RowStore(), kind_id=self.pods_kind.id, extra={"items": {}},
                    on_delete=self._cleanup_confirm)

    @work(thread=True, group="cleanup", exit_on_error=False)
    def _load_cleanup(self, view: View) -> None:
        try:
            items = kactions.cleanup_preview(
                self.hub.api, finished_after=self.settings.cleanup.finished_after,
                idle_dev_pod_after=self.settings.cleanup.idle_dev_pod_after, namespace=self.namespace,
                gpu_names=self.settings.gpu_resources.names, gpu_prefixes=self.settings.gpu_resources.prefixes)
        except Exception as e:
            self.call_from_thread(self.notify, f"cannot preview clean-up: {clean(str(e), 200)}", severity="error")
            return
        self.call_from_thread(self._show_cleanup, view, items)

    def _show_cleanup(self, view: View, items) -> None:
        view.extra["items"] = {i.key: i for i in items}
        rows = [Row(key=i.key, cells=(i.kind.rstrip("s"), i.namespace, i.name, i.reason, f"{i.gpus:g}" if i.gpus else ""),
                    sort=(i.kind, i.namespace, i.name, i.age_seconds, i.gpus), namespace=i.namespace, name=i.name,
                    status="warn" if i.gpus else "done")
                for i in items]
        self._apply(view, view.store.apply(rows, []))
        if view is self.current:
            self.table.set_marks(view.extra["items"].keys())
            self.table.placeholder = "Nothing to clean up"
        self.refresh_bars()

    def _cleanup_confirm(self) -> None:
        view = self.current
        chosen = [view.extra["items"][k] for k in sorted(self.table.marked_keys) if k in view.extra["items"]]
        if not chosen:
            self.notify("nothing ticked", severity="warning")
            return
        from cockpit.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._cleanup_delete(view, chosen)

        self.push_screen(ConfirmScreen(f"Delete these {len(chosen)} objects?",
                                       [f"{i.kind.rstrip('s')} {i.namespace}/{i.name}: {i.reason}" for i in chosen]),
                         done)

    @work(thread=True, group="cleanup", exit_on_error=False)
    def _cleanup_delete(self, view: View, chosen) -> None:
        try:
            done, failed = kactions.cleanup_delete(self.hub.api, chosen)
        except ReadOnlyRefused as e:
            self.call_from_thread(self.notify, str(e), severity="error")
            return
        msg = f"deleted {len(done)} objects" + (f"; {len(failed)} failed: " + "; ".join(
            f"{i.name}: {why}" for i, why in failed[:3]) if failed else "")
        self.call_from_thread(self.notify, msg, severity="error" if failed else "information", markup=False)
        self.call_from_thread(self._apply, view, view.store.apply([], [i.key for i in done]))


def _api_message(e) -> str:
    try:
        import orjson

        return str(orjson.loads(e.body or b"{}").get("message") or "")
    except Exception:
        return ""
