"""GrabCut engine: box quality on the GrabCut set, coarse-to-fine, continued clicks, refinement, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segtool.bench.robot import gt_box, load_dataset
from segtool.core.errors import PromptError
from segtool.core.masks import mask_iou
from segtool.engines.base import Prompt, Scribble
from segtool.engines.graphcut import GrabCutEngine, GrabCutState

#: Mean box-initialised IoU of full-resolution cv2.grabCut (rect = tight GT box, 5 iterations) on the
#: 33 images of ../shared/datasets/grabcut, measured once with a script (it takes ~30 s): 0.8569.
#: The issue asks for ours to stay within 0.01 of it.
REFERENCE_BOX_MIOU = 0.8569


def _scene(scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A textured orange ellipse on a textured blue-green background; ``scale`` enlarges it."""
    rng = np.random.default_rng(3)
    h, w = 150 * scale, 200 * scale
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (100 * scale, 75 * scale), (55 * scale, 40 * scale), 20, 0, 360, 1, -1)
    image = np.empty((h, w, 3), np.float32)
    image[:] = (40, 120, 110)
    image[gt > 0] = (220, 130, 40)
    image += cv2.resize(rng.normal(0, 18, (150, 200, 3)).astype(np.float32), (w, h))
    return np.clip(image, 0, 255).astype(np.uint8), gt > 0


def test_box_init_mean_iou_on_the_whole_grabcut_set_is_within_001_of_cv2(grabcut_dir) -> None:
    engine = GrabCutEngine()
    ious = []
    for sample in load_dataset(grabcut_dir):
        ctx = engine.prepare(sample.image)
        mask = engine.predict(ctx, Prompt(box=gt_box(sample.gt)))[0].mask
        ious.append(mask_iou(mask, sample.gt, sample.ignore))
    assert len(ious) == 33
    assert np.mean(ious) >= REFERENCE_BOX_MIOU - 0.01, f"mIoU {np.mean(ious):.4f}"


def test_coarse_to_fine_on_a_large_image_matches_the_small_one() -> None:
    small_img, small_gt = _scene(1)
    big_img, big_gt = _scene(8)  # 1600x1200: cut on a coarse grid, band at full resolution
    engine = GrabCutEngine()
    small = engine.predict(engine.prepare(small_img), Prompt(box=(40, 25, 160, 125)))[0]
    big = engine.predict(engine.prepare(big_img), Prompt(box=(320, 200, 1280, 1000)))[0]
    assert big.state.scale < 0.25  # really coarse-to-fine
    assert mask_iou(small.mask, small_gt) > 0.95
    assert mask_iou(big.mask, big_gt) > 0.95
    # the boundary is decided at full resolution: no blocky steps of the coarse grid
    edges = np.count_nonzero(big.mask[:, 1:] != big.mask[:, :-1])
    assert edges < 3 * np.count_nonzero(big_gt[:, 1:] != big_gt[:, :-1])


def test_follow_up_clicks_continue_the_model_and_fix_errors() -> None:
    image, gt = _scene(1)
    engine = GrabCutEngine()
    ctx = engine.prepare(image)
    first = engine.predict(ctx, Prompt(box=(10, 5, 190, 145)))[0]  # loose box
    assert isinstance(first.state, GrabCutState)
    prompt = Prompt(box=(10, 5, 190, 145), points=[[20, 15]], labels=[0], state=first.state, mask=first.mask)
    second = engine.predict(ctx, prompt)[0]
    assert not second.mask[10:21, 15:26].any()  # the negative click's disc is background
    assert second.state.clicks_done == 1
    assert not np.array_equal(second.state.fgd_model, np.zeros((1, 65)))
    assert mask_iou(second.mask, gt) >= mask_iou(first.mask, gt) - 0.01


def test_click_only_start_and_scribbles() -> None:
    image, gt = _scene(1)
    engine = GrabCutEngine()
    ctx = engine.prepare(image)
    clicked = engine.predict(ctx, Prompt(points=[[100, 75]], labels=[1]))[0].mask
    assert mask_iou(clicked, gt) > 0.8
    strokes = [Scribble(np.array([[80.0, 70.0], [120.0, 80.0]]), 1), Scribble(np.array([[5.0, 5.0], [195.0, 5.0]]), 0)]
    scribbled = engine.predict(ctx, Prompt(scribbles=strokes))[0].mask
    assert mask_iou(scribbled, gt) > 0.8


