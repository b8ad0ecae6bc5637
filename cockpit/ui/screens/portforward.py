"""Port-forward: the dialog that starts one (`shift+f` on a pod) and the rows of the `:pf` pane.

The dialog offers the ports the pod's containers declare, plus the quick targets (Jupyter,
TensorBoard, Argo server) the pod does not declare, since a notebook often listens on a port
nobody wrote into the spec. The local port defaults to the remote one when it is free here, so
the URL is the one the user expects; else to a free one. Everything is done by keyboard:
arrows pick the port, tab moves between fields, enter starts, esc cancels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.kube.model import Column, Row
from cockpit.kube.portforward import (
    ACTIVE,
    CONNECTING,
    QUICK_PORTS,
    PortForwardManager,
    as_json,
    owner_of,
    port_is_free,
    ports_of,
    service_ports,
    suggest_local_port,
)
from cockpit.kube.quantity import fmt_bytes
from cockpit.kube.rows import fmt_age
from cockpit.kube.selector import labels_text
from cockpit.kube.text import clean

DEFAULT_ADDRESS = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class PortTarget:
    container: str
    name: str
    port: int
    declared: bool = True
    service_port: int = 0  # a Service's port that forwards to `port` on the pod

    def label(self) -> str:
        quick = next((q for q, p in QUICK_PORTS.items() if p == self.port), "")
        what = " / ".join(dict.fromkeys(x for x in (self.name, quick) if x)) or "port"
        if not self.declared:
            where = "quick target, not declared"
        elif self.service_port:
            where = f"service port {self.service_port} → pod port {self.port}"
        else:
            where = f"container {self.container}"
        return f"{self.port:>5}  {what}  ({where})"


def port_targets(pod: Any) -> list[PortTarget]:
    """Declared container ports first, then the quick targets the pod does not declare."""
    declared = [PortTarget(c, n, p) for c, n, p in ports_of(pod)]
    have = {t.port for t in declared}
    quick = [PortTarget("", name, port, declared=False) for name, port in QUICK_PORTS.items() if port not in have]
    return declared + quick


@dataclass(frozen=True, slots=True)
class ForwardOffer:
    """What the dialog offers: a pod's ports, or a Service's ports on the pod it picked."""

    title: str
    namespace: str
    pod: str
    targets: list[PortTarget]
    owner: dict | None = None  # how the forward finds the next pod when this one goes


def pod_offer(pod: Any) -> ForwardOffer:
    pod = as_json(pod)
    meta = pod.get("metadata") or {}
    ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    return ForwardOffer(f"Port-forward {clean(ns)}/{clean(name)}", ns, name, port_targets(pod), owner_of(pod))


def service_offer(svc: Any, pod: Any) -> ForwardOffer:
    """A Service's TCP ports, each forwarded to its targetPort on `pod`; the forward follows the
    Service's selector to another pod when that one goes."""
    svc, pod = as_json(svc), as_json(pod)
    meta, pod_meta = svc.get("metadata") or {}, pod.get("metadata") or {}
    ns, name, pod_name = str(meta.get("namespace", "")), str(meta.get("name", "")), str(pod_meta.get("name", ""))
    selector = (svc.get("spec") or {}).get("selector") or {}
    targets = [PortTarget("", port_name, target, service_port=port) for port_name, port, target in
               service_ports(svc, pod)]
    owner = {"kind": "Service", "name": name,
             "selector": labels_text(selector)}
    return ForwardOffer(f"Port-forward service {clean(ns)}/{clean(name)} (pod {clean(pod_name)})", ns, pod_name,
                        targets, owner)


@dataclass(frozen=True, slots=True)
class PortForwardChoice:
    """What the dialog returns; `PortForwardManager.start(**choice.start_args())` starts it."""

    namespace: str
    pod: str
    remote_port: int
    local_port: int
    address: str
    owner: dict | None = None

    def start_args(self) -> dict:
        return {"namespace": self.namespace, "pod": self.pod, "remote_port": self.remote_port,
                "local_port": self.local_port, "address": self.address, "owner": self.owner}


