"""Fixtures shared by the GUI tests (Qt runs offscreen, see tests/conftest.py)."""

from __future__ import annotations

import pytest

from segtool.gui.canvas.view import AnnotationCanvas


@pytest.fixture
def canvas(qtbot):
    """A bare 800x600 canvas with its own editor session, shown and exposed."""
    view = AnnotationCanvas()
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.session.shutdown()
