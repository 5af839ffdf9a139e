"""``segtool doctor``: versions, Qt platform plugin, GPU use, models, cache -- for bug reports."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="diagnose the installation: versions, Qt, GPU/CUDA, models, cache")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from segtool.services.diagnostics import format_report, gather

    report = gather()
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(report))
    return 0
