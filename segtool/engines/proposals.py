"""Automatic mask proposals ("segment everything").

Two generators share one output type, :class:`Proposal` (a crop plus its offset, like a
:class:`~segtool.engines.base.Candidate`; ``.mask`` builds the full array on demand):

- :func:`sam_proposals`: SAM automatic mask generation on either SAM backend (``sam-onnx``,
  ``sam-torch``), as segment-anything's ``SamAutomaticMaskGenerator`` does it: a grid of single-point
  prompts (optionally repeated on crop layers for small objects), predicted-IoU and stability-score
  filters, box NMS, small-region and hole clean-up, minimum area. The default path
  (:mod:`segtool.engines.proposals_sam`) filters on low-res logits, upscales only the survivors around
  their objects, and walks the grid coarse to fine, skipping points inside masks already kept;
  ``ProposalConfig(method="legacy")`` runs the path of before (:mod:`segtool.engines.proposals_legacy`).
- :func:`classical_proposals`: the fallback when no model is installed: graph-based regions
  (Felzenszwalb) at several scales plus SLIC superpixels merged on a region adjacency graph, holes
  filled, filtered by area and de-duplicated by mask IoU.

:func:`drop_overlapping` removes proposals that duplicate an existing instance (IoU >= 0.7).

Conventions: images are RGB uint8 ``(H, W, 3)``; masks bool ``(H, W)``; points ``(x, y)`` pixels;
boxes XYXY with exclusive ends. torch is imported lazily inside functions (engines only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segtool.core.masks import mask_bbox, mask_iou
from segtool.engines.base import Candidate

#: Proposals overlapping an existing instance at least this much (mask IoU) are dropped.
EXISTING_IOU = 0.7
#: ``ProposalConfig.method`` values.
METHODS = ("fast", "legacy")


@dataclass
class ProposalConfig:
    """Parameters of automatic mask generation (defaults follow ``SamAutomaticMaskGenerator``).

    Attributes
    ----------
    points_per_side : grid density: ``points_per_side ** 2`` point prompts on the whole image.
    points_per_batch : prompts per decoder call (at most; a CPU ONNX decoder takes one at a time).
    pred_iou_thresh : keep masks whose predicted IoU is at least this.
    stability_score_thresh : keep masks whose stability score (IoU of the mask thresholded at
        ``+offset`` and ``-offset``) is at least this. SAM's default is 0.95; MobileSAM's logits are
        softer and its whole-object masks on the GrabCut set often score 0.80-0.88, so the default
        here is 0.80.
    stability_score_offset : logit offset of the stability score.
    box_nms_thresh : box IoU above which the lower-scored of two proposals is dropped.
    crop_n_layers : extra crop layers (layer i has ``(2**i)**2`` overlapping crops) for small
        objects; 0 runs on the whole image only.
    crop_n_points_downscale_factor : points a side on layer i are ``points_per_side / factor**i``.
    crop_overlap_ratio, crop_nms_thresh : overlap of neighbouring crops; NMS across crops.
    min_region_area : holes and islands smaller than this (pixels) are removed from each mask.
    min_mask_area : proposals smaller than this (pixels, after clean-up) are dropped.
    max_mask_fraction : proposals covering more than this fraction of the image are dropped.
    method : ``"fast"`` (low-res filters, coarse-to-fine grid, crops) or ``"legacy"`` (every point
        decoded, full-resolution filters and masks: the path before issue 14).
    skip_covered : fast path: grid points inside a mask already kept are decoded last, and only
        ``point_budget`` of the grid's points are decoded in all (False: every point, as legacy).
    point_budget : fast path: the fraction of the grid's points decoded at most (uncovered points first).
    """

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.86
    stability_score_thresh: float = 0.80
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_n_points_downscale_factor: int = 1
    crop_overlap_ratio: float = 512 / 1500
    crop_nms_thresh: float = 0.7
    min_region_area: int = 100
    min_mask_area: int = 100
    max_mask_fraction: float = 0.95
    method: str = "fast"
    skip_covered: bool = True
    point_budget: float = 0.25


class Proposal(Candidate):
    """One automatic proposal: a mask (kept as a crop plus its offset) with its scores.

    Parameters
    ----------
    mask : optional bool ``(H, W)`` full mask, or ``crop`` / ``offset`` / ``image_size`` as for
        :class:`~segtool.engines.base.Candidate`.
    score : predicted IoU (SAM) or region contrast in 0..1 (classical); higher is better.
    stability : stability score (SAM) or 1.0.
    point : ``(x, y)`` prompt that produced it (SAM), or ``None``.
    extra : free-form details (e.g. the crop box it came from).

    Attributes
    ----------
    bbox : XYXY exclusive box of the mask in image pixels (from the crop).
    """

    __slots__ = ("stability", "point", "extra")

    def __init__(self, mask: np.ndarray | None = None, score: float = 1.0, stability: float = 1.0,
                 point: tuple[float, float] | None = None, extra: dict[str, Any] | None = None, *,
                 crop: np.ndarray | None = None, offset: tuple[int, int] = (0, 0),
                 image_size: tuple[int, int] | None = None) -> None:
        super().__init__(mask=mask, score=score, crop=crop, offset=offset, image_size=image_size)
        self.stability = float(stability)
        self.point = point
        self.extra = dict(extra or {})

    def __repr__(self) -> str:
        return f"Proposal(score={self.score:.3f}, stability={self.stability:.3f}, bbox={self.bbox})"


def box_nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Indices kept by torchvision's box NMS (XYXY float boxes ``(N, 4)``, scores ``(N,)``), best first."""
    import torch
    from torchvision.ops.boxes import batched_nms

    if len(boxes) == 0:
        return np.zeros(0, int)
    keep = batched_nms(torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(scores, dtype=torch.float32),
                       torch.zeros(len(boxes), dtype=torch.int64), iou_threshold=thresh)
    return keep.numpy()


