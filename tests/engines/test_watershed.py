"""Marker watershed and superpixels: scribbles, clicks, border background, coarse-to-fine, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segtool.core.errors import PromptError
from segtool.core.masks import mask_iou
from segtool.engines.base import Prompt, Scribble
from segtool.engines.registry import create_engine
from segtool.engines.watershed import SuperpixelEngine, WatershedEngine


def _scene(scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A textured yellow star-ish blob on a textured dark background (``scale`` enlarges it)."""
    rng = np.random.default_rng(5)
    h, w = 120 * scale, 160 * scale
    gt = np.zeros((h, w), np.uint8)
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    radii = 40 * (1 + 0.2 * np.sin(5 * angles))
    pts = np.stack([80 + radii * np.cos(angles), 60 + radii * np.sin(angles)], axis=1) * scale
    cv2.fillPoly(gt, [np.round(pts).astype(np.int32)], 1)
    image = np.empty((h, w, 3), np.float32)
    image[:] = (50, 60, 80)
    image[gt > 0] = (210, 190, 60)
    image += cv2.resize(rng.normal(0, 12, (120, 160, 3)).astype(np.float32), (w, h))
    return np.clip(image, 0, 255).astype(np.uint8), gt > 0


def test_watershed_from_scribbles() -> None:
    image, gt = _scene()
    engine = WatershedEngine()
    strokes = [Scribble(np.array([[70.0, 60.0], [90.0, 60.0]]), 1),
               Scribble(np.array([[5.0, 5.0], [155.0, 5.0], [155.0, 115.0]]), 0)]
    mask = engine.predict(engine.prepare(image), Prompt(scribbles=strokes))[0].mask
    assert mask_iou(mask, gt) > 0.93


def test_watershed_single_positive_click_uses_the_border_as_background() -> None:
    image, gt = _scene()
    engine = create_engine("watershed")
    mask = engine.predict(engine.prepare(image), Prompt(points=[[80, 60]], labels=[1]))[0].mask
    assert mask_iou(mask, gt) > 0.93
    assert not mask[0].any() and not mask[:, 0].any()


def test_watershed_box_keeps_the_object_inside() -> None:
    image, gt = _scene()
    engine = WatershedEngine()
    mask = engine.predict(engine.prepare(image), Prompt(box=(30, 10, 130, 110)))[0].mask
    assert mask_iou(mask, gt) > 0.9
    assert not mask[:, :30].any() and not mask[:, 130:].any()


def test_watershed_coarse_to_fine_on_a_large_image() -> None:
    image, gt = _scene(10)  # 1600x1200 > max_pixels: flooded coarse, band refined at full resolution
    engine = WatershedEngine(max_pixels=100_000)
    ctx = engine.prepare(image)
    assert ctx.small is not None
    mask = engine.predict(ctx, Prompt(points=[[800, 600]], labels=[1]))[0].mask
    assert mask.shape == gt.shape
    assert mask_iou(mask, gt) > 0.95


def test_superpixel_click_adds_and_negative_removes_whole_regions() -> None:
    image, gt = _scene()
    engine = SuperpixelEngine(n_segments=150, merge_tolerance=0)
    ctx = engine.prepare(image)
    region = ctx.labels == ctx.labels[60, 80]
    one = engine.predict(ctx, Prompt(points=[[80, 60]], labels=[1]))[0].mask
    assert np.array_equal(one, region)
    two = engine.predict(ctx, Prompt(points=[[80, 60], [80, 60]], labels=[1, 0]))[0].mask
    assert not two.any()


def test_superpixel_click_merges_similar_neighbours_and_box_selects_inside() -> None:
    image, gt = _scene()
    engine = SuperpixelEngine(n_segments=300, merge_tolerance=20)
    ctx = engine.prepare(image)
    mask = engine.predict(ctx, Prompt(points=[[80, 60]], labels=[1]))[0].mask
    single = SuperpixelEngine(n_segments=300, merge_tolerance=0).predict(ctx, Prompt(points=[[80, 60]], labels=[1]))
    assert mask.sum() > 5 * single[0].mask.sum()
    assert mask_iou(mask, gt) > 0.75 and (mask & ~gt).sum() < 0.05 * gt.sum()
    boxed = engine.predict(ctx, Prompt(box=(30, 10, 130, 110)))[0].mask
    assert boxed[60, 80] and not boxed[:, :18].any()


@pytest.mark.parametrize("name", ["watershed", "superpixel"])
def test_bad_prompts_raise_prompt_error(name: str) -> None:
    image, _ = _scene()
    engine = create_engine(name)
    ctx = engine.prepare(image)
    for prompt in (Prompt(points=[[160, 10]], labels=[1]), Prompt(box=(10, 10, 10, 50)),
                   Prompt(box=(10, 10, 11, 11)), Prompt(), Prompt(box=(-30, -30, -1, -1))):
        with pytest.raises(PromptError):
            engine.predict(ctx, prompt)


@pytest.mark.parametrize("name", ["watershed", "superpixel"])
def test_all_white_image_and_negative_only_prompts_do_not_raise(name: str) -> None:
    engine = create_engine(name)
    white = np.full((40, 50, 3), 255, np.uint8)
    ctx = engine.prepare(white)
    clicked = engine.predict(ctx, Prompt(points=[[25, 20]], labels=[1]))[0]
    assert clicked.mask.shape == (40, 50) and clicked.mask[20, 25]
    negative = engine.predict(ctx, Prompt(points=[[25, 20]], labels=[0]))[0]
    assert not negative.mask.any() and negative.score == 0.0
