"""Magic wand and seeded region growing: colour tools measured in CIE Lab.

Both engines share one cheap context (:class:`LabContext`): the image converted once to 8-bit Lab
(OpenCV's encoding: ``L*255/100``, ``a+128``, ``b+128``), so a click only costs a flood fill.

Seeds from a :class:`~segtool.engines.base.Prompt`:

- **wand** (:class:`MagicWandEngine`): every positive click selects the pixels whose Lab colour lies
  within ``tolerance`` of that click's colour (per channel, in Lab units; contiguous flood fill with
  4/8-connectivity, or every such pixel of the image when ``contiguous=False``); the selections are
  united. Each negative click cuts out its own contiguous selection (also in global mode, so
  that it removes the piece clicked on, not every pixel of that colour). A box limits the selection to the box;
  a box alone seeds at its centre. Scribbles act like clicks at each of their points.
- **region-grow** (:class:`SeededRegionGrowEngine`): positive and negative seeds (clicks as discs,
  scribbles as strokes) compete: a pixel joins the object when its Lab colour is nearer to a positive
  seed colour than to any negative one and within ``tolerance``, and it is connected to a positive seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segtool.core.errors import PromptError
from segtool.engines.base import Candidate, Prompt, check_prompt_inside
from segtool.engines.follow_up import FollowUpEngine

#: OpenCV 8-bit Lab stores L* scaled by 255/100; a*, b* are offset by 128 in Lab units.
_L_SCALE = 255.0 / 100.0
#: Seed of OpenCV's random generator before the seed colours' k-means++ (deterministic masks).
KMEANS_SEED = 12345


@dataclass
class LabContext:
    """Prepared image: ``lab`` uint8 ``(H, W, 3)`` OpenCV-Lab, ``height``/``width`` in pixels."""

    lab: np.ndarray
    height: int
    width: int


def prepare_lab(image: np.ndarray) -> LabContext:
    """Convert an RGB uint8 ``(H, W, 3)`` image (gray ``(H, W)`` accepted) to a :class:`LabContext`."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise PromptError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    image = np.ascontiguousarray(image[:, :, :3]).astype(np.uint8, copy=False)
    return LabContext(cv2.cvtColor(image, cv2.COLOR_RGB2Lab), image.shape[0], image.shape[1])


def seed_points(prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
    """All point seeds of a prompt: clicks plus scribble vertices.

    Returns
    -------
    points : int ``(N, 2)`` ``(x, y)``; labels : int ``(N,)`` 1 positive / 0 negative.
    """
    pts = [np.round(prompt.points).astype(np.int64)]
    labels = [prompt.labels.astype(np.int64)]
    for s in prompt.scribbles:
        p = np.round(np.asarray(s.points, np.float64).reshape(-1, 2)).astype(np.int64)
        pts.append(p)
        labels.append(np.full(len(p), int(s.label), np.int64))
    return np.concatenate(pts).reshape(-1, 2), np.concatenate(labels)


def rasterize_seeds(shape: tuple[int, int], prompt: Prompt, *, radius: float = 3.0, scale: float = 1.0,
                    offset: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Draw clicks (discs) and scribbles (strokes) of ``prompt`` into two bool masks of ``shape`` (H, W).

    Full-image coordinates are mapped with ``(p - offset) * scale``; ``radius`` is in output pixels
    (a scribble uses ``max(radius, its own radius * scale)``). Returns ``(positive, negative)``.
    """
    out = [np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)]
    off = np.asarray(offset, np.float64)
    r = max(1, int(round(radius)))
    for (x, y), lab in zip(prompt.points.astype(np.float64), prompt.labels, strict=True):
        cx, cy = ((np.array([x, y]) - off) * scale).round().astype(int)
        cv2.circle(out[0 if lab else 1], (int(cx), int(cy)), r, 1, -1)
    for s in prompt.scribbles:
        p = ((np.asarray(s.points, np.float64).reshape(-1, 2) - off) * scale).round().astype(np.int32)
        thick = max(1, int(round(max(radius, s.radius * scale))))
        target = out[0 if s.label else 1]
        if len(p) == 1:
            cv2.circle(target, (int(p[0, 0]), int(p[0, 1])), thick, 1, -1)
        elif len(p) > 1:
            cv2.polylines(target, [p.reshape(-1, 1, 2)], False, 1, 2 * thick + 1)
    return out[0].astype(bool), out[1].astype(bool)


def _checked_box(prompt: Prompt, h: int, w: int) -> tuple[int, int, int, int] | None:
    """The prompt's box clipped to the image as integer XYXY (exclusive), or None."""
    if prompt.box is None:
        return None
    x0, y0, x1, y1 = prompt.box
    bx = (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))),
          min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1))))
    if bx[2] - bx[0] < 2 or bx[3] - bx[1] < 2:
        raise PromptError(f"box {prompt.box} is too small: drag a box at least 2 pixels wide and high")
    return bx


