"""What the cockpit knows about one kind of Kubernetes object, in one place.

A kind module in this package defines a `Kind` subclass (or instance) and sets `KIND = ...`;
the registry finds it by itself. Everything the UI does with the kind's objects asks the kind:
its columns and row builder, what Enter opens, which action keys apply and what each one
requests, the RBAC verbs those need, and how a launched object is followed. No other module
names a kind.

Nothing here imports Textual: a kind hands the UI plain `View`s and `KindAction`s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cockpit.kube.informer import Resource
from cockpit.kube.model import Column, Row

if TYPE_CHECKING:
    from cockpit.kube.hub import ClusterHub
    from cockpit.ui.views import View


@dataclass(frozen=True)
class KindAction:
    """One action key on a kind's rows: the request it makes, the RBAC verb it needs, and
    whether it asks first.

    `run(api, namespace, name, *answer)` makes the request (blocking: it runs in a worker).
    `confirm` is (verb, what it does) for actions that end or change someone's work; they ask
    first, naming every object. `ask` is a question whose typed answer is passed to `run`
    (scale: the replica count). `shows`: `run` returns text for a text view (a Secret's
    values: the key is refused in read-only mode like every action). `done` is the toast: text, or a function of
    (targets, results)."""

    name: str
    run: Callable[..., Any]
    verb: str
    resource: str = ""  # RBAC plural when not the kind's own (kill: pods)
    group: str | None = None
    confirm: tuple[str, str] | None = None
    ask: str = ""
    # The result is text to read (a Secret's values), shown in a text view instead of a toast.
    shows: bool = False
    done: str | Callable[[list[tuple[str, str]], list[Any]], str] = ""


class Navigator(Protocol):
    """What a kind may ask of the main screen when the user opens one of its rows."""

    hub: ClusterHub | None
    clock: Callable[[], float]

    util: Any  # the UtilizationTracker

    def push_view(self, view: View) -> None: ...
    def show_pane(self, pane: str) -> None: ...
    def show_pods_named(self, namespace: str, name: str) -> None: ...
    def set_namespace(self, namespace: str | None) -> None: ...
    def pod_rows(self, pred: Callable[[Row], bool]) -> list[Row]: ...
    def notify(self, message: str, **kw) -> Any: ...


class Kind:
    """A kind of object: subclass it in its own module and set `KIND = YourKind()`."""

    id: str = ""  # the pane id and feed id ("pods")
    title: str = ""  # "Pods"
    api_kind: str = ""  # "Pod": what describe and dialogs call one object
    group: str = ""
    version: str = "v1"
    plural: str = ""
    namespaced: bool = True
    aliases: tuple[str, ...] = ()  # `:` names besides id, plural, singular and api_kind
    commands: tuple[str, ...] = ()  # the names `?` lists, in its order (default: id, aliases)
    # What `:<name> ARG` takes, for tab completion and help: ("namespace", "[NAME|all]").
    command_argument: tuple[str, str] | tuple[()] = ()
    columns: tuple[Column, ...] = ()
    # Keep the raw object (small kinds) so rows can be rebuilt as time passes (durations) and
    # drill-downs can read it; pods are too many to keep.
    keep_objects: bool = True
    # A TypedDict of just the fields this kind's code reads (cockpit.kube.typed): its lists and
    # watch events decode into that and skip the rest. None: the whole object.
    typed: type | None = None
    # Rows rebuilt from the kept object every few seconds (DURATION counts); otherwise only AGE.
    rebuild_as_time_passes: bool = True
    # Rows show what pods hold on them (nodes): rebuilt when GPU allocation changes.
    follows_gpu_allocation: bool = False
    # Started as soon as a context connects, whatever the user opens (GPU allocation needs them).
    core: bool = False
    # The digit shortcut (1-9) and the order of the panes; None: reached by `:` only.
    pane_order: int | None = None
    # Shown by `?` and the `:` hint.
    help: str = ""
    # The order the pane opens in: (column index, reversed); None: by namespace and name.
    default_sort: tuple[int, bool] | None = None
    # What an empty pane says when the server does not serve the kind (its CRDs are missing).
    not_served: str = ""
    deletable: bool = True
    delete_note: str = ""  # " (and their pods)": what a delete takes with it
    type_to_confirm: bool = False  # deleting needs the object's name typed
    has_logs: bool = False
    # Actions the UI carries out itself, on a pod it fetches first (exec, port-forward).
    ui_actions: frozenset[str] = frozenset()
    actions: Mapping[str, KindAction] = {}
    # Generic names the other kinds use for this one in logs and describe ("pod", "job").
    log_kind: str = ""

    # -- where it lives --------------------------------------------------------------------------
    @property
    def resource(self) -> Resource:
        return Resource(self.group, self.version, self.plural, self.namespaced)

    @property
    def singular(self) -> str:
        return self.api_kind.lower()

    def command_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.commands or (self.id, *self.aliases, self.singular)))

    def names(self) -> set[str]:
        """Every name `:` knows this kind by, lower case."""
        names = {self.id, self.plural, self.singular, *self.aliases, *self.commands}
        if self.group:
            names |= {f"{self.plural}.{self.group}", f"{self.group}/{self.version}/{self.plural}"}
        else:
            names.add(f"{self.version}/{self.plural}")
        return {n.lower() for n in names if n}

    @property
    def age_column(self) -> int | None:
        for i, c in enumerate(self.columns):
            if c.title == "AGE":
                return i
        return None

    # -- rows (informer threads) ---------------------------------------------------------------------
    def build(self, obj: dict, hub: ClusterHub) -> Row:
        raise NotImplementedError

    def kept(self, obj: dict) -> dict:
        """What the feed keeps of an object (kinds with `keep_objects`): by default all of it
        but managedFields; numerous kinds keep only what their rows and drill-downs read."""
        return obj

    def seen(self, obj: dict, hub: ClusterHub) -> None:
        """An object arrived on the kind's own feed (not a drill-down's): keep derived state."""

    def gone(self, key: str, hub: ClusterHub) -> None:
        """An object left the kind's own feed."""

    def reset(self, gone: set[str], hub: ClusterHub) -> None:
        """A relist replaced the kind's own feed; `gone` are the keys that did not come back."""
        for key in gone:
            self.gone(key, hub)

    # Feeds whose changes can change this kind's rows (a PVC's users come from pods): only
    # when one of them changed is `rebuild_keys` asked.
    rebuilds_on: tuple[str, ...] = ()
    # Kinds whose feeds run while this kind's pane shows, because its rows read them.
    companions: tuple[str, ...] = ()

    def rebuild_keys(self, hub: ClusterHub, changed: set[str]) -> Iterable[str]:
        """Keys whose rows read differently because the feeds in `changed` changed."""
        return ()

    # A line under the GPU pane's totals, from the kind's objects (Kueue quotas); its feed runs
    # while the GPU pane shows.
    adds_to_gpu_pane: bool = False

    def gpu_pane_note(self, objects: list[dict]) -> str:
        return ""

    # -- the UI thread ---------------------------------------------------------------------------------
    def supports(self, action: str) -> bool:
        if action == "delete":
            return self.deletable
        if action == "logs":
            return self.has_logs
        return action in self.actions or action in self.ui_actions

    def rbac(self) -> list[tuple[str, str, str]]:
        """(verb, plural, group) of every request the kind's actions make: probed at connect."""
        out = [("delete", self.plural, self.group)] if self.deletable else []
        for a in self.actions.values():
            if a.verb:
                out.append((a.verb, a.resource or self.plural, self.group if a.group is None else a.group))
        return out

    def needs(self, action: str) -> tuple[str, str, str] | None:
        if action == "delete" and self.deletable:
            return ("delete", self.plural, self.group)
        a = self.actions.get(action)
        if a is None or not a.verb:
            return None
        return (a.verb, a.resource or self.plural, self.group if a.group is None else a.group)

    def forward_offer(self, api, namespace: str, name: str):
        """shift+f (kinds with "port_forward" in ui_actions), in a worker thread: the
        ui.screens.portforward.ForwardOffer the dialog shows. Raises with a message to show."""
        raise NotImplementedError

    opens: bool = False  # whether Enter on a row goes somewhere

    def open(self, nav: Navigator, row: Row) -> None:
        """Enter on a row."""

    def follow(self, nav: Navigator, namespace: str, name: str) -> None:
        """After a launch created one: show where its progress can be watched (by default its
        pods, filtered by its name: logs are one key away)."""
        nav.show_pods_named(namespace, name)

    def owner_of(self, obj: dict) -> tuple[str, str] | None:
        """(api_kind, name) of the object's controller, from its ownerReferences."""
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
            if isinstance(ref, dict) and ref.get("controller"):
                return str(ref.get("kind") or ""), str(ref.get("name") or "")
        return None
