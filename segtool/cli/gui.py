"""``segtool [FOLDER|PROJECT]`` and ``segtool demo``: the window. (Placeholder until the GUI lands.)"""

from __future__ import annotations

import argparse

from segtool.core.errors import SegtoolError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="open a folder of generated sample images")
    p.add_argument("--screenshot", default=None, help="render the window to this PNG and exit")
    p.set_defaults(func=lambda args: open_gui(None))


def open_gui(path: str | None) -> int:
    raise SegtoolError("the annotation window is not built yet")