def prefer_smaller_crops(props: list[Proposal], thresh: float) -> list[Proposal]:
    """Box NMS across crop layers scored by ``1 / crop area`` (SAM's rule: a mask from a smaller crop
    wins over its duplicate from a larger one). ``props`` carry their crop box in ``extra["crop"]``."""
    scores = [1.0 / max((p.extra["crop"][2] - p.extra["crop"][0]) * (p.extra["crop"][3] - p.extra["crop"][1]), 1)
              for p in props]
    keep = box_nms(np.array([p.bbox for p in props], np.float32).reshape(-1, 4), np.array(scores, np.float32), thresh)
    return [props[i] for i in keep]


def sam_proposals(engine: Any, image: np.ndarray, config: ProposalConfig | None = None, *,
                  context: Any | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Proposal]:
    """SAM automatic mask generation with a SAM engine (``sam-onnx`` or ``sam-torch``).

    Parameters
    ----------
    engine : a SAM engine (``decode_points`` for the fast path; ``predict`` returning candidates with
        ``low_res_logits`` is enough for the legacy one).
    image : RGB uint8 ``(H, W, 3)``.
    config : generation parameters (:class:`ProposalConfig`; ``method`` picks the path).
    context : the engine's prepared context of ``image`` (computed when ``None``).
    progress : called as ``progress(done_points, total_points)`` per batch of each crop (points
        skipped because they are already covered count as done).

    Returns
    -------
    Proposals, best score first.
    """
    cfg = config or ProposalConfig()
    if cfg.method not in METHODS:
        raise ValueError(f"unknown proposal method {cfg.method!r}; use one of {', '.join(METHODS)}")
    if cfg.method == "legacy" or not callable(getattr(engine, "decode_points", None)):
        from segtool.engines.proposals_legacy import legacy_sam_proposals

        return legacy_sam_proposals(engine, image, cfg, context=context, progress=progress)
    from segtool.engines.proposals_sam import fast_sam_proposals

    return fast_sam_proposals(engine, image, cfg, context=context, progress=progress)


def crop_iou(proposal: Candidate, mask: np.ndarray, mask_area: int | None = None) -> float:
    """Mask IoU of a crop candidate with a full bool ``(H, W)`` mask, looking only inside the crop."""
    box = proposal.bbox
    area_p = int(np.count_nonzero(proposal.crop))
    area_m = int(np.count_nonzero(mask)) if mask_area is None else mask_area
    if box is None:
        return 1.0 if area_m == 0 else 0.0
    x0, y0, x1, y1 = box
    inter = int(np.count_nonzero(mask[y0:y1, x0:x1] & proposal.crop))
    union = area_p + area_m - inter
    return inter / union if union else 1.0


def pair_iou(a: Candidate, b: Candidate) -> float:
    """Mask IoU of two crop candidates of one image, looking only where their boxes meet."""
    if a.bbox is None or b.bbox is None:
        return 1.0 if a.bbox is None and b.bbox is None else 0.0
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.bbox, b.bbox
    ix0, iy0, ix1, iy1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
    inter = 0
    if ix0 < ix1 and iy0 < iy1:
        inter = int(np.count_nonzero(a.crop[iy0 - ay0:iy1 - ay0, ix0 - ax0:ix1 - ax0]
                                     & b.crop[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0]))
    union = int(np.count_nonzero(a.crop)) + int(np.count_nonzero(b.crop)) - inter
    return inter / union if union else 1.0


def mask_nms(props: Sequence[Candidate], thresh: float) -> list[int]:
    """Indices kept by greedy NMS on mask IoU (best score first): a proposal is dropped when its mask
    overlaps a better one's with IoU above ``thresh``. Unlike box NMS, an object is never dropped
    because a background mask around it has a large box."""
    order = sorted(range(len(props)), key=lambda i: -props[i].score)
    kept: list[int] = []
    for i in order:
        if all(pair_iou(props[i], props[j]) <= thresh for j in kept):
            kept.append(i)
    return kept


