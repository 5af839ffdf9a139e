"""The same prompt gives the same mask whatever ran before: GrabCut's GMM start and region growing's
k-means++ draw from OpenCV's per-thread random generator, whose state earlier OpenCV calls change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segtool.engines.base import Prompt
from segtool.engines.registry import create_engine


def _photo() -> np.ndarray:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 2.0)
    yy, xx = np.mgrid[0:120, 0:160]
    disc = (xx - 80) ** 2 + (yy - 60) ** 2 < 35 ** 2
    image[disc] = (0.6 * image[disc] + 0.4 * np.array([200, 60, 40])).astype(np.uint8)
    return image


def _scramble_opencv_rng(n: int) -> None:
    cv2.setRNGSeed(n)
    cv2.randu(np.zeros((n, 3), np.float32), 0.0, 1.0)


@pytest.mark.parametrize("engine_name,prompt", [
    ("grabcut", Prompt(box=(30, 20, 130, 100))),
    ("grabcut", Prompt(points=[(80, 60), (10, 10)], labels=[1, 0])),
    ("region-grow", Prompt(points=[(80, 60)], labels=[1])),
])
def test_same_prompt_same_mask_whatever_ran_before(engine_name, prompt):
    engine = create_engine(engine_name)
    image = _photo()
    masks = []
    for n in (1, 17, 1000):
        _scramble_opencv_rng(n)
        masks.append(engine.predict(engine.prepare(image), prompt)[0].mask)
    assert masks[0].any()
    assert all(np.array_equal(masks[0], m) for m in masks[1:])
