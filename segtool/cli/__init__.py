"""The ``segtool`` command: the GUI by default, subcommands for headless work.

``segtool`` / ``segtool FOLDER`` / ``segtool PROJECT.segtool`` open the window; every other first
word is a subcommand. Each group of subcommands lives in its own module of this package and offers
``register(subparsers)``; handlers receive the parsed ``argparse.Namespace`` and return an exit code.
A :class:`SegtoolError` is printed as one line on stderr with exit code 1, never as a traceback; so
are the errors no check anticipated: an ``OSError`` (with its file), ``MemoryError``, and any other
exception as "internal error" (``SEGTOOL_DEBUG=1`` shows its traceback; please report it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from segtool import __version__
from segtool.core.atomic import os_error_message
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


def one_line(text: object) -> str:
    """``text`` on one line: line breaks become ``"; "`` (an error is one line on stderr)."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip()) or repr(text)


def _fail(message: str) -> int:
    print(f"segtool: {one_line(message)}", file=sys.stderr)
    return 1


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
        return _fail(f"error: {exc}")
    except KeyboardInterrupt:
        print("segtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `segtool info | head`: the reader left
        return 1
    except OSError as exc:
        return _fail(f"error: {os_error_message(exc, exc.filename or 'a file', 'use')}")
    except MemoryError:
        return _fail("error: out of memory; close other programs or work on smaller images")
    except Exception as exc:  # noqa: BLE001 - the last guard: a bug, still one line
        if os.environ.get("SEGTOOL_DEBUG"):
            raise
        return _fail(f"internal error ({type(exc).__name__}: {str(exc)[:300]}); please report it with the "
                     "command that caused it (SEGTOOL_DEBUG=1 shows the traceback)")


def gui_main() -> int:
    """Entry point of the ``segtool-gui`` script (no console on Windows)."""
    return main(sys.argv[1:2])
