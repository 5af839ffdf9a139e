"""SAM automatic proposals, fast: a point budget, low-res filters, masks as crops, mask-IoU NMS.

segment-anything's ``SamAutomaticMaskGenerator`` decodes every point of an ``n x n`` grid; on a CPU that
is one decoder call (~45 ms with MobileSAM on 2 cores) per point. Here:

1. **A point budget, spent where it finds something.** At most ``point_budget`` of the grid's points are
   decoded (a quarter by default). Pass 1 walks the grid coarse to fine (every 4th point a side, then
   every 2nd, then the rest) and skips points inside a mask already kept: they mostly return that mask
   again. Pass 2 spends the rest of the budget on the skipped points, first those near a point whose
   decoding found a mask unlike every one kept before (objects and their parts cluster), then those
   covered only by large masks (a large mask often holds smaller objects).
2. **All of the decoder's outputs**: SAM's 3 multi-mask outputs per point (whole, part, sub-part), as the
   generator uses them.
3. **Filters on the low-res logits.** Predicted IoU comes with the decoder; the stability score (IoU of
   the mask at logit ``+offset`` and ``-offset``) is computed on SAM's 1024-grid logits (the first
   upscaling step; the full-resolution mask is a bilinear resample of it), not on the full image.
4. **Only survivors are upscaled,** each around its object (:func:`segtool.engines.sam_upscale.mask_crop`),
   and clean-up (small holes and islands, exactly as SAM's ``remove_small_regions``; areas) runs on
   those crops. Nothing of the image's full size is allocated per candidate.
5. **NMS on mask IoU** (:func:`segtool.engines.proposals.mask_nms`) instead of box IoU: a box NMS drops an
   object whose box lies inside a background mask's box whenever the background scores higher, which,
   with fewer samples per region than the full grid, happens often.
6. **Batched decoder calls** where the runtime gains from them (``engine.point_batch``: the PyTorch
   backend and onnxruntime on CUDA; a CPU onnxruntime session is as fast one prompt at a time).

Conventions: images RGB uint8 ``(H, W, 3)``; points ``(x, y)`` pixels; boxes XYXY exclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segtool.engines import sam_common as sc
from segtool.engines.proposals import Proposal, ProposalConfig, mask_nms, prefer_smaller_crops
from segtool.engines.sam_postprocess import postprocess_logits
from segtool.engines.sam_upscale import mask_crop, up_window

#: The budget never goes below this many points (or the whole grid, when it is smaller).
MIN_BUDGET = 64
#: Grid neighbours (Chebyshev distance, in grid steps) whose pass-2 priority a decoded point changes.
NEAR = 2


@dataclass
class _Found:
    """A decoded mask that passed the filters: its low-res logits, scores and prompt point (crop pixels)."""

    low_res: np.ndarray
    iou: float
    stability: float
    point: tuple[float, float]


def coarse_to_fine(points_per_side: int) -> list[np.ndarray]:
    """Indices into SAM's ``n x n`` point grid (row-major), in three passes: every 4th point a side,
    then the rest of every 2nd, then all others. Together they are every point exactly once."""
    i = np.arange(points_per_side)
    level = np.where(i % 4 == 2, 0, np.where(i % 2 == 0, 1, 2))
    grid = np.maximum(level[:, None], level[None, :]).reshape(-1)  # row = y index, column = x index
    return [np.flatnonzero(grid == k) for k in range(3)]


def stability_on_up_grid(up: np.ndarray, offset: float, threshold: float = 0.0) -> float:
    """SAM's stability score (``|logits > t + offset| / |logits > t - offset|``) on 1024-grid logits."""
    loose = int(np.count_nonzero(up > threshold - offset))
    return int(np.count_nonzero(up > threshold + offset)) / loose if loose else 0.0


