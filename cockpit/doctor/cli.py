"""`cockpit doctor [--json] [--context CTX] [--kubeconfig PATH] [-n NS]`.

Exit status: 0 when every check passes (warnings allowed), 1 when one failed, 2 when the
cluster cannot be reached (the message names the context and the kubeconfig file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_UNREACHABLE = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cockpit doctor",
                                description="Check whether the current context is ready for GPU experiments "
                                            "(reads only; sends no change to the cluster).")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("-n", "--namespace", help="namespace whose access is checked (default: the context's)")
    return p


def doctor_main(argv: list[str] | None = None) -> int:
    from cockpit.config import load_settings
    from cockpit.doctor.report import print_json, print_text
    from cockpit.doctor.runner import Unreachable, exit_code, run_doctor
    from cockpit.kube.connection import Kubeconfig

    args = build_parser().parse_args(argv)
    kubeconfig = Kubeconfig.load(args.kubeconfig)
    context = args.context or kubeconfig.current
    if not context or context not in kubeconfig.contexts:
        problem = kubeconfig.problems[0] if kubeconfig.problems and not args.context else None
        why = str(problem) if problem else (
            f"no context named {args.context!r} in {kubeconfig.path_string or 'any kubeconfig'}" if args.context
            else "no kubeconfig context to check")
        print(f"error: {why}", file=sys.stderr)
        return EXIT_UNREACHABLE
    settings, problems = load_settings()
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    try:
        report = run_doctor(kubeconfig, context, args.namespace, settings=settings)
    except Unreachable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 130
    if args.json:
        print_json(report, sys.stdout)
    else:
        print_text(report)
    return exit_code(report)
