"""What the cockpit changes in a cluster, from the keyboard: delete and kill with confirmation,
Argo and Katib controls, clean-up, exec, port-forward and launching. A mixin of `CockpitApp`:
it uses the app's table, views and hub. The requests themselves live in `cockpit.kube.actions`,
below the UI, where the read-only guard refuses them.
"""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from cockpit.kube import actions as kactions
from cockpit.kube.connection import ReadOnlyRefused, can_i
from cockpit.kube.kinds import KINDS
from cockpit.kube.model import Column, Row
from cockpit.kube.store import RowStore
from cockpit.kube.text import clean
from cockpit.ui.views import View

CLEANUP_COLUMNS = (Column("KIND", 5), Column("NAMESPACE", 14, priority=1, min_width=10),
                   Column("NAME", 36, min_width=20, cut="middle"), Column("WHY", 30), Column("GPUS", 5, "right", priority=2))

# Actions and the panes they apply to; every one of them changes the cluster.
MUTATING_ACTIONS: dict[str, set[str] | None] = {
    "delete": {"pods", "jobs", "pvcs", "workflows", "experiments", "namespaces", "trials", "cleanup", "pf"},
    "kill": {"pods"},
    "workflow": {"workflows"},
    "retry": {"workflows", "experiments"},
    "launch": None,  # from any pane
    # Not changes to the cluster, but read-only mode allows neither (the API server is asked
    # for exec and port-forward subresources, which a shared box must not hand out).
    "shell": {"pods"},
    "port_forward": {"pods"},
}