def _filtered(logits: np.ndarray, input_size: tuple[int, int], offset: float
              ) -> tuple[float, np.ndarray, int, int] | None:
    """Stability score and the 1024-grid mask window ``(stability, inside, row0, col0)`` of one output.

    Only the window holding every up-value above ``-offset`` is upscaled (exact; see
    :func:`segtool.engines.sam_upscale.up_window`). None when the mask is empty.
    """
    window = up_window(logits, input_size, -offset)
    if window is None:
        return None
    up, row0, col0 = window
    stability = stability_on_up_grid(up, offset)
    return stability, up > 0, row0, col0


def _output_choice(n_outputs: int) -> slice:
    """Which decoder outputs proposals use: SAM's 3 multi-mask ones of a 4-output decoder, else all."""
    return slice(1, 4) if n_outputs == 4 else slice(0, n_outputs)


class _Walker:
    """Decodes the grid points of one prepared crop within the point budget (see the module docstring).

    ``cover`` holds, per 1024-grid pixel of the crop, the area fraction of the smallest kept mask that
    covers it (``inf`` where none does); ``prio`` per grid point, how many of its neighbours (within
    :data:`NEAR` grid steps) found a new mask minus how many found only known ones.
    """

    def __init__(self, engine: Any, context: Any, crop_hw: tuple[int, int], cfg: ProposalConfig) -> None:
        self.engine, self.context, self.crop_hw, self.cfg = engine, context, crop_hw, cfg
        self.input_size = tuple(getattr(context, "input_size", None) or sc.resized_shape(*crop_hw))
        self.cover = np.full(self.input_size, np.inf, np.float32)
        self.batch = max(1, min(cfg.points_per_batch, int(getattr(engine, "point_batch", cfg.points_per_batch))))
        self.found: list[_Found] = []
        self._windows: list[tuple[np.ndarray, int, int, int]] = []  # (inside, row0, col0, area) per found
        self.decoded = 0
        self._reported = -1
        self.novel = np.zeros(0, bool)  # per point of the last decoded batch: found a new mask

    def cover_at(self, points: np.ndarray) -> np.ndarray:
        """float ``(N,)``: area fraction of the smallest kept mask covering each ``(x, y)`` crop pixel (inf: none)."""
        h, w = self.input_size
        ys = np.clip((points[:, 1] + 0.5) * h / self.crop_hw[0], 0, h - 1).astype(int)
        xs = np.clip((points[:, 0] + 0.5) * w / self.crop_hw[1], 0, w - 1).astype(int)
        return self.cover[ys, xs]

    def decode(self, points: np.ndarray) -> None:
        """Decode ``points`` (float ``(B, 2)``) in one call and keep the masks passing both filters."""
        cfg = self.cfg
        coords, labels = sc.single_point_prompts(points, self.crop_hw)
        low, iou = self.engine.decode_points(self.context, coords, labels)
        self.decoded += len(points)
        self.novel = np.zeros(len(points), bool)
        pick = _output_choice(low.shape[1])
        for b, (lows, ious) in enumerate(zip(low[:, pick], iou[:, pick], strict=True)):
            for logits, score in zip(lows, ious, strict=True):
                if score < cfg.pred_iou_thresh:
                    continue
                filtered = _filtered(logits, self.input_size, cfg.stability_score_offset)
                if filtered is None or filtered[0] < cfg.stability_score_thresh:
                    continue
                stability, inside, r0, c0 = filtered
                self.novel[b] |= self._is_novel(inside, r0, c0)
                # issue 15: the interactive path's clean-up of specks and pinholes (sam_postprocess)
                kept = postprocess_logits(logits, self.input_size, sc.transform_points(points[b:b + 1], self.crop_hw),
                                          np.ones(1, int))
                self.found.append(_Found(kept, float(score), stability, (float(points[b, 0]), float(points[b, 1]))))
                cover = self.cover[r0:r0 + inside.shape[0], c0:c0 + inside.shape[1]]
                area = np.float32(np.count_nonzero(inside) / self.cover.size)
                np.minimum(cover, area, out=cover, where=inside)

    def _is_novel(self, inside: np.ndarray, r0: int, c0: int, thresh: float = 0.5) -> bool:
        """Whether a kept 1024-grid mask window is a new object: mask IoU < ``thresh`` with every one kept before."""
        area = int(np.count_nonzero(inside))
        h, w = inside.shape
        novel = True
        for other, o0, p0, other_area in self._windows:
            y0, x0 = max(r0, o0), max(c0, p0)
            y1, x1 = min(r0 + h, o0 + other.shape[0]), min(c0 + w, p0 + other.shape[1])
            if y0 >= y1 or x0 >= x1 or min(area, other_area) < thresh * max(area, other_area):
                continue
            inter = int(np.count_nonzero(inside[y0 - r0:y1 - r0, x0 - c0:x1 - c0] & other[y0 - o0:y1 - o0, x0 - p0:x1 - p0]))
            if inter / max(area + other_area - inter, 1) >= thresh:
                novel = False
                break
        self._windows.append((inside, r0, c0, area))
        return novel

    def walk(self, points: np.ndarray, progress: Callable[[int, int], None] | None) -> None:
        """Visit the grid points (``points`` float ``(n*n, 2)``, row-major) within the budget."""
        side = int(round(len(points) ** 0.5))
        passes = coarse_to_fine(side) if side * side == len(points) else [np.arange(len(points))]
        total = len(points)
        budget = total if not self.cfg.skip_covered else \
            max(int(round(self.cfg.point_budget * total)), min(total, MIN_BUDGET))
        todo = np.ones(total, bool)
        self.prio = np.zeros(total, np.float32)
        level = np.zeros(total, int)
        for k, order in enumerate(passes):
            level[order] = k
        for order in passes:  # pass 1: coarse to fine, covered points skipped
            pending = order
            while pending.size and self.decoded < budget:
                if self.cfg.skip_covered:
                    pending = pending[np.isinf(self.cover_at(points[pending]))]
                batch, pending = pending[:min(self.batch, budget - self.decoded)], pending[self.batch:]
                self._run(points, batch, todo, progress)
        while todo.any() and self.decoded < budget:  # pass 2: near points that found something new first
            left = np.flatnonzero(todo)
            area = self.cover_at(points[left])
            order = left[np.lexsort((left, level[left], -area, -self.prio[left]))]
            self._run(points, order[:min(self.batch, budget - self.decoded)], todo, progress)
        if progress is not None and self._reported != total:
            progress(total, total)

    def _run(self, points: np.ndarray, batch: np.ndarray, todo: np.ndarray,
             progress: Callable[[int, int], None] | None) -> None:
        if batch.size:
            self.decode(points[batch])
            todo[batch] = False
            side = int(round(len(points) ** 0.5))
            if side * side == len(points):
                for q, novel in zip(batch, self.novel, strict=True):  # near a new mask: first in pass 2
                    qy, qx = divmod(int(q), side)
                    ys, xs = slice(max(qy - NEAR, 0), qy + NEAR + 1), slice(max(qx - NEAR, 0), qx + NEAR + 1)
                    self.prio.reshape(side, side)[ys, xs] += 1.0 if novel else -1.0
            if progress is not None:
                self._reported = self.decoded
                progress(self.decoded, len(points))


