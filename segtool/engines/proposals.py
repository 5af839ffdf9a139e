"""Automatic mask proposals ("segment everything").

Two generators share one output type, :class:`Proposal`:

- :func:`sam_proposals`: SAM automatic mask generation on either SAM backend (``sam-onnx``,
  ``sam-torch``), as segment-anything's ``SamAutomaticMaskGenerator`` does it: a grid of single-point
  prompts (optionally repeated on crop layers for small objects), decoder calls in batches,
  predicted-IoU and stability-score filters, box NMS, small-region and hole clean-up, minimum area.
  The helpers are segment-anything's own ``utils.amg`` functions and torchvision's ``batched_nms``.
- :func:`classical_proposals`: the fallback when no model is installed: graph-based regions
  (Felzenszwalb) at several scales plus SLIC superpixels merged on a region adjacency graph, holes
  filled, filtered by area and de-duplicated by mask IoU.

:func:`drop_overlapping` removes proposals that duplicate an existing instance (IoU >= 0.7).

Conventions: images are RGB uint8 ``(H, W, 3)``; masks bool ``(H, W)``; points ``(x, y)`` pixels;
boxes XYXY with exclusive ends. torch is imported lazily inside functions (engines only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segtool.core.masks import mask_bbox, mask_iou
from segtool.engines.base import Prompt

#: Proposals overlapping an existing instance at least this much (mask IoU) are dropped.
EXISTING_IOU = 0.7


@dataclass
class ProposalConfig:
    """Parameters of automatic mask generation (defaults follow ``SamAutomaticMaskGenerator``).

    Attributes
    ----------
    points_per_side : grid density: ``points_per_side ** 2`` point prompts on the whole image.
    points_per_batch : prompts per decoder call.
    pred_iou_thresh : keep masks whose predicted IoU is at least this.
    stability_score_thresh : keep masks whose stability score (IoU of the mask thresholded at
        ``+offset`` and ``-offset``, on full-resolution logits) is at least this. SAM's default
        is 0.95; MobileSAM's logits are softer and its whole-object masks on the GrabCut set often
        score 0.80-0.88, so the default here is 0.80.
    stability_score_offset : logit offset of the stability score.
    box_nms_thresh : box IoU above which the lower-scored of two proposals is dropped.
    crop_n_layers : extra crop layers (layer i has ``(2**i)**2`` overlapping crops) for small
        objects; 0 runs on the whole image only.
    crop_n_points_downscale_factor : points a side on layer i are ``points_per_side / factor**i``.
    crop_overlap_ratio, crop_nms_thresh : overlap of neighbouring crops; NMS across crops.
    min_region_area : holes and islands smaller than this (pixels) are removed from each mask.
    min_mask_area : proposals smaller than this (pixels, after clean-up) are dropped.
    max_mask_fraction : proposals covering more than this fraction of the image are dropped.
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


@dataclass
class Proposal:
    """One automatic proposal.

    Attributes
    ----------
    mask : bool ``(H, W)``.
    score : predicted IoU (SAM) or region contrast in 0..1 (classical); higher is better.
    bbox : XYXY exclusive box of ``mask``.
    stability : stability score (SAM) or 1.0.
    point : ``(x, y)`` prompt that produced it (SAM), or ``None``.
    """

    mask: np.ndarray
    score: float
    bbox: tuple[int, int, int, int]
    stability: float = 1.0
    point: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


