"""Polygon tool: click vertices; Enter, or a click on the first vertex, closes and commits; Esc discards.

With ``session.options.snap_edges`` each edge follows strong image edges between its two vertices
(intelligent scissors, :func:`segtool.engines.edge_snap.snap_path`); otherwise edges are straight.
Snapping runs in the interactive pool, never on the GUI thread: a new edge shows straight at once and
is replaced by its snapped path when that arrives (one job snaps every edge still waiting, so the
latest-request-wins queue never loses one); closing waits for the pending edges.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from segtool.gui.canvas.tools.base import Tool
from segtool.gui.workers import JobResult


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
        self._pending: set[int] = set()  # indices of segments waiting for their snapped path
        self._closing = False
        self._epoch = 0  # bumped on deactivate: snaps for a discarded polygon are dropped
        #: snapped segments received (tests, status)
        self.snapped = 0

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if button != Qt.MouseButton.LeftButton or not self.inside(pos):
            return False
        if self._closing:
            return True
        if len(self.vertices) >= 3 and self._near_first(pos):
            self.close()
            return True
        if self.vertices:
            self._add_segment(self.vertices[-1], (pos.x(), pos.y()))
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
            if not self._closing:
                self.close()
            return True
        if key == Qt.Key.Key_Escape and self.vertices:
            self.deactivate()
            return True
        if key == Qt.Key.Key_Backspace and self.vertices:
            return self.step_back()
        return False

    def close(self) -> int | None:
        """Close the polygon and commit it as a new instance; returns its id, or ``None`` when the edges
        are still being snapped or a class is being picked (the commit then follows)."""
        self._add_segment(self.vertices[-1], self.vertices[0])
        self._closing = True
        return self._finish_close() if not self._pending else None

    def _finish_close(self) -> int | None:
        outline = np.vstack(self._segments)
        mask = polygon_mask(outline, self.canvas.image_size())
        epoch = self._epoch

        def commit() -> int | None:
            if epoch != self._epoch:
                return None
            self.deactivate()
            iid = self.session.commit_new(mask, self.source)
            if iid is not None:
                self.canvas.mask_committed.emit(iid)
            return iid

        def reopen() -> None:  # no class picked: the polygon stays open for more vertices or Enter
            if epoch == self._epoch and self._closing:
                self._closing = False
                self._segments.pop()
                self._pending.discard(len(self._segments))
                self._redraw()

        return self.canvas.with_class(commit, reopen)

    def has_pending(self) -> bool:
        return bool(self.vertices)

    def step_back(self) -> bool:
        if not self.vertices or self._closing:
            return bool(self.vertices)
        self.vertices.pop()
        if self._segments:
            self._segments.pop()
            self._pending.discard(len(self._segments))
        if not self.vertices:
            self.deactivate()
        else:
            self._redraw()
        return True

    def suspend(self) -> tuple[list, list] | None:
        if not self.vertices or self._closing:
            return None
        return list(self.vertices), [s.copy() for s in self._segments]

    def resume(self, state: tuple[list, list]) -> None:
        self.deactivate()
        self.vertices, self._segments = list(state[0]), list(state[1])
        self._redraw()

    def deactivate(self) -> None:
        self.vertices, self._segments, self._hover, self._item = [], [], None, None
        self._pending, self._closing = set(), False
        self._epoch += 1
        super().deactivate()

    def _near_first(self, pos: QPointF) -> bool:
        x, y = self.vertices[0]
        return float(np.hypot(pos.x() - x, pos.y() - y)) * self.canvas.zoom() <= self.close_distance_px

    def _add_segment(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        """Append the edge a -> b: straight now; snapped in the interactive pool when snapping is on."""
        self._segments.append(np.asarray([a, b], np.float64))
        if self.session.options.snap_edges and self.session.image is not None:
            self._pending.add(len(self._segments) - 1)
            self._request_snaps()

    def _request_snaps(self) -> None:
        from segtool.engines.edge_snap import snap_path

        image, epoch = self.session.image, self._epoch
        work = [(i, tuple(self._segments[i][0]), tuple(self._segments[i][-1])) for i in sorted(self._pending)]

        def job(_control: object) -> list[tuple[int, tuple, tuple, np.ndarray | None]]:
            out = []
            for i, a, b in work:
                try:
                    out.append((i, a, b, np.asarray(snap_path(image, a, b), np.float64).reshape(-1, 2)))
                except Exception:  # noqa: BLE001 - snapping is a help, never a blocker: keep it straight
                    out.append((i, a, b, None))
            return out

        def done(result: JobResult) -> None:
            if epoch != self._epoch or result.generation != self.session.generation:
                return  # the polygon was discarded, or the image changed
            self._on_snapped(result.value or [], result.error)

        self.session.pools.interactive.request("edge-snap", self.session.image_id, self.session.generation,
                                               job, done)

    def _on_snapped(self, paths: list, error: str | None) -> None:
        if error:
            self.canvas.status_message.emit(self.canvas.tr("edge snapping unavailable: {0}").format(error))
        for i, a, b, path in paths:
            if i in self._pending and i < len(self._segments) and tuple(self._segments[i][0]) == a \
                    and tuple(self._segments[i][-1]) == b:
                self._pending.discard(i)
                if path is not None and len(path):
                    self._segments[i] = path
                    self.snapped += 1
        if self._pending:  # edges added while this job ran
            self._request_snaps()
        elif self._closing:
            self._finish_close()
            return
        self._redraw()

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
