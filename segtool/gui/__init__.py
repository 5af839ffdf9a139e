"""The PySide6 user interface: a thin layer that wires widgets to core commands and engine workers.

PySide6 6.12.0 on CPython < 3.12 drops a reference to ``None`` on every void Qt call (and to
``True`` on ``Signal.emit()``), which aborts the interpreter after some ten thousand calls;
``pyproject.toml`` therefore requires PySide6 < 6.12, and ``tests/gui/test_canvas.py`` checks that
many Qt calls leave those reference counts alone.
"""
