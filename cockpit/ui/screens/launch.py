"""The launch form (`n` or `:launch`): pick a preset, fill its parameters with inline
validation, pick the GPU product from what the nodes offer (free count beside each), preview
the YAML, dry-run on the server, create. Optionally build the image from a local directory
first (built and pushed through the Docker API; a failed build or push creates nothing).

Everything that touches the cluster or Docker runs in worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

import yaml
from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from cockpit.kube.text import clean

LOCAL_FIELDS = ("from_dir", "base_image", "requirements", "registry")


class LaunchScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="launch.back"),
        Binding("ctrl+p", "preview", "Preview YAML", id="launch.preview"),
        Binding("ctrl+t", "dry_run", "Dry run", id="launch.dry_run"),
        Binding("ctrl+s", "create", "Create", id="launch.create"),
        # Priority: the App runs these as it reads the key, so focus has moved on before the
        # keys typed right after tab (one burst: SSH, a paste, a fast typist) are handed to a
        # field; as plain bindings they ran once the tab came back from the field, after the
        # rest of the burst had gone to the previous one.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True, id="launch.next_field"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True,
                id="launch.previous_field"),
    ]
    DEFAULT_CSS = """
    LaunchScreen #title { background: $panel; text-style: bold; height: 1; padding: 0 1; }
    LaunchScreen #presets { height: 1fr; }
    LaunchScreen #form { height: 1fr; padding: 0 1; display: none; }
    LaunchScreen .row { height: auto; }
    LaunchScreen .row Label { width: 22; padding: 1 1 0 0; }
    LaunchScreen .row Input, LaunchScreen .row Select { width: 1fr; }
    LaunchScreen .error { color: $error; height: auto; padding-left: 22; }
    LaunchScreen .help { color: $text-muted; height: auto; padding-left: 22; }
    LaunchScreen #status { height: auto; max-height: 8; background: $boost; padding: 0 1; }
    """

    def __init__(self, api, *, namespace: str, gpu_offer: list, read_only: bool,
                 on_created: Callable[[Any], None], registry: str = "", library=None,
                 defaults: dict[str, Any] | None = None):
        super().__init__()
        # Per-context defaults from the configuration (resources, storage), by parameter name.
        self.context_defaults = {k: v for k, v in (defaults or {}).items() if v not in ("", None, 0)}
        self.watcher = None
        self.api = api
        self._cancel = threading.Event()  # set: the running create stops and rolls back
        self._idle = threading.Event()  # clear while a create (with its build) runs
        self._idle.set()
        self.namespace = namespace or "default"
        self.gpu_offer = gpu_offer  # gpu.ProductFree per product, from the live GPU pane
        self.read_only = read_only
        self.on_created = on_created
        self.default_registry = registry
        self.library = library
        self.preset = None
        self.errors: dict[str, str] = {}

    def compose(self):
        yield Static(Text("Launch: pick a preset (enter)"), id="title")
        yield OptionList(id="presets")
        yield VerticalScroll(id="form")
        yield Static("", id="status")
        # ctrl+p is this screen's preview, not the command palette: the footer offers it once.
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self._load_library()

    @work(thread=True, group="launch-library", exit_on_error=False)
    def _load_library(self) -> None:
        from cockpit.launch.library import PresetLibrary

        lib = self.library or PresetLibrary()
        app = self.app

        def changed(event) -> None:  # on the watcher thread: a user preset file changed
            try:
                app.call_from_thread(self._show_presets, lib)
            except RuntimeError:
                pass

        try:
            self.watcher = lib.watch(changed)
        except Exception as e:  # no watching (e.g. folder not creatable): presets still load
            app.call_from_thread(self.notify, f"preset folder not watched: {clean(str(e), 200)}",
                                 severity="warning", markup=False)
        app.call_from_thread(self._show_presets, lib)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop(1.0)
        # Closed (or the app quits) while creating: the create stops and rolls back what it made.
        self._cancel.set()
        self._idle.wait(3.0)

    def _show_presets(self, lib) -> None:
        self.library = lib
        options = self.query_one("#presets", OptionList)
        options.clear_options()
        for name in lib.names():
            p = lib.get(name)
            options.add_option(Option(Text.assemble((name, "bold"), "  ", clean(p.description, 100)), id=name))
        for err in lib.errors:
            self.notify(str(err), severity="error", markup=False, timeout=8)
        options.focus()

    @on(OptionList.OptionSelected, "#presets")
    async def _picked(self, event: OptionList.OptionSelected) -> None:
        self.preset = self.library.get(event.option.id)
        self.query_one("#presets").display = False
        form = self.query_one("#form", VerticalScroll)
        form.display = True
        await form.remove_children()
        widgets = [Input(self.namespace, id="f-namespace")]
        rows = [("namespace", widgets[0], "namespace to launch into (created when missing)")]
        for name, param in self.preset.parameters.items():
            value = self.context_defaults.get(name, param.default)
            default = "" if value is None else _as_text(value)
            if name == "gpu_product" and self.gpu_offer:
                # Only products some node has; the blank choice ("any") puts no nodeSelector in.
                options = [(f"{o.product}  ({o.label()})", o.product) for o in self.gpu_offer]
                offered = {o.product for o in self.gpu_offer}
                widget = Select(options, prompt="any GPU product", id="f-gpu_product", allow_blank=True,
                                value=default if default in offered else Select.NULL)
            else:
                widget = Input(default, id=f"f-{name}", placeholder=param.describe_type())
            rows.append((name, widget, clean(param.description or param.describe_type(), 200)))
        if "Job" in self.preset.creates:
            # Kueue: submit through one of the namespace's queues, shown with its free quota
            # (read in a worker; until then, and without Kueue, the blank choice is all there is).
            rows.append(("queue", Select([], prompt="no queue (runs at once)", id="f-queue", allow_blank=True),
                         "Kueue queue to submit through: it runs when the queue admits it"))
        if "image" in self.preset.parameters:
            rows.append(("from_dir", Input("", id="f-from_dir", placeholder="directory"),
                         "build the image from this local directory (base image + requirements + code)"))
            rows.append(("base_image", Input("", id="f-base_image"), "base image for the build"))
            rows.append(("requirements", Input("", id="f-requirements"), "requirements file in that directory"))
            rows.append(("registry", Input(self.default_registry, id="f-registry"), "registry to push to"))
        parts = []
        for name, widget, help_text in rows:
            parts += [Horizontal(Label(name), widget, classes="row"), Static(Text(help_text), classes="help"),
                      Static("", id=f"e-{name}", classes="error")]
        await form.mount_all(parts)
        form.scroll_home(animate=False)  # the previous preset's form may have been scrolled down
        self.set_focus(self.query_one("#f-namespace", Input))  # now, not after this handler
        # The title changes last: once it shows, the form takes keys (a Tab typed while the
        # fields mount would move focus away from the first field).
        self.query_one("#title", Static).update(Text(f"Launch {self.preset.name} into {self.namespace}"))
        if "Job" in self.preset.creates:
            self._load_queues(self.namespace)

    @work(thread=True, group="queues", exclusive=True, exit_on_error=False)
    def _load_queues(self, namespace: str) -> None:
        from cockpit.kube.kueue import queue_offers

        if self.api is None:
            return  # not connected (a recorded session): the form offers no queue
        try:
            offers, why = queue_offers(self.api, namespace)
        except Exception as e:  # network trouble: the form works without queues
            offers, why = [], clean(str(e), 120)
        self.app.call_from_thread(self._show_queues, namespace, offers, why)

    def _show_queues(self, namespace: str, offers: list, why: str) -> None:
        found = self.query("#f-queue")
        if not found or self.preset is None:
            return
        select = found.first()
        select.set_options([(o.label(), o.name) for o in offers])
        if why:
            self.query_one("#e-queue", Static).update(Text(why))

    @on(Input.Changed, "#f-namespace")
    def _namespace_changed(self, event: Input.Changed) -> None:
        if self.preset is not None and "Job" in self.preset.creates and event.value.strip():
            self._load_queues(event.value.strip())

    def _values(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        ns = self.query_one("#f-namespace", Input).value.strip() or "default"
        raw: dict[str, Any] = {}
        local: dict[str, str] = {}
        for name in self.preset.parameters:
            widget = self.query_one(f"#f-{name}")
            value = widget.value
            if isinstance(widget, Select):
                # Textual's "nothing chosen" is Select.NULL (not a product): no value at all.
                value = "" if widget.is_blank() or value is None else str(value)
            if value != "":
                raw[name] = value
        for name in LOCAL_FIELDS:
            found = self.query(f"#f-{name}")
            if found:
                local[name] = found.first().value.strip()
        queue = self.query("#f-queue")
        if queue and not queue.first().is_blank() and queue.first().value is not None:
            local["queue"] = str(queue.first().value)
        return ns, raw, local

    def _validate(self) -> dict | None:
        if self.preset is None:
            return None
        ns, raw, _ = self._values()
        values, errors = self.preset.check_values(raw)
        product = raw.get("gpu_product")
        if product and self.gpu_offer and product not in {o.product for o in self.gpu_offer}:
            errors = {**errors, "gpu_product": f"no node offers GPU product {clean(str(product), 80)}"}
        self.errors = errors
        for name in ("namespace", *self.preset.parameters):
            found = self.query(f"#e-{name}")
            if found:
                found.first().update(Text(errors.get(name, "")))
        return None if errors else values

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event) -> None:
        if self.preset is not None:
            self._validate()

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def action_back(self) -> None:
        if not self._idle.is_set():  # esc while creating cancels the create
            self._cancel.set()
            self._status("cancelling: deleting what was created so far…")
            return
        if self.preset is not None:
            self.preset = None
            self.query_one("#form").display = False
            self.query_one("#presets").display = True
            self.query_one("#presets").focus()
            self.query_one("#title", Static).update(Text("Launch: pick a preset (enter)"))
        else:
            self.app.pop_screen()

    def action_preview(self) -> None:
        values = self._validate()
        if values is None:
            self.notify("fix the marked fields first", severity="warning")
            return
        ns, _, _ = self._values()
        try:
            docs = self.preset.render(values, ns)
        except Exception as e:
            self.notify(clean(str(e), 300), severity="error", markup=False)
            return
        from cockpit.ui.screens.text import TextScreen

        self.app.push_screen(TextScreen(f"Preview {self.preset.name}", yaml.safe_dump_all(docs, sort_keys=False)))

    def action_dry_run(self) -> None:
        values = self._validate()
        if values is not None:
            self._status("dry run on the server…")
            self._run(values, dry=True)

    def action_create(self) -> None:
        if self.read_only:
            self.notify("read-only: nothing is launched", severity="warning")
            return
        values = self._validate()
        if values is not None:
            self._status("creating…")
            self._run(values, dry=False)

    @work(thread=True, exclusive=True, group="launch", exit_on_error=False)
    def _run(self, values: dict, dry: bool) -> None:
        from cockpit.launch import apply
        from cockpit.launch.errors import ImageError, LaunchError

        app = self.app
        ns, _, local = self._values()
        say = lambda text: app.call_from_thread(self._status, text)  # noqa: E731
        from cockpit.launch.errors import LaunchCancelled

        if not dry:
            self._cancel.clear()
            self._idle.clear()
        try:
            queue = local.get("queue", "")
            p = apply.plan(self.preset, values, ns, self.api, read_only=self.read_only, queue=queue)
            if dry:
                apply.dry_run(p, read_only=self.read_only)
                say("dry run passed:\n" + "\n".join(p.lines()))
                return
            if local.get("from_dir"):
                values = dict(values)
                values["image"] = self._build(local, ns, say)
                p = apply.plan(self.preset, values, ns, self.api, read_only=self.read_only, queue=queue)
            result = apply.create(p, read_only=self.read_only, cancel=self._cancel)
        except LaunchCancelled as e:
            self._idle.set()
            say(f"cancelled: {clean(str(e), 600)}")
            return
        except (LaunchError, ImageError) as e:
            say(f"failed: {clean(str(e), 600)}")
            return
        except Exception as e:  # any failure is reported in the form, never a traceback
            say(f"failed: {clean(type(e).__name__ + ': ' + str(e), 600)}")
            return
        finally:
            self._idle.set()
        say("created:\n" + "\n".join(result.lines()))
        app.call_from_thread(self.on_created, result)

    def _build(self, local: dict[str, str], namespace: str, say) -> str:
        import docker

        from cockpit.launch.image import build_image

        registry = local.get("registry") or self.default_registry
        if not registry:
            raise RuntimeError("a registry is needed to push the image (set it here or per context in the config)")
        client = docker.from_env()
        lines: list[str] = []

        def out(line: str) -> None:
            lines.append(clean(line, 300))
            say("building:\n" + "\n".join(lines[-6:]))

        def progress(layer, current, total) -> None:
            if total:
                say(f"pushing {clean(layer, 20)}: {current * 100 // total}%")

        built = build_image(client, local["from_dir"], local.get("base_image") or "python:3.11-slim",
                            local.get("requirements") or None, registry,
                            f"{namespace}/{self.preset.name}", out, progress)
        return built.reference


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)