#: ``decode(context, points_xy (N, 2)) -> (low_res_logits float32 (M, 256, 256), iou (M,), point_index (M,))``
PointDecoder = Callable[[Any, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _onnx_low_res_decoder(engine: Any) -> PointDecoder:
    """Decode clicks on an ONNX SAM decoder session asking only for the low-res outputs.

    The shared decoder export has a fixed batch of 1, so the clicks run one after another; skipping
    the decoder's full-resolution upscaling roughly halves the time per click on a CPU.
    """
    from segtool.engines import sam_common as sc

    session = getattr(engine, "full_decoder", engine.decoder)  # the decoder as exported (orig_im_size input)

    def decode(context: Any, points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logits, ious = [], []
        feeds = {"image_embeddings": context.embedding,
                 "mask_input": np.zeros((1, 1, sc.LOW_RES, sc.LOW_RES), np.float32),
                 "has_mask_input": np.zeros(1, np.float32),
                 "orig_im_size": np.array(context.orig_size, np.float32)}
        for x, y in np.asarray(points_xy, np.float32).reshape(-1, 2):
            coords, labels = sc.encode_prompt_points(Prompt(points=[[x, y]], labels=[1]), context.orig_size)
            iou, low_res = session.run(["iou_predictions", "low_res_masks"],
                                              {**feeds, "point_coords": coords, "point_labels": labels})
            logits.append(np.asarray(low_res[0], np.float32))
            ious.append(np.asarray(iou[0], np.float32))
        if not logits:
            return np.zeros((0, 256, 256), np.float32), np.zeros(0, np.float32), np.zeros(0, int)
        per = logits[0].shape[0]
        return (np.concatenate(logits), np.concatenate(ious).reshape(-1),
                np.repeat(np.arange(len(logits)), per))
    return decode


def point_decoder(engine: Any) -> PointDecoder:
    """The fastest way ``engine`` offers to decode many single-point prompts on one context.

    In order: an ONNX decoder session (``engine.decoder.run``) asked for low-res outputs only; the
    engine's batched entry point ``predict_points_batch(context, points_xy[, upscale=False])``
    returning ``(full_logits (N, C, H, W), iou (N, C), low_res (N, C, 256, 256))``; else one
    :meth:`predict` call per point with ``multimask=True``.
    """
    if callable(getattr(getattr(engine, "decoder", None), "run", None)) and \
            callable(getattr(engine.decoder, "get_inputs", None)):
        return _onnx_low_res_decoder(engine)
    batch = getattr(engine, "predict_points_batch", None)
    if batch is not None:
        import inspect

        kwargs = {"upscale": False} if "upscale" in inspect.signature(batch).parameters else {}

        def decode_batch(context: Any, points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            out = batch(context, points_xy, **kwargs)
            iou, low_res = np.asarray(out[1], np.float32), np.asarray(out[-1], np.float32)
            n = len(points_xy)
            low_res = low_res.reshape(n, -1, *low_res.shape[-2:])
            index = np.repeat(np.arange(n), low_res.shape[1])
            return low_res.reshape(-1, *low_res.shape[-2:]), iou.reshape(-1), index
        return decode_batch

    def decode_loop(context: Any, points_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logits, ious, index = [], [], []
        for i, (x, y) in enumerate(np.asarray(points_xy, np.float32)):
            for cand in engine.predict(context, Prompt(points=[[x, y]], labels=[1]), multimask=True):
                if cand.low_res_logits is None:
                    continue
                logits.append(np.asarray(cand.low_res_logits, np.float32).reshape(256, 256))
                ious.append(float(cand.score))
                index.append(i)
        if not logits:
            return np.zeros((0, 256, 256), np.float32), np.zeros(0, np.float32), np.zeros(0, int)
        return np.stack(logits), np.asarray(ious, np.float32), np.asarray(index)
    return decode_loop


def _upscale(low_res: np.ndarray, context: Any, crop_hw: tuple[int, int]) -> np.ndarray:
    """Low-res logits ``(256, 256)`` -> float32 ``(h, w)`` logits of the prepared (crop) image."""
    from segtool.engines.sam_common import resized_shape, upscale_logits

    input_size = getattr(context, "input_size", None) or resized_shape(*crop_hw)
    return upscale_logits(low_res, tuple(input_size), crop_hw)


def _process_batch(decode: PointDecoder, context: Any, points_xy: np.ndarray, crop_hw: tuple[int, int],
                   cfg: ProposalConfig) -> list[tuple[np.ndarray, float, float, tuple[float, float]]]:
    """Decode one batch of points and keep masks passing the IoU and stability filters.

    Returns ``(mask bool (h, w) of the crop, predicted iou, stability, point)`` tuples.
    """
    import torch
    from segment_anything.utils.amg import calculate_stability_score

    logits, iou, index = decode(context, points_xy)
    keep = np.flatnonzero(iou >= cfg.pred_iou_thresh)
    out = []
    for k in keep:  # stability at full resolution, as SAM computes it after postprocess_masks
        full = torch.from_numpy(_upscale(logits[k], context, crop_hw))
        stability = float(calculate_stability_score(full, 0.0, cfg.stability_score_offset))
        if stability >= cfg.stability_score_thresh:
            px, py = points_xy[index[k]]
            out.append(((full > 0).numpy(), float(iou[k]), stability, (float(px), float(py))))
    return out


def _nms(boxes: np.ndarray, scores: np.ndarray, thresh: float) -> np.ndarray:
    """Indices kept by torchvision's box NMS (XYXY float boxes ``(N, 4)``, scores ``(N,)``)."""
    import torch
    from torchvision.ops.boxes import batched_nms

    if len(boxes) == 0:
        return np.zeros(0, int)
    keep = batched_nms(torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(scores, dtype=torch.float32),
                       torch.zeros(len(boxes), dtype=torch.int64), iou_threshold=thresh)
    return keep.numpy()


def _crop_proposals(engine: Any, decode: PointDecoder, image: np.ndarray, crop_box: Sequence[int],
                    layer: int, points_unit: np.ndarray, cfg: ProposalConfig, context: Any | None,
                    progress: Callable[[int, int], None] | None) -> list[Proposal]:
    """Proposals of one crop, pasted back into full-image coordinates."""
    import torch
    from segment_anything.utils.amg import is_box_near_crop_edge

    x0, y0, x1, y1 = (int(v) for v in crop_box)
    crop = image[y0:y1, x0:x1]
    crop_hw = crop.shape[:2]
    if context is None:
        context = engine.prepare(crop)
    points = points_unit * np.array([[crop_hw[1], crop_hw[0]]], np.float32)
    points = np.clip(points, 0, np.array([crop_hw[1] - 1, crop_hw[0] - 1], np.float32))
    found: list[tuple[np.ndarray, float, float, tuple[float, float]]] = []
    for start in range(0, len(points), cfg.points_per_batch):
        found += _process_batch(decode, context, points[start:start + cfg.points_per_batch], crop_hw, cfg)
        if progress is not None:
            progress(min(start + cfg.points_per_batch, len(points)), len(points))
    height, width = image.shape[:2]
    props = []
    for mask, iou, stab, (px, py) in found:
        box = mask_bbox(mask)
        if box is None:
            continue
        full_box = (box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0)
        if layer > 0 and bool(is_box_near_crop_edge(torch.tensor([full_box], dtype=torch.float32),
                                                    [x0, y0, x1, y1], [0, 0, width, height])[0]):
            continue
        props.append(Proposal(mask=mask, score=iou, bbox=full_box, stability=stab,
                              point=(px + x0, py + y0), extra={"crop": (x0, y0, x1, y1)}))
    keep = _nms(np.array([p.bbox for p in props], np.float32).reshape(-1, 4),
                np.array([p.score for p in props], np.float32), cfg.box_nms_thresh)
    kept = [props[i] for i in keep]
    for p in kept:  # paste crop masks into full-image masks (only the kept ones)
        if (x0, y0, x1, y1) != (0, 0, width, height):
            full = np.zeros((height, width), bool)
            full[y0:y1, x0:x1] = p.mask
            p.mask = full
    return kept


def _clean_up(props: list[Proposal], cfg: ProposalConfig, image_area: int) -> list[Proposal]:
    """Remove small holes/islands, drop tiny or huge masks, NMS again (SAM's post-processing)."""
    from segment_anything.utils.amg import remove_small_regions

    cleaned: list[Proposal] = []
    for p in props:
        mask = p.mask
        if cfg.min_region_area > 0:
            mask, _ = remove_small_regions(mask, cfg.min_region_area, mode="holes")
            mask, _ = remove_small_regions(mask, cfg.min_region_area, mode="islands")
            mask = mask.astype(bool)
        area = int(np.count_nonzero(mask))
        if area < cfg.min_mask_area or area > cfg.max_mask_fraction * image_area:
            continue
        box = mask_bbox(mask)
        if box is None:
            continue
        p.mask, p.bbox = mask, box
        cleaned.append(p)
    keep = _nms(np.array([p.bbox for p in cleaned], np.float32).reshape(-1, 4),
                np.array([p.score for p in cleaned], np.float32), cfg.box_nms_thresh)
    return sorted((cleaned[i] for i in keep), key=lambda p: -p.score)


def sam_proposals(engine: Any, image: np.ndarray, config: ProposalConfig | None = None, *,
                  context: Any | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Proposal]:
    """SAM automatic mask generation with a SAM engine (``sam-onnx`` or ``sam-torch``).

    Parameters
    ----------
    engine : an engine with ``prepare``/``predict`` returning candidates with ``low_res_logits``
        (and optionally ``predict_points_batch``).
    image : RGB uint8 ``(H, W, 3)``.
    config : generation parameters (:class:`ProposalConfig`).
    context : the engine's prepared context of ``image`` (computed when ``None``).
    progress : called as ``progress(done_points, total_points)`` per batch of each crop.

    Returns
    -------
    Proposals, best score first, masks bool ``(H, W)``.
    """
    from segment_anything.utils.amg import build_all_layer_point_grids, generate_crop_boxes

    cfg = config or ProposalConfig()
    height, width = image.shape[:2]
    decode = point_decoder(engine)
    grids = build_all_layer_point_grids(cfg.points_per_side, cfg.crop_n_layers,
                                        cfg.crop_n_points_downscale_factor)
    crop_boxes, layer_idxs = generate_crop_boxes((height, width), cfg.crop_n_layers, cfg.crop_overlap_ratio)
    props: list[Proposal] = []
    for box, layer in zip(crop_boxes, layer_idxs, strict=True):
        ctx = context if layer == 0 else None
        props += _crop_proposals(engine, decode, image, box, layer, grids[layer], cfg, ctx, progress)
    if len(crop_boxes) > 1:  # prefer masks from smaller crops, as SAM does
        scores = [1.0 / max((p.extra["crop"][2] - p.extra["crop"][0]) * (p.extra["crop"][3] - p.extra["crop"][1]), 1)
                  for p in props]
        keep = _nms(np.array([p.bbox for p in props], np.float32).reshape(-1, 4),
                    np.array(scores, np.float32), cfg.crop_nms_thresh)
        props = [props[i] for i in keep]
    return _clean_up(props, cfg, height * width)


def drop_overlapping(proposals: Sequence[Proposal], existing: Sequence[np.ndarray],
                     threshold: float = EXISTING_IOU) -> list[Proposal]:
    """Proposals whose mask IoU with every ``existing`` bool ``(H, W)`` mask is below ``threshold``."""
    if not existing:
        return list(proposals)
    return [p for p in proposals if all(mask_iou(p.mask, m) < threshold for m in existing)]


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
        out.append(Proposal(mask=mask, score=float(score), bbox=box))
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
