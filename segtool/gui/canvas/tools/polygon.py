"""Polygon tool: click vertices; Enter, or a click on the first vertex, closes and commits; Esc discards.

With ``session.options.snap_edges`` each edge follows strong image edges between its two vertices
(intelligent scissors from :mod:`segtool.engines.edge_snap`); otherwise edges are straight.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from segtool.gui.canvas.tools.base import Tool


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool ``(H, W)`` mask of the polygon with float ``(K, 2)`` ``(x, y)`` vertices (pixel centres)."""
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(points).astype(np.int32).reshape(-1, 1, 2)], 1)
    return out.astype(bool)


class PolygonTool(Tool):
    """Vertices in image pixels; the path between them optionally snapped to edges."""

    name = "polygon"
    source = "polygon"
    cursor = Qt.CursorShape.CrossCursor
    close_distance_px = 8.0

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.vertices: list[tuple[float, float]] = []
        self._segments: list[np.ndarray] = []  # float (K, 2) path from vertex i to i+1
        self._item: QGraphicsPathItem | None = None
        self._hover: tuple[float, float] | None = None

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if button != Qt.MouseButton.LeftButton or not self.inside(pos):
            return False
        if len(self.vertices) >= 3 and self._near_first(pos):
            self.close()
            return True
        if self.vertices:
            self._segments.append(self._segment(self.vertices[-1], (pos.x(), pos.y())))
        self.vertices.append((pos.x(), pos.y()))
        self._redraw()
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.vertices:
            return False
        self._hover = (pos.x(), pos.y())
        self._redraw()
        return True

    def key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and len(self.vertices) >= 3:
            self.close()
            return True
        if key == Qt.Key.Key_Escape and self.vertices:
            self.deactivate()
            return True
        if key == Qt.Key.Key_Backspace and self.vertices:
            self.vertices.pop()
            if self._segments:
                self._segments.pop()
            self._redraw()
            return True
        return False

    def close(self) -> int | None:
        """Close the polygon, commit it as a new instance, return its id."""
        self._segments.append(self._segment(self.vertices[-1], self.vertices[0]))
        outline = np.vstack(self._segments)
        mask = polygon_mask(outline, self.canvas.image_size())
        self.deactivate()
        iid = self.session.commit_new(mask, self.source)
        if iid is not None:
            self.canvas.mask_committed.emit(iid)
        return iid

    def deactivate(self) -> None:
        self.vertices, self._segments, self._hover, self._item = [], [], None, None
        super().deactivate()

    def _near_first(self, pos: QPointF) -> bool:
        x, y = self.vertices[0]
        return float(np.hypot(pos.x() - x, pos.y() - y)) * self.canvas.zoom() <= self.close_distance_px

    def _segment(self, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
        if self.session.options.snap_edges and self.session.image is not None:
            try:
                from segtool.engines.edge_snap import snap_path

                path = np.asarray(snap_path(self.session.image, a, b), np.float64).reshape(-1, 2)
                if len(path):
                    return path
            except Exception as exc:  # edge snapping is a help, never a blocker
                self.canvas.status_message.emit(f"edge snapping unavailable: {exc}")
        return np.asarray([a, b], np.float64)

    def _redraw(self) -> None:
        if self._item is None:
            pen = QPen(QColor(255, 230, 0), 1.5)
            pen.setCosmetic(True)
            self._item = self.add_mark(QGraphicsPathItem())
            self._item.setPen(pen)
        path = QPainterPath()
        if self.vertices:
            pts = np.vstack(self._segments) if self._segments else np.asarray(self.vertices[:1])
            path.moveTo(*pts[0])
            for x, y in pts[1:]:
                path.lineTo(x, y)
            if self._hover is not None:
                path.lineTo(*self._hover)
        self._item.setPath(path)
