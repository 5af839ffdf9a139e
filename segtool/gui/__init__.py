"""segtool.gui

PySide6 6.12 on CPython < 3.12 returns ``None`` from every void Qt call (``update()``, ``resize()``,
``processEvents()`` ...) and ``True`` from ``Signal.emit()`` without a new reference, so each call lowers
that singleton's reference count by one; after some ten thousand calls CPython aborts with
"none_dealloc: deallocating None" (or "bool_dealloc"). CPython >= 3.12 makes these singletons immortal,
which hides the bug there. Until a fixed PySide6 is used, :func:`_keep_none_alive` gives ``None``,
``True`` and ``False`` a reference count they can never exhaust (2**40) before any Qt call is made.
"""

from __future__ import annotations

import sys


def _keep_none_alive() -> None:
    """Add 2**40 to the reference counts of None, True and False on CPython < 3.12 (no-op elsewhere)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    import ctypes

    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40


_keep_none_alive()
