"""Synthetic test scenes shared by test modules in different folders."""

from __future__ import annotations

import numpy as np


def disc_and_rectangle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 240x320 RGB image with a red disc and a blue rectangle on a textured gray background.

    Returns ``(image uint8 (240, 320, 3), disc bool (240, 320), rect bool (240, 320))``.
    """
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(128, 6, (240, 320, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:240, :320]
    disc = (xx - 90) ** 2 + (yy - 120) ** 2 < 50 ** 2
    rect = (xx >= 190) & (xx < 290) & (yy >= 60) & (yy < 180)
    image[disc] = (220, 40, 40)
    image[rect] = (40, 60, 210)
    return image, disc, rect
