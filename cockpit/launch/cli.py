"""`cockpit presets ...` and `cockpit launch ...`: the command-line side of launching.

Both entry points take the arguments after their subcommand and return an exit status; known
failures print `error: ...` on stderr (never a traceback).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

from cockpit.launch.errors import ImageError, LaunchCancelled, LaunchError, ParameterError, PresetError

__all__ = ["launch_main", "presets_main"]


def _say(text: object = "", file: Any = None) -> None:
    """Print lines that may hold cluster text (status and termination messages, scheduler
    messages, API errors, names, build output): each line is cleaned where it is printed, so
    no escape sequence or control character from the cluster reaches the terminal."""
    from cockpit.kube.text import clean

    lines = str(text).split("\n")
    print("\n".join(clean(line, _LINE_CELLS) for line in lines), file=file or sys.stdout)


_LINE_CELLS = 4000  # long enough for any message, short enough that a flood stays readable


def _err(message: str) -> None:
    _say(f"error: {message}", file=sys.stderr)


def _library(user_dir: Path | None = None):
    from cockpit.launch.library import PresetLibrary

    return PresetLibrary(user_dir)


def _find_preset(name_or_file: str, library: Any):
    """A preset by name, or from a file when the argument is a path to one."""
    from cockpit.launch.preset import load_preset

    path = Path(name_or_file)
    if name_or_file.endswith((".yaml", ".yml")) or "/" in name_or_file:
        if not path.is_file():
            raise PresetError(name_or_file, None, "", "no such file")
        return load_preset(path)
    try:
        return library.get(name_or_file)
    except KeyError as e:
        raise LaunchError(e.args[0]) from None


# -- cockpit presets ---------------------------------------------------------------------------

def presets_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cockpit presets", description="Launch presets: list, show and validate them.")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every preset, built-in and your own")
    show = sub.add_parser("show", help="a preset's parameters (and, with --render, its manifests)")
    show.add_argument("name", help="preset name or file")
    show.add_argument("--render", action="store_true", help="print the manifests the values give")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a parameter value")
    show.add_argument("-n", "--namespace", default="default")
    validate = sub.add_parser("validate", help="check preset files; prints file:line: field: message")
    validate.add_argument("files", nargs="+", type=Path)
    return p


def presets_main(argv: list[str] | None = None) -> int:
    args = presets_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.action == "list":
            return _presets_list()
        if args.action == "show":
            return _presets_show(args)
        return _presets_validate(args.files)
    except (PresetError, ParameterError, LaunchError) as e:
        _err(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


def _presets_list() -> int:
    lib = _library()
    rows = [(p.name, p.origin, ",".join(p.creates), p.description) for p in
            (lib.get(n) for n in lib.names())]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("NAME", "ORIGIN", "CREATES"))]
    print(f"{'NAME':<{widths[0]}}  {'ORIGIN':<{widths[1]}}  {'CREATES':<{widths[2]}}  DESCRIPTION")
    for name, origin, creates, desc in rows:
        print(f"{name:<{widths[0]}}  {origin:<{widths[1]}}  {creates:<{widths[2]}}  {desc}")
    for e in lib.errors:
        print(f"warning: {e}", file=sys.stderr)
    return 0


def _fmt_default(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, dict) and "port" in v for v in value):
        return ",".join(f"{v['name']}={v['port']}" if v.get("name") else str(v["port"]) for v in value) or "[]"
    if isinstance(value, dict) and all(isinstance(v, dict) and "secret" in v for v in value.values()):
        return ",".join(f"{k}={v['secret']}:{v['key']}" for k, v in value.items()) or "{}"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip()
    return str(value) if value != "" else '""'


def _presets_show(args: argparse.Namespace) -> int:
    from cockpit.launch.preset import parse_set

    preset = _find_preset(args.name, _library())
    print(f"{preset.name}: {preset.description}")
    print(f"file: {preset.file}")
    if preset.creates:
        print(f"creates: {', '.join(preset.creates)}")
    print()
    rows = [(name, p.describe_type() + (" required" if p.required else ""), _fmt_default(p.default), p.description)
            for name, p in preset.parameters.items()]
    w0 = max([9] + [len(r[0]) for r in rows])
    w1 = max([4] + [len(r[1]) for r in rows])
    w2 = min(40, max([7] + [len(r[2]) for r in rows]))
    print(f"{'PARAMETER':<{w0}}  {'TYPE':<{w1}}  {'DEFAULT':<{w2}}  DESCRIPTION")
    for name, ptype, default, desc in rows:
        print(f"{name:<{w0}}  {ptype:<{w1}}  {default:<{w2}}  {desc}")
    if args.render:
        docs = preset.render(parse_set(args.set, preset), args.namespace)
        print()
        print(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), end="")
    return 0


def _presets_validate(files: list[Path]) -> int:
    from cockpit.launch.preset import validate_preset_text

    failed = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            print(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}")
            failed += 1
            continue
        try:
            preset, errors = validate_preset_text(text, str(path))
        except PresetError as e:
            preset, errors = None, [e]
        if errors:
            failed += 1
            for e in errors:
                print(str(e))
        else:
            assert preset is not None
            print(f"{path}: ok ({preset.name}, {len(preset.parameters)} parameters, "
                  f"{len(preset.templates)} templates)")
    return 1 if failed else 0


# -- cockpit launch ----------------------------------------------------------------------------

def launch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit launch",
        usage="cockpit launch PRESET [--set KEY=VALUE ...] [--from-dir DIR [--base-image IMG] "
              "[--requirements FILE]] [--registry URL] [--dry-run] [--wait] [-n NS] [--context CTX] "
              "[--kubeconfig PATH] [-- script args ...]",
        description="Launch a preset in the cluster. Everything after `--` becomes the container's args.")
    p.add_argument("preset", help="preset name (see `cockpit presets list`) or a preset file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value (repeatable); KEY.SUB=VALUE sets one entry of a map")
    p.add_argument("--from-dir", type=Path, metavar="DIR", help="build the image from this code folder")
    p.add_argument("--base-image", metavar="IMG", help="base of the built image (default: the preset's image)")
    p.add_argument("--requirements", type=Path, metavar="FILE", help="pip requirements installed into the image")
    p.add_argument("--registry", metavar="URL", help="registry the built image is pushed to (host[:port][/path])")
    p.add_argument("--repository", metavar="REPO", help="repository in the registry (default: NAMESPACE/DIRNAME)")
    p.add_argument("--dry-run", action="store_true", help="server-side dry run only; build and push nothing")
    p.add_argument("--queue", metavar="Q", default="", help="submit through this Kueue LocalQueue of the namespace")
    p.add_argument("--wait", action="store_true", help="follow the workload until it finishes")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait: give up after this long")
    p.add_argument("-n", "--namespace", help="namespace (created when missing; default: the context's)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--read-only", action="store_true", help="refuse to change the cluster (plan only)")
    return p


def kube_client(kubeconfig: Path | None, context: str | None, *, read_only: bool) -> tuple[Any, str]:
    """(ApiClient, the context's namespace or "default"), made by the cockpit's one client
    factory, so the read-only guard is in it exactly as in the app."""
    from cockpit.kube.connection import ConnectionProblem, Kubeconfig, make_api_client

    kc = Kubeconfig.load(kubeconfig)
    name = context or kc.current
    if not name:
        raise LaunchError("; ".join(map(str, kc.problems)) or "no kubeconfig context to launch into")
    if name not in kc.contexts:
        known = ", ".join(sorted(kc.contexts)) or "none"
        raise LaunchError(f"context {name!r} is not in the kubeconfig ({kc.path_string or 'none found'}); "
                          f"known contexts: {known}")
    api = make_api_client(kc, name, read_only=read_only)
    if isinstance(api, ConnectionProblem):
        raise LaunchError(str(api))
    return api, kc.contexts[name].namespace or "default"


def _repository(namespace: str, directory: Path) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", directory.resolve().name.lower()).strip("-._") or "code"
    return f"{namespace}/{base}"


def launch_main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] | None = None
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1:]
    args = launch_parser().parse_args(argv)
    restore = _interrupt_on_signals()
    try:
        return _launch(args, script_args)
    except LaunchCancelled as e:
        _err(f"interrupted: {e}" if _CANCEL.is_set() else str(e))
        return 130
    except (PresetError, ParameterError, LaunchError, ImageError) as e:
        _err(str(e))
        return 1
    except KeyboardInterrupt:
        _say("interrupted before anything was created", file=sys.stderr)
        return 130
    finally:
        restore()


# Set by a signal while objects are being created: the create stops at its next step and
# deletes what it made. Before that step nothing exists, and a signal ends the command at once.
_CANCEL = threading.Event()
_CREATING = threading.Event()


def _interrupt_on_signals():
    """Ctrl-C, SIGTERM and SIGHUP: before the create, end at once (nothing was made); during it,
    cancel it so the rollback runs (a handler never raises into whatever code it lands in: an
    exception raised inside the import machinery, say, is swallowed and the signal lost)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in caught}

    def interrupt(signum, frame):
        if _CREATING.is_set():
            _CANCEL.set()
            return
        try:
            sys.stdout.flush()
            os.write(2, b"interrupted before anything was created\n")
        finally:
            os._exit(130)

    for s in caught:
        signal.signal(s, interrupt)

    def restore() -> None:
        for s, handler in before.items():
            signal.signal(s, handler)

    return restore


