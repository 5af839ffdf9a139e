"""Mask overlays: one cached, bbox-cropped item per instance, and the tool's candidate mask.

Each :class:`MaskOverlayItem` keeps an opaque ARGB ``QImage`` of its bbox crop (drawn with the view's
global mask opacity) and a ``QPainterPath`` of its outline (traced once with ``cv2.findContours``), drawn
with cosmetic pens so outlines stay crisp at any zoom. Redrawing 200 of them is 200 cached image blits.
All the work is proportional to the crop, never to the image. Scene coordinates are image pixels.

Three styles that cannot be mistaken for one another, each with a two-tone outline (a dark and a light
line) that stays visible on white, black and grey objects:

- ``committed``: class-colour fill, solid class-colour outline on a halo of the opposite lightness;
- ``candidate`` (the pending mask of a tool): class-colour fill, white dashes on a black line;
- ``proposal`` (pending automatic proposals): no class colour but a faint amber fill, amber dots on a black
  line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

BBox = tuple[int, int, int, int]
STYLES = ("committed", "candidate", "proposal")
DARK = QColor(0, 0, 0)
LIGHT = QColor(255, 255, 255)
PROPOSAL_COLOR = QColor(255, 191, 0)  # amber: no class colour, so never confused with a class


@dataclass
class ViewOptions:
    """What the user chose to see; shared by every overlay of a canvas (read at paint time).

    Attributes
    ----------
    mask_opacity : 0..1, the fill opacity of every mask (outlines stay opaque).
    show_masks : False hides every committed mask and proposal (the candidate stays).
    show_labels : class names drawn at the instances.
    """

    mask_opacity: float = 0.45
    show_masks: bool = True
    show_labels: bool = True


def luminance(color: tuple[int, int, int]) -> float:
    """Rec. 709 luma of an ``(r, g, b)`` colour, 0..255."""
    r, g, b = color
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def halo_for(color: tuple[int, int, int]) -> QColor:
    """The second tone of an outline in ``color``: black for light colours, white for dark ones."""
    return DARK if luminance(color) >= 110 else LIGHT


def mask_outline_path(crop: np.ndarray, x0: float, y0: float, scale: tuple[float, float] = (1.0, 1.0),
                      tolerance: float = 0.0) -> QPainterPath:
    """Outline of a bool ``(h, w)`` crop (holes included) as a path in image coordinates.

    ``scale = (sx, sy)`` is the size in image pixels of one crop pixel (a reduced crop, see
    :class:`MaskOverlayItem`). Contours run along pixel edges: cv2 traces pixel centres, so the path is
    traced on a 2x upsampled crop and scaled back, which lands on pixel edges. ``tolerance > 0`` (crop
    pixels) replaces each staircase by a polygon within that distance of it (``cv2.approxPolyDP``): a
    reduced level's outline has a third of the vertices then (1862 -> 617 on a 24 MP candidate at 1/4).
    """
    up = cv2.resize(crop.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    up = cv2.copyMakeBorder(up, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, _ = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    path = QPainterPath()
    factor = np.array(scale, np.float64) / 2.0
    offset = np.array([x0, y0], np.float64) - 0.5 * factor  # (p - 1 + 0.5) / 2 crop pixels, on pixel edges
    for contour in contours:
        if tolerance > 0:
            simple = cv2.approxPolyDP(contour, 2.0 * tolerance, True)  # in upsampled pixels
            contour = simple if len(simple) >= 3 else contour
        pts = (contour.reshape(-1, 2) * factor + offset).tolist()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in pts]))
        path.closeSubpath()
    return path


def _lut_image(index: np.ndarray, bgra: np.ndarray) -> QImage:
    """ARGB32 premultiplied image whose pixel ``(y, x)`` is ``bgra[index[y, x]]``.

    ``index``: uint8 ``(h, w)``; ``bgra``: uint8 ``(n, 4)`` premultiplied colours (B, G, R, A bytes, the
    format's memory order on little-endian machines). One 32-bit gather per pixel."""
    h, w = index.shape
    table = np.ascontiguousarray(bgra, np.uint8).view(np.uint32).reshape(-1)
    pixels = np.take(table, index)
    return QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied).copy()


def mask_fill_image(crop: np.ndarray, color: tuple[int, int, int], alpha: int = 255) -> QImage:
    """ARGB32 premultiplied image of a bool ``(h, w)`` crop filled with ``color`` at ``alpha`` (0..255)."""
    a = alpha / 255.0
    r, g, b = color
    pixel = [int(b * a), int(g * a), int(r * a), alpha]  # one colour: nothing to blend
    return _lut_image(np.ascontiguousarray(crop, bool).view(np.uint8), np.array([[0, 0, 0, 0], pixel], np.uint8))


