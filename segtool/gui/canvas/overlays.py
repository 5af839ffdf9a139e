"""Mask overlays: one cached, bbox-cropped item per instance, and the tool's candidate mask.

Each :class:`MaskOverlayItem` keeps a translucent ARGB ``QImage`` of its bbox crop and a ``QPainterPath``
of its outline (traced once with ``cv2.findContours``), drawn with a cosmetic pen so outlines stay crisp
(one screen pixel and more) at any zoom. Redrawing 200 of them is 200 cached image blits.
Scene coordinates are image pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

BBox = tuple[int, int, int, int]


def mask_outline_path(crop: np.ndarray, x0: int, y0: int) -> QPainterPath:
    """Outline of a bool ``(h, w)`` crop (holes included) as a path in image coordinates.

    Contours run along pixel edges: cv2 traces pixel centres, shifted here by half a pixel outwards is not
    exact, so the path is traced on a 2x upsampled crop and scaled back, which lands on pixel edges.
    """
    up = cv2.resize(crop.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    up = cv2.copyMakeBorder(up, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, _ = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    path = QPainterPath()
    for contour in contours:
        pts = contour.reshape(-1, 2).astype(np.float64)
        pts = (pts - 1 + 0.5) / 2.0  # back to image pixels, on pixel edges
        path.moveTo(QPointF(x0 + pts[0, 0], y0 + pts[0, 1]))
        for x, y in pts[1:]:
            path.lineTo(QPointF(x0 + x, y0 + y))
        path.closeSubpath()
    return path


def mask_fill_image(crop: np.ndarray, color: tuple[int, int, int], alpha: int) -> QImage:
    """ARGB32 premultiplied image of a bool ``(h, w)`` crop filled with ``color`` at ``alpha`` (0..255)."""
    h, w = crop.shape
    a = alpha / 255.0
    bgra = np.zeros((h, w, 4), np.uint8)
    r, g, b = color
    bgra[crop] = (int(b * a), int(g * a), int(r * a), alpha)
    return QImage(bgra.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy()


class MaskOverlayItem(QGraphicsItem):
    """A bool mask crop drawn as translucent fill + outline.

    Parameters
    ----------
    crop : bool ``(h, w)`` mask inside ``bbox``.
    bbox : XYXY (exclusive) box of ``crop`` in image pixels.
    color : ``(r, g, b)``.
    dashed : candidate style (dashed outline, lighter fill).
    """

    def __init__(self, crop: np.ndarray, bbox: BBox, color: tuple[int, int, int], *, dashed: bool = False,
                 alpha: int = 135, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.crop, self.bbox, self.color, self.dashed = crop, bbox, color, dashed
        self._alpha = alpha
        self._fill = mask_fill_image(crop, color, alpha)
        self._path = mask_outline_path(crop, bbox[0], bbox[1])
        self.highlighted = False
        self.selected = False
        self.on_painted: Callable[[float], None] | None = None
        self.setAcceptHoverEvents(False)

    def contains_pixel(self, x: int, y: int) -> bool:
        """True when image pixel ``(x, y)`` is inside the mask."""
        x0, y0, x1, y1 = self.bbox
        return x0 <= x < x1 and y0 <= y < y1 and bool(self.crop[y - y0, x - x0])

    def set_highlighted(self, on: bool) -> None:
        if on != self.highlighted:
            self.highlighted = on
            self.update()

    def set_selected(self, on: bool) -> None:
        if on != self.selected:
            self.selected = on
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        x0, y0, x1, y1 = self.bbox
        return QRectF(x0 - 2, y0 - 2, x1 - x0 + 4, y1 - y0 + 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        x0, y0, x1, y1 = self.bbox
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self.highlighted:  # hover: the fill twice as strong
            painter.drawImage(QRectF(x0, y0, x1 - x0, y1 - y0), self._fill)
        painter.drawImage(QRectF(x0, y0, x1 - x0, y1 - y0), self._fill)
        pen = QPen(QColor(*self.color))
        pen.setCosmetic(True)
        pen.setWidthF(3.0 if (self.highlighted or self.selected) else 2.0)
        if self.dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setColor(QColor(255, 255, 255))
        elif self.selected:
            pen.setColor(QColor(255, 255, 255))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self.on_painted is not None:
            callback, self.on_painted = self.on_painted, None
            callback(time.perf_counter())


def overlay_from_mask(mask: np.ndarray, color: tuple[int, int, int], **kw) -> MaskOverlayItem | None:
    """Overlay item for a full bool ``(H, W)`` mask (``None`` when empty)."""
    from segtool.core.masks import mask_bbox

    bbox = mask_bbox(mask)
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    return MaskOverlayItem(np.ascontiguousarray(mask[y0:y1, x0:x1]), bbox, color, **kw)
