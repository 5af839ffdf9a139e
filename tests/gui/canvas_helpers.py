"""Helpers shared by the canvas/tool/worker tests: synthetic images with known objects, real clicks."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest


def scene_image(h: int = 480, w: int = 640, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB uint8 ``(H, W, 3)`` photo-like image with two objects; returns (rgb, ellipse mask, square mask)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([90 + 40 * xx / w, 110 + 30 * yy / h, 100 + 20 * (xx + yy) / (w + h)], axis=-1)
    rgb = (base + rng.normal(0, 4, (h, w, 3))).clip(0, 255).astype(np.uint8)
    ellipse = np.zeros((h, w), np.uint8)
    cv2.ellipse(ellipse, (int(w * 0.33), int(h * 0.5)), (int(w * 0.16), int(h * 0.22)), 20, 0, 360, 1, -1)
    square = np.zeros((h, w), np.uint8)
    square[int(h * 0.25):int(h * 0.6), int(w * 0.62):int(w * 0.85)] = 1
    rgb[ellipse.astype(bool)] = (220, 60, 40)
    rgb[square.astype(bool)] = (40, 70, 210)
    rgb = cv2.GaussianBlur(rgb, (3, 3), 0)
    return rgb, ellipse.astype(bool), square.astype(bool)


def view_point(canvas, x: float, y: float) -> QPoint:
    """Viewport position of image pixel ``(x, y)``."""
    return canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def click(canvas, x: float, y: float, button=Qt.MouseButton.LeftButton,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A real mouse click on image pixel ``(x, y)`` of the canvas."""
    QTest.mouseClick(canvas.viewport(), button, modifiers, view_point(canvas, x, y))


def drag(canvas, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first image point, move through the others, release at the last."""
    vp = canvas.viewport()
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(vp, view_point(canvas, x, y))
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[-1]))
