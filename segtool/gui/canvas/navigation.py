"""Zoom and pan of the annotation canvas (a mixin of :class:`~segtool.gui.canvas.view.AnnotationCanvas`).

"Fit" shows the whole image and stays in force while the view resizes, until the user zooms; every
change of scale is announced with ``zoom_changed`` (screen pixels per image pixel).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent


class ZoomPanMixin:
    """Needs a ``QGraphicsView`` with ``image_size()``, ``zoom_changed`` and ``_placeholder``."""

    _fit_mode = True

    def fit_to_window(self) -> None:
        """Show the whole image, centred; it stays fitted while the view resizes, until the user zooms."""
        h, w = self.image_size()
        self._fit_mode = True
        if h and w:
            self.resetTransform()
            self.fitInView(QRectF(0, 0, w, h), Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.zoom())

    def is_fitted(self) -> bool:
        """True while the view follows the window size (after F / fit, until a zoom)."""
        return self._fit_mode

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under viewport position ``anchor`` fixed."""
        self._fit_mode = False
        factor = max(1e-3 / self.zoom(), min(factor, 64.0 / self.zoom()))
        at = (anchor or QPointF(self.viewport().rect().center())).toPoint()
        before = self.mapToScene(at)
        self.scale(factor, factor)
        after = self.mapToScene(at)
        center = self.mapToScene(self.viewport().rect().center())
        self.centerOn(center - (after - before))
        self.zoom_changed.emit(self.zoom())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._fit_mode and self._placeholder is None:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position())
        event.accept()

    def _pan_by(self, delta: QPoint) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
