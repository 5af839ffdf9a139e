"""SAM's mask upscaling, evaluated only where the mask can be: cost follows the object, not the image.

segment-anything turns ``(256, 256)`` low-res logits into a full-resolution mask in two bilinear
steps (``postprocess_masks``): 256 -> 1024x1024, crop the padding to the resized image ``(h, w)``, then
``(h, w)`` -> the original ``(H, W)``. Both steps use half-pixel centres (OpenCV's ``INTER_LINEAR``
and torch's ``align_corners=False`` agree), so every full-resolution pixel is a 2x2 bilinear blend of
the 1024-grid ("up") values.

Here the first step runs as always (1024x1024, a fixed cost), and the second only inside the region
whose pixels read at least one positive up-value: a bilinear blend with non-negative weights of four
positive values is positive, of four non-positive values is not. So every pixel whose four taps agree is
filled from its up-cell at once, and only the pixels of cells on the mask's border are blended
exactly, with OpenCV's float32 weights and order of operations. The result is the full upscale's
mask, pixel for pixel, inside a crop; nothing of size ``H x W`` is allocated.

Conventions: arrays ``(rows, cols)``; boxes XYXY with exclusive ends in original-image pixels;
offsets ``(x0, y0)``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from segtool.engines import sam_upscale_kernel

#: Side of SAM's square model input (the "up" grid before the padding is cropped).
INPUT_SIZE = 1024
#: Without the compiled kernels, images of at most this many pixels take SAM's own two resizes (a cost
#: bounded by this size); larger ones the per-cell path, whose cost follows the object's outline. With the
#: kernels the per-cell path is the faster one down to images as large as the model input (long side
#: :data:`INPUT_SIZE`): 0.7-3.5 ms against 1.3-6.5 ms for the resizes at 0.8-1 MP (2-core VM). Only
#: images that the second step shrinks (cells finer than pixels) keep the resizes.
SMALL_IMAGE = 1 << 20


@dataclass(frozen=True)
class AxisMap:
    """How each destination pixel along one axis reads its source line (OpenCV ``INTER_LINEAR``).

    Attributes
    ----------
    i0, i1 : int64 ``(n,)`` the two source taps (``i1 = min(i0 + 1, src - 1)``), non-decreasing.
    w1 : float32 ``(n,)`` weight of ``i1``; ``w0 = 1 - w1`` (float32, as OpenCV computes it).
    """

    i0: np.ndarray
    i1: np.ndarray
    w1: np.ndarray

    @property
    def w0(self) -> np.ndarray:
        """float32 ``(n,)`` weight of ``i0``."""
        return np.float32(1.0) - self.w1


@lru_cache(maxsize=64)
def axis_map(src: int, dst: int) -> AxisMap:
    """The taps of a ``src -> dst`` bilinear resize along one axis, exactly as ``cv2.resize`` computes them.

    OpenCV: ``fx = (dx + 0.5) * scale - 0.5``, ``sx = floor(fx)``, weight ``fx - sx`` (computed in double
    precision, stored as float32), with ``scale = 1 / (dst / src)``; taps left of 0 or at/after
    ``src - 1`` are clamped with weight 0 on the second tap.
    """
    scale = 1.0 / (float(dst) / float(src))
    pos = (np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5
    i0 = np.floor(pos)
    frac = (pos - i0).astype(np.float32)
    i0 = i0.astype(np.int64)
    left = i0 < 0
    i0[left], frac[left] = 0, 0.0
    right = i0 >= src - 1
    i0[right], frac[right] = src - 1, 0.0
    i1 = np.minimum(i0 + 1, src - 1)
    for arr in (i0, i1, frac):
        arr.setflags(write=False)
    return AxisMap(i0, i1, frac)


def up_logits(low_res: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """SAM's first step: float32 ``(256, 256)`` -> ``(1024, 1024)`` bilinear, cropped to ``input_size`` ``(h, w)``."""
    up = cv2.resize(np.asarray(low_res, np.float32), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return up[:input_size[0], :input_size[1]]


def up_window(low_res: np.ndarray, input_size: tuple[int, int], threshold: float
               ) -> tuple[np.ndarray, int, int] | None:
    """:func:`up_logits` only around the low-res values above ``threshold``: ``(up_window, row0, col0)``.

    The 256 -> 1024 step is an exact 4x: up-pixel ``u`` reads low-res ``(u + 0.5) / 4 - 0.5``, so resizing a
    low-res window that starts at cell ``L`` gives, from its ``4 L``-th up-pixel on, the very numbers of the
    full resize, except within 2 up-pixels of a window edge that is not the image's edge (those read a
    clamped neighbour); the window is taken 2 cells wider on each side and those pixels are cut off.
    None when no low-res value is above ``threshold`` (then no up-value is either).
    """
    h, w = input_size
    lh, lw = -(-h // 4), -(-w // 4)   # low-res cells that reach into the resized image
    region = low_res[:lh, :lw] > threshold
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return None
    r0, r1 = max(int(rows[0]) - 2, 0), min(int(rows[-1]) + 3, low_res.shape[0])
    c0, c1 = max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 3, low_res.shape[1])
    window = np.ascontiguousarray(low_res[r0:r1, c0:c1], np.float32)
    up = cv2.resize(window, (4 * (c1 - c0), 4 * (r1 - r0)), interpolation=cv2.INTER_LINEAR)
    cut_top, cut_left = (2 if r0 > 0 else 0), (2 if c0 > 0 else 0)
    cut_bottom, cut_right = (2 if r1 < low_res.shape[0] else 0), (2 if c1 < low_res.shape[1] else 0)
    top, left = 4 * r0 + cut_top, 4 * c0 + cut_left
    bottom, right = min(4 * r1 - cut_bottom, h), min(4 * c1 - cut_right, w)
    return up[top - 4 * r0:bottom - 4 * r0, left - 4 * c0:right - 4 * c0], top, left


def _blend(up: np.ndarray, rows: AxisMap, cols: AxisMap, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Full-resolution logits at the grid ``ys x xs`` (int ``(h,)``, ``(w,)``): float32 ``(h, w)``."""
    j0, j1, b1 = rows.i0[ys], rows.i1[ys], rows.w1[ys]
    i0, i1, a1 = cols.i0[xs], cols.i1[xs], cols.w1[xs]
    a0, b0 = np.float32(1.0) - a1, np.float32(1.0) - b1
    top = up[np.ix_(j0, i0)] * a0 + up[np.ix_(j0, i1)] * a1
    bottom = up[np.ix_(j1, i0)] * a0 + up[np.ix_(j1, i1)] * a1
    return top * b0[:, None] + bottom * b1[:, None]


def upscale_region(low_res: np.ndarray, input_size: tuple[int, int], orig_size: tuple[int, int],
                   box: tuple[int, int, int, int]) -> np.ndarray:
    """Full-resolution logits inside ``box`` only: the same numbers as the full upscale there.

    Parameters
    ----------
    low_res : float32 ``(256, 256)`` logits.
    input_size : ``(h, w)`` of the resized image inside the 1024x1024 input.
    orig_size : ``(H, W)`` of the original image.
    box : XYXY (exclusive) region in original pixels.

    Returns
    -------
    float32 ``(y1 - y0, x1 - x0)`` logits, equal (to float32 rounding) to
    ``sam_common.upscale_logits(low_res, input_size, orig_size)[y0:y1, x0:x1]``.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    if not (0 <= x0 <= x1 <= orig_size[1] and 0 <= y0 <= y1 <= orig_size[0]):
        raise ValueError(f"box {box} does not fit an image of size {orig_size}")
    up = up_logits(low_res, input_size)
    rows, cols = axis_map(input_size[0], orig_size[0]), axis_map(input_size[1], orig_size[1])
    return _blend(up, rows, cols, np.arange(y0, y1), np.arange(x0, x1))


def _cell_classes(positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per up-cell ``(j, i)`` near the positives: whether all / any of its taps ``(j|j+1) x (i|i+1)`` are positive.

    Only cells that can read a positive value are looked at: the positives' bounding box, grown by one
    cell up and left. Returns ``(sure, maybe, j_first, i_first)``: bool ``(nj, ni)`` arrays of those cells
    and the up-grid index of their first row and column (``maybe`` is all False when nothing is positive).
    """
    rows, cols = np.flatnonzero(positive.any(axis=1)), np.flatnonzero(positive.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0), bool), np.zeros((0, 0), bool), 0, 0
    ja, jb, ia, ib = max(int(rows[0]) - 1, 0), int(rows[-1]), max(int(cols[0]) - 1, 0), int(cols[-1])
    nj, ni = jb - ja + 1, ib - ia + 1
    win = positive[ja:jb + 2, ia:ib + 2]                      # the cells plus their +1 taps
    if win.shape != (nj + 1, ni + 1):  # at the grid's last row / column: the last tap is the cell itself
        win = np.pad(win, ((0, nj + 1 - win.shape[0]), (0, ni + 1 - win.shape[1])), mode="edge")
    taps = (win[:-1, :-1], win[:-1, 1:], win[1:, :-1], win[1:, 1:])
    sure = taps[0] & taps[1] & taps[2] & taps[3]
    maybe = taps[0] | taps[1] | taps[2] | taps[3]
    return sure, maybe, ja, ia


def _span(taps: np.ndarray, first: int, last: int) -> tuple[int, int]:
    """Destination pixels ``[a, b)`` whose first tap lies in ``[first, last]`` (taps non-decreasing)."""
    return int(np.searchsorted(taps, first, "left")), int(np.searchsorted(taps, last, "right"))


def _border_pixels(up: np.ndarray, origin: tuple[int, int], rows: AxisMap, cols: AxisMap,
                   cells: tuple[np.ndarray, np.ndarray], spans: tuple[np.ndarray, ...], threshold: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Blend every pixel of the given cells exactly, as OpenCV does (vectorised over the cells).

    ``up`` is a window of the 1024-grid logits whose first pixel is up-pixel ``origin`` ``(row, col)``.
    Every pixel of cell ``(j, i)`` reads the same four taps (its first taps are ``j`` and ``i`` by the
    definition of a cell), so the taps are gathered once per cell; only the weights vary per pixel.
    Arrays are laid out cell-last (``(hmax, wmax, n)``): numpy's inner loops then run over the many
    cells, not over the few pixels of one cell.
    Returns int64 ``(m,)`` image rows and columns ``(ys, xs)`` of the cells' pixels in the mask.
    """
    jj, ii = cells
    n = len(jj)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    row_start, row_count, col_start, col_count = spans
    first_y, first_x = row_start[jj], col_start[ii]                 # (n,) each cell's first pixel
    count_y, count_x = row_count[jj], col_count[ii]
    hmax, wmax = int(count_y.max()), int(count_x.max())
    dy, dx = np.arange(hmax)[:, None], np.arange(wmax)[:, None]
    ys = np.minimum(first_y + dy, len(rows.i0) - 1)                 # (hmax, n) image rows
    xs = np.minimum(first_x + dx, len(cols.i0) - 1)                 # (wmax, n) image columns
    b1, a1 = rows.w1[ys], cols.w1[xs]
    a0, b0 = np.float32(1.0) - a1, np.float32(1.0) - b1
    # rows / columns past a cell's own (cells have hmax or fewer): NaN weights, never "inside"
    b0[dy >= count_y] = np.nan
    a0[dx >= count_x] = np.nan
    j0, j1 = rows.i0[first_y] - origin[0], rows.i1[first_y] - origin[0]
    c0, c1 = cols.i0[first_x] - origin[1], cols.i1[first_x] - origin[1]
    top = up[j0, c0] * a0 + up[j0, c1] * a1                         # (wmax, n), OpenCV's order
    bottom = up[j1, c0] * a0 + up[j1, c1] * a1
    value = top[None, :, :] * b0[:, None, :]                        # (hmax, wmax, n)
    value += bottom[None, :, :] * b1[:, None, :]
    flat = np.flatnonzero(value > threshold)
    # the row and column of every (dy, dx, cell) entry, then of those inside (no integer division)
    return (np.broadcast_to(ys[:, None, :], value.shape).reshape(-1)[flat],
            np.broadcast_to(xs[None, :, :], value.shape).reshape(-1)[flat])


def mask_crop(low_res: np.ndarray, input_size: tuple[int, int], orig_size: tuple[int, int],
              threshold: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """The full-resolution mask ``upscale_logits(...) > threshold`` as a tight crop and its offset.

    Parameters
    ----------
    low_res : float32 ``(256, 256)`` logits.
    input_size : ``(h, w)`` of the resized image inside the 1024x1024 input.
    orig_size : ``(H, W)`` of the original image.
    threshold : logit threshold (SAM: 0.0).

    Returns
    -------
    crop : bool ``(h, w)`` tight crop of the mask (``(0, 0)`` when the mask is empty).
    offset : ``(x0, y0)`` of the crop in original pixels.
    """
    empty = np.zeros((0, 0), bool), (0, 0)
    window = up_window(np.asarray(low_res, np.float32), input_size, threshold)
    if window is None:
        return empty
    compiled = sam_upscale_kernel.kernels()
    if takes_opencv_resizes(orig_size, compiled is not None):
        return _small_image_crop(low_res, input_size, orig_size, threshold)
    up, top, left = window
    rows, cols = axis_map(input_size[0], orig_size[0]), axis_map(input_size[1], orig_size[1])
    sure, maybe, ja, ia = _cell_classes(up > threshold)
    if not maybe.any():
        return empty
    ja, ia = ja + top, ia + left
    nj, ni = maybe.shape
    (ya, yb), (xa, xb) = _span(rows.i0, ja, ja + nj - 1), _span(cols.i0, ia, ia + ni - 1)
    # pixels per cell row / column, and where each run of pixels starts
    row_count = np.bincount(rows.i0[ya:yb] - ja, minlength=nj)
    col_count = np.bincount(cols.i0[xa:xb] - ia, minlength=ni)
    row_start, col_start = ya + np.cumsum(row_count) - row_count, xa + np.cumsum(col_count) - col_count
    live = (row_count[:, None] > 0) & (col_count[None, :] > 0)
    sure &= live
    maybe &= live
    spans = (row_start, row_count, col_start, col_count)
    if compiled is not None:
        return _compiled_crop(compiled, up, (top, left), rows, cols, sure, maybe, (ja, ia), spans, threshold)
    ys, xs = _border_pixels(up, (top, left), rows, cols, border_cells(maybe ^ sure), spans, threshold)  # sure cells are maybe cells
    box = _union(_sure_box(sure, *spans), _points_box(ys, xs))
    if box is None:
        return empty
    x0, y0, x1, y1 = box
    crop = _fill_sure(sure, rows.i0[y0:y1] - ja, cols.i0[x0:x1] - ia)
    crop[ys - y0, xs - x0] = True
    return crop, (x0, y0)


def takes_opencv_resizes(orig_size: tuple[int, int], compiled: bool) -> bool:
    """Whether :func:`mask_crop` of an ``(H, W)`` image runs SAM's two OpenCV resizes (see
    :data:`SMALL_IMAGE`) rather than the per-cell path; both give the same mask."""
    if compiled:
        return max(orig_size) < INPUT_SIZE
    return orig_size[0] * orig_size[1] <= SMALL_IMAGE


def _compiled_crop(compiled: tuple, up: np.ndarray, origin: tuple[int, int], rows: AxisMap, cols: AxisMap, sure: np.ndarray,
                   maybe: np.ndarray, cell_origin: tuple[int, int], spans: tuple[np.ndarray, ...], threshold: float
                   ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`mask_crop`'s border steps compiled (:mod:`segtool.engines.sam_upscale_kernel`): the same
    crop as the numpy path, pixel for pixel."""
    cells = border_cells(maybe ^ sure)
    maps = (rows.i0, rows.i1, rows.w1, cols.i0, cols.i1, cols.w1)
    # C-contiguous, int64 and float64 arguments always: one compiled signature (see warm_up)
    args = (np.ascontiguousarray(up), int(origin[0]), int(origin[1]), *maps, *cells, *spans, float(threshold))
    border_box, write_border = compiled
    by0, bx0, by1, bx1 = border_box(*args)
    box = _union(_sure_box(sure, *spans), (int(bx0), int(by0), int(bx1), int(by1)) if by1 > 0 else None)
    if box is None:
        return np.zeros((0, 0), bool), (0, 0)
    x0, y0, x1, y1 = box
    crop = _fill_sure(sure, rows.i0[y0:y1] - cell_origin[0], cols.i0[x0:x1] - cell_origin[1])
    write_border(crop, int(y0), int(x0), *args)
    return crop, (x0, y0)


def border_cells(border: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int64 ``(rows, cols)`` of the True cells of bool ``(nj, ni)`` ``border``, row-major: what
    ``np.nonzero`` gives, an order of magnitude faster (its 2-D form costs 1 ms on a 430x430 window)."""
    return np.divmod(np.flatnonzero(border), border.shape[1])


def _points_box(ys: np.ndarray, xs: np.ndarray) -> tuple[int, int, int, int] | None:
    """XYXY (exclusive) box of pixels at rows ``ys`` and columns ``xs``, or None when there are none."""
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _small_image_crop(low_res: np.ndarray, input_size: tuple[int, int], orig_size: tuple[int, int],
                      threshold: float) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`mask_crop` of an image of at most :data:`SMALL_IMAGE` pixels: SAM's two OpenCV resizes, then
    the tight crop (a bounded cost: cheaper there than the per-cell path, whose cells are finer than pixels)."""
    full = cv2.resize(up_logits(low_res, input_size), (orig_size[1], orig_size[0]), interpolation=cv2.INTER_LINEAR)
    mask = full > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0), bool), (0, 0)
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return np.ascontiguousarray(mask[y0:y1, x0:x1]), (x0, y0)


def _fill_sure(sure: np.ndarray, cell_rows: np.ndarray, cell_cols: np.ndarray) -> np.ndarray:
    """bool ``(len(cell_rows), len(cell_cols))``: pixel ``(y, x)`` is ``sure[cell_rows[y], cell_cols[x]]``."""
    block = np.ascontiguousarray(sure[cell_rows[0]:cell_rows[-1] + 1]).view(np.uint8)
    # Repeating columns is a gather of single bytes, slow; repeating rows copies whole rows. So the
    # columns are repeated as rows of the transpose (cv2.transpose: a fast byte transpose), then back.
    cols_taken = cv2.transpose(np.take(cv2.transpose(block), cell_cols, axis=0))
    return np.take(cols_taken, cell_rows - cell_rows[0], axis=0).view(bool)


def _sure_box(sure: np.ndarray, row_start: np.ndarray, row_count: np.ndarray, col_start: np.ndarray,
              col_count: np.ndarray) -> tuple[int, int, int, int] | None:
    """XYXY (exclusive) box of the pixels of the sure-inside cells, or None."""
    r, c = np.flatnonzero(sure.any(axis=1)), np.flatnonzero(sure.any(axis=0))
    if r.size == 0:
        return None
    return (int(col_start[c[0]]), int(row_start[r[0]]), int(col_start[c[-1]] + col_count[c[-1]]),
            int(row_start[r[-1]] + row_count[r[-1]]))


def _union(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None):
    """Smallest XYXY box covering both (either may be None)."""
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


_warm_lock = threading.Lock()
_warm_started = False


def warm_up() -> None:
    """One :func:`mask_crop` of a 1.2 MP image: numba compiles (or loads from its cache) the kernels for
    the very argument types a click passes (about 1.4 s the first time on a 2-core VM, 0.5 s cached)."""
    if sam_upscale_kernel.kernels() is None:
        return
    yy, xx = np.mgrid[0:256, 0:256]
    low = (40.0 - np.hypot(yy - 128.0, xx - 128.0)).astype(np.float32)
    mask_crop(low, (1024, 1024), (1100, 1100))


def start_warm_up() -> None:
    """:func:`warm_up` in a daemon thread, once per process (the SAM engines call it when they load,
    so that no click waits for the compiler)."""
    global _warm_started
    with _warm_lock:
        if _warm_started or not sam_upscale_kernel.AVAILABLE:
            return
        _warm_started = True
    threading.Thread(target=warm_up, name="segtool-upscale-warm-up", daemon=True).start()
