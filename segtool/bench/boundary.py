"""Boundary quality of a mask against ground truth: boundary F-measure and trimap IoU.

Both are the usual measures of how well a mask follows the object's outline (region IoU barely
moves when a boundary is a few pixels off):

- **boundary F-measure** (Martin et al. / DAVIS ``F``): precision is the share of the predicted
  boundary lying within ``tolerance`` pixels of the true boundary, recall the share of the true
  boundary lying within ``tolerance`` of the predicted one; F is their harmonic mean.
- **trimap IoU** (Kohli et al.): IoU counted only in the band of pixels within ``width`` of the
  true boundary.

The ignore band of the GrabCut ground truth (value 128) lies along the true boundary: a predicted
boundary pixel inside it is counted as matched, and its pixels are left out of the trimap IoU.
Masks are bool ``(H, W)``; distances are Euclidean pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from segtool.core.masks import mask_iou


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Bool ``(H, W)``: the mask's pixels with a 4-neighbour outside it (the image border is outside)."""
    m = np.pad(np.asarray(mask, np.uint8), 1)
    inner = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), borderType=cv2.BORDER_CONSTANT,
                      borderValue=0)
    return (m > inner)[1:-1, 1:-1]


def _distance_to(pixels: np.ndarray) -> np.ndarray:
    """float32 ``(H, W)`` Euclidean distance of every pixel to the nearest True pixel of ``pixels``."""
    if not pixels.any():
        return np.full(pixels.shape, np.inf, np.float32)
    return cv2.distanceTransform((~pixels).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None,
                       tolerance: float = 3.0) -> float:
    """Boundary F-measure of bool ``pred`` against bool ``gt`` with a ``tolerance`` in pixels.

    Two empty masks score 1.0; one empty mask against a non-empty one scores 0.0.
    """
    pb, gb = mask_boundary(pred), mask_boundary(gt)
    if not pb.any() and not gb.any():
        return 1.0
    if not pb.any() or not gb.any():
        return 0.0
    matched = _distance_to(gb)[pb] <= tolerance
    if ignore is not None:
        matched |= np.asarray(ignore, bool)[pb]
    precision = float(np.mean(matched))
    recall = float(np.mean(_distance_to(pb)[gb] <= tolerance))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def trimap_iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None, width: float = 5.0) -> float:
    """IoU of bool ``pred`` and ``gt`` inside the band of pixels within ``width`` of ``gt``'s boundary."""
    band = _distance_to(mask_boundary(gt)) <= width
    outside = ~band if ignore is None else ~band | np.asarray(ignore, bool)
    return mask_iou(np.asarray(pred, bool), np.asarray(gt, bool), outside)
