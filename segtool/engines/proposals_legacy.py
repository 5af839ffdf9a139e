"""Automatic mask proposals as segtool computed them up to issue 14 (``ProposalConfig(method="legacy")``).

Kept reachable so that ``segtool bench proposals`` can print the old and the new path side by side in one
run. Every grid point is decoded (the ONNX decoder as exported, one prompt per call), every candidate
passing the predicted-IoU filter is upscaled to the full image for its stability score, and the masks
are full ``(H, W)`` arrays. The default path is :mod:`segtool.engines.proposals_sam`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from segtool.core.masks import mask_bbox
from segtool.engines.base import Prompt
from segtool.engines.proposals import Proposal, ProposalConfig, box_nms, prefer_smaller_crops

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
        props.append(Proposal(crop=mask[box[1]:box[3], box[0]:box[2]], offset=full_box[:2],
                              image_size=(height, width), score=iou, stability=stab,
                              point=(px + x0, py + y0), extra={"crop": (x0, y0, x1, y1)}))
    keep = box_nms(np.array([p.bbox for p in props], np.float32).reshape(-1, 4),
                   np.array([p.score for p in props], np.float32), cfg.box_nms_thresh)
    return [props[i] for i in keep]


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
        if mask_bbox(mask) is None:
            continue
        p.mask = mask
        cleaned.append(p)
    keep = box_nms(np.array([p.bbox for p in cleaned], np.float32).reshape(-1, 4),
                   np.array([p.score for p in cleaned], np.float32), cfg.box_nms_thresh)
    return sorted((cleaned[i] for i in keep), key=lambda p: -p.score)


def legacy_sam_proposals(engine: Any, image: np.ndarray, config: ProposalConfig | None = None, *,
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
    if len(crop_boxes) > 1:
        props = prefer_smaller_crops(props, cfg.crop_nms_thresh)
    return _clean_up(props, cfg, height * width)


