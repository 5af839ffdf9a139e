"""``segtool [FOLDER|PROJECT.segtool]`` and ``segtool demo [--screenshot FILE]``: the annotation window.

Qt is imported only when a window is actually opened, so headless subcommands stay fast.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segtool demo``."""
    p = sub.add_parser("demo", help="open a folder of generated sample images (made once, in the user data folder)")
    p.add_argument("--screenshot", default=None, metavar="FILE",
                   help="render the window with an annotated sample to this PNG and exit (works offscreen)")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from segtool.gui.app import run_gui

    return run_gui(None, demo=True, screenshot=args.screenshot)


def open_gui(path: str | None) -> int:
    """Open the window, on ``path`` (an image folder or a ``.segtool`` file) when given."""
    from segtool.gui.app import run_gui

    return run_gui(path)