def _crop_proposals(engine: Any, image: np.ndarray, crop_box: Sequence[int], layer: int,
                    points_unit: np.ndarray, cfg: ProposalConfig, context: Any | None,
                    progress: Callable[[int, int], None] | None) -> tuple[list[Proposal], int]:
    """Proposals of one crop (full-image coordinates) and the number of decoded points."""
    import torch
    from segment_anything.utils.amg import is_box_near_crop_edge

    x0, y0, x1, y1 = (int(v) for v in crop_box)
    height, width = image.shape[:2]
    crop_hw = (y1 - y0, x1 - x0)
    if context is None:
        context = engine.prepare(image[y0:y1, x0:x1])
    points = points_unit * np.array([[crop_hw[1], crop_hw[0]]], np.float32)
    points = np.clip(points, 0, np.array([crop_hw[1] - 1, crop_hw[0] - 1], np.float32))
    walker = _Walker(engine, context, crop_hw, cfg)
    walker.walk(points, progress)
    props = []
    for f in walker.found:
        crop, (cx, cy) = mask_crop(f.low_res, walker.input_size, crop_hw)
        if crop.size == 0:
            continue
        prop = Proposal(crop=crop, offset=(cx + x0, cy + y0), image_size=(height, width), score=f.iou,
                        stability=f.stability, point=(f.point[0] + x0, f.point[1] + y0),
                        extra={"crop": (x0, y0, x1, y1)})
        if layer > 0 and bool(is_box_near_crop_edge(torch.tensor([prop.bbox], dtype=torch.float32),
                                                    [x0, y0, x1, y1], [0, 0, width, height])[0]):
            continue
        props.append(prop)
    return [props[i] for i in mask_nms(props, cfg.box_nms_thresh)], walker.decoded


