"""The ``segtool`` command: the GUI by default, subcommands for headless work.

``segtool`` / ``segtool FOLDER`` / ``segtool PROJECT.segtool`` open the window; every other first
word is a subcommand. Each group of subcommands lives in its own module of this package and offers
``register(subparsers)``; handlers receive the parsed ``argparse.Namespace`` and return an exit code.
A :class:`SegtoolError` is printed as one line on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from segtool import __version__
from segtool.core.errors import SegtoolError

#: Modules of this package that add subcommands, in the order shown by ``--help``.
COMMAND_MODULES = ("project", "gui", "models", "formats", "propose", "bench", "doctor")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (imports only the light CLI modules, no engines or Qt)."""
    parser = argparse.ArgumentParser(
        prog="segtool",
        description="Annotate images with segmentation masks. Without a subcommand, opens the window "
        "(optionally on FOLDER or PROJECT.segtool).",
    )
    parser.add_argument("--version", action="version", version=f"segtool {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"segtool.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"segtool.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _is_gui_invocation(argv: Sequence[str], parser: argparse.ArgumentParser) -> bool:
    if not argv:
        return True
    first = argv[0]
    if first.startswith("-"):
        return False
    choices = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return first not in choices


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segtool`` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if _is_gui_invocation(argv, parser):
            from segtool.cli.gui import open_gui

            return open_gui(argv[0] if argv else None)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except SegtoolError as exc:
        print(f"segtool: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("segtool: interrupted", file=sys.stderr)
        return 130


def gui_main() -> int:
    """Entry point of the ``segtool-gui`` script (no console on Windows)."""
    return main(sys.argv[1:2])
