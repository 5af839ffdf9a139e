"""Issue 14, point 1 in the window: a mask on a large image is drawn at the resolution of the screen.

A 2,400-pixel disc seen at 1:8 is painted from a copy reduced 8 times (the full-resolution fill and
outline are never built), and what reaches the screen matches the full-resolution drawing: the same
pixels covered, the outline within a screen pixel of the true border."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from segtool.gui.canvas import overlays
from segtool.gui.canvas.overlays import MaskOverlayItem, ViewOptions, reduction_for

SIDE, R = 3000, 1200  # image side, disc radius (pixels)


def _disc(radius: int = R) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    yy, xx = np.mgrid[0:2 * radius, 0:2 * radius]
    crop = (xx - radius + 0.5) ** 2 + (yy - radius + 0.5) ** 2 <= radius * radius
    x0 = y0 = SIDE // 2 - radius
    return crop, (x0, y0, x0 + 2 * radius, y0 + 2 * radius)


def _render(item: MaskOverlayItem, scale: float) -> np.ndarray:
    """The scene holding ``item`` on grey, rendered at ``scale`` screen pixels per image pixel: RGB array."""
    scene = QGraphicsScene(0, 0, SIDE, SIDE)
    scene.addItem(item)
    side = int(SIDE * scale)
    image = QImage(side, side, QImage.Format.Format_RGB888)
    image.fill(QColor(128, 128, 128))
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, side, side), QRectF(0, 0, SIDE, SIDE))
    painter.end()
    scene.removeItem(item)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(side, image.bytesPerLine())
    return arr[:, : 3 * side].reshape(side, side, 3).astype(np.int16)


def test_reduction_follows_the_zoom_and_spares_small_masks():
    assert reduction_for(1.0, (2400, 2400)) == 1 and reduction_for(2.0, (2400, 2400)) == 1
    assert reduction_for(0.5, (2400, 2400)) == 2 and reduction_for(0.124, (2400, 2400)) == 4
    assert reduction_for(0.125, (2400, 2400)) == 4  # never below LOD_MIN_SIDE = 512 on the long side
    assert reduction_for(0.01, (300, 300)) == 1


@pytest.mark.parametrize(("style", "radius"), [("committed", R), ("candidate", R), ("committed", R + 3)])
def test_a_large_mask_at_one_eighth_is_drawn_from_a_reduced_copy_that_looks_the_same(qapp, style, radius,
                                                                                     monkeypatch):
    """Also for a crop whose side (2406) is not a whole number of reduced pixels: blocks past its edge
    are drawn where they lie, not stretched over the crop."""
    crop, bbox = _disc(radius)
    view = ViewOptions(mask_opacity=0.6)
    reduced = MaskOverlayItem(crop, bbox, (230, 25, 75), style=style, view=view)
    shot = _render(reduced, 1 / 8)
    assert set(reduced._levels) == {4}  # the full-resolution fill and outline were never built

    monkeypatch.setattr(overlays, "reduction_for", lambda lod, shape: 1)
    full = MaskOverlayItem(crop, bbox, (230, 25, 75), style=style, view=view)
    reference = _render(full, 1 / 8)
    assert set(full._levels) == {1}

    drawn = np.abs(reference - 128).max(axis=2) > 20
    assert drawn.sum() > 0.2 * drawn.size  # the disc really is on screen
    # the outline (its black or white tone) runs where the full-resolution one runs: within a screen pixel
    line, line_ref = _line(shot), _line(reference)
    ys, xs = np.nonzero(line)
    assert ys.size > 100
    assert _grow(line_ref, 1)[ys, xs].mean() > 0.97
    # and away from the outline (where dash phases may differ) the fill is the same colour
    changed = np.abs(shot - reference).max(axis=2) > 12
    changed &= ~_grow(line_ref | line, 3)
    assert changed.mean() < 0.002, f"{changed.mean():.2%} of the screen differs from the full-resolution drawing"


def _line(rgb: np.ndarray) -> np.ndarray:
    """Pixels of an outline's black or white tone."""
    return (rgb.max(axis=2) < 40) | (rgb.min(axis=2) > 215)


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    out = np.zeros_like(mask)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out
