"""Command line: `cockpit` opens the UI; `cockpit demo ...` manages the local demo cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from cockpit.demo.cluster import DemoCluster, DemoError

    cluster = DemoCluster()
    try:
        if args.demo_cmd == "up":
            cluster.up(port=args.port, nodes=args.nodes, pods=args.pods)
        elif args.demo_cmd == "down":
            cluster.down()
        elif args.demo_cmd == "status":
            for comp, state in cluster.status():
                print(f"{comp}: {state}")
        elif args.demo_cmd == "env":
            if not cluster.kubeconfig.exists():
                print("error: no demo cluster; run `cockpit demo up` first", file=sys.stderr)
                return 1
            print(f"export KUBECONFIG={cluster.kubeconfig}")
        elif args.demo_cmd == "build":
            from cockpit.demo.cluster import build_binaries

            bins = build_binaries()
            print(f"binaries in {bins.dir / 'bin'}")
    except DemoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _why(args: argparse.Namespace) -> int:
    """One line: what NAMESPACE/NAME is and why it does not run (scheduler, Kueue, storage)."""
    from cockpit.kube.connection import ConnectionProblem, Kubeconfig, make_api_client, network_error_text
    from cockpit.kube.text import clean
    from cockpit.kube.why import explain

    namespace, _, name = args.target.rpartition("/")
    kubeconfig = Kubeconfig.load(args.kubeconfig)
    context = args.context or kubeconfig.current
    namespace = namespace or args.namespace or (kubeconfig.contexts[context].namespace
                                                if context in kubeconfig.contexts else "") or "default"
    unknown = kubeconfig.unknown_context(context) if context else "no kubeconfig context"
    if unknown:
        print(f"error: {clean(unknown, 300)}", file=sys.stderr)
        return 2
    api = make_api_client(kubeconfig, context, read_only=True)  # asking why changes nothing
    if isinstance(api, ConnectionProblem):
        print(f"error: {clean(str(api), 300)}", file=sys.stderr)
        return 1
    try:
        what, why = explain(api, namespace, name)
    except Exception as e:  # the API server's answer or the network, in words
        print(f"error: {clean(network_error_text(e) if not hasattr(e, 'status') else str(e), 300)}", file=sys.stderr)
        return 1
    finally:
        api.close()
    if not what:
        print(f"error: no Job, Workload, pod or PVC named {clean(name, 100)} in namespace {clean(namespace, 63)}",
              file=sys.stderr)
        return 1
    print(f"{what}: {why}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cockpit",
        description="A keyboard-driven terminal cockpit for ML experiments on Kubernetes GPU clusters.",
    )
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to start in")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="namespace to show")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="show all namespaces")
    p.add_argument("--read-only", action="store_true", help="never change anything in the cluster")
    p.add_argument("--theme", help="theme name")
    sub = p.add_subparsers(dest="cmd")

    demo = sub.add_parser("demo", help="the local demo cluster with simulated GPU nodes")
    dsub = demo.add_subparsers(dest="demo_cmd", required=True)
    up = dsub.add_parser("up", help="build what is missing and start the demo cluster")
    up.add_argument("--port", type=int, default=None, help="API server port on 127.0.0.1 (default 38611)")
    up.add_argument("--nodes", type=int, default=0, help="extra simulated 8-GPU nodes (benchmarks)")
    up.add_argument("--pods", type=int, default=0, help="extra running pods spread over them (benchmarks)")
    dsub.add_parser("down", help="stop the demo cluster and remove its state")
    dsub.add_parser("status", help="one line per component, and the audit log path")
    dsub.add_parser("env", help="print the export line for the demo kubeconfig")
    dsub.add_parser("build", help="build the cluster binaries into the cache, start nothing")
    sub.add_parser("presets", help="list, show and validate launch presets (cockpit presets --help)")
    sub.add_parser("launch", help="launch a preset: GPU Job, multi-node DDP, dev box, Argo, Katib "
                                  "(cockpit launch --help)")
    sub.add_parser("doctor", help="is this cluster ready for GPU experiments? (cockpit doctor --help)")
    why = sub.add_parser("why", help="why is NAMESPACE/NAME (a Job, Workload, pod or PVC) not running?")
    why.add_argument("target", metavar="NAMESPACE/NAME", help="e.g. team-nlp/llama-pretrain")
    return p


_GLOBAL_WITH_VALUE = {"--kubeconfig", "--context", "-n", "--namespace", "--theme"}


def _split_subcommand(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """`presets` and `launch` have parsers of their own: find them past the global flags."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("presets", "launch", "doctor"):
            return argv[:i], a, argv[i + 1:]
        i += 2 if a in _GLOBAL_WITH_VALUE else 1
        if not a.startswith("-"):
            break
    return argv, None, []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    before, sub_cmd, rest = _split_subcommand(argv)
    if sub_cmd == "presets":
        from cockpit.launch.cli import presets_main

        return presets_main(rest)
    if sub_cmd == "doctor":
        from cockpit.doctor.cli import doctor_main

        g = build_parser().parse_args(before)  # global flags before `doctor` count too
        forward = ((["--kubeconfig", str(g.kubeconfig)] if g.kubeconfig else [])
                   + (["--context", g.context] if g.context else []) + (["-n", g.namespace] if g.namespace else []))
        return doctor_main(forward + rest)
    if sub_cmd == "launch":
        from cockpit.launch.cli import launch_main

        g = build_parser().parse_args(before)
        forward = ((["--kubeconfig", str(g.kubeconfig)] if g.kubeconfig else [])
                   + (["--context", g.context] if g.context else [])
                   + (["-n", g.namespace] if g.namespace else []) + (["--read-only"] if g.read_only else []))
        return launch_main(forward + rest)  # global flags go before PRESET, never after "--"
    args = build_parser().parse_args(argv)
    if args.cmd == "demo":
        return _demo(args)
    if args.cmd == "why":
        return _why(args)
    # No cyclic garbage collection while the UI's modules load and its first frame is built:
    # what they make lives as long as the app, and the collector's passes over it took some
    # 20 ms of the start. The app turns it back on after that frame (_after_first_frame).
    import gc

    gc.disable()
    from cockpit.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