def drop_overlapping(proposals: Sequence[Proposal], existing: Sequence[np.ndarray],
                     threshold: float = EXISTING_IOU) -> list[Proposal]:
    """Proposals whose mask IoU with every ``existing`` bool ``(H, W)`` mask is below ``threshold``."""
    if not existing:
        return list(proposals)
    areas = [int(np.count_nonzero(m)) for m in existing]
    return [p for p in proposals
            if all(crop_iou(p, m, a) < threshold for m, a in zip(existing, areas, strict=True))]


def _region_score(lab: np.ndarray, mask: np.ndarray) -> float:
    """Colour contrast of a region with a ring around it, mapped to 0..1 (Lab ``(H, W, 3)`` float)."""
    import cv2

    ring = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool) & ~mask
    if not ring.any():
        return 0.0
    delta = float(np.linalg.norm(lab[mask].mean(axis=0) - lab[ring].mean(axis=0)))
    return delta / (delta + 20.0)


def _fill_holes(mask: np.ndarray, min_region_area: int) -> np.ndarray:
    """Remove holes and islands smaller than ``min_region_area`` pixels (OpenCV components)."""
    import cv2

    out = mask.copy()
    for value in (False, True):
        target = (out == value).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(target, connectivity=8)
        small = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] < min_region_area]
        if small:
            out[np.isin(labels, small)] = not value
    return out


def _classical_labelings(small: np.ndarray) -> list[np.ndarray]:
    """Label maps ``(h, w)`` int of a downscaled RGB image: Felzenszwalb at 3 scales, merged SLIC."""
    from skimage import graph
    from skimage.segmentation import felzenszwalb, slic

    area = small.shape[0] * small.shape[1]
    maps = [felzenszwalb(small, scale=s, sigma=0.5, min_size=max(area // 400, 20)) for s in (200, 600, 1500)]
    superpixels = slic(small, n_segments=200, compactness=10, start_label=1)
    rag = graph.rag_mean_color(small, superpixels)
    for thresh in (20, 35):
        maps.append(graph.cut_threshold(superpixels, rag.copy(), thresh))
    return maps


def classical_proposals(image: np.ndarray, config: ProposalConfig | None = None, *,
                        max_side: int = 320, dedupe_iou: float = 0.85) -> list[Proposal]:
    """Model-free proposals from graph-based regions (no SAM needed).

    Felzenszwalb segmentations at three scales and SLIC superpixels merged on a colour region
    adjacency graph at two thresholds (all on a copy downscaled to ``max_side``) give candidate
    regions; each is upscaled, cleaned of small holes/islands, filtered by ``min_mask_area`` and
    ``max_mask_fraction``, scored by its colour contrast with its surroundings, and near-duplicates
    (mask IoU >= ``dedupe_iou``) are dropped.

    Parameters
    ----------
    image : RGB uint8 ``(H, W, 3)``.

    Returns
    -------
    Proposals, best score first, masks bool ``(H, W)``.
    """
    import cv2

    cfg = config or ProposalConfig()
    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA) if factor < 1 else image
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    min_small = cfg.min_mask_area * factor * factor
    candidates: list[tuple[float, np.ndarray]] = []
    for labels in _classical_labelings(small):
        for value in np.unique(labels):
            region = labels == value
            n = int(np.count_nonzero(region))
            if n < min_small or n > cfg.max_mask_fraction * region.size:
                continue
            candidates.append((_region_score(lab, region), region))
    candidates.sort(key=lambda c: -c[0])
    kept: list[tuple[float, np.ndarray]] = []
    for score, region in candidates:
        if all(mask_iou(region, other) < dedupe_iou for _, other in kept):
            kept.append((score, region))
    out = []
    for score, region in kept:
        mask = cv2.resize(region.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
        mask = _fill_holes(mask, cfg.min_region_area)
        box = mask_bbox(mask)
        if box is None or np.count_nonzero(mask) < cfg.min_mask_area:
            continue
        out.append(Proposal(mask=mask, score=float(score)))
    return out


def generate_proposals(image: np.ndarray, engine: Any | None = None, config: ProposalConfig | None = None, *,
                       existing: Sequence[np.ndarray] = (), context: Any | None = None,
                       progress: Callable[[int, int], None] | None = None) -> list[Proposal]:
    """Proposals for one image: SAM when ``engine`` is given, else the classical fallback.

    Proposals overlapping one of the ``existing`` bool ``(H, W)`` masks with IoU >= 0.7 are dropped.
    """
    if engine is None:
        props = classical_proposals(image, config)
    else:
        props = sam_proposals(engine, image, config, context=context, progress=progress)
    return drop_overlapping(props, existing)