# Argo controls that end or change someone's run ask first: (verb, what it does).
WORKFLOW_CONFIRM = {
    "stop": ("stop", "Running steps are stopped; exit handlers still run."),
    "terminate": ("terminate", "Running steps are killed at once; exit handlers do not run."),
    "retry": ("retry", "The pods of failed steps are deleted and those steps run again."),
    "resubmit": ("resubmit", "A new workflow is created from the same spec."),
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class ClusterActions:
    """Mixed into CockpitApp."""

    # -- changing the cluster ------------------------------------------------------------------
    # (verb, resource) each mutating action needs, for RBAC probing.
    _NEEDS = {
        "delete": ("delete", None), "kill": ("delete", "pods"), "workflow": ("patch", "workflows"),
        "retry": ("update", None),
    }

    def _pane_kind(self) -> str:
        view = self.current
        if view is None:
            return ""
        if view.id in ("cleanup", "pf"):
            return view.id
        return view.kind_id if view.id not in self.views else view.id

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "command_palette":
            # A screen that binds the palette's key (the launch form's ctrl+p preview) keeps it.
            return not self.screen._bindings.key_to_bindings.get(self.COMMAND_PALETTE_BINDING)
        if action not in MUTATING_ACTIONS or self._stopping_a_forward(action):
            return True
        if self.read_only:
            return False
        panes = MUTATING_ACTIONS[action]
        if panes is not None and self._pane_kind() not in panes:
            return False
        verb, resource = self._NEEDS.get(action, ("", None))
        allowed = self.permissions.get((verb, resource or self._pane_kind()))
        return None if allowed is False else True

    def on_key(self, event) -> None:
        # A refused mutating key: read-only hides its binding and RBAC greys it out; either
        # way this says why nothing happens.
        action = self._mutating_keys().get(event.key)
        if action is None or self.screen is not self.screen_stack[0] or self._prompt_mode:
            return
        if self._stopping_a_forward(action):
            return
        if self.read_only:
            event.stop()
            self.notify("read-only: this cockpit changes nothing in the cluster", severity="warning", timeout=3)
            return
        why = self._forbidden(action)
        if why:
            event.stop()
            self.notify(why, severity="warning", timeout=5)

    def _stopping_a_forward(self, action: str) -> bool:
        # Closing a local port-forward changes nothing in the cluster: always allowed, read-only too.
        return action == "delete" and self._pane_kind() == "pf"

    def _forbidden(self, action: str) -> str:
        """Why RBAC refuses `action` on this pane, or "" when it does not."""
        panes = MUTATING_ACTIONS.get(action)
        if panes is not None and self._pane_kind() not in panes:
            return ""
        verb, resource = self._NEEDS.get(action, ("", None))
        resource = resource or self._pane_kind()
        if not verb or self.permissions.get((verb, resource)) is not False:
            return ""
        where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        return f"forbidden: context {clean(self.context or '-', 60)} may not {verb} {resource} in {where} (RBAC)"

    def _mutating_keys(self) -> dict[str, str]:
        """Key -> action name for every binding that changes the cluster."""
        keys: dict[str, str] = {}
        for b in self.BINDINGS:
            action = b.action.split("(", 1)[0] if isinstance(b, Binding) else ""
            if action in MUTATING_ACTIONS:
                keys.update({k.strip(): action for k in b.key.split(",")})
        return keys

    @work(thread=True, group="permissions", exit_on_error=False)
    def _probe_permissions(self) -> None:
        hub = self.hub
        if hub is None or hub.api is None or self.read_only:
            return
        ns = self.namespace or ""
        found = {}
        for verb, resource, group in (("delete", "pods", ""), ("delete", "jobs", "batch"),
                                      ("delete", "persistentvolumeclaims", ""), ("delete", "namespaces", ""),
                                      ("delete", "workflows", "argoproj.io"), ("patch", "workflows", "argoproj.io"),
                                      ("update", "workflows", "argoproj.io"),
                                      ("delete", "experiments", "kubeflow.org"),
                                      ("update", "experiments", "kubeflow.org"),
                                      ("delete", "trials", "kubeflow.org")):
            pane = {"persistentvolumeclaims": "pvcs"}.get(resource, resource)
            found[(verb, pane)] = can_i(hub.api, verb, resource, group, ns)
        if self.hub is hub:
            self.call_from_thread(self._set_permissions, found)

    def _set_permissions(self, found: dict) -> None:
        self.permissions.update(found)
        self.refresh_bindings()

    def _targets(self) -> list[tuple[str, str, str]]:
        """(kind id, namespace, name) of the marked rows, else of the cursor row."""
        view = self.current
        if view is None:
            return []
        keys = list(self.table.marked_keys) or ([self.table.cursor_key] if self.table.cursor_key else [])
        out = []
        kind = self._pane_kind()
        for key in keys:
            row = view.store.get(key)
            if row is not None and row.name:
                out.append((kind, row.namespace, row.name))
        return out

    def action_delete(self) -> None:
        if self.current is not None and self.current.id == "pf":
            for key in list(self.table.marked_keys) or [self.table.cursor_key]:
                if key:
                    self.forwards.stop(key)
            self._refill(self.current)
            return
        if self._pane_kind() == "cleanup":
            self._cleanup_confirm()
            return
        targets = self._targets()
        if not targets:
            return
        kind = KINDS[targets[0][0]]
        items = [f"{kind.api_kind} {ns + '/' if ns else ''}{name}" for _, ns, name in targets]
        extra = {"jobs": " (and their pods)", "experiments": " (and their trials)",
                 "namespaces": " (and everything in them)"}.get(kind.id, "")
        typed = None
        if kind.id in kactions.TYPE_TO_CONFIRM:
            if len(targets) > 1:
                self.notify(f"delete {kind.title.lower()} one at a time: each needs its name typed",
                            severity="warning")
                return
            typed = targets[0][2]
        from cockpit.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._run_action(f"deleted {len(targets)} {kind.title.lower()}",
                                 [(kactions.delete, (kind.resource, ns, name)) for _, ns, name in targets])
                self.table.clear_marks()

        self.push_screen(ConfirmScreen(f"Delete {len(targets)} {kind.title.lower()}{extra}?", items,
                                       type_to_confirm=typed), done)

    def action_kill(self) -> None:
        targets = self._targets()
        if not targets:
            return
        from cockpit.ui.screens.confirm import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                self._run_action(f"killed {len(targets)} pods",
                                 [(kactions.kill_pod, (ns, name)) for _, ns, name in targets])
                self.table.clear_marks()

        self.push_screen(ConfirmScreen(f"Kill {len(targets)} pods now (grace period 0)?",
                                       [f"Pod {ns}/{name}" for _, ns, name in targets]), done)

    def action_workflow(self, what: str) -> None:
        targets = self._targets()
        if not targets:
            return
        fn = kactions.WORKFLOW_ACTIONS[what]
        calls = [(fn, (ns, name)) for _, ns, name in targets]
        if what == "resubmit":  # the toast names the new workflows: they are where to look next
            def summary(new_names: list) -> str:
                return "resubmitted " + ", ".join(f"{ns}/{old} as {new}" for (_, ns, old), new
                                                  in zip(targets, new_names, strict=False))
        else:
            summary = f"{what}: {', '.join(n for _, _, n in targets)}"
        confirm = WORKFLOW_CONFIRM.get(what)
        if confirm is None:  # suspend and resume: one key undoes the other
            self._run_action(summary, calls)
            return
        verb, effect = confirm
        self._confirm_then(f"{verb.capitalize()} {_count(len(targets), 'workflow')}? {effect}",
                           [f"Workflow {ns}/{name}" for _, ns, name in targets], verb,
                           lambda: self._run_action(summary, calls))

    def action_retry(self) -> None:
        targets = self._targets()
        if not targets:
            return
        if self._pane_kind() == "workflows":
            self.action_workflow("retry")
        else:
            self._confirm_then(f"Restart {_count(len(targets), 'experiment')}? Katib runs more trials.",
                               [f"Experiment {ns}/{name}" for _, ns, name in targets], "restart",
                               lambda: self._run_action("restart requested", [
                                   (kactions.experiment_restart, (ns, name)) for _, ns, name in targets]))

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
        from kubernetes.client.rest import ApiException

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
            except ApiException as e:
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
        _, ns, name = targets[0]
        self._fetch_pod_then(ns, name, self._exec_into)

    def action_port_forward(self) -> None:
        targets = self._targets()
        if self.hub is None or self.hub.api is None or not targets:
            return
        _, ns, name = targets[0]
        self._fetch_pod_then(ns, name, self._forward_dialog)

    @work(thread=True, group="pod-fetch", exit_on_error=False)
    def _fetch_pod_then(self, ns: str, name: str, then) -> None:
        try:
            pod = kactions.get(self.hub.api, KINDS["pods"].resource, ns, name)
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
        exec_into(self, clone_api(self.hub.api), meta.get("namespace", ""), meta.get("name", ""),
                  default or names[0])

    def _forward_dialog(self, pod: dict) -> None:
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

        self.push_screen(PortForwardDialog(pod), chosen)

    def open_forwards(self) -> None:
        from cockpit.ui.screens.portforward import FORWARD_COLUMNS, forward_rows

        self.push_view(View("pf", "Port-forwards (ctrl+d stops one)", FORWARD_COLUMNS, RowStore(),
                            rows_fn=lambda: forward_rows(self.forwards, self.clock())))
        self.table.placeholder = "No port-forwards: shift+f on a pod starts one"

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

        if isinstance(self.screen, LaunchScreen):
            self.pop_screen()
        w = result.workload
        if w is None:
            return
        key = f"{w.namespace}/{w.name}" if w.namespace else w.name
        self.notify(f"created {w.kind} {key}", timeout=4, markup=False)
        if w.kind == "Job":
            self.show_pane("jobs")
            self._drill_job(key)
        elif w.kind == "Workflow":
            self.show_pane("workflows")
            self._drill_workflow(key)
        elif w.kind == "Experiment":
            self.show_pane("experiments")
            self._drill_experiment(key)
        else:
            self.show_pane("pods")
            self.current.cursor = key
            self._set_filter(w.name)

    # -- :cleanup ----------------------------------------------------------------------------------
    def open_cleanup(self) -> None:
        if self.hub is None or self.hub.api is None:
            self.notify("not connected", severity="warning")
            return
        view = View("cleanup", "Clean up: finished work and idle GPU holders (space unticks, ctrl+d deletes)",
                    CLEANUP_COLUMNS, RowStore(), kind_id="pods", extra={"items": {}})
        self.push_view(view)
        self.table.placeholder = "Looking for finished work…"
        self._load_cleanup(view)

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
