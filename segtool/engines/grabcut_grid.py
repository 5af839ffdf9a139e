"""Working grid <-> full resolution: pixels a coarse pixel covers, bilinear samples, refinement labels.

Used by :mod:`segtool.engines.graphcut` to re-decide the band along an upsampled coarse boundary.
"""

from __future__ import annotations

import cv2
import numpy as np


def block_pixels(coarse: np.ndarray, rh: int, rw: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution ``(ys, xs)`` of the pixels that nearest-neighbour upsampling of bool
    ``coarse`` ``(ch, cw)`` to ``(rh, rw)`` maps onto its True pixels (no full-size scan)."""
    ch, cw = coarse.shape
    ry, rx = np.nonzero(coarse)
    xe = np.ceil(np.arange(cw + 1) * (rw / cw) - 1e-9).astype(np.intp)
    ye = np.ceil(np.arange(ch + 1) * (rh / ch) - 1e-9).astype(np.intp)
    xe[-1], ye[-1] = rw, rh
    bw, bh = int(np.diff(xe).max()), int(np.diff(ye).max())
    xs = xe[rx][:, None, None] + np.arange(bw)[None, None, :]
    ys = ye[ry][:, None, None] + np.arange(bh)[None, :, None]
    valid = (xs < xe[rx + 1][:, None, None]) & (ys < ye[ry + 1][:, None, None])
    return np.broadcast_to(ys, valid.shape)[valid], np.broadcast_to(xs, valid.shape)[valid]


def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples ``(N,)`` of float32 ``img`` ``(h, w)`` at float ``x``/``y`` ``(N,)`` (edges clamped)."""
    if len(x) == 0:
        return np.zeros(0, np.float32)
    mx = np.ascontiguousarray(x, np.float32).reshape(1, -1)
    my = np.ascontiguousarray(y, np.float32).reshape(1, -1)
    chunks = [cv2.remap(img, mx[:, i:i + 32000], my[:, i:i + 32000], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE) for i in range(0, mx.shape[1], 32000)]
    return np.concatenate(chunks, axis=1).reshape(-1)


def refine_labels(mask: np.ndarray, roi, scale: float, shape, refine_band: float) -> np.ndarray:
    """Working-grid ``cv2.GC_*`` labels uint8 ``shape`` for refining ``mask`` (bool ``(H, W)``) in
    ``roi`` ``(x0, y0, x1, y1)`` at ``scale``: hard fg/bg farther than ``refine_band`` times the mask's
    bbox size (at least 3 working pixels) from its border, probable labels in the band between."""
    x0, y0, x1, y1 = roi
    crop = cv2.resize(mask[y0:y1, x0:x1].astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(mask)
    size = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    band = max(3, int(round(refine_band * size * scale)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    inner = cv2.erode(crop, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    outer = cv2.dilate(crop, kernel)
    labels = np.where(crop > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[inner > 0] = cv2.GC_FGD
    labels[outer == 0] = cv2.GC_BGD
    return labels
