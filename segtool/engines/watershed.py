"""Marker watershed from scribbles and clicks, and a superpixel tool where a click takes a whole region.

How a :class:`~segtool.engines.base.Prompt` becomes seeds:

- **watershed** (:class:`WatershedEngine`): positive clicks (discs of ``click_radius``) and positive
  scribbles are object markers, negative ones background markers. Without a box, the image border
  is a background marker too (except under positive seeds); with a box, the box outline is (the
  object cannot leave the box) and the box centre is an object marker when no positive seed exists.
  (Before issue 15 the border stopped being a marker at the first negative seed, so the object
  swapped for the whole rest of the image; ``raw = True`` keeps that behaviour for comparisons.)
  ``cv2.watershed`` floods the smoothed image from the markers on a working grid of at most
  ``max_pixels``; on larger photos only a band along the upsampled boundary is flooded again at
  full resolution.
- **superpixel** (:class:`SuperpixelEngine`): the image is split once into SLIC superpixels
  (``prepare``). A box selects every region lying mostly inside it; then each click, in order, adds
  (positive) or removes (negative) the whole region under it, together with the adjacent regions
  of similar mean colour (``merge_tolerance``); a scribble adds or removes every region it crosses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segtool.core.errors import PromptError
from segtool.engines.base import Candidate, Prompt, check_prompt_inside
from segtool.engines.follow_up import FollowUpEngine
from segtool.engines.region_grow import _checked_box, rasterize_seeds

_BG, _FG = 1, 2


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` contiguous copy-free view of ``image`` (gray ``(H, W)`` accepted)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3 or min(image.shape[:2]) < 1:
        raise PromptError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8, copy=False)


@dataclass
class WatershedContext:
    """Prepared image: ``smooth`` RGB uint8 ``(H, W, 3)`` (Gaussian-smoothed), ``small`` the same
    downscaled by ``small_scale`` (or None when the image is already small)."""

    smooth: np.ndarray
    small: np.ndarray | None
    small_scale: float
    height: int
    width: int


class WatershedEngine(FollowUpEngine):
    """Marker watershed (seed rules in the module docstring).

    Parameters
    ----------
    click_radius : float
        Radius in full-resolution pixels of a click's marker disc.
    max_pixels : int
        Largest working grid; larger images are flooded coarse-to-fine.
    blur_sigma : float
        Gaussian smoothing (pixels) applied in ``prepare`` to calm texture edges.
    """

    name = "watershed"

    def __init__(self, *, click_radius: float = 5.0, max_pixels: int = 400_000, blur_sigma: float = 1.0) -> None:
        self.click_radius = float(click_radius)
        self.max_pixels = max(1024, int(max_pixels))
        self.blur_sigma = float(blur_sigma)

    def prepare(self, image: np.ndarray) -> WatershedContext:
        """Smoothed copy (and downscaled copy for big images) of an RGB uint8 ``(H, W, 3)`` image."""
        image = _as_rgb(image)
        h, w = image.shape[:2]
        smooth = cv2.GaussianBlur(image, (0, 0), self.blur_sigma) if self.blur_sigma > 0 else image
        scale = min(1.0, float(np.sqrt(self.max_pixels / (h * w))))
        small = None
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
            if self.blur_sigma > 0:
                small = cv2.GaussianBlur(small, (0, 0), self.blur_sigma)
        return WatershedContext(smooth, small, scale, h, w)

    def _markers(self, shape: tuple[int, int], prompt: Prompt, box, scale: float) -> np.ndarray:
        """int32 ``(h, w)`` markers on a grid ``scale`` times the image: 1 background, 2 object."""
        markers = np.zeros(shape, np.int32)
        pos, neg = rasterize_seeds(shape, prompt, radius=max(1.0, self.click_radius * scale), scale=scale)
        if box is not None:
            bx = [int(round(v * scale)) for v in box]
            markers[:] = _BG
            markers[bx[1]:max(bx[3], bx[1] + 1), bx[0]:max(bx[2], bx[0] + 1)] = 0
            if not pos.any():
                cx, cy = (bx[0] + bx[2]) // 2, (bx[1] + bx[3]) // 2
                cv2.circle(pos.view(np.uint8), (cx, cy), max(1, int(self.click_radius * scale)), 1, -1)
        elif not neg.any() or not self.raw:  # 2 pixels wide: cv2.watershed overwrites the outermost frame
            neg[:2, :] = neg[-2:, :] = True
            neg[:, :2] = neg[:, -2:] = True
            neg &= ~pos
        markers[neg] = _BG
        markers[pos] = _FG
        return markers

    def _predict(self, context: WatershedContext, prompt: Prompt) -> list[Candidate]:
        """One candidate: bool ``(H, W)`` object basin; :class:`PromptError` for an empty/outside prompt."""
        h, w = context.height, context.width
        check_prompt_inside(prompt, h, w)
        box = _checked_box(prompt, h, w)
        if context.small is None:
            markers = self._markers((h, w), prompt, box, 1.0)
            if not (markers == _FG).any():
                return [Candidate(mask=np.zeros((h, w), bool), score=0.0)]
            cv2.watershed(context.smooth, markers)
            return [Candidate(mask=_object(markers), score=1.0)]
        s = context.small_scale
        markers = self._markers(context.small.shape[:2], prompt, box, s)
        if not (markers == _FG).any():
            return [Candidate(mask=np.zeros((h, w), bool), score=0.0)]
        cv2.watershed(context.small, markers)
        coarse = _object(markers).astype(np.uint8)
        return [Candidate(mask=self._refine(context, coarse, prompt, box), score=1.0)]

    def _refine(self, ctx: WatershedContext, coarse: np.ndarray, prompt: Prompt, box) -> np.ndarray:
        """Full-resolution mask: coarse labels kept away from the boundary, a band flooded again."""
        h, w = ctx.height, ctx.width
        up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST)
        r = int(np.ceil(1.0 / ctx.small_scale)) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
        inner = cv2.erode(up, kernel, borderType=cv2.BORDER_REPLICATE)
        outer = cv2.dilate(up, kernel, borderType=cv2.BORDER_REPLICATE)
        band = inner != outer
        ys, xs = np.nonzero(band)
        if len(ys) == 0:
            return up > 0
        y0, y1 = max(0, ys.min() - 2), min(h, ys.max() + 3)
        x0, x1 = max(0, xs.min() - 2), min(w, xs.max() + 3)
        markers = np.where(up[y0:y1, x0:x1] > 0, _FG, _BG).astype(np.int32)
        markers[band[y0:y1, x0:x1]] = 0
        full = self._markers((h, w), prompt, box, 1.0)[y0:y1, x0:x1]
        markers[full > 0] = full[full > 0]
        cv2.watershed(np.ascontiguousarray(ctx.smooth[y0:y1, x0:x1]), markers)
        out = up > 0
        crop_band = band[y0:y1, x0:x1]
        out[y0:y1, x0:x1][crop_band] = _object(markers)[crop_band]
        return out


def _object(markers: np.ndarray) -> np.ndarray:
    """Bool object mask from flooded markers; watershed lines (-1) next to the object join it."""
    fg = markers == _FG
    lines = markers == -1
    near = cv2.dilate(fg.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return fg | (lines & near)


@dataclass
class SuperpixelContext:
    """Prepared superpixels: ``labels`` int32 ``(H, W)`` region ids ``0..count-1``, ``areas``
    ``(count,)``, ``colours`` float32 ``(count, 3)`` mean Lab (L* 0..100), ``edges`` int ``(E, 2)``
    pairs of adjacent regions."""

    labels: np.ndarray
    count: int
    areas: np.ndarray
    colours: np.ndarray
    edges: np.ndarray


class SuperpixelEngine(FollowUpEngine):
    """SLIC superpixels; a click adds or removes a whole region (rules in the module docstring).

    Parameters
    ----------
    n_segments : int
        Approximate number of superpixels per image.
    compactness : float
        SLIC compactness (higher: rounder regions, lower: regions follow colour more).
    max_pixels : int
        SLIC runs on a grid of at most this many pixels; labels are upsampled to the image.
    merge_tolerance : float
        A click takes the region under it together with the adjacent regions, connected through
        each other, whose mean Lab colour lies within this Delta E of the clicked region's (0: the
        clicked region alone).
    """

    name = "superpixel"

    def __init__(self, *, n_segments: int = 600, compactness: float = 10.0, max_pixels: int = 1_000_000,
                 merge_tolerance: float = 12.0) -> None:
        self.merge_tolerance = float(merge_tolerance)
        self.n_segments = max(2, int(n_segments))
        self.compactness = float(compactness)
        self.max_pixels = max(1024, int(max_pixels))

    def prepare(self, image: np.ndarray) -> SuperpixelContext:
        """Superpixels of an RGB uint8 ``(H, W, 3)`` image (slow; computed once per image)."""
        from skimage.segmentation import slic

        image = _as_rgb(image)
        h, w = image.shape[:2]
        scale = min(1.0, float(np.sqrt(self.max_pixels / (h * w))))
        work = image if scale >= 1.0 else cv2.resize(
            image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        labels = slic(work, n_segments=self.n_segments, compactness=self.compactness, start_label=0,
                      enforce_connectivity=True).astype(np.int32)
        if scale < 1.0:
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.reshape(h, w).astype(np.int32)
        count = int(labels.max()) + 1
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab).reshape(-1, 3).astype(np.float64)
        lab[:, 0] *= 100.0 / 255.0
        areas = np.bincount(labels.ravel(), minlength=count)
        colours = np.stack([np.bincount(labels.ravel(), lab[:, i], minlength=count) for i in range(3)], axis=1)
        colours = (colours / np.maximum(areas, 1)[:, None]).astype(np.float32)
        pairs = np.concatenate([np.stack([labels[:, 1:].ravel(), labels[:, :-1].ravel()], axis=1),
                                np.stack([labels[1:, :].ravel(), labels[:-1, :].ravel()], axis=1)])
        pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
        return SuperpixelContext(labels, count, areas, colours, pairs)

    def _image_size(self, context: SuperpixelContext) -> tuple[int, int]:
        return (int(context.labels.shape[0]), int(context.labels.shape[1]))

    def _group(self, ctx: SuperpixelContext, seed: int, blocked: np.ndarray) -> np.ndarray:
        """Region ids connected to ``seed`` through adjacent regions of similar mean colour, never
        through the ``blocked`` region ids (those clicked with the opposite label)."""
        if self.merge_tolerance <= 0 or len(ctx.edges) == 0:
            return np.array([seed])
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        near = np.linalg.norm(ctx.colours - ctx.colours[seed], axis=1) <= self.merge_tolerance
        near[blocked] = False
        near[seed] = True
        e = ctx.edges[near[ctx.edges[:, 0]] & near[ctx.edges[:, 1]]]
        graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(ctx.count, ctx.count))
        _, comp = connected_components(graph, directed=False)
        return np.flatnonzero(comp == comp[seed])

    def _predict(self, context: SuperpixelContext, prompt: Prompt) -> list[Candidate]:
        """One candidate: bool ``(H, W)`` union of the selected regions."""
        h, w = context.labels.shape
        check_prompt_inside(prompt, h, w)
        box = _checked_box(prompt, h, w)
        selected = np.zeros(context.count, bool)
        if box is not None:
            inside = np.bincount(context.labels[box[1]:box[3], box[0]:box[2]].ravel(), minlength=context.count)
            selected = inside * 2 > context.areas
            if not selected.any():
                selected[context.labels[(box[1] + box[3] - 1) // 2, (box[0] + box[2] - 1) // 2]] = True
        clicked = context.labels[prompt.points[:, 1].astype(int), prompt.points[:, 0].astype(int)]
        for (x, y), lab in zip(prompt.points.astype(int), prompt.labels, strict=True):
            group = self._group(context, int(context.labels[y, x]), clicked[prompt.labels != lab])
            if lab:
                selected[group] = True
            else:  # remove the clicked region and its similar neighbours that are selected
                selected[context.labels[y, x]] = False
                selected[group] = False
        for s in prompt.scribbles:
            stroke, _ = rasterize_seeds((h, w), Prompt(scribbles=[type(s)(s.points, 1, s.radius)]))
            selected[np.unique(context.labels[stroke])] = bool(s.label)
        return [Candidate(mask=selected[context.labels], score=1.0 if selected.any() else 0.0)]
