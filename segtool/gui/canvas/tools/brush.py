"""Brush and eraser on the selected instance's mask. One stroke = one undo step (a single commit at release).

With no instance selected the brush paints a new instance (of the current class, picked first when none
was picked on this image); the eraser needs one. Radius: ``session.options.brush_radius`` (image pixels),
changed with ``[`` and ``]`` or in the Tool options dock. A circle of the true radius follows the mouse,
at every zoom: it covers exactly the pixels a click would paint.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem

from segtool.gui.canvas.tools.base import Tool


def rasterize_stroke(points: list[tuple[float, float]], radius: int, shape: tuple[int, int]) -> np.ndarray:
    """Bool ``(H, W)`` mask of a round brush of ``radius`` pixels dragged through ``(x, y)`` ``points``
    (pixel indices: the disk of a point ``(x, y)`` holds every pixel within ``radius`` of pixel ``(x, y)``)."""
    out = np.zeros(shape, np.uint8)
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    if len(pts) == 1:
        cv2.circle(out, tuple(int(v) for v in pts[0, 0]), int(radius), 1, thickness=-1)
    else:
        cv2.polylines(out, [pts], False, 1, thickness=max(1, 2 * int(radius)), lineType=cv2.LINE_8)
        for p in (pts[0, 0], pts[-1, 0]):
            cv2.circle(out, (int(p[0]), int(p[1])), int(radius), 1, thickness=-1)
    return out.astype(bool)


def pixel_under(pos: QPointF) -> tuple[int, int]:
    """``(x, y)`` index of the image pixel under scene point ``pos`` (pixel ``i`` spans ``[i, i + 1)``)."""
    return int(np.floor(pos.x())), int(np.floor(pos.y()))


class BrushTool(Tool):
    """Paint (left) onto the selected mask; right/Shift-drag erases with the brush tool too."""

    name = "brush"
    source = "brush"
    erase = False
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self._points: list[tuple[int, int]] = []
        self._erasing = False
        self._item: QGraphicsPathItem | None = None
        self._circle: QGraphicsEllipseItem | None = None
        self._at: tuple[int, int] | None = None
        self._waiting = False  # a stroke waits for the class picker

    def activate(self) -> None:
        self.session.options_changed.connect(self._on_session_options_changed)

    def deactivate(self) -> None:
        try:
            self.session.options_changed.disconnect(self._on_session_options_changed)
        except (RuntimeError, TypeError):
            pass
        self._circle, self._points, self._item = None, [], None
        super().deactivate()

    # ------------------------------------------------------------- cursor
    def circle(self) -> QGraphicsEllipseItem | None:
        """The brush outline following the mouse (``None`` while the mouse is off the image)."""
        return self._circle

    def _show_circle(self, at: tuple[int, int] | None) -> None:
        self._at = at
        if at is None:
            if self._circle is not None:
                self._circle.hide()
            return
        if self._circle is None:
            self._circle = QGraphicsEllipseItem()
            pen = QPen(QColor(255, 255, 255), 1.0)
            pen.setCosmetic(True)
            pen.setDashPattern([3.0, 3.0])
            self._circle.setPen(pen)
            halo = QGraphicsEllipseItem(self._circle)  # the dark tone under the light dashes
            dark = QPen(QColor(0, 0, 0), 3.0)
            dark.setCosmetic(True)
            halo.setPen(dark)
            halo.setFlag(QGraphicsEllipseItem.GraphicsItemFlag.ItemStacksBehindParent, True)
            self.add_mark(self._circle)
        r = self.session.options.brush_radius + 0.5  # the disk of radius r spans r + 1/2 around the centre
        rect = QRectF(at[0] + 0.5 - r, at[1] + 0.5 - r, 2 * r, 2 * r)
        self._circle.setRect(rect)
        for child in self._circle.childItems():
            child.setRect(rect)
        self._circle.show()

    def _on_session_options_changed(self, name: str) -> None:
        if name == "brush_radius" and self._at is not None:
            self._show_circle(self._at)

    def leave(self) -> None:
        self._show_circle(None)

    # -------------------------------------------------------------- mouse
    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button) or self._waiting:
            return self._waiting
        self._erasing = self.erase or button == Qt.MouseButton.RightButton or bool(
            modifiers & Qt.KeyboardModifier.ShiftModifier)
        if self._erasing and self._target() is None:
            self.canvas.status_message.emit(QCoreApplication.translate("Tool", "eraser: select an instance first"))
            return True
        self._points = [pixel_under(pos)]
        r = self.session.options.brush_radius
        pen = QPen(QColor(255, 80, 80, 140) if self._erasing else QColor(80, 200, 255, 140), 2 * r + 1,
                   Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        self._item = self.add_mark(QGraphicsPathItem())
        self._item.setPen(pen)
        self._redraw()
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        self._show_circle(pixel_under(pos) if self.inside(pos) else None)
        if not self._points:
            return False
        self._points.append(pixel_under(pos))
        self._redraw()
        return True

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._points:
            return False
        points, self._points = self._points, []
        self._commit(points)
        return True

    def _target(self) -> int | None:
        ids = self.session.selected_ids
        return ids[0] if ids and self.session.instance(ids[0]) is not None else None

    def _drop_stroke(self) -> None:
        if self._item is not None and self._item.scene() is not None:
            self._item.scene().removeItem(self._item)
            self._items.remove(self._item)
        self._item, self._waiting = None, False

    def _commit(self, points: list[tuple[int, int]]) -> None:
        h, w = self.canvas.image_size()
        r = self.session.options.brush_radius
        pts = np.asarray(points, np.int64)
        x0, y0 = (max(0, int(v) - r - 1) for v in pts.min(axis=0))
        x1, y1 = (min(limit, int(v) + r + 2) for v, limit in zip(pts.max(axis=0), (w, h), strict=True))
        if x1 <= x0 or y1 <= y0:
            self._drop_stroke()
            return
        patch = rasterize_stroke([(x - x0, y - y0) for x, y in points], r, (y1 - y0, x1 - x0))
        target = self._target()
        if target is not None:
            self._drop_stroke()
            self.session.commit_paint(target, patch, (x0, y0, x1, y1), erase=self._erasing)
            self.canvas.mask_committed.emit(target)
            return

        def commit_new() -> int | None:
            self._drop_stroke()
            full = np.zeros((h, w), bool)
            full[y0:y1, x0:x1] = patch
            iid = self.session.commit_new(full, self.source)
            if iid is not None:
                self.canvas.mask_committed.emit(iid)
            return iid

        self._waiting = True
        self.canvas.with_class(commit_new, self._drop_stroke)

    def _redraw(self) -> None:
        path = QPainterPath(QPointF(self._points[0][0] + 0.5, self._points[0][1] + 0.5))
        for x, y in self._points[1:]:
            path.lineTo(x + 0.5, y + 0.5)
        if len(self._points) == 1:
            path.lineTo(self._points[0][0] + 0.51, self._points[0][1] + 0.5)
        if self._item is not None:
            self._item.setPath(path)


class EraserTool(BrushTool):
    """Erase from the selected mask."""

    name = "eraser"
    erase = True
