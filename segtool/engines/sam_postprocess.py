"""Post-processing of SAM's low-res logits before thresholding: no patch grid, no specks.

SAM's mask decoder upsamples a 64x64 token grid to its 256x256 low-res logits with two stride-2
transposed convolutions. Where the model is unsure (logits near 0, typically after a few negative
clicks, or across a textured background), the periodic pattern of those layers decides the sign,
and the mask becomes a regular grid of holes and islands. Two steps remove that, both at low
resolution (256x256, so they cost well under a millisecond whatever the image size):

1. :func:`smooth_logits` convolves with the separable kernel ``[1, 2, 2, 2, 1] / 8``: the
   convolution of a 4-wide and a 2-wide box, centred. Its frequency response is exactly zero at
   period 4 (one ViT patch: 16 input pixels = 4 low-res pixels) and period 2 (the transposed
   convolutions' checkerboard), so a pattern repeating with the patch grid is removed entirely,
   while an edge moves by at most a sub-pixel (standard deviation 1.22 low-res pixels). No
   constant is fitted: the kernel follows from the decoder's geometry.
2. :func:`remove_small_regions` (what segment-anything's ``remove_small_regions`` does for
   automatic masks, with the area scaled to the object): islands (8-connected) and holes
   (4-connected) smaller than ``max(min_cells, relative_area * object area)`` low-res pixels are
   flipped, except a region that holds a click of its own sign (a hole the user cut with a negative
   click, a separate part the user added with a positive one). Flipping is done on the logits
   (``+-max(|l|, margin)``), so the later bilinear upscaling keeps the result.

3. :func:`remove_crop_specks` repeats the island and hole removal on the upscaled crop: bilinear
   upscaling can split a region that is connected at low resolution (cells touching at a corner,
   thin necks), leaving specks of a few pixels in the full-resolution mask. The limit is the same
   area, converted to image pixels.

Conventions: logits float32 ``(256, 256)``; only the part covering the image (``valid_shape``) is
analysed, the padding of SAM's square input is left as it is. Points are low-res ``(x, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segtool.engines.sam_common import INPUT_SIZE, LOW_RES

#: Model-input pixels per low-res pixel (1024 / 256).
LOW_RES_STRIDE = INPUT_SIZE // LOW_RES
#: The separable smoothing kernel: zero response at periods 4 (a ViT patch) and 2 (checkerboard).
GRID_KERNEL = np.array([1, 2, 2, 2, 1], np.float32) / 8.0


@dataclass(frozen=True)
class PostprocessOptions:
    """Parameters of :func:`postprocess_logits` (see the module docstring for why they are what they are).

    Attributes
    ----------
    smooth : apply :func:`smooth_logits`.
    relative_area : islands and holes below this fraction of the object's area are removed.
    min_cells : ... and always those below this many low-res pixels (one ViT patch is 16).
    margin : logit given to flipped pixels at least (keeps them on their new side after upscaling).
    """

    smooth: bool = False
    relative_area: float = 0.01
    min_cells: int = 16
    margin: float = 0.5


def smooth_logits(low_res: np.ndarray) -> np.ndarray:
    """float32 ``(256, 256)`` logits convolved with :data:`GRID_KERNEL` in x and y (edges replicated)."""
    low_res = np.asarray(low_res, np.float32)
    return cv2.sepFilter2D(low_res, cv2.CV_32F, GRID_KERNEL, GRID_KERNEL, borderType=cv2.BORDER_REPLICATE)


def valid_shape(input_size: tuple[int, int]) -> tuple[int, int]:
    """``(h, w)`` of the low-res pixels that cover the resized image ``input_size`` (the rest is padding)."""
    h, w = input_size
    return (min(LOW_RES, -(-int(h) // LOW_RES_STRIDE)), min(LOW_RES, -(-int(w) // LOW_RES_STRIDE)))


def small_regions(fg: np.ndarray, positives: list[tuple[int, int]], negatives: list[tuple[int, int]],
                  limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Bool masks ``(islands, holes)`` of a bool ``(h, w)`` mask: islands (8-connected) and holes
    (4-connected background not touching the array's border) smaller than ``limit`` pixels, except
    the largest island (the object itself, however small) and those holding a click of their sign
    (``positives`` / ``negatives``: ``(x, y)`` pixels inside ``(h, w)``)."""
    fg8 = np.ascontiguousarray(fg, bool).view(np.uint8)
    islands, holes = np.zeros(fg.shape, bool), np.zeros(fg.shape, bool)
    n_islands, n_holes = _topology(fg8)
    if n_islands > 1:  # one island is the object itself: nothing to remove
        _, labels, stats, _ = cv2.connectedComponentsWithStats(fg8, connectivity=8)
        areas = stats[:, cv2.CC_STAT_AREA]
        small = areas < limit
        small[0] = False
        small[1 + int(np.argmax(areas[1:]))] = False
        for x, y in positives:
            small[labels[y, x]] = False
        _set_components(islands, labels, stats, small, True)
    if n_holes > 0:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(1 - fg8, connectivity=4)
        small = stats[:, cv2.CC_STAT_AREA] < limit
        small[0] = False
        small[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = False  # open
        for x, y in negatives:
            small[labels[y, x]] = False
        _set_components(holes, labels, stats, small, True)
    return islands, holes


def _topology(fg8: np.ndarray) -> tuple[int, int]:
    """``(islands, holes)`` of a uint8 0/1 mask: its 8-connected components of ones and its 4-connected
    regions of zeros not touching the border, counted from its contours (``cv2.findContours``, whose
    border following uses exactly these connectivities). A contour pass costs a fraction of a
    connected-component labelling, and most masks have one island and no hole: nothing to label."""
    _, hierarchy = cv2.findContours(fg8, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return 0, 0
    parents = hierarchy.reshape(-1, 4)[:, 3]
    outer = int(np.count_nonzero(parents < 0))
    return outer, len(parents) - outer


def _set_components(out: np.ndarray, labels: np.ndarray, stats: np.ndarray, which: np.ndarray, value: bool) -> None:
    """Set the pixels of components ``which`` (label indices) to ``value``, each within its own box."""
    for k in np.flatnonzero(which):
        x, y, w, h = stats[k, :4]
        window = out[y:y + h, x:x + w]
        window[labels[y:y + h, x:x + w] == k] = value


def remove_small_regions(logits: np.ndarray, positives: list[tuple[int, int]],
                         negatives: list[tuple[int, int]], options: PostprocessOptions) -> np.ndarray:
    """Flip islands and holes smaller than the object-scaled limit (in place on a copy; see module docs).

    Parameters
    ----------
    logits : float32 ``(h, w)`` (the valid part of the low-res logits).
    positives, negatives : low-res ``(x, y)`` pixels of positive / negative clicks inside ``(h, w)``.
    """
    out = np.array(logits, np.float32, copy=True)
    fg = out > 0
    area = int(np.count_nonzero(fg))
    if area == 0:
        return out
    limit = max(float(options.min_cells), options.relative_area * area)
    islands, holes = small_regions(fg, positives, negatives, limit)
    out[islands] = -np.maximum(np.abs(out[islands]), options.margin)
    out[holes] = np.maximum(np.abs(out[holes]), options.margin)
    return out


def postprocess_logits(low_res: np.ndarray, input_size: tuple[int, int], points_input: np.ndarray,
                       labels: np.ndarray, options: PostprocessOptions | None = None) -> np.ndarray:
    """Smoothed, cleaned float32 ``(256, 256)`` logits (the padding part is smoothed only).

    Parameters
    ----------
    low_res : float32 ``(256, 256)`` decoder logits.
    input_size : ``(h, w)`` of the resized image inside SAM's 1024x1024 input.
    points_input : float ``(N, 2)`` clicks in model-input pixels ``(x, y)``; labels int ``(N,)`` 1/0.
    """
    options = options or PostprocessOptions()
    out = smooth_logits(low_res) if options.smooth else np.array(low_res, np.float32, copy=True)
    h, w = valid_shape(input_size)
    pos, neg = [], []
    for (x, y), lab in zip(np.asarray(points_input, np.float64).reshape(-1, 2), np.asarray(labels).reshape(-1),
                           strict=True):
        cx, cy = int(min(w - 1, max(0, x // LOW_RES_STRIDE))), int(min(h - 1, max(0, y // LOW_RES_STRIDE)))
        (pos if lab == 1 else neg).append((cx, cy))
    out[:h, :w] = remove_small_regions(out[:h, :w], pos, neg, options)
    return out


#: The full-resolution speck pass runs on crops up to this many pixels (every object of the GrabCut
#: set). Its cost grows with the crop (two connected-component passes, ~10 ms per megapixel on this
#: 2-core VM), and a click must cost the same on any image size (issue 14): a larger object keeps
#: step 2's clean-up, done at low resolution, and only corner specks of the upscaling may remain.
SPECK_PASS_MAX_PIXELS = 250_000


def remove_crop_specks(crop: np.ndarray, offset: tuple[int, int], points: np.ndarray, labels: np.ndarray,
                       pixels_per_cell: float, options: PostprocessOptions | None = None) -> np.ndarray:
    """A candidate's bool ``(h, w)`` crop with islands and holes below the object-scaled limit flipped.

    The crop is tight, so everything outside it is background: a background region touching the
    crop's border is not a hole. Crops over :data:`SPECK_PASS_MAX_PIXELS` are returned as they are.

    Parameters
    ----------
    crop : bool ``(h, w)`` mask crop whose top-left pixel is image pixel ``offset`` ``(x0, y0)``.
    points : float ``(N, 2)`` clicks in image pixels ``(x, y)``; labels int ``(N,)`` 1/0.
    pixels_per_cell : image pixels per low-res cell (``(LOW_RES_STRIDE / scale) ** 2``).
    """
    options = options or PostprocessOptions()
    crop = np.asarray(crop, bool)
    if crop.size == 0 or crop.size > SPECK_PASS_MAX_PIXELS:
        return crop
    area = int(np.count_nonzero(crop))
    if area == 0:
        return crop
    h, w = crop.shape
    pos, neg = [], []
    for (x, y), lab in zip(np.asarray(points, np.float64).reshape(-1, 2), np.asarray(labels).reshape(-1),
                           strict=True):
        cx, cy = int(x) - offset[0], int(y) - offset[1]
        if 0 <= cx < w and 0 <= cy < h:
            (pos if lab == 1 else neg).append((cx, cy))
    limit = max(float(np.ceil(options.min_cells * pixels_per_cell)), options.relative_area * area)
    islands, holes = small_regions(crop, pos, neg, limit)  # holes of the crop as given
    out = crop & ~islands
    out |= holes
    return out