def _outside_sizes(box: tuple[int, int, int, int], size: tuple[int, int]) -> dict[str, int]:
    """Pixels of the image outside ``box`` in each band (top/bottom full width, left/right box height)."""
    x0, y0, x1, y1 = box
    height, width = size
    return {"top": y0 * width, "bottom": (height - y1) * width, "left": x0 * (y1 - y0), "right": (width - x1) * (y1 - y0)}


def clean_crop(prop: Proposal, min_region_area: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The proposal without holes and islands smaller than ``min_region_area`` pixels: ``(crop, offset)``.

    The same as segment-anything's ``remove_small_regions`` (holes, then islands, 8-connected) on the
    full mask, computed on the crop: the crop is padded with background on each side that does not touch
    the image border, and a background region reaching that padding counts the image's pixels outside
    the crop on those sides (it is one region with them, so it is not a small hole unless they are few:
    then, and only then, the full mask is cleaned, as the hole reaches outside the crop).
    """
    import cv2

    x0, y0, x1, y1 = prop.bbox
    height, width = prop.image_size
    # 1 or 2 lines before, so that the padded array starts on an even image row and column: OpenCV labels
    # components in 2x2 blocks, and the order of labels decides which island stays when all are small
    pads = ((0 if y0 == 0 else 2 - y0 % 2, int(y1 < height)), (0 if x0 == 0 else 2 - x0 % 2, int(x1 < width)))
    mask = np.pad(prop.crop, pads)
    ph, pw = mask.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=8)
    sizes = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    outside = _outside_sizes(prop.bbox, prop.image_size)
    padding = np.ones((ph, pw), bool)
    padding[pads[0][0]:ph - pads[0][1], pads[1][0]:pw - pads[1][1]] = False
    true_sizes = sizes - np.bincount(labels[padding], minlength=n)
    for side, line in (("top", labels[0]), ("bottom", labels[-1]), ("left", labels[:, 0]), ("right", labels[:, -1])):
        padded = pads[0][0] if side == "top" else pads[0][1] if side == "bottom" else \
            pads[1][0] if side == "left" else pads[1][1]
        if padded:  # the padding lines are background: one region with the image outside on that side
            true_sizes[int(line[0])] += outside[side]
    small = np.flatnonzero(true_sizes < min_region_area)
    small = small[small > 0]  # label 0 is the foreground
    if small.size and np.isin(small, labels[padding]).any():
        return _clean_full(prop, min_region_area)
    if small.size:
        mask = mask | np.isin(labels, small)
    mask = _remove_islands(mask, min_region_area)
    return mask[pads[0][0]:ph - pads[0][1], pads[1][0]:pw - pads[1][1]], (x0, y0)


def _clean_full(prop: Proposal, min_region_area: int) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`clean_crop` on the full mask (a small background region reaches outside the crop)."""
    from segment_anything.utils.amg import remove_small_regions

    mask, _ = remove_small_regions(prop.mask, min_region_area, mode="holes")
    mask, _ = remove_small_regions(np.asarray(mask, bool), min_region_area, mode="islands")
    return np.asarray(mask, bool), (0, 0)


def _remove_islands(mask: np.ndarray, min_region_area: int) -> np.ndarray:
    """Drop foreground parts smaller than ``min_region_area`` (the largest stays if all are small)."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]
    small = np.flatnonzero(sizes < min_region_area) + 1
    if small.size == 0:
        return mask
    keep = np.setdiff1d(np.arange(1, n), small)
    if keep.size == 0:
        keep = np.array([int(np.argmax(sizes)) + 1])
    return np.isin(labels, keep)


def _tightened(prop: Proposal, crop: np.ndarray, offset: tuple[int, int]) -> Proposal | None:
    """``prop`` with its mask replaced by ``crop`` at ``offset``, tightened to its bbox; None when empty."""
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if rows.size == 0:
        return None
    x0, y0 = offset
    tight = crop[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return Proposal(crop=tight, offset=(x0 + int(cols[0]), y0 + int(rows[0])), image_size=prop.image_size,
                    score=prop.score, stability=prop.stability, point=prop.point, extra=prop.extra)


def clean_up(props: list[Proposal], cfg: ProposalConfig, image_area: int) -> list[Proposal]:
    """Remove small holes/islands, drop tiny or huge masks, NMS again; best score first."""
    cleaned: list[Proposal] = []
    for p in props:
        crop, offset = clean_crop(p, cfg.min_region_area) if cfg.min_region_area > 0 else (p.crop, p.offset)
        area = int(np.count_nonzero(crop))
        if area < cfg.min_mask_area or area > cfg.max_mask_fraction * image_area:
            continue
        tight = _tightened(p, crop, offset)
        if tight is not None:
            cleaned.append(tight)
    return sorted((cleaned[i] for i in mask_nms(cleaned, cfg.box_nms_thresh)), key=lambda p: -p.score)


def fast_sam_proposals(engine: Any, image: np.ndarray, cfg: ProposalConfig, *, context: Any | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       stats: dict[str, int] | None = None) -> list[Proposal]:
    """SAM automatic mask generation, the fast path (see the module docstring).

    Parameters
    ----------
    engine : a SAM engine with ``prepare`` and ``decode_points`` (both backends).
    image : RGB uint8 ``(H, W, 3)``.
    cfg : generation parameters.
    context : the engine's prepared context of ``image`` (computed when ``None``).
    progress : ``progress(done_points, total_points)`` per batch of each crop.
    stats : when given, ``stats["decoded"]`` / ``stats["points"]`` count decoded and grid points.

    Returns
    -------
    Proposals as crops, best score first.
    """
    from segment_anything.utils.amg import build_all_layer_point_grids, generate_crop_boxes

    height, width = image.shape[:2]
    grids = build_all_layer_point_grids(cfg.points_per_side, cfg.crop_n_layers, cfg.crop_n_points_downscale_factor)
    crop_boxes, layer_idxs = generate_crop_boxes((height, width), cfg.crop_n_layers, cfg.crop_overlap_ratio)
    props: list[Proposal] = []
    decoded = points = 0
    for box, layer in zip(crop_boxes, layer_idxs, strict=True):
        found, n = _crop_proposals(engine, image, box, layer, grids[layer], cfg, context if layer == 0 else None,
                                   progress)
        props += found
        decoded, points = decoded + n, points + len(grids[layer])
    if len(crop_boxes) > 1:
        props = prefer_smaller_crops(props, cfg.crop_nms_thresh)
    if stats is not None:
        stats.update(decoded=decoded, points=points)
    return clean_up(props, cfg, height * width)
