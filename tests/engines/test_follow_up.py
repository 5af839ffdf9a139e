"""Follow-up discipline of the classical engines: a click edits the mask where it lands."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from segtool.bench.robot import load_sample, next_click
from segtool.core.masks import mask_iou
from segtool.engines.base import Prompt
from segtool.engines.follow_up import FollowUpState, apply_click, distance_to_value
from segtool.engines.registry import create_engine


def test_distance_search_matches_brute_force():
    rng = np.random.default_rng(3)
    mask = rng.random((120, 90)) > 0.995
    for x, y in [(0, 0), (45, 60), (89, 119)]:
        ys, xs = np.nonzero(mask)
        assert distance_to_value(mask, x, y, True) == pytest.approx(np.hypot(xs - x, ys - y).min())
    assert distance_to_value(np.zeros((10, 10), bool), 3, 3, True) == float("inf")


def test_positive_click_adds_only_the_piece_near_it():
    previous = np.zeros((200, 200), bool)
    previous[80:120, 80:120] = True
    answer = previous.copy()
    answer[80:120, 130:140] = True  # the piece the click asks for, 10 px from the mask
    answer[0:40, 0:200] = True  # a flood far away (connected to nothing the click touches)
    answer[80:120, 140:200] = True  # a flood connected to the piece, beyond its reach
    out = apply_click(previous, answer, 130, 100, True, reach=4.0)  # d = 11 -> reach 44 px
    assert out[100, 130] and out[100, 160] and not out[10, 10] and not out[100, 180]
    assert not (previous & ~out).any()  # a positive click never removes anything


def test_negative_click_removes_only_its_piece_and_an_ignored_click_still_acts():
    previous = np.zeros((200, 200), bool)
    previous[50:150, 50:150] = True
    answer = np.zeros_like(previous)  # the engine dropped everything
    out = apply_click(previous, answer, 55, 100, False, reach=4.0)  # 5 px inside the edge: reach 24 px
    assert not out[100, 55] and out[100, 120] and out[60, 140]
    ignored = apply_click(previous, previous, 100, 100, False)  # the engine kept the clicked pixel
    assert not ignored[100, 100] and ignored[100, 110] and ignored.sum() > previous.sum() - 40


@pytest.fixture(scope="module")
def llama(grabcut_dir_module):
    return load_sample(grabcut_dir_module / "images" / "llama.jpg", grabcut_dir_module / "masks" / "llama.png")


@pytest.fixture(scope="module")
def grabcut_dir_module():
    from conftest import shared_path

    return shared_path("datasets", "grabcut")


#: largest IoU drop allowed per click (region growing's colour seeds still shift the grown piece a little)
MAX_DROP = {"watershed": 0.05, "wand": 0.05, "superpixel": 0.05, "region-grow": 0.1}


@pytest.mark.parametrize("name", sorted(MAX_DROP))
def test_robot_follow_ups_never_lose_much(name, llama):
    """Five robot clicks on the llama: with the discipline no click lowers IoU by much."""
    engine = create_engine(name)
    ctx = engine.prepare(llama.image)
    prompt, pred, ious = Prompt(), np.zeros_like(llama.gt), []
    not_clicked = np.ones(llama.gt.shape, bool)
    for _ in range(5):
        click = next_click(pred, llama.gt, llama.ignore, not_clicked)
        not_clicked[click.y, click.x] = False
        prompt = prompt.with_click(click.x, click.y, int(click.positive))
        cand = engine.predict(ctx, prompt)[0]
        assert isinstance(cand.state, FollowUpState) and cand.state.clicks == len(prompt.points)
        pred = cand.mask
        ious.append(mask_iou(pred, llama.gt, llama.ignore))
        prompt = dataclasses.replace(prompt, state=cand.state)
    assert all(b >= a - MAX_DROP[name] for a, b in zip(ious, ious[1:], strict=False)), ious


def test_watershed_negative_click_no_longer_swaps_the_object(grabcut_dir_module):
    """Before issue 15 a first negative click dropped the border marker and the object became the
    rest of the image (304074: IoU 0.26 -> 0.06); ``raw = True`` still does that (for before/after)."""
    sample = load_sample(grabcut_dir_module / "images" / "304074.jpg", grabcut_dir_module / "masks" / "304074.png")
    engine = create_engine("watershed")
    ctx = engine.prepare(sample.image)
    first = next_click(np.zeros_like(sample.gt), sample.gt, sample.ignore)
    prompt = Prompt(points=[[first.x, first.y]], labels=[1])
    raw = copy.copy(engine)
    raw.raw = True
    results = {}
    for label, eng in (("raw", raw), ("default", engine)):
        cand = eng.predict(ctx, prompt)[0]
        second = next_click(cand.mask, sample.gt, sample.ignore)
        follow = dataclasses.replace(prompt.with_click(second.x, second.y, int(second.positive)), state=cand.state)
        results[label] = (mask_iou(cand.mask, sample.gt, sample.ignore),
                          mask_iou(eng.predict(ctx, follow)[0].mask, sample.gt, sample.ignore), second.positive)
    (raw_1, raw_2, positive), (def_1, def_2, _) = results["raw"], results["default"]
    assert not positive and raw_1 == pytest.approx(def_1, abs=0.05)
    assert def_2 >= def_1 - 0.05 and raw_2 < raw_1 - 0.05, results  # the old behaviour made it worse