def coverage_fill_image(coverage: np.ndarray, color: tuple[int, int, int], alpha: int = 255) -> QImage:
    """ARGB32 premultiplied image of a uint8 ``(h, w)`` coverage (0 = outside, 255 = inside; in between on
    the edges of a reduced mask) filled with ``color`` at ``alpha``."""
    a = np.arange(256, dtype=np.int64) * alpha // 255
    bgra = np.stack([a * int(color[2]) // 255, a * int(color[1]) // 255, a * int(color[0]) // 255, a], axis=1)
    return _lut_image(np.ascontiguousarray(coverage, np.uint8), bgra.astype(np.uint8))


#: Crops with a long side up to this many pixels are always drawn at full resolution.
LOD_MIN_SIDE = 512
#: A reduced level's outline may leave the reduced pixels' staircase by this much (reduced pixels, at most
#: one screen pixel each at that zoom): half a screen pixel at most, invisible under 2-4 px pens.
REDUCED_OUTLINE_TOLERANCE = 0.5


def reduction_for(level_of_detail: float, shape: tuple[int, int]) -> int:
    """The power-of-two reduction a crop of ``shape`` ``(h, w)`` is drawn at when one image pixel covers
    ``level_of_detail`` screen pixels: 1 at 1:1 and closer, 2 below 1:2, 4 below 1:4, ...; never below
    :data:`LOD_MIN_SIDE` pixels on the long side. The work of a paint follows the screen, not the image."""
    long_side = max(shape)
    factor = 1
    while level_of_detail * factor * 2 <= 1.0 and long_side / (factor * 2) >= LOD_MIN_SIDE:
        factor *= 2
    return factor


def reduced_coverage(crop: np.ndarray, reduction: int) -> np.ndarray:
    """uint8 ``(ceil(h / r), ceil(w / r))`` coverage of a bool ``(h, w)`` crop: 255 x the mask's share of each
    ``r x r`` block of pixels (blocks past the crop's edge count those pixels as outside).

    The crop is zero-padded to whole blocks first, so OpenCV's area resize takes its integer-factor
    path (several times faster than the general one on the same crop) and every reduced pixel stands
    for exactly ``r x r`` image pixels.
    """
    h, w = crop.shape
    rows, cols = -(-h // reduction), -(-w // reduction)
    padded = np.zeros((rows * reduction, cols * reduction), np.uint8)
    np.multiply(np.ascontiguousarray(crop, bool).view(np.uint8), np.uint8(255), out=padded[:h, :w])
    return cv2.resize(padded, (cols, rows), interpolation=cv2.INTER_AREA)


def _pen(color: QColor, width: float, dashes: list[float] | None = None) -> QPen:
    pen = QPen(color)
    pen.setCosmetic(True)
    pen.setWidthF(width)
    # Bevel joins: an outline along pixel edges has a corner at every step, and Qt's stroker draws a round
    # join as a small arc per corner (the candidate's two pens around a 429 px disc: 35 ms a paint with
    # round joins, 9 with bevel ones, which look the same at these widths)
    pen.setJoinStyle(Qt.PenJoinStyle.BevelJoin)
    if dashes:
        pen.setDashPattern(dashes)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


class MaskOverlayItem(QGraphicsItem):
    """A bool mask crop drawn as fill + two-tone outline, in one of :data:`STYLES`.

    Parameters
    ----------
    crop : bool ``(h, w)`` mask inside ``bbox``.
    bbox : XYXY (exclusive) box of ``crop`` in image pixels.
    color : ``(r, g, b)`` class colour.
    style : one of :data:`STYLES`.
    view : the canvas's :class:`ViewOptions` (opacity); a private default when ``None``.
    dashed : old spelling of ``style="candidate"``.
    """

    def __init__(self, crop: np.ndarray, bbox: BBox, color: tuple[int, int, int], *, style: str = "committed",
                 view: ViewOptions | None = None, dashed: bool = False, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        style = "candidate" if dashed and style == "committed" else style
        if style not in STYLES:
            raise ValueError(f"unknown overlay style {style!r}; one of {STYLES}")
        self.crop, self.bbox, self.color, self.style = crop, bbox, tuple(color), style
        self.view = view or ViewOptions()
        self._fill_color = PROPOSAL_COLOR.getRgb()[:3] if style == "proposal" else self.color
        self._levels: dict[int, tuple[QImage, QPainterPath]] = {}  # reduction -> fill, outline (built lazily)
        self.highlighted = False
        self.selected = False
        self.on_painted: Callable[[float], None] | None = None
        self.setAcceptHoverEvents(False)

    @property
    def dashed(self) -> bool:
        """True for the candidate and proposal styles (the outline is broken)."""
        return self.style != "committed"

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

    def level(self, reduction: int) -> tuple[QImage, QPainterPath]:
        """Fill image and outline path of the crop reduced ``reduction`` times (1: full resolution), built
        on first use and kept. A reduced fill is the area average of the mask (soft edges); its outline is
        traced on the reduced mask, so it is within one screen pixel of the true border at that zoom."""
        if reduction not in self._levels:
            x0, y0 = self.bbox[:2]
            if reduction == 1:
                self._levels[1] = (mask_fill_image(self.crop, self._fill_color),
                                   mask_outline_path(self.crop, x0, y0))
            else:
                coverage = reduced_coverage(self.crop, reduction)
                self._levels[reduction] = (coverage_fill_image(coverage, self._fill_color),
                                           mask_outline_path(coverage >= 128, x0, y0, (reduction, reduction),
                                                             tolerance=REDUCED_OUTLINE_TOLERANCE))
        return self._levels[reduction]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        x0, y0, x1, y1 = self.bbox
        reduction = reduction_for(QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform()),
                                  self.crop.shape)
        fill, outline = self.level(reduction)
        # a reduced pixel is reduction x reduction image pixels (the last ones reach past the crop, empty)
        target = QRectF(x0, y0, fill.width() * reduction, fill.height() * reduction)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        opacity = self.view.mask_opacity * (0.35 if self.style == "proposal" else 1.0)
        if self.highlighted:  # hover: a stronger fill
            opacity = min(1.0, opacity + 0.25)
        painter.save()
        painter.setClipRect(QRectF(x0, y0, x1 - x0, y1 - y0), Qt.ClipOperation.IntersectClip)  # not past bbox
        painter.setOpacity(opacity)
        painter.drawImage(target, fill)
        painter.restore()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for pen in self._pens():
            painter.setPen(pen)
            painter.drawPath(outline)
        if self.on_painted is not None:
            callback, self.on_painted = self.on_painted, None
            callback(time.perf_counter())

    def _pens(self) -> list[QPen]:
        """Bottom pen first: a wide line of one tone, a narrower one of the other on top."""
        bold = 1.5 if (self.highlighted or self.selected) else 0.0
        if self.style == "candidate":
            return [_pen(DARK, 4.0 + bold), _pen(LIGHT, 2.0 + bold, [4.0, 3.0])]
        if self.style == "proposal":
            return [_pen(DARK, 4.0 + bold), _pen(PROPOSAL_COLOR, 2.0 + bold, [1.0, 1.5])]
        core = LIGHT if self.selected else QColor(*self.color)
        halo = DARK if self.selected else halo_for(self.color)
        return [_pen(halo, 4.0 + bold), _pen(core, 2.0 + bold / 2)]


class LabelTag(QGraphicsItem):
    """A class name on a dark rounded box that keeps its screen size, just above an image point."""

    def __init__(self, text: str, color: tuple[int, int, int], parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.text, self.color = text, tuple(color)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self._font = QFont()
        self._font.setPointSizeF(9.0)
        metrics = QFontMetricsF(self._font)
        height = metrics.height() + 4  # drawn just above its anchor (the bbox corner): it never hides the outline
        self._rect = QRectF(0, -height - 2, metrics.horizontalAdvance(text) + 10, height)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(*self.color), 1.5))
        painter.setBrush(QBrush(QColor(20, 20, 24, 215)))
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self._font)
        painter.setPen(QPen(LIGHT))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


def overlay_from_crop(crop: np.ndarray, offset: tuple[int, int], color: tuple[int, int, int],
                      **kw) -> MaskOverlayItem | None:
    """Overlay item for a bool ``(h, w)`` crop whose top-left pixel is ``offset`` ``(x0, y0)``; the crop is
    tightened to its foreground first (``None`` when it has none). Work is proportional to the crop."""
    if crop.size == 0:
        return None
    if crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any():  # tight already (SAM's)
        r0, r1, c0, c1 = 0, crop.shape[0], 0, crop.shape[1]
    else:
        rows = np.flatnonzero(crop.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(crop.any(axis=0))
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    x0, y0 = int(offset[0]) + c0, int(offset[1]) + r0
    tight = np.ascontiguousarray(crop[r0:r1, c0:c1], bool)
    return MaskOverlayItem(tight, (x0, y0, x0 + (c1 - c0), y0 + (r1 - r0)), color, **kw)
