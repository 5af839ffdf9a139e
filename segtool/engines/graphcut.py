"""GrabCut that stays interactive on large photos: ROI, coarse-to-fine, continued colour models.

How a :class:`~segtool.engines.base.Prompt` becomes seeds (all drawn on the working grid):

- **box** (first interaction): the region of interest (ROI) is the box plus a margin; pixels outside
  the box are hard background, inside probable foreground (``cv2.GC_INIT_WITH_MASK``, as the rect
  initialisation of the paper). A positive click outside the box turns the outside into probable
  background instead, so the object may leave the box.
- **clicks / scribbles**: hard constraints: a disc of ``click_radius`` pixels (scribbles: their
  stroke) is ``GC_FGD`` for positives and ``GC_BGD`` for negatives. With ``prompt.state`` from the
  previous candidate they update the previous result, continuing its colour models (``GC_EVAL``) for
  ``click_iterations`` iterations instead of restarting (optionally on the current mask's box plus
  a margin, ``zoom_follow_up``: a click-only start cut the whole image coarsely). A follow-up
  click that lands on the wrong side of the current boundary also gets a larger disc scaled to its distance from that boundary:
  probable labels in the outer half, hard labels in the inner ``click_hard_fraction`` (a graph cut
  alone barely moves for a small hard disc). A first interaction made only of clicks
  uses the whole image as ROI, probable foreground in a disc of ``click_prior_fraction`` of the image
  size around each positive click and probable background elsewhere. After a cut started by or
  continued with clicks only the pieces of foreground that hold a positive click are kept
  (``clicked_components``); a follow-up click whose cut changes far more than the error it points
  at is redone with its reach limited (flood guard, ``flood_ratio``); see
  :mod:`segtool.engines.grabcut_clicks`.
- **mask** (``prompt.mask`` without state or box): refinement of an existing mask (a SAM mask, say):
  pixels farther than ``refine_band`` from its border are hard foreground/background, the band
  between them is re-decided by graph cut.

Speed: the ROI is cut at a working resolution of at most ``max_pixels`` pixels (taken from an image
pyramid built by :meth:`GrabCutEngine.prepare`); when that is coarser than the photo, only the
uncertain band along the upsampled boundary is re-decided at full resolution: by one frozen-model
GrabCut pass over the band (colour plus contrast-sensitive smoothness, as the coarse cut) when the
ROI, or else the band's box, has at most ``fine_cut_pixels`` pixels; otherwise (and with ``raw``,
the behaviour before issue 15) per pixel, from the GrabCut colour models plus the coarse result as
a prior. On a coarse grid the data term is scaled
by ``1/scale`` (covariances times ``scale``), since boundaries shrink by ``scale`` but areas by its
square; without this, coarse cuts shrink or vanish. A first cut that still collapses is redone at
twice the resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segtool.core.errors import PromptError
from segtool.engines.base import Candidate, Prompt, check_prompt_inside
from segtool.engines.grabcut_clicks import (
    FG_VALUES,
    freeze_far,
    is_flood,
    keep_clicked,
    new_click_priors,
    thaw,
)
from segtool.engines.grabcut_gmm import colour_index, has_models, learn_gmm, llr_table, tempered
from segtool.engines.grabcut_grid import bilinear, block_pixels, refine_labels
from segtool.engines.region_grow import _checked_box, rasterize_seeds

#: Half-width, in working-grid pixels, of the band the full-resolution cut re-decides (the coarse
#: boundary is uncertain by about one working pixel either side; two leave it room).
FINE_BAND = 2
#: ``data_power`` of the behaviour before issue 15 (``raw``).
RAW_DATA_POWER = 1.0
#: Seed of OpenCV's random generator before GrabCut's k-means initialisation (its per-thread state
#: would otherwise carry over from any earlier OpenCV call, and masks would depend on what ran before).
GMM_SEED = 12345


@dataclass
class GrabCutContext:
    """Prepared image: ``pyramid[i]`` is the RGB uint8 image downscaled by ``2**i`` (level 0 = original)."""

    pyramid: list[np.ndarray]
    height: int
    width: int


@dataclass
class GrabCutState:
    """Continuation of a GrabCut result.

    Attributes
    ----------
    roi : ``(x0, y0, x1, y1)`` full-resolution pixels, exclusive ends.
    scale : working grid size / full-resolution size.
    bgd_model, fgd_model : float64 ``(1, 65)`` OpenCV GMMs (5 components).
    labels : uint8 ``(h, w)`` ``cv2.GC_*`` labels of the working grid after the last cut.
    clicks_done : number of the prompt's clicks already applied (later ones are new).
    """

    roi: tuple[int, int, int, int]
    scale: float
    bgd_model: np.ndarray
    fgd_model: np.ndarray
    labels: np.ndarray
    clicks_done: int = 0


class GrabCutEngine:
    """Interactive GrabCut (box, clicks, scribbles, mask refinement); rules in the module docstring.

    Parameters
    ----------
    max_pixels : int
        Largest working grid (pixels) for the graph cut; larger ROIs are cut coarse-to-fine.
    iterations : int
        GrabCut iterations of a first interaction.
    click_iterations : int
        Iterations of a follow-up interaction (continuing the colour models).
    click_radius : float
        Radius in full-resolution pixels of a click's hard-constraint disc (at least 1 working pixel).
    margin : float
        ROI margin around a box, as a fraction of the box size (at least 16 pixels).
    click_prior_fraction : float
        Click-only start: probable-foreground disc radius as a fraction of ``min(H, W)``.
    refine_band : float
        Mask refinement: half-width of the re-decided band, as a fraction of the mask's bbox size
        (at least 3 pixels).
    prior_weight : float
        Full-resolution band: weight (nats) of the coarse result against the colour models.
    data_power : float
        On a coarse grid the colour covariances are multiplied by ``scale ** data_power`` during the
        cut (a stronger data term against the relatively longer boundaries of a coarse grid).
        0.75 chosen on the tune split (click-first NoC@90 for 0.5 / 0.75 / 0.875 / 1.0 / 1.25:
        4.11 / 4.00 / 4.11 / 4.22 / 5.22; box-first 3.00 -> 2.89); ``raw`` keeps 1.0.
    click_hard_fraction : float
        A follow-up click that lands on the wrong side gets a soft disc of half its distance to the
        current boundary and a hard disc of this fraction of it (see ``_new_click_priors``).
    zoom_follow_up : bool
        A follow-up of a click-only start (whose ROI is the whole image) cuts only the current mask's
        box plus ``margin``, at the finer working resolution that gives (as RITM's zoom-in). Off by
        default: on the tune split of the GrabCut set click-first NoC@90 went 5.11 -> 4.67, but on
        all 33 images 6.24 -> 6.45, so it does not generalise. Clicks outside grow it again.
    fine_cut_pixels : int
        Largest full-resolution area (the ROI, else the band's box) whose boundary band is
        re-decided by a graph cut (``_fine_cut``); larger ones, and 0, use the per-pixel decision.
        A latency bound, not fitted to quality: every GrabCut-set image (at most 0.31 MP) is below
        it; at 1 MP a follow-up click costs about 2x the per-pixel band (``segtool bench latency``).
    clicked_components : bool
        Keep only the 8-connected pieces of the foreground that hold a positive click (plus the
        largest piece when a box was given); pieces of similar colour elsewhere are dropped
        (:func:`~segtool.engines.grabcut_clicks.keep_clicked`). Chosen on the tune split.
    flood_ratio : float
        Flood guard of a follow-up click: when the cut changes more than ``flood_ratio`` times the
        area ``pi * d**2`` of the new click (``d``: its distance to the current boundary), the cut
        is redone with every pixel farther than ``flood_reach * d`` from the click fixed
        (:func:`~segtool.engines.grabcut_clicks.is_flood`); 0 turns it off. 50 chosen on the tune split
        (25 tied, 100 was worse); ``flood_reach`` 4 as ``follow_up.REACH`` (3 and 6 tied).
    """

    name = "grabcut"
    #: the behaviour before issue 15 (no follow-up zoom, per-pixel band, no clicked-piece rule or
    #: flood guard), for ``segtool bench noc --raw``
    raw: bool = False

    def __init__(self, *, max_pixels: int = 60_000, iterations: int = 5, click_iterations: int = 2,
                 click_radius: float = 5.0, margin: float = 0.5, click_prior_fraction: float = 0.15,
                 refine_band: float = 0.05, prior_weight: float = 3.0, data_power: float = 0.75,
                 click_hard_fraction: float = 0.8, zoom_follow_up: bool = False,
                 fine_cut_pixels: int = 400_000, clicked_components: bool = True,
                 flood_ratio: float = 50.0, flood_reach: float = 4.0) -> None:
        self.clicked_components = bool(clicked_components)
        self.flood_ratio = float(flood_ratio)
        self.flood_reach = float(flood_reach)
        if max_pixels < 1024:
            raise PromptError(f"max_pixels must be at least 1024, not {max_pixels}")
        self.max_pixels = int(max_pixels)
        self.iterations = max(1, int(iterations))
        self.click_iterations = max(1, int(click_iterations))
        self.click_radius = float(click_radius)
        self.margin = float(margin)
        self.click_prior_fraction = float(click_prior_fraction)
        self.refine_band = float(refine_band)
        self.prior_weight = float(prior_weight)
        self.data_power = float(data_power)
        self.click_hard_fraction = float(click_hard_fraction)
        self.zoom_follow_up = bool(zoom_follow_up)
        self.fine_cut_pixels = int(fine_cut_pixels)

    # ------------------------------------------------------------------ prepare
    def prepare(self, image: np.ndarray) -> GrabCutContext:
        """Image pyramid of an RGB uint8 ``(H, W, 3)`` image (gray ``(H, W)`` accepted)."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] < 3 or min(image.shape[:2]) < 1:
            raise PromptError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
        level = np.ascontiguousarray(image[:, :, :3]).astype(np.uint8, copy=False)
        pyramid = [level]
        while min(level.shape[:2]) >= 512:
            level = cv2.pyrDown(level)
            pyramid.append(level)
        return GrabCutContext(pyramid, image.shape[0], image.shape[1])

    # ------------------------------------------------------------------ geometry
    def _work_image(self, ctx: GrabCutContext, roi: tuple[int, int, int, int], scale: float) -> np.ndarray:
        """RGB uint8 working grid of ``roi`` at ``scale``, resampled from the nearest finer pyramid level."""
        x0, y0, x1, y1 = roi
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        level = 0
        while level + 1 < len(ctx.pyramid) and 0.5 ** (level + 1) >= scale:
            level += 1
        f = 0.5 ** level
        img = ctx.pyramid[level]
        crop = img[int(y0 * f):max(int(y0 * f) + 1, int(np.ceil(y1 * f))),
                   int(x0 * f):max(int(x0 * f) + 1, int(np.ceil(x1 * f)))]
        if crop.shape[1] == size[0] and crop.shape[0] == size[1]:
            return np.ascontiguousarray(crop)
        return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)

    def _scale(self, roi: tuple[int, int, int, int]) -> float:
        area = (roi[2] - roi[0]) * (roi[3] - roi[1])
        return min(1.0, float(np.sqrt(self.max_pixels / max(area, 1))))

    @staticmethod
    def _grow(rect: tuple[int, int, int, int], pad: float, h: int, w: int) -> tuple[int, int, int, int]:
        p = int(round(pad))
        return (max(0, rect[0] - p), max(0, rect[1] - p), min(w, rect[2] + p), min(h, rect[3] + p))

    def _box_roi(self, box: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int, int, int]:
        pad = max(16.0, self.margin * max(box[2] - box[0], box[3] - box[1]))
        return self._grow(box, pad, h, w)

    # ------------------------------------------------------------------ seeds
    def _hard_seeds(self, labels: np.ndarray, prompt: Prompt, roi: tuple[int, int, int, int],
                    scale: float) -> None:
        """Draw clicks and scribbles of ``prompt`` into working ``labels`` as GC_FGD / GC_BGD."""
        radius = max(1.0, self.click_radius * scale)
        pos, neg = rasterize_seeds(labels.shape, prompt, radius=radius, scale=scale, offset=roi[:2])
        labels[pos] = cv2.GC_FGD
        labels[neg & ~pos] = cv2.GC_BGD

    def _init_labels(self, prompt: Prompt, box, roi, scale, shape, h, w) -> np.ndarray:
        """Working-grid labels of a first interaction (box, mask refinement or clicks only)."""
        labels = np.full(shape, cv2.GC_PR_BGD, np.uint8)
        x0, y0 = roi[:2]
        if box is not None:
            bx = [int(round((box[0] - x0) * scale)), int(round((box[1] - y0) * scale)),
                  int(round((box[2] - x0) * scale)), int(round((box[3] - y0) * scale))]
            outside_pos = any(lab == 1 and not (box[0] <= x < box[2] and box[1] <= y < box[3])
                              for (x, y), lab in zip(prompt.points, prompt.labels, strict=True))
            if not outside_pos:
                labels[:] = cv2.GC_BGD
            labels[bx[1]:max(bx[3], bx[1] + 1), bx[0]:max(bx[2], bx[0] + 1)] = cv2.GC_PR_FGD
        elif prompt.mask is not None:
            labels = refine_labels(prompt.mask, roi, scale, shape, self.refine_band)
        else:
            r = max(2, int(round(self.click_prior_fraction * min(h, w) * scale)))
            for (x, y), lab in zip(prompt.points, prompt.labels, strict=True):
                if lab == 1:
                    cv2.circle(labels, (int((x - x0) * scale), int((y - y0) * scale)), r, cv2.GC_PR_FGD, -1)
        return labels

    def _first_roi(self, prompt: Prompt, box, h: int, w: int) -> tuple[int, int, int, int]:
        if box is not None:
            return self._box_roi(box, h, w)
        if prompt.mask is not None:
            ys, xs = np.nonzero(prompt.mask)
            rect = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            return self._box_roi(rect, h, w)
        return (0, 0, w, h)

    def _zoomed_roi(self, state: GrabCutState, h: int, w: int) -> tuple[int, int, int, int]:
        """The ROI of a follow-up: the state's, shrunk to the current mask's box plus the box margin
        when that is smaller (a click-only start cuts the whole image; later clicks then work at
        the finer resolution a box start gets)."""
        fg = np.isin(state.labels, FG_VALUES)
        if state.roi != (0, 0, w, h) or not fg.any():  # only a click-only start cut the whole image
            return state.roi
        ys, xs = np.nonzero(fg)
        x0, y0 = state.roi[:2]
        box = (int(x0 + xs.min() / state.scale), int(y0 + ys.min() / state.scale),
               int(np.ceil(x0 + (xs.max() + 1) / state.scale)), int(np.ceil(y0 + (ys.max() + 1) / state.scale)))
        grown = self._box_roi(box, h, w)
        inside = (max(grown[0], state.roi[0]), max(grown[1], state.roi[1]), min(grown[2], state.roi[2]),
                  min(grown[3], state.roi[3]))
        area = (inside[2] - inside[0]) * (inside[3] - inside[1])
        full = (state.roi[2] - state.roi[0]) * (state.roi[3] - state.roi[1])
        return inside if area < 0.8 * full else state.roi

    def _continue(self, ctx: GrabCutContext, prompt: Prompt, state: GrabCutState):
        """ROI, scale and working labels that continue ``state`` (ROI grown to hold every click)."""
        h, w = ctx.height, ctx.width
        roi = state.roi
        if self.zoom_follow_up and not self.raw:
            roi = self._zoomed_roi(state, h, w)
        pts = prompt.points
        if len(pts):
            pad = max(16.0, 4 * self.click_radius)
            need = (int(pts[:, 0].min() - pad), int(pts[:, 1].min() - pad),
                    int(pts[:, 0].max() + pad) + 1, int(pts[:, 1].max() + pad) + 1)
            if need[0] < roi[0] or need[1] < roi[1] or need[2] > roi[2] or need[3] > roi[3]:
                roi = (max(0, min(roi[0], need[0])), max(0, min(roi[1], need[1])),
                       min(w, max(roi[2], need[2])), min(h, max(roi[3], need[3])))
        if roi == state.roi:
            return roi, state.scale, state.labels.copy()
        scale = self._scale(roi)
        size = (max(1, round((roi[2] - roi[0]) * scale)), max(1, round((roi[3] - roi[1]) * scale)))
        old = state.labels
        if prompt.mask is not None and prompt.mask.shape == (h, w):
            prev = prompt.mask[roi[1]:roi[3], roi[0]:roi[2]].astype(np.uint8)
        else:
            whole = np.zeros((h, w), np.uint8)
            fg = np.isin(old, FG_VALUES).astype(np.uint8)
            whole[state.roi[1]:state.roi[3], state.roi[0]:state.roi[2]] = cv2.resize(
                fg, (state.roi[2] - state.roi[0], state.roi[3] - state.roi[1]), interpolation=cv2.INTER_NEAREST)
            prev = whole[roi[1]:roi[3], roi[0]:roi[2]]
        prev = cv2.resize(prev, size, interpolation=cv2.INTER_NEAREST)
        return roi, scale, np.where(prev > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)

    # ------------------------------------------------------------------ predict
    def predict(self, context: GrabCutContext, prompt: Prompt, *, multimask: bool = False) -> list[Candidate]:
        """One candidate: bool ``(H, W)`` mask, with a :class:`GrabCutState` to continue from.

        Raises :class:`PromptError` for an empty prompt, a click or box outside the image, a box
        smaller than 2 pixels or a mask of the wrong shape.
        """
        h, w = context.height, context.width
        check_prompt_inside(prompt, h, w)
        box = _checked_box(prompt, h, w)
        if prompt.mask is not None and np.asarray(prompt.mask).shape != (h, w):
            raise PromptError(f"mask shape {np.asarray(prompt.mask).shape} differs from the image ({h}, {w})")
        state = prompt.state if isinstance(prompt.state, GrabCutState) else None
        if state is not None and (state.roi[2] > w or state.roi[3] > h or state.labels.ndim != 2):
            state = None  # a state of another image: start afresh
        if state is None and box is None and prompt.mask is not None and not np.any(prompt.mask):
            if not (prompt.labels == 1).any() and not any(s.label for s in prompt.scribbles):
                return [Candidate(mask=np.zeros((h, w), bool), score=0.0)]
            prompt = Prompt(points=prompt.points, labels=prompt.labels, scribbles=prompt.scribbles)
        if state is not None:
            roi, scale, labels, bgd, fgd, fg = self._follow_up_cut(context, prompt, state)
        else:
            roi, scale, labels, bgd, fgd, fg = self._first_cut(context, prompt, box)
        refining = state is None and box is None and prompt.mask is not None  # a given mask's pieces stay
        if fg is not None and self.clicked_components and not self.raw and not refining:
            fg = keep_clicked(labels, fg, keep_largest=box is not None)
        new_state = GrabCutState(roi, scale, bgd, fgd, labels, len(prompt.points))
        full = np.zeros((h, w), bool)
        if fg is None:
            return [Candidate(mask=full, score=0.0, state=None)]
        full[roi[1]:roi[3], roi[0]:roi[2]] = self._upsample(context, roi, scale, fg, bgd, fgd, labels)
        return [Candidate(mask=full, score=1.0, state=new_state)]

    def _follow_up_cut(self, ctx: GrabCutContext, prompt: Prompt, state: GrabCutState):
        """Cut of a follow-up interaction continuing ``state``; a cut that floods (see
        :func:`~segtool.engines.grabcut_clicks.is_flood`) is redone with the new clicks' reach limited."""
        roi, scale, labels = self._continue(ctx, prompt, state)
        bgd, fgd = state.bgd_model.copy(), state.fgd_model.copy()
        before = np.isin(labels, FG_VALUES)
        clicks = new_click_priors(labels, prompt, state.clicks_done, roi, scale, self.click_hard_fraction)
        self._hard_seeds(labels, prompt, roi, scale)
        work = self._work_image(ctx, roi, scale)
        seeds, models = labels.copy(), (bgd.copy(), fgd.copy())
        fg = self._cut(work, labels, bgd, fgd, cv2.GC_EVAL, self.click_iterations, scale)
        if fg is not None and not self.raw and is_flood(before, fg, clicks, self.flood_ratio):
            labels, (bgd, fgd) = seeds, models
            frozen = freeze_far(labels, clicks, self.flood_reach)
            fg = self._cut(work, labels, bgd, fgd, cv2.GC_EVAL, self.click_iterations, scale)
            thaw(labels, frozen)
        return roi, scale, labels, bgd, fgd, fg

    def _first_cut(self, ctx: GrabCutContext, prompt: Prompt, box):
        """Cut of a first interaction; a coarse cut that collapses (under 2% of its initial
        foreground) is redone at twice the resolution, up to full resolution."""
        h, w = ctx.height, ctx.width
        roi = self._first_roi(prompt, box, h, w)
        scale = self._scale(roi)
        while True:
            size = (max(1, round((roi[3] - roi[1]) * scale)), max(1, round((roi[2] - roi[0]) * scale)))
            labels = self._init_labels(prompt, box, roi, scale, size, h, w)
            self._hard_seeds(labels, prompt, roi, scale)
            initial = np.count_nonzero(np.isin(labels, FG_VALUES))
            work = self._work_image(ctx, roi, scale)
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
            fg = self._cut(work, labels, bgd, fgd, cv2.GC_INIT_WITH_MASK, self.iterations, scale)
            if scale >= 1.0 or fg is None or np.count_nonzero(fg) >= 0.02 * initial:
                return roi, scale, labels, bgd, fgd, fg
            scale = min(1.0, scale * 2.0)

    def _cut(self, work: np.ndarray, labels: np.ndarray, bgd: np.ndarray, fgd: np.ndarray, mode: int,
             iters: int, scale: float) -> np.ndarray | None:
        """GrabCut iterations in place on ``labels``; bool foreground, or None when nothing can be cut.

        Each iteration re-learns the GMMs (hard EM, as OpenCV does) and cuts with frozen models whose
        covariances are multiplied by ``scale``: the data term grows by ``1/scale``, balancing the
        shorter boundaries of a coarse grid (without it a coarse cut shrinks or vanishes).
        """
        fg_seed = np.isin(labels, FG_VALUES)
        if not fg_seed.any():
            return None
        if fg_seed.all() or min(work.shape[:2]) < 2 or min(np.count_nonzero(fg_seed),
                                                          np.count_nonzero(~fg_seed)) < 2:
            return fg_seed
        try:
            if mode != cv2.GC_EVAL:
                cv2.setRNGSeed(GMM_SEED)  # GrabCut's k-means start: the same prompt always gives the same mask
                cv2.grabCut(work, labels, None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
            colours = work.reshape(-1, 3).astype(np.float32)
            factor = scale ** (RAW_DATA_POWER if self.raw else self.data_power)
            for _ in range(iters):
                fg = np.isin(labels, FG_VALUES).reshape(-1)
                if fg.all() or not fg.any():
                    break
                bgd[:] = learn_gmm(bgd, colours[~fg])
                fgd[:] = learn_gmm(fgd, colours[fg])
                cv2.grabCut(work, labels, None, tempered(bgd, factor), tempered(fgd, factor), 1,
                            cv2.GC_EVAL_FREEZE_MODEL)
        except cv2.error:  # degenerate colour statistics (e.g. a flat image): keep the seeds' answer
            return np.isin(labels, FG_VALUES)
        return np.isin(labels, FG_VALUES)

    def _upsample(self, ctx: GrabCutContext, roi, scale: float, fg: np.ndarray, bgd: np.ndarray,
                  fgd: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Full-resolution bool ``(rh, rw)`` mask of the ROI: coarse result, band re-decided per pixel.

        The band is the upsampled one-pixel ring of the coarse boundary. There each pixel's colour
        log-likelihood ratio (fg vs bg GMM, looked up in a 32x32x32 table) plus the bilinear coarse
        result as a prior decides; hard labels of the working grid win.
        """
        x0, y0, x1, y1 = roi
        rw, rh = x1 - x0, y1 - y0
        if fg.shape == (rh, rw):
            return fg
        if not self.raw and self.fine_cut_pixels > 0:
            fine = self._fine_cut(ctx, roi, fg, bgd, fgd, labels)
            if fine is not None:
                return fine
        coarse = fg.astype(np.uint8)
        ring = cv2.dilate(coarse, np.ones((3, 3), np.uint8)) != cv2.erode(coarse, np.ones((3, 3), np.uint8))
        out = cv2.resize(coarse, (rw, rh), interpolation=cv2.INTER_NEAREST)
        ys, xs = block_pixels(ring, rh, rw)
        if len(ys) == 0:
            return out > 0
        sx, sy = fg.shape[1] / rw, fg.shape[0] / rh
        prior = bilinear(coarse.astype(np.float32), (xs + 0.5) * sx - 0.5, (ys + 0.5) * sy - 0.5)
        score = self.prior_weight * (4 * prior - 2)
        if has_models(bgd, fgd):
            colours = ctx.pyramid[0][ys + y0, xs + x0]
            score += llr_table(fgd, bgd)[colour_index(colours)]
        cx = np.minimum((xs * sx).astype(np.intp), fg.shape[1] - 1)
        cy = np.minimum((ys * sy).astype(np.intp), fg.shape[0] - 1)
        hard = labels[cy, cx]
        out[ys, xs] = score > 0
        out = cv2.medianBlur(out, 3 if scale > 0.2 else 5)
        out[ys[hard == cv2.GC_FGD], xs[hard == cv2.GC_FGD]] = 1
        out[ys[hard == cv2.GC_BGD], xs[hard == cv2.GC_BGD]] = 0
        return out.view(bool)

    def _fine_cut(self, ctx: GrabCutContext, roi, fg: np.ndarray, bgd: np.ndarray, fgd: np.ndarray,
                  labels: np.ndarray) -> np.ndarray | None:
        """Full-resolution bool ``(rh, rw)`` mask of the ROI from a graph cut of the boundary band.

        Pixels farther than :data:`FINE_BAND` coarse pixels from the upsampled coarse boundary keep
        the coarse answer (hard); the band between is re-decided by one GrabCut pass at full
        resolution with the coarse cut's colour models, frozen: colour and contrast-sensitive
        smoothness decide together, where the per-pixel band decision sees colour only. The cut
        covers the whole ROI when it has at most ``fine_cut_pixels`` pixels (OpenCV's contrast
        term beta then comes from the same pixels as on the coarse grid), else the band's bounding
        box; hard labels of the coarse grid stay hard. None when that box exceeds
        ``fine_cut_pixels`` or the cut cannot run (the per-pixel band decision is used).
        """
        x0, y0, x1, y1 = roi
        rw, rh = x1 - x0, y1 - y0
        sx, sy = rw / fg.shape[1], rh / fg.shape[0]   # image pixels per working pixel
        step = int(np.ceil(max(sx, sy)))
        pad = FINE_BAND * step + 1
        ys, xs = np.nonzero(fg)
        if len(ys) == 0 or not has_models(bgd, fgd):
            return None
        bx0, by0, bx1, by1 = 0, 0, rw, rh
        if rw * rh > self.fine_cut_pixels:
            bx0, by0 = max(0, int(xs.min() * sx) - pad), max(0, int(ys.min() * sy) - pad)
            bx1 = min(rw, int(np.ceil((xs.max() + 1) * sx)) + pad)
            by1 = min(rh, int(np.ceil((ys.max() + 1) * sy)) + pad)
        if (bx1 - bx0) * (by1 - by0) > self.fine_cut_pixels:
            return None
        up = cv2.resize(fg.astype(np.uint8), (rw, rh), interpolation=cv2.INTER_NEAREST)
        hard = cv2.resize(labels, (rw, rh), interpolation=cv2.INTER_NEAREST)[by0:by1, bx0:bx1]
        box_up = up[by0:by1, bx0:bx1]
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * FINE_BAND * step + 1, 2 * FINE_BAND * step + 1))
        fine = np.where(box_up > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        fine[cv2.erode(box_up, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1) > 0] = cv2.GC_FGD
        fine[cv2.dilate(box_up, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0) == 0] = cv2.GC_BGD
        fine[hard == cv2.GC_FGD] = cv2.GC_FGD
        fine[hard == cv2.GC_BGD] = cv2.GC_BGD
        image = np.ascontiguousarray(ctx.pyramid[0][y0 + by0:y0 + by1, x0 + bx0:x0 + bx1])
        try:
            cv2.grabCut(image, fine, None, tempered(bgd, 1.0), tempered(fgd, 1.0), 1, cv2.GC_EVAL_FREEZE_MODEL)
        except cv2.error:
            return None
        up[by0:by1, bx0:bx1] = np.isin(fine, FG_VALUES)
        return up.view(bool)
