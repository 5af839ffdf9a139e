"""Brush and eraser on the selected instance's mask. One stroke = one undo step (a single commit at release).

With no instance selected the brush paints a new instance (of the current class); the eraser needs one.
Radius: ``session.options.brush_radius`` (image pixels), changed with ``[`` and ``]``.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from segtool.gui.canvas.tools.base import Tool


def rasterize_stroke(points: list[tuple[float, float]], radius: int, shape: tuple[int, int]) -> np.ndarray:
    """Bool ``(H, W)`` mask of a round brush of ``radius`` pixels dragged through ``(x, y)`` ``points``."""
    out = np.zeros(shape, np.uint8)
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    if len(pts) == 1:
        cv2.circle(out, tuple(int(v) for v in pts[0, 0]), int(radius), 1, thickness=-1)
    else:
        cv2.polylines(out, [pts], False, 1, thickness=max(1, 2 * int(radius)), lineType=cv2.LINE_8)
        for p in (pts[0, 0], pts[-1, 0]):
            cv2.circle(out, (int(p[0]), int(p[1])), int(radius), 1, thickness=-1)
    return out.astype(bool)


class BrushTool(Tool):
    """Paint (left) onto the selected mask; right/Shift-drag erases with the brush tool too."""

    name = "brush"
    source = "brush"
    erase = False
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self._points: list[tuple[float, float]] = []
        self._erasing = False
        self._item: QGraphicsPathItem | None = None

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button):
            return False
        self._erasing = self.erase or button == Qt.MouseButton.RightButton or bool(
            modifiers & Qt.KeyboardModifier.ShiftModifier)
        if self._erasing and self._target() is None:
            self.canvas.status_message.emit(QCoreApplication.translate("Tool", "eraser: select an instance first"))
            return True
        self._points = [(pos.x(), pos.y())]
        r = self.session.options.brush_radius
        pen = QPen(QColor(255, 80, 80, 140) if self._erasing else QColor(80, 200, 255, 140), 2 * r,
                   Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        self._item = self.add_mark(QGraphicsPathItem())
        self._item.setPen(pen)
        self._redraw()
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._points:
            return False
        self._points.append((pos.x(), pos.y()))
        self._redraw()
        return True

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._points:
            return False
        points, self._points = self._points, []
        self.clear_marks()
        self._commit(points)
        return True

    def _target(self) -> int | None:
        ids = self.session.selected_ids
        return ids[0] if ids and self.session.instance(ids[0]) is not None else None

    def _commit(self, points: list[tuple[float, float]]) -> None:
        h, w = self.canvas.image_size()
        r = self.session.options.brush_radius
        pts = np.asarray(points, np.float64)
        x0, y0 = (max(0, int(np.floor(v)) - r - 1) for v in pts.min(axis=0))
        x1, y1 = (int(np.ceil(v)) + r + 2 for v in pts.max(axis=0))
        x1, y1 = min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            return
        patch = rasterize_stroke([(x - x0, y - y0) for x, y in points], r, (y1 - y0, x1 - x0))
        target = self._target()
        if target is None:
            full = np.zeros((h, w), bool)
            full[y0:y1, x0:x1] = patch
            iid = self.session.commit_new(full, self.source)
        else:
            self.session.commit_paint(target, patch, (x0, y0, x1, y1), erase=self._erasing)
            iid = target
        if iid is not None:
            self.canvas.mask_committed.emit(iid)

    def _redraw(self) -> None:
        path = QPainterPath(QPointF(*self._points[0]))
        for x, y in self._points[1:]:
            path.lineTo(x, y)
        if len(self._points) == 1:
            path.lineTo(self._points[0][0] + 0.01, self._points[0][1])
        if self._item is not None:
            self._item.setPath(path)


class EraserTool(BrushTool):
    """Erase from the selected mask."""

    name = "eraser"
    erase = True
