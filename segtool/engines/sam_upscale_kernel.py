"""Compiled border writer for :func:`segtool.engines.sam_upscale.mask_crop` (numba; without it, the numpy path).

The numpy path blends the pixels of the border cells (the cells whose four taps disagree) as one
array, gathers the coordinates of those inside and scatters them into the crop. Here two compiled
loops over the border cells do it without temporaries: one finds the box of their inside pixels
(the crop's box with the sure cells'), one writes them into the crop after the sure cells are
filled, with the same float32 weights and order of operations as OpenCV (so the mask is the same,
pixel for pixel). The sure-cell fill stays numpy's (row copies, at memory speed).

:func:`kernels` is None when numba is not installed or does not import; the caller then uses the
numpy path, which gives the same masks.
Conventions as in :mod:`segtool.engines.sam_upscale`: arrays ``(rows, cols)``; the up window is a
block of SAM's 1024-grid logits; cells are indexed relative to the cell grid's first row / column.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache

import numpy as np

#: numba is installed (it is imported, and the kernels compiled, on first use: :func:`kernels`).
AVAILABLE = importlib.util.find_spec("numba") is not None

__all__ = ["AVAILABLE", "kernels"]

_compile_lock = threading.Lock()


def _border_box(up, up_row, up_col, rows_i0, rows_i1, rows_w1, cols_i0, cols_i1, cols_w1,
                cells_j, cells_i, row_start, row_count, col_start, col_count, threshold):
    """``(y0, x0, y1, x1)`` exclusive box of the border cells' pixels inside the mask (``y1 == 0``: none)."""
    y0, x0, y1, x1 = 1 << 62, 1 << 62, 0, 0
    one = np.float32(1.0)
    for k in range(cells_j.shape[0]):
        j, i = cells_j[k], cells_i[k]
        ya, xa = row_start[j], col_start[i]
        r0, r1 = rows_i0[ya] - up_row, rows_i1[ya] - up_row
        c0, c1 = cols_i0[xa] - up_col, cols_i1[xa] - up_col
        p00, p01, p10, p11 = up[r0, c0], up[r0, c1], up[r1, c0], up[r1, c1]
        for y in range(ya, ya + row_count[j]):
            b1 = rows_w1[y]
            b0 = one - b1
            for x in range(xa, xa + col_count[i]):
                a1 = cols_w1[x]
                a0 = one - a1
                value = (p00 * a0 + p01 * a1) * b0 + (p10 * a0 + p11 * a1) * b1
                if value > threshold:
                    y0, x0 = min(y0, y), min(x0, x)
                    y1, x1 = max(y1, y + 1), max(x1, x + 1)
    return y0, x0, y1, x1


def _write_border(out, box_y0, box_x0, up, up_row, up_col, rows_i0, rows_i1, rows_w1, cols_i0, cols_i1, cols_w1,
                  cells_j, cells_i, row_start, row_count, col_start, col_count, threshold):
    """Blend the border cells' pixels inside bool ``out`` ``(h, w)`` (image pixels from ``(box_y0, box_x0)``),
    in place: True where inside, False elsewhere (the sure-cell fill leaves border cells False)."""
    h, w = out.shape
    one = np.float32(1.0)
    for k in range(cells_j.shape[0]):
        j, i = cells_j[k], cells_i[k]
        ya, xa = max(row_start[j], box_y0), max(col_start[i], box_x0)
        yb = min(row_start[j] + row_count[j], box_y0 + h)
        xb = min(col_start[i] + col_count[i], box_x0 + w)
        if ya >= yb or xa >= xb:
            continue
        r0, r1 = rows_i0[ya] - up_row, rows_i1[ya] - up_row
        c0, c1 = cols_i0[xa] - up_col, cols_i1[xa] - up_col
        p00, p01, p10, p11 = up[r0, c0], up[r0, c1], up[r1, c0], up[r1, c1]
        for y in range(ya, yb):
            b1 = rows_w1[y]
            b0 = one - b1
            for x in range(xa, xb):
                a1 = cols_w1[x]
                a0 = one - a1
                out[y - box_y0, x - box_x0] = (p00 * a0 + p01 * a1) * b0 + (p10 * a0 + p11 * a1) * b1 > threshold


def kernels():
    """``(border_box, write_border)`` compiled with numba (numba caches them on disk; the first call in a
    process imports numba, about 0.4 s), or None without numba."""
    if not AVAILABLE:
        return None
    with _compile_lock:
        return _compiled()


@lru_cache(maxsize=1)
def _compiled():
    try:
        from numba import njit  # noqa: PLC0415 - imported on first use: 0.4 s that most commands never need
    except ImportError:  # pragma: no cover - a broken numba install: the numpy path
        return None
    return njit(cache=True, nogil=True)(_border_box), njit(cache=True, nogil=True)(_write_border)
