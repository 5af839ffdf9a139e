"""``segtool [FOLDER|PROJECT.segtool]`` and ``segtool demo [--screenshot FILE]``: the annotation window.

Qt is imported only when a window is actually opened, so headless subcommands stay fast.
"""

from __future__ import annotations

import argparse
import os

from segtool.core.errors import SegtoolError

_NO_DISPLAY = ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): run it in a "
               "desktop session, or under `xvfb-run segtool ...`; headless work needs no window (`segtool "
               "--help`), and `segtool doctor` diagnoses Qt")


def _check_display(*, offscreen_ok: bool) -> None:
    """Before Qt is imported: fail with one clear line instead of Qt aborting the process.

    On Linux with no X11/Wayland display and no explicit ``QT_QPA_PLATFORM``, a window cannot open.
    Rendering to a file (``offscreen_ok``) switches to Qt's offscreen platform instead. Where Qt would
    use its xcb plugin and a library it needs is missing, the line names it and the apt command.
    """
    from segtool.services.diagnostics import has_display, missing_xcb_libraries, xcb_failure

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform and not has_display():
        if offscreen_ok:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
            return
        raise SegtoolError(_NO_DISPLAY)
    if platform in ("", "xcb") and not os.environ.get("WAYLAND_DISPLAY"):
        missing = missing_xcb_libraries()
        if missing:
            raise SegtoolError(xcb_failure(missing))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segtool demo``."""
    p = sub.add_parser("demo", help="open a folder of generated sample images (made once, in the user data folder)")
    p.add_argument("--screenshot", default=None, metavar="FILE",
                   help="render the window with an annotated sample to this PNG and exit (works offscreen)")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    _check_display(offscreen_ok=args.screenshot is not None)
    from segtool.gui.app import run_gui

    return run_gui(None, demo=True, screenshot=args.screenshot)


def open_gui(path: str | None) -> int:
    """Open the window, on ``path`` (an image folder or a ``.segtool`` file) when given."""
    _check_display(offscreen_ok=False)
    from segtool.gui.app import run_gui

    return run_gui(path)
