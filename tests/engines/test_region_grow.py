"""Magic wand and seeded region growing: Lab tolerance, connectivity, contiguity, seeds, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segtool.core.errors import PromptError
from segtool.core.masks import mask_iou
from segtool.engines.base import Prompt, Scribble
from segtool.engines.region_grow import MagicWandEngine, SeededRegionGrowEngine
from segtool.engines.registry import create_engine


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy grey background, a red disc (object) and a separate red square of the same colour."""
    rng = np.random.default_rng(0)
    image = np.full((120, 160, 3), (90, 90, 90), np.float32)
    disc = np.zeros((120, 160), np.uint8)
    cv2.circle(disc, (50, 60), 30, 1, -1)
    square = np.zeros((120, 160), bool)
    square[20:50, 110:140] = True
    image[disc > 0] = (200, 40, 40)
    image[square] = (200, 40, 40)
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), disc > 0, square


def test_wand_click_selects_the_object_contiguous_only() -> None:
    image, disc, square = _scene()
    engine = MagicWandEngine(tolerance=15)
    mask = engine.predict(engine.prepare(image), Prompt(points=[[50, 60]], labels=[1]))[0].mask
    assert mask.shape == disc.shape and mask.dtype == bool
    assert mask_iou(mask, disc) > 0.97
    assert not (mask & square).any()


def test_wand_global_mode_takes_every_matching_pixel() -> None:
    image, disc, square = _scene()
    engine = MagicWandEngine(tolerance=15, contiguous=False)
    mask = engine.predict(engine.prepare(image), Prompt(points=[[50, 60]], labels=[1]))[0].mask
    assert mask_iou(mask, disc | square) > 0.97


def test_wand_tolerance_is_in_lab_units() -> None:
    # two halves differing by about 10 Delta-E in lightness only
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :40] = (120, 120, 120)
    image[:, 40:] = (145, 145, 145)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    delta_l = (int(lab[0, 60, 0]) - int(lab[0, 10, 0])) * 100 / 255
    prompt = Prompt(points=[[10, 20]], labels=[1])
    tight, loose = MagicWandEngine(tolerance=delta_l - 2), MagicWandEngine(tolerance=delta_l + 2)
    assert tight.predict(tight.prepare(image), prompt)[0].mask.sum() == 40 * 40
    assert loose.predict(loose.prepare(image), prompt)[0].mask.sum() == 80 * 40


def test_wand_connectivity_4_vs_8() -> None:
    image = np.zeros((20, 20, 3), np.uint8)
    image[5:10, 5:10] = 255
    image[10:15, 10:15] = 255  # touches the first square only at a corner
    prompt = Prompt(points=[[6, 6]], labels=[1])
    four, eight = MagicWandEngine(connectivity=4), MagicWandEngine(connectivity=8)
    assert four.predict(four.prepare(image), prompt)[0].mask.sum() == 25
    assert eight.predict(eight.prepare(image), prompt)[0].mask.sum() == 50


def test_wand_negative_click_cuts_and_box_limits() -> None:
    image, disc, square = _scene()
    engine = MagicWandEngine(tolerance=15, contiguous=False)
    ctx = engine.prepare(image)
    cut = engine.predict(ctx, Prompt(points=[[50, 60], [125, 35]], labels=[1, 0]))[0].mask
    assert mask_iou(cut, disc) > 0.97
    boxed = engine.predict(ctx, Prompt(points=[[50, 60]], labels=[1], box=(0, 0, 100, 120)))[0].mask
    assert mask_iou(boxed, disc) > 0.97


def test_region_grow_positive_and_negative_seeds() -> None:
    image, disc, square = _scene()
    engine = create_engine("region-grow", tolerance=30)
    assert isinstance(engine, SeededRegionGrowEngine)
    ctx = engine.prepare(image)
    mask = engine.predict(ctx, Prompt(points=[[50, 60], [120, 100]], labels=[1, 0]))[0].mask
    assert mask_iou(mask, disc) > 0.95
    both = engine.predict(ctx, Prompt(points=[[50, 60], [125, 35]], labels=[1, 1]))[0].mask
    assert mask_iou(both, disc | square) > 0.95
    stroke = Prompt(scribbles=[Scribble(np.array([[40.0, 60.0], [60.0, 60.0]]), 1)])
    assert mask_iou(engine.predict(ctx, stroke)[0].mask, disc) > 0.95


@pytest.mark.parametrize("name", ["wand", "region-grow"])
def test_bad_prompts_raise_prompt_error(name: str) -> None:
    image, _, _ = _scene()
    engine = create_engine(name)
    ctx = engine.prepare(image)
    for prompt in (Prompt(points=[[500, 10]], labels=[1]), Prompt(points=[[-1, 10]], labels=[1]),
                   Prompt(box=(10, 10, 10, 50)), Prompt(box=(10, 10, 11, 11)), Prompt(),
                   Prompt(box=(400, 400, 500, 500))):
        with pytest.raises(PromptError):
            engine.predict(ctx, prompt)


@pytest.mark.parametrize("name", ["wand", "region-grow"])
def test_all_white_image_gives_whole_image_not_an_error(name: str) -> None:
    engine = create_engine(name)
    white = np.full((30, 40, 3), 255, np.uint8)
    mask = engine.predict(engine.prepare(white), Prompt(points=[[5, 5]], labels=[1]))[0].mask
    assert mask.all()
    only_negative = engine.predict(engine.prepare(white), Prompt(points=[[5, 5]], labels=[0]))[0]
    assert not only_negative.mask.any() and only_negative.score == 0.0
