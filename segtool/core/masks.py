"""Mask helpers: COCO RLE (through ``pycocotools.mask`` only), bbox, area, IoU, polygons with holes.

Conventions
-----------
- A mask is a 2-D ``numpy.ndarray`` of dtype ``bool`` and shape ``(H, W)``.
- An RLE is COCO's compressed RLE as a JSON-friendly dict ``{"size": [H, W], "counts": str}``.
- A bbox is ``(x0, y0, x1, y1)`` in pixels, XYXY with *exclusive* ends, so that
  ``mask[y0:y1, x0:x1]`` is the tight crop and ``x1 - x0`` is the width.
- Polygon vertices are ``(x, y)`` pixel centres, as ``float`` arrays of shape ``(K, 2)``.
  A mask becomes a list of :class:`PolygonPart`: one outer ring and its holes per connected part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from pycocotools import mask as coco_mask

BBox = tuple[int, int, int, int]


def encode_rle(mask: np.ndarray) -> dict:
    """Encode a boolean mask of shape ``(H, W)`` as compressed COCO RLE with ``str`` counts."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def encode_rle_crop(crop: np.ndarray, offset: tuple[int, int], size: tuple[int, int]) -> dict:
    """COCO RLE of a full ``size = (H, W)`` mask that is ``crop`` at ``offset`` and empty elsewhere.

    Equal to ``encode_rle(full)`` for the pasted full mask, but built from the crop's runs alone: nothing
    of size ``H x W`` is allocated, so a mask on a 48-megapixel image costs what its crop costs.

    Parameters
    ----------
    crop : bool ``(h, w)``; offset : ``(x0, y0)`` of its top-left pixel; size : ``(H, W)`` of the image.
    """
    crop = np.asarray(crop, bool)
    if crop.ndim != 2:
        raise ValueError(f"crop must be 2-D (h, w), got shape {crop.shape}")
    height, width = int(size[0]), int(size[1])
    x0, y0 = int(offset[0]), int(offset[1])
    h, w = crop.shape
    if x0 < 0 or y0 < 0 or x0 + w > width or y0 + h > height:
        raise ValueError(f"a {w}x{h} crop at {offset} does not fit a {width}x{height} image")
    # COCO runs are column-major; +1 / -1 where a run of object pixels starts / ends in each crop column
    padded = np.zeros((w, h + 2), np.int8)
    padded[:, 1:-1] = crop.T
    col, row = np.nonzero(np.diff(padded, axis=1))          # sorted by column, then row: run order
    edges = (x0 + col).astype(np.int64) * height + y0 + row  # start, end, start, end, ... (full-image index)
    joined = np.flatnonzero(edges[2::2] == edges[1:-1:2])   # a run crossing a column break (crop as tall as H)
    if joined.size:
        edges = np.delete(edges, np.concatenate([2 * joined + 1, 2 * joined + 2]))
    counts = np.diff(np.concatenate([[0], edges, [height * width]]))
    if len(counts) > 1 and counts[-1] == 0:  # an object run up to the last pixel: no trailing background run
        counts = counts[:-1]
    rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts.tolist()}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def _to_coco(rle: dict) -> dict:
    """Return an RLE pycocotools accepts (bytes counts; uncompressed list counts are compressed)."""
    counts = rle["counts"]
    h, w = (int(v) for v in rle["size"])
    if isinstance(counts, list):
        return coco_mask.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [h, w], "counts": counts}


def decode_rle(rle: dict) -> np.ndarray:
    """Decode a COCO RLE (compressed ``str``/``bytes`` or uncompressed ``list`` counts) to a bool ``(H, W)`` mask."""
    return coco_mask.decode(_to_coco(rle)).astype(bool)


def rle_area(rle: dict) -> int:
    """Number of foreground pixels of an RLE."""
    return int(coco_mask.area(_to_coco(rle)))


def rle_bbox(rle: dict) -> BBox | None:
    """Tight XYXY (exclusive) bbox of an RLE, or ``None`` when it is empty."""
    if rle_area(rle) == 0:
        return None
    x, y, w, h = (int(round(v)) for v in coco_mask.toBbox(_to_coco(rle)))
    return (x, y, x + w, y + h)


