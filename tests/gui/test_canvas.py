"""The canvas view: huge images via tiles, overlays on screen, hover, zoom to cursor, pan, selection."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click, scene_image, view_point
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def _screen_rgb(canvas, pos: QPoint) -> tuple[int, int, int]:
    color = canvas.viewport().grab().toImage().pixelColor(pos)
    return color.red(), color.green(), color.blue()


def _blocks(h: int, w: int, block: int = 250) -> np.ndarray:
    """RGB uint8 image of flat blocks whose colour encodes their position."""
    by = np.arange(h) // block
    bx = np.arange(w) // block
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[..., 0] = (bx[None, :] * 7) % 256
    rgb[..., 1] = (by[:, None] * 11) % 256
    rgb[..., 2] = 128
    return rgb


def test_40_megapixel_image_shows_preview_then_full_resolution_tiles(qtbot, canvas):
    h, w = 5000, 8000  # 40 MP
    rgb = _blocks(h, w)
    canvas.show_image(7, rgb)
    item = canvas.image_item()
    assert item.image_size() == (h, w) and item.tile_count() == 0  # only the preview was made
    centre = canvas.viewport().rect().center()
    at = canvas.mapToScene(centre)
    assert _screen_rgb(canvas, centre) == tuple(int(v) for v in rgb[int(at.y()), int(at.x())])
    # zoom to 1:1 on a point: full-resolution tiles are made lazily, only around that point
    target = view_point(canvas, 6130, 3870)
    canvas.zoom_by(1.0 / canvas.zoom(), QPointF(target))
    assert canvas.zoom() == pytest.approx(1.0)
    shown = _screen_rgb(canvas, target)
    assert 0 < item.tile_count() <= 12
    assert shown == tuple(int(v) for v in rgb[3870, 6130])


def test_zoom_with_wheel_keeps_the_point_under_the_cursor(qtbot, canvas):
    rgb, _, _ = scene_image()
    canvas.show_image(1, rgb)
    pos = QPointF(300, 200)
    before = canvas.mapToScene(pos.toPoint())
    zoom = canvas.zoom()
    event = QWheelEvent(pos, canvas.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom() > zoom * 1.3
    after = canvas.mapToScene(pos.toPoint())
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_F)
    assert canvas.zoom() == pytest.approx(zoom)


def test_middle_button_drag_pans(qtbot, canvas):
    rgb, _, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.zoom_by(4.0)
    vp = canvas.viewport()
    start = canvas.mapToScene(QPoint(400, 300))
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 300))
    QTest.mouseMove(vp, QPoint(300, 250))
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 250))
    moved = canvas.mapToScene(QPoint(400, 300)) - start
    assert moved.x() == pytest.approx(100 / canvas.zoom(), abs=1) and moved.y() == pytest.approx(50 / canvas.zoom(), abs=1)


def test_space_drag_pans_even_with_an_editing_tool(qtbot, canvas):
    rgb, _, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.zoom_by(4.0)
    canvas.set_tool("brush")
    vp = canvas.viewport()
    start = canvas.mapToScene(QPoint(400, 300))
    QTest.keyPress(vp, Qt.Key.Key_Space)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(400, 300))
    QTest.mouseMove(vp, QPoint(450, 340))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(450, 340))
    QTest.keyRelease(vp, Qt.Key.Key_Space)
    moved = canvas.mapToScene(QPoint(400, 300)) - start
    assert moved.x() == pytest.approx(-50 / canvas.zoom(), abs=1) and moved.y() == pytest.approx(-40 / canvas.zoom(), abs=1)
    assert canvas.session.instances() == []  # nothing was painted


def test_200_overlays_are_drawn_and_hover_highlights_the_one_under_the_cursor(qtbot, canvas):
    rgb = np.full((600, 800, 3), 30, np.uint8)
    canvas.show_image(1, rgb)
    ids = []
    with canvas.session.macro("grid"):
        for r in range(10):
            for c in range(20):
                m = np.zeros((600, 800), bool)
                m[r * 60 + 5:r * 60 + 55, c * 40 + 5:c * 40 + 35] = True
                ids.append(canvas.session.commit_new(m, "brush"))
    assert sorted(canvas.overlay_items()) == sorted(ids) and len(ids) == 200
    canvas.set_view(show_labels=False)  # the name tags would cover the gaps between these small masks
    inside, outside = view_point(canvas, 20 + 40 * 3, 30 + 60 * 4), view_point(canvas, 40 * 3, 60 * 4)
    assert _screen_rgb(canvas, inside) != (30, 30, 30)  # the fill is on screen
    assert _screen_rgb(canvas, outside) == (30, 30, 30)
    with qtbot.waitSignal(canvas.instance_hovered, timeout=2000) as blocker:
        QTest.mouseMove(canvas.viewport(), inside)
    hovered = blocker.args[0]
    assert hovered == ids[4 * 20 + 3] and canvas.overlay_items()[hovered].highlighted
    canvas.set_tool("pan")
    click(canvas, 20 + 40 * 3, 30 + 60 * 4)
    assert canvas.session.selected_ids == [hovered] and canvas.overlay_items()[hovered].selected
    assert canvas.session.undo()  # the 200 adds were one macro: one undo removes them all
    assert canvas.overlay_items() == {}


def test_many_qt_calls_do_not_exhaust_none_or_true(qtbot, canvas):
    """PySide6 6.12.0 on Python 3.11 drops a reference to None per void call and to True per emit(),
    which aborts the interpreter after ~10^4 calls; pyproject.toml pins PySide6 < 6.12. Here the
    reference counts of the singletons must not fall over 20,000 calls."""
    import sys

    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True))}
    for _ in range(20000):
        canvas.viewport().update()
        canvas.candidate_changed.emit()
    after = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True))}
    for name in before:
        assert after[name] >= before[name] - 100, f"{name} lost {before[name] - after[name]} references"