def _read_only_words(reason: str) -> str:
    """ "read-only because ...", whichever of the four sources (or a doubtful config) said so."""
    if reason.startswith("read-only because"):
        return reason
    return f"read-only because {reason}"


def _launch_done() -> None:
    """The launch is complete: from here a signal just ends the command (the objects stay)."""
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _context_settings(args: argparse.Namespace):
    from cockpit.config import load_settings
    from cockpit.kube.connection import Kubeconfig

    settings, problems = load_settings()
    for p in problems:
        _say(f"warning: {p}", file=sys.stderr)
    context = args.context or Kubeconfig.load(args.kubeconfig).current
    return settings.for_context(context or "")


def _read_only_reason(args: argparse.Namespace, ctx) -> str:
    """Why this launch may change nothing, or "" when it may: the flag, the config's
    `read_only` or `contexts.<name>.read_only`, or COCKPIT_READ_ONLY (any of them wins)."""
    if args.read_only:
        return "--read-only was given"
    return ctx.read_only_reason if ctx.read_only else ""


def _launch(args: argparse.Namespace, script_args: list[str] | None) -> int:
    from cockpit.launch.apply import create, dry_run, follow, plan
    from cockpit.launch.preset import parse_set

    ctx = _context_settings(args)
    refusal = _read_only_reason(args, ctx)
    if refusal and not args.dry_run:
        # Before anything else: no image is built or pushed, no request goes out.
        raise LaunchError(f"{_read_only_words(refusal)}: cockpit launch would change the cluster, "
                          "so nothing was built or sent")
    preset = _find_preset(args.preset, _library())
    values: dict[str, Any] = parse_set(args.set, preset)
    # The context's defaults from the configuration (registry, namespace, resources, storage),
    # like the experiment runner's named contexts; flags and --set win.
    for name, value in ctx.preset_defaults().items():
        if name in preset.parameters and name not in values:
            values[name] = value
    args.registry = args.registry or (ctx.registry if args.from_dir is not None else None)
    args.namespace = args.namespace or ctx.namespace or None
    if script_args is not None:
        if "args" not in preset.parameters:
            raise LaunchError(f"preset {preset.name} takes no script arguments (it has no `args` parameter)")
        values["args"] = script_args
    building = args.from_dir is not None
    if building:
        if "image" not in preset.parameters:
            raise LaunchError(f"preset {preset.name} has no `image` parameter to put the built image in")
        if "image" in values:
            raise LaunchError("--from-dir builds the image; do not also --set image=...")
        if not args.registry:
            raise LaunchError("--from-dir needs --registry to push the image to (host[:port][/path])")
        base = args.base_image or preset.parameters["image"].default
        if not base:
            raise LaunchError("--from-dir needs --base-image")
    else:
        for flag, value in (("--base-image", args.base_image), ("--requirements", args.requirements),
                            ("--repository", args.repository), ("--registry", args.registry)):
            if value:
                raise LaunchError(f"{flag} only applies with --from-dir")

    # Values and the cluster first (GETs only), so a typo does not cost an image build.
    placeholder = {"image": "placeholder.invalid/cockpit-build:pending"} if building else {}
    _, errors = preset.check_values({**values, **placeholder})
    if errors:
        raise ParameterError(errors)
    api, default_ns = kube_client(args.kubeconfig, args.context, read_only=bool(refusal))
    namespace = args.namespace or default_ns
    first = plan(preset, {**values, **placeholder}, namespace, api, read_only=bool(refusal), queue=args.queue)

    if args.dry_run:
        for line in first.lines():
            _say(line)
        if building:
            _say(f"note: the image would be built from {args.from_dir} on {base} and pushed to {args.registry}; "
                  "the dry run uses a placeholder image")
        if refusal:
            # A server-side dry run is a write request with dryRun set: a read-only client never sends one.
            raise LaunchError(f"{_read_only_words(refusal)}: the plan above was read from the cluster; "
                              "the server-side dry run was not sent")
        accepted = dry_run(first)
        _say(f"dry run: the server accepts all {len(accepted)} object(s); nothing was created")
        return 0

    if building:
        import docker

        from cockpit.launch.image import build_image

        try:
            engine = docker.from_env()
        except docker.errors.DockerException as e:
            raise ImageError(f"cannot reach the Docker engine (DOCKER_HOST): {e}") from None
        repository = args.repository or _repository(namespace, args.from_dir)

        def progress(layer: str, current: int, total: int) -> None:
            if current >= total:
                _say(f"  {layer}: {total} bytes pushed", file=sys.stderr)

        built = build_image(engine, args.from_dir, base, args.requirements, args.registry, repository,
                            on_output=lambda line: _say(f"  {line}", file=sys.stderr), on_progress=progress)
        _say(f"image {built.reference}" + ("" if built.pushed else " (unchanged; not pushed again)"))
        values["image"] = built.reference
        final = plan(preset, values, namespace, api, queue=args.queue)
    else:
        final = first

    _CREATING.set()
    try:
        result = create(final, cancel=_CANCEL)
    finally:
        _CREATING.clear()
    _launch_done()
    for line in result.lines():
        _say(line)
    for note in final.notes:
        _say(f"note: {note}")
    if not args.wait:
        return 0
    target = result.workload
    if target is None:
        return 0
    try:
        outcome = follow(result, on_status=lambda line: _say(line, file=sys.stderr), timeout=args.timeout)
    except KeyboardInterrupt:
        _say(f"stopped following; {target.ref} keeps running", file=sys.stderr)
        return 130
    if outcome.ok:
        _say(f"{target.ref}: {outcome.state}")
        return 0
    _err(f"{target.ref}: {outcome.state}: {outcome.message}")
    return 1
