"""Working grid <-> full resolution: which full-resolution pixels a coarse pixel covers, bilinear samples.

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
