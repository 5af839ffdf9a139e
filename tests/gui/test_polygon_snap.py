"""Polygon edge snapping runs in the interactive pool (not on the GUI thread) and pulls the edges onto the
object's boundary: the committed mask fits the object better than the straight polygon of the same clicks."""

from __future__ import annotations

import threading

import numpy as np
from canvas_helpers import click, scene_image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segtool.core.masks import mask_iou
from segtool.engines import edge_snap
from segtool.gui.canvas.tools.polygon import polygon_mask


def test_snapped_polygon_runs_off_the_gui_thread_and_fits_the_object(qtbot, canvas, monkeypatch):
    threads: list[int] = []
    real = edge_snap.snap_path

    def spy(*args, **kwargs):
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(edge_snap, "snap_path", spy)
    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.session.options.snap_edges = True
    canvas.set_tool("polygon")
    tool = canvas.tool()
    h, w = ellipse.shape
    cx, cy, ax, ay, angle = w * 0.33, h * 0.5, w * 0.16, h * 0.22, np.deg2rad(20)
    vertices = []
    for t in np.linspace(0, 2 * np.pi, 7, endpoint=False):  # 7 clicks on the boundary
        ex, ey = ax * np.cos(t), ay * np.sin(t)
        x = cx + ex * np.cos(angle) - ey * np.sin(angle)
        y = cy + ex * np.sin(angle) + ey * np.cos(angle)
        vertices.append((round(x), round(y)))
        click(canvas, *vertices[-1])
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(canvas.session.instances()) == 1, timeout=30000)
    (inst,) = canvas.session.instances()
    straight = polygon_mask(np.asarray(vertices, float), (h, w))
    snapped_iou, straight_iou = mask_iou(inst.mask(), ellipse), mask_iou(straight, ellipse)
    assert tool.snapped == 7  # every edge, the closing one included, was snapped
    assert threads and threading.get_ident() not in threads  # never on the GUI thread
    assert snapped_iou >= 0.93 and snapped_iou > straight_iou + 0.02, (snapped_iou, straight_iou)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step
    assert canvas.session.instances() == []


def test_escape_while_snapping_discards_the_polygon(qtbot, canvas):
    rgb, _, square = scene_image()
    canvas.show_image(1, rgb)
    canvas.session.options.snap_edges = True
    canvas.set_tool("polygon")
    for x, y in [(100, 100), (200, 100), (200, 200)]:
        click(canvas, x, y)
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    canvas.session.pools.interactive.wait(10000)
    qtbot.wait(100)
    assert canvas.session.instances() == [] and canvas.tool().vertices == []
