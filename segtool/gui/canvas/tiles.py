"""The image as a lazy pyramid of tiles, so that a 40-megapixel photo opens at once and pans smoothly.

On :meth:`TiledImageItem.set_image` only a small preview (longest side <= ``PREVIEW_SIDE``, by strided
sampling) is made. When painting, the item picks the pyramid level matching the view's scale (level ``L``
samples every ``2**L``-th pixel) and converts just the ``TILE``-sized tiles that are exposed, caching them
(LRU). Scene coordinates are image pixels: the item covers ``(0, 0)``-``(W, H)``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

TILE = 512
PREVIEW_SIDE = 2048
MAX_TILES = 256


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A deep-copied ``QImage`` (RGB888) of an RGB uint8 ``(H, W, 3)`` array (contiguous or not)."""
    arr = np.ascontiguousarray(rgb)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888).copy()


def make_preview(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """The preview of RGB uint8 ``(H, W, 3)``: ``(rgb[::step, ::step] contiguous, step)`` with the longest
    side <= :data:`PREVIEW_SIDE`. Pure numpy, so workers make it off the GUI thread."""
    h, w = rgb.shape[:2]
    step = max(1, math.ceil(max(h, w) / PREVIEW_SIDE))
    return np.ascontiguousarray(rgb[::step, ::step]), step


class TiledImageItem(QGraphicsItem):
    """Paints an RGB image from a preview plus lazily made full/partial-resolution tiles."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._rgb: np.ndarray | None = None
        self._preview: QPixmap | None = None
        self._preview_step = 1
        self._size = (0, 0)
        self._tiles: OrderedDict[tuple[int, int, int], QPixmap] = OrderedDict()
        self.setZValue(-1)
        self.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        # exposedRect = the part being repainted, so only visible tiles are made
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    # --------------------------------------------------------------- content
    def set_image(self, rgb: np.ndarray, preview: tuple[np.ndarray, int] | None = None) -> None:
        """Show RGB uint8 ``(H, W, 3)``; only the preview is turned into a pixmap now.

        ``preview`` is ``(array, step)`` from :func:`make_preview` when a worker already made it.
        """
        self.prepareGeometryChange()
        self._rgb = rgb
        self._size = (rgb.shape[0], rgb.shape[1])
        self._tiles.clear()
        small, self._preview_step = preview if preview is not None else make_preview(rgb)
        self._preview = QPixmap.fromImage(rgb_to_qimage(small))
        self.update()

    def set_preview_only(self, preview: np.ndarray, size: tuple[int, int]) -> None:
        """Show only uint8 ``(h, w, 3)`` ``preview`` stretched over an image of ``size`` ``(H, W)`` while
        the full pixels load; :meth:`set_image` replaces it."""
        self.prepareGeometryChange()
        self._rgb = None
        self._size = (int(size[0]), int(size[1]))
        self._tiles.clear()
        self._preview_step = max(1, math.ceil(max(size) / max(preview.shape[:2])))
        self._preview = QPixmap.fromImage(rgb_to_qimage(preview))
        self.update()

    def clear(self) -> None:
        """Show nothing (an image that cannot be read)."""
        self.prepareGeometryChange()
        self._rgb, self._preview, self._size = None, None, (0, 0)
        self._tiles.clear()
        self.update()

    def is_preview_only(self) -> bool:
        """True while only a preview is shown (the full pixels are still loading)."""
        return self._rgb is None and self._preview is not None

    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the image (0, 0 when empty)."""
        return self._size

    def tile_count(self) -> int:
        """Tiles converted and cached so far."""
        return len(self._tiles)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        h, w = self.image_size()
        return QRectF(0, 0, w, h)

    # -------------------------------------------------------------- painting
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._preview is None:
            return
        scale = option.levelOfDetailFromTransform(painter.worldTransform())
        level_step = self._level_step(scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
        exposed = option.exposedRect.intersected(self.boundingRect())
        if level_step >= self._preview_step or self._rgb is None:
            h, w = self.image_size()
            painter.drawPixmap(QRectF(0, 0, w, h), self._preview, QRectF(self._preview.rect()))
            return
        self._paint_tiles(painter, exposed, level_step)

    @staticmethod
    def _level_step(scale: float) -> int:
        """Sampling step ``2**L`` whose resolution is just above the screen's (``scale`` = screen px per image px)."""
        if scale >= 1.0 or scale <= 0:
            return 1
        return 2 ** max(0, int(math.floor(math.log2(1.0 / scale))))

    def _paint_tiles(self, painter: QPainter, exposed: QRectF, step: int) -> None:
        span = TILE * step  # image pixels covered by one tile
        c0, c1 = int(exposed.left() // span), int(math.ceil(exposed.right() / span))
        r0, r1 = int(exposed.top() // span), int(math.ceil(exposed.bottom() / span))
        h, w = self.image_size()
        for r in range(r0, r1):
            for c in range(c0, c1):
                pix = self._tile(step, r, c)
                x0, y0 = c * span, r * span
                target = QRectF(x0, y0, min(span, w - x0), min(span, h - y0))
                painter.drawPixmap(target, pix, QRectF(pix.rect()))

    def _tile(self, step: int, row: int, col: int) -> QPixmap:
        key = (step, row, col)
        pix = self._tiles.get(key)
        if pix is not None:
            self._tiles.move_to_end(key)
            return pix
        span = TILE * step
        y0, x0 = row * span, col * span
        assert self._rgb is not None
        crop = self._rgb[y0:y0 + span:step, x0:x0 + span:step]
        pix = QPixmap.fromImage(rgb_to_qimage(crop))
        self._tiles[key] = pix
        while len(self._tiles) > MAX_TILES:
            self._tiles.popitem(last=False)
        return pix


__all__ = ["TiledImageItem", "make_preview", "rgb_to_qimage", "TILE", "PREVIEW_SIDE"]