def test_refinement_of_a_rough_mask_moves_its_border_to_the_object() -> None:
    image, gt = _scene(1)
    rough = cv2.dilate(gt.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # 4 px too big all round
    engine = GrabCutEngine(refine_band=0.1)
    refined = engine.predict(engine.prepare(image), Prompt(mask=rough))[0].mask
    assert mask_iou(refined, gt) > mask_iou(rough, gt) + 0.05
    assert mask_iou(refined, gt) > 0.93


def test_bad_input_gives_prompt_error_or_empty_candidate() -> None:
    image, _ = _scene(1)
    engine = GrabCutEngine()
    ctx = engine.prepare(image)
    for prompt in (Prompt(points=[[300, 10]], labels=[1]), Prompt(box=(20, 20, 20, 60)),
                   Prompt(box=(20, 20, 21, 21)), Prompt(box=(-50, -50, -10, -10)), Prompt(),
                   Prompt(mask=np.ones((10, 10), bool))):
        with pytest.raises(PromptError):
            engine.predict(ctx, prompt)
    only_negative = engine.predict(ctx, Prompt(points=[[10, 10]], labels=[0]))[0]
    assert not only_negative.mask.any() and only_negative.score == 0.0
    empty_mask = engine.predict(ctx, Prompt(mask=np.zeros(image.shape[:2], bool)))[0]
    assert not empty_mask.mask.any()


@pytest.mark.parametrize("prompt", [Prompt(box=(10, 10, 60, 50)), Prompt(points=[[30, 30]], labels=[1]),
                                    Prompt(box=(10, 10, 13, 13))])
def test_flat_white_image_never_raises_an_opencv_error(prompt: Prompt) -> None:
    engine = GrabCutEngine()
    white = np.full((80, 100, 3), 255, np.uint8)
    candidate = engine.predict(engine.prepare(white), prompt)[0]
    assert candidate.mask.shape == (80, 100)
    if prompt.box is not None:  # nothing outside the box can be object
        assert not candidate.mask[:, 70:].any()


def _noisy_scene() -> tuple[np.ndarray, np.ndarray]:
    """A 600x450 ellipse whose colours overlap the background's under strong per-pixel noise."""
    rng = np.random.default_rng(5)
    h, w = 450, 600
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (300, 225), (165, 120), 20, 0, 360, 1, -1)
    image = np.empty((h, w, 3), np.float32)
    image[:] = (90, 110, 100)
    image[gt > 0] = (150, 120, 80)
    image += rng.normal(0, 35, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8), gt > 0


def test_full_resolution_band_cut_gives_a_smoother_truer_boundary_than_per_pixel_decisions() -> None:
    image, gt = _noisy_scene()
    fine_engine, per_pixel = GrabCutEngine(), GrabCutEngine(fine_cut_pixels=0)
    prompt = Prompt(points=[[300, 225]], labels=[1])
    fine = fine_engine.predict(fine_engine.prepare(image), prompt)[0]
    plain = per_pixel.predict(per_pixel.prepare(image), prompt)[0]
    assert fine.state.scale < 0.5  # cut coarse, boundary decided at full resolution
    edges = [np.count_nonzero(m[:, 1:] != m[:, :-1]) for m in (fine.mask, plain.mask, gt)]
    assert edges[0] < 1.06 * edges[2] < edges[1]  # per-pixel decisions leave a ragged boundary
    assert mask_iou(fine.mask, gt) > mask_iou(plain.mask, gt) > 0.99
    # only the band along the coarse boundary is re-decided: the coarse answer stands elsewhere
    coarse = cv2.resize(fine.state.labels, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    coarse_fg = np.isin(coarse, (cv2.GC_FGD, cv2.GC_PR_FGD))
    far = np.maximum(cv2.distanceTransform(coarse_fg.astype(np.uint8), cv2.DIST_L2, 3),
                     cv2.distanceTransform((~coarse_fg).astype(np.uint8), cv2.DIST_L2, 3)) > 12
    assert far.mean() > 0.9
    assert np.array_equal(fine.mask[far], coarse_fg[far])
    # the raw engine (before issue 15) keeps the per-pixel band (and data_power 1, every piece)
    raw, old = GrabCutEngine(), GrabCutEngine(fine_cut_pixels=0, data_power=1.0, clicked_components=False)
    raw.raw = True
    assert np.array_equal(raw.predict(raw.prepare(image), prompt)[0].mask,
                          old.predict(old.prepare(image), prompt)[0].mask)