class MagicWandEngine(FollowUpEngine):
    """Magic wand: flood fill in Lab from each click (see the module docstring for the seed rules).

    Parameters
    ----------
    tolerance : float
        Largest per-channel difference to the seed colour, in Lab units (L* 0..100, a*/b*).
    connectivity : int
        4 or 8 neighbours for the contiguous fill.
    contiguous : bool
        True: only pixels connected to the click; False: every matching pixel of the image (or box).
    """

    name = "wand"

    def __init__(self, *, tolerance: float = 12.0, connectivity: int = 8, contiguous: bool = True) -> None:
        if connectivity not in (4, 8):
            raise PromptError(f"connectivity must be 4 or 8, not {connectivity}")
        if tolerance < 0:
            raise PromptError(f"tolerance must be >= 0, not {tolerance}")
        self.tolerance = float(tolerance)
        self.connectivity = int(connectivity)
        self.contiguous = bool(contiguous)

    def prepare(self, image: np.ndarray) -> LabContext:
        """Lab conversion of an RGB uint8 ``(H, W, 3)`` image."""
        return prepare_lab(image)

    def _diff(self) -> tuple[float, float, float]:
        t = self.tolerance
        return (t * _L_SCALE, t, t)

    def _select(self, ctx: LabContext, x: int, y: int, box: tuple[int, int, int, int],
                contiguous: bool) -> np.ndarray:
        """Bool ``(bh, bw)`` selection of the seed ``(x, y)`` inside ``box`` XYXY."""
        x0, y0, x1, y1 = box
        lab = ctx.lab[y0:y1, x0:x1]
        seed = ctx.lab[y, x].astype(np.float64)
        d = self._diff()
        if not contiguous:
            lo = np.clip(seed - d, 0, 255)
            hi = np.clip(seed + d, 0, 255)
            return cv2.inRange(lab, lo, hi) > 0
        ff = np.zeros((lab.shape[0] + 2, lab.shape[1] + 2), np.uint8)
        flags = self.connectivity | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
        cv2.floodFill(np.ascontiguousarray(lab), ff, (x - x0, y - y0), 0, d, d, flags)
        return ff[1:-1, 1:-1].view(bool)  # fill value 1: a bool view, no copy

    def _predict(self, context: LabContext, prompt: Prompt) -> list[Candidate]:
        """One candidate: bool ``(H, W)`` union of positive selections minus negative ones.

        Without a box the mask may be a (non-contiguous) view of the flood-fill buffer: no copy
        of a 12-megapixel mask is made. No positive seed gives an empty candidate with score 0.

        Raises :class:`PromptError` for an empty prompt, a click outside the image or a degenerate box.
        """
        h, w = context.height, context.width
        check_prompt_inside(prompt, h, w)
        box = _checked_box(prompt, h, w) or (0, 0, w, h)
        pts, labels = seed_points(prompt)
        inside = (pts[:, 0] >= box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] >= box[1]) & (pts[:, 1] < box[3])
        pts, labels = pts[inside], labels[inside]
        if prompt.box is not None and not (labels == 1).any():
            pts = np.vstack([pts, [[(box[0] + box[2] - 1) // 2, (box[1] + box[3] - 1) // 2]]])
            labels = np.append(labels, 1)
        sub = None
        for (x, y) in pts[labels == 1]:
            if sub is None:
                sub = self._select(context, int(x), int(y), box, self.contiguous)
            elif not sub[y - box[1], x - box[0]]:
                sub |= self._select(context, int(x), int(y), box, self.contiguous)
        if sub is None:
            return [Candidate(mask=np.zeros((h, w), bool), score=0.0)]
        for (x, y) in pts[labels == 0]:
            if sub[y - box[1], x - box[0]]:
                sub &= ~self._select(context, int(x), int(y), box, True)
        if sub.shape == (h, w):
            return [Candidate(mask=sub, score=1.0)]
        mask = np.zeros((h, w), bool)
        mask[box[1]:box[3], box[0]:box[2]] = sub
        return [Candidate(mask=mask, score=1.0)]


class SeededRegionGrowEngine(FollowUpEngine):
    """Seeded region growing from several positive and negative seeds (rules in the module docstring).

    Parameters
    ----------
    tolerance : float
        Largest Euclidean Lab distance (Delta E 76) from a pixel to its nearest positive seed colour.
    connectivity : int
        4 or 8: the grown region must be connected to a positive seed.
    seed_radius : float
        Radius in pixels of the disc each click contributes seed colours from.
    """

    name = "region-grow"

    def __init__(self, *, tolerance: float = 20.0, connectivity: int = 8, seed_radius: float = 3.0) -> None:
        if connectivity not in (4, 8):
            raise PromptError(f"connectivity must be 4 or 8, not {connectivity}")
        self.tolerance = float(tolerance)
        self.connectivity = int(connectivity)
        self.seed_radius = float(seed_radius)

    def prepare(self, image: np.ndarray) -> LabContext:
        """Lab conversion of an RGB uint8 ``(H, W, 3)`` image."""
        return prepare_lab(image)

    @staticmethod
    def _min_dist(lab: np.ndarray, colours: np.ndarray) -> np.ndarray:
        """float32 ``(h, w)`` smallest Lab distance of each pixel to one of ``colours`` ``(K, 3)``."""
        best = np.full(lab.shape[:2], np.inf, np.float32)
        for c in colours:
            d = lab - c.astype(np.float32)
            np.minimum(best, np.sqrt(np.einsum("ijk,ijk->ij", d, d)), out=best)
        return best

    def _seed_colours(self, lab: np.ndarray, seeds: np.ndarray, k: int = 8) -> np.ndarray:
        """Up to ``k`` representative Lab colours ``(k, 3)`` of the seed pixels (k-means)."""
        cols = lab[seeds].astype(np.float32)
        if len(cols) <= k:
            return cols
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.5)
        cv2.setRNGSeed(KMEANS_SEED)  # k-means++ start: the same click always gives the same mask
        _, _, centres = cv2.kmeans(cols, k, None, crit, 1, cv2.KMEANS_PP_CENTERS)
        return centres

    def _predict(self, context: LabContext, prompt: Prompt) -> list[Candidate]:
        """One candidate bool ``(H, W)``; :class:`PromptError` for an empty/outside prompt or tiny box."""
        h, w = context.height, context.width
        check_prompt_inside(prompt, h, w)
        box = _checked_box(prompt, h, w) or (0, 0, w, h)
        x0, y0, x1, y1 = box
        lab = context.lab[y0:y1, x0:x1].astype(np.float32)
        lab[..., 0] /= _L_SCALE
        pos, neg = rasterize_seeds(lab.shape[:2], prompt, radius=self.seed_radius, offset=(x0, y0))
        if prompt.box is not None and not pos.any():
            cv2.circle(pos.view(np.uint8), ((x1 - x0) // 2, (y1 - y0) // 2), int(self.seed_radius), 1, -1)
        pos &= ~neg
        mask = np.zeros((h, w), bool)
        if not pos.any():
            return [Candidate(mask=mask, score=0.0)]
        d_pos = self._min_dist(lab, self._seed_colours(lab, pos))
        grow = d_pos <= self.tolerance
        if neg.any():
            grow &= d_pos < self._min_dist(lab, self._seed_colours(lab, neg))
        grow = (grow | pos) & ~neg
        n, comp = cv2.connectedComponents(grow.astype(np.uint8), connectivity=self.connectivity)
        keep = np.zeros(n, bool)
        keep[np.unique(comp[pos])] = True
        keep[0] = False
        mask[y0:y1, x0:x1] = keep[comp]
        return [Candidate(mask=mask, score=1.0)]