def mask_bbox(mask: np.ndarray) -> BBox | None:
    """Tight XYXY (exclusive) bbox of a bool ``(H, W)`` mask, or ``None`` when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def crop_bbox(crop: np.ndarray, offset: tuple[int, int]) -> BBox | None:
    """Tight XYXY (exclusive) image bbox of a bool ``(h, w)`` ``crop`` whose top-left pixel is image pixel
    ``offset = (x0, y0)``, or ``None`` when it is empty."""
    box = mask_bbox(crop) if crop.size else None
    if box is None:
        return None
    x0, y0 = int(offset[0]), int(offset[1])
    return (x0 + box[0], y0 + box[1], x0 + box[2], y0 + box[3])


def bbox_union(a: BBox | None, b: BBox | None) -> BBox | None:
    """Smallest XYXY box covering both (either may be ``None``)."""
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def bbox_xywh(bbox: BBox) -> list[float]:
    """XYXY (exclusive) -> COCO's ``[x, y, width, height]``."""
    x0, y0, x1, y1 = bbox
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def mask_iou(a: np.ndarray, b: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two bool ``(H, W)`` masks.

    ``ignore`` (bool, same shape) marks pixels that count neither as hit nor miss. Two empty masks
    have IoU 1.0.
    """
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    if ignore is not None:
        keep = ~ignore
        a, b = a & keep, b & keep
    union = np.count_nonzero(a | b)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(a & b)) / float(union)


def mask_dice(a: np.ndarray, b: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two bool masks (1.0 when both are empty)."""
    if ignore is not None:
        keep = ~ignore
        a, b = a & keep, b & keep
    total = np.count_nonzero(a) + np.count_nonzero(b)
    if total == 0:
        return 1.0
    return 2.0 * float(np.count_nonzero(a & b)) / float(total)


@dataclass
class PolygonPart:
    """One connected part of a mask: its outer ring and the rings of its holes.

    Each ring is a float array of shape ``(K, 2)`` holding ``(x, y)`` pixel centres of the
    boundary pixels of the part (for a hole: the part's pixels bordering the hole).
    """

    outer: np.ndarray
    holes: list[np.ndarray] = field(default_factory=list)


def mask_to_polygons(mask: np.ndarray) -> list[PolygonPart]:
    """Trace every part of a bool ``(H, W)`` mask, holes included (8-connected parts).

    The result round-trips exactly through :func:`polygons_to_mask`.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    parts: list[PolygonPart] = []
    index_of_outer: dict[int, int] = {}
    for i, (_next, _prev, _child, parent) in enumerate(hierarchy):
        if parent < 0:
            index_of_outer[i] = len(parts)
            parts.append(PolygonPart(outer=contours[i].reshape(-1, 2).astype(np.float64)))
    for i, (_next, _prev, _child, parent) in enumerate(hierarchy):
        if parent >= 0:
            parts[index_of_outer[parent]].holes.append(contours[i].reshape(-1, 2).astype(np.float64))
    return parts


def polygons_to_mask(parts: Sequence[PolygonPart], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise polygon parts (outer rings filled, holes cut out) to a bool mask of ``shape = (H, W)``.

    Rings are in pixel-centre ``(x, y)`` coordinates, as :func:`mask_to_polygons` produces them.
    """
    out = np.zeros(shape, dtype=np.uint8)
    for part in parts:
        canvas = np.zeros(shape, dtype=np.uint8)
        outer = np.round(part.outer).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [outer], 1)
        cv2.polylines(canvas, [outer], True, 1)
        for hole in part.holes:
            ring = np.round(hole).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(canvas, [ring], 0)
            cv2.polylines(canvas, [ring], True, 1)
        out |= canvas
    return out.astype(bool)


def crop(mask: np.ndarray, bbox: BBox) -> np.ndarray:
    """The ``mask[y0:y1, x0:x1]`` view for an XYXY (exclusive) bbox."""
    x0, y0, x1, y1 = bbox
    return mask[y0:y1, x0:x1]


def paste(canvas: np.ndarray, patch: np.ndarray, bbox: BBox) -> None:
    """Write ``patch`` (shape ``(y1-y0, x1-x0)``) into ``canvas`` at the XYXY bbox, in place."""
    x0, y0, x1, y1 = bbox
    canvas[y0:y1, x0:x1] = patch