def _port(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    n = int(text)
    return n if 0 < n < 65536 else None


class PortForwardDialog(ModalScreen[PortForwardChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="portforward.cancel"),
        Binding("ctrl+s", "ok", "Start", id="portforward.ok", show=False),
    ]
    DEFAULT_CSS = """
    PortForwardDialog { align: center middle; }
    PortForwardDialog > Vertical { width: 90%; max-width: 80; height: auto; max-height: 90%;
                                   background: $panel; border: round $accent; padding: 0 1; }
    PortForwardDialog OptionList { height: auto; max-height: 10; margin-bottom: 1; }
    PortForwardDialog Horizontal { height: auto; }
    PortForwardDialog Label { width: 14; padding: 1 0 0 0; }
    PortForwardDialog Input { width: 1fr; }
    PortForwardDialog #hint { color: $text-muted; }
    PortForwardDialog #error { color: $error; height: auto; }
    """

    def __init__(self, pod: Any, *, address: str = DEFAULT_ADDRESS):
        """`pod`: a pod (its declared ports and the quick targets), or a ForwardOffer."""
        super().__init__()
        offer = pod if isinstance(pod, ForwardOffer) else pod_offer(pod)
        self.title = offer.title
        self.namespace = offer.namespace
        self.pod_name = offer.pod
        self.owner = offer.owner
        self.targets = offer.targets
        self.default_address = address
        first = self.targets[0].port if self.targets else 0
        self._suggested = str(suggest_local_port(first, address)) if first else ""

    def compose(self):
        with Vertical():
            yield Static(Text(self.title, style="bold"))
            yield OptionList(*(Option(Text(t.label()), id=str(i)) for i, t in enumerate(self.targets)),
                             id="ports")
            with Horizontal():
                yield Label("remote port")
                yield Input(str(self.targets[0].port) if self.targets else "", id="remote",
                            restrict=r"\d{0,5}", placeholder="port in the pod")
            with Horizontal():
                yield Label("local port")
                yield Input(self._suggested, id="local", restrict=r"\d{0,5}", placeholder="port here")
            with Horizontal():
                yield Label("address")
                yield Input(self.default_address, id="address", placeholder=DEFAULT_ADDRESS)
            yield Static("", id="error")
            yield Static(Text("↑↓ port · tab next field · enter start · esc cancel"), id="hint")

    def on_mount(self) -> None:
        (self.query_one("#ports", OptionList) if self.targets else self.query_one("#remote", Input)).focus()
        if self.targets:
            self.query_one("#ports", OptionList).highlighted = 0

    # -- picking a port ------------------------------------------------------------------------
    def _pick(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.targets):
            return
        port = self.targets[index].port
        remote = self.query_one("#remote", Input)
        if remote.value == str(port):
            return
        remote.value = str(port)
        local = self.query_one("#local", Input)
        if local.value == self._suggested:  # the user has not typed a port of their own
            self._suggested = str(suggest_local_port(port, self._address()))
            local.value = self._suggested

    @on(OptionList.OptionHighlighted, "#ports")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._pick(event.option_index)

    @on(OptionList.OptionSelected, "#ports")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_index)
        self.action_ok()

    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        self.action_ok()

    def _address(self) -> str:
        return self.query_one("#address", Input).value.strip() or DEFAULT_ADDRESS

    def _error(self, text: str) -> None:
        self.query_one("#error", Static).update(Text(text))

    # -- the answer ----------------------------------------------------------------------------
    def action_ok(self) -> None:
        remote = _port(self.query_one("#remote", Input).value)
        if remote is None:
            self._error("remote port: a number from 1 to 65535")
            self.query_one("#remote", Input).focus()
            return
        address = self._address()
        local_text = self.query_one("#local", Input).value
        local = _port(local_text) if local_text.strip() else suggest_local_port(remote, address)
        if local is None:
            self._error("local port: a number from 1 to 65535")
            self.query_one("#local", Input).focus()
            return
        if not port_is_free(local, address):
            free = suggest_local_port(0, address)
            self._error(f"{address}:{local} is taken or not an address of this machine; {free} is free")
            self.query_one("#local", Input).focus()
            return
        self.dismiss(PortForwardChoice(self.namespace, self.pod_name, remote, local, address, self.owner))

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the `:pf` pane -----------------------------------------------------------------------------

FORWARD_COLUMNS = (
    Column("ID", 5),
    # Cut in the middle: the pod's unique tail and the port stay readable at 80 columns.
    Column("TARGET", 44, min_width=20, cut="middle"),
    Column("LOCAL", 21),
    Column("STATUS", 20, min_width=10),
    Column("CONNS", 7, "right", priority=1),
    Column("BYTES IN", 9, "right", priority=2),
    Column("BYTES OUT", 9, "right", priority=2),
    Column("AGE", 6, "right", priority=1),
)


def _status_hint(status: str) -> str:
    if status == ACTIVE:
        return "ok"
    if status == CONNECTING:
        return "pending"
    if status.startswith("broken"):
        return "error"
    return "done"


def forward_rows(manager: PortForwardManager, now: float | None = None) -> list[Row]:
    """One row per forward, keyed by its id (`manager.stop(row.key)` deletes it)."""
    now = time.time() if now is None else now
    rows = []
    for f in manager.list():
        age = now - f.created
        rows.append(Row(
            key=f.id,
            cells=(f.id, clean(f.target, 300), clean(f.local, 60), clean(f.status, 120), f.connections,
                   fmt_bytes(f.bytes_in), fmt_bytes(f.bytes_out), fmt_age(age)),
            sort=(int(f.id.removeprefix("pf") or 0), f.target, f.local_port, f.status, f.open_connections,
                  f.bytes_in, f.bytes_out, age),
            status=_status_hint(f.status),
            namespace=f.namespace,
            name=f.pod,
        ))
    return rows
