"""The RITM robot user: where the next click goes."""

from __future__ import annotations

import numpy as np

from segtool.bench.robot import Sample, gt_box, next_click, run_robot
from segtool.engines.base import Candidate


def test_first_click_at_object_centre_farthest_from_border():
    gt = np.zeros((50, 80), bool)
    gt[10:31, 20:61] = True  # 21 x 41 rectangle: the farthest pixels lie on row 20, cols 30..50
    click = next_click(np.zeros_like(gt), gt)
    assert click.positive and click.y == 20 and 30 <= click.x <= 50


def test_negative_click_for_larger_false_foreground():
    gt = np.zeros((60, 60), bool)
    gt[5:15, 5:15] = True
    pred = gt.copy()
    pred[30:58, 30:58] = True  # large false positive
    pred[5:8, 5:8] = False  # small miss
    click = next_click(pred, gt)
    assert not click.positive and 30 <= click.x < 58 and 30 <= click.y < 58


def test_image_border_counts_as_border_and_ignore_excluded():
    gt = np.zeros((40, 100), bool)
    gt[:, :50] = True  # touches the left/top/bottom image border
    click = next_click(np.zeros_like(gt), gt)
    assert click.positive and 15 <= click.x <= 34 and click.y in (19, 20)
    ignore = np.zeros_like(gt)
    ignore[:, :] = True
    assert next_click(np.zeros_like(gt), gt, ignore) is None
    assert next_click(gt, gt) is None


class _OracleEngine:
    """Returns the GT once it has at least two clicks; checks what the robot sends."""

    def __init__(self, gt):
        self.gt = gt
        self.prompts = []

    def predict(self, context, prompt, *, multimask=False):
        self.prompts.append(prompt)
        mask = self.gt if len(prompt.points) >= 2 else np.zeros_like(self.gt)
        return [Candidate(mask=mask, low_res_logits=np.full((256, 256), len(self.prompts), np.float32),
                          state=len(self.prompts))]


def test_run_robot_feeds_previous_candidate_back():
    gt = np.zeros((30, 30), bool)
    gt[5:20, 5:25] = True
    eng = _OracleEngine(gt)
    trace = run_robot(eng, None, Sample("s", np.zeros((30, 30, 3), np.uint8), gt, np.zeros_like(gt)),
                      max_clicks=4)
    assert trace.ious[:2] == [0.0, 1.0] and trace.ious[-1] == 1.0 and len(trace.ious) == 4
    second = eng.prompts[1]
    assert len(second.points) == 2 and second.state == 1 and second.mask_logits[0, 0] == 1
    assert trace.clicks_to(0.9, 20) == 2 and trace.clicks_to(1.1, 20) == 20


def test_box_first_sends_gt_box():
    gt = np.zeros((30, 30), bool)
    gt[5:20, 7:25] = True
    assert gt_box(gt) == (7.0, 5.0, 25.0, 20.0)
    eng = _OracleEngine(gt)
    run_robot(eng, None, Sample("s", np.zeros((30, 30, 3), np.uint8), gt, np.zeros_like(gt)), max_clicks=2,
              first="box")
    assert eng.prompts[0].box == (7.0, 5.0, 25.0, 20.0) and len(eng.prompts[0].points) == 0
    assert eng.prompts[1].box == (7.0, 5.0, 25.0, 20.0) and len(eng.prompts[1].points) == 1


class _StuckEngine:
    """Always answers the same mask: the robot keeps clicking the same error region."""

    def __init__(self, mask):
        self.mask = mask

    def predict(self, context, prompt, *, multimask=False):
        return [Candidate(mask=self.mask)]


def test_robot_never_clicks_a_pixel_twice_as_ritm():
    gt = np.zeros((40, 40), bool)
    gt[10:30, 10:30] = True
    sample = Sample("s", np.zeros((40, 40, 3), np.uint8), gt, np.zeros_like(gt))
    trace = run_robot(_StuckEngine(np.zeros_like(gt)), None, sample, max_clicks=8)
    pixels = [(c.x, c.y) for c in trace.clicks]
    assert len(pixels) == 8 and len(set(pixels)) == 8  # RITM's not_clicked_map
    assert all(10 <= x < 30 and 10 <= y < 30 and c.positive for (x, y), c in zip(pixels, trace.clicks, strict=True))
    legacy = run_robot(_StuckEngine(np.zeros_like(gt)), None, sample, max_clicks=8, repeat_clicks=True)
    assert len({(c.x, c.y) for c in legacy.clicks}) == 1  # the robot before issue 15 clicked one pixel 8 times


def test_not_clicked_map_keeps_distances_and_stops_when_nothing_is_left():
    gt = np.zeros((20, 20), bool)
    gt[5:8, 5:8] = True  # 9 pixels
    not_clicked = np.ones_like(gt)
    first = next_click(np.zeros_like(gt), gt, None, not_clicked)
    assert (first.x, first.y) == (6, 6)
    not_clicked[6, 6] = False
    second = next_click(np.zeros_like(gt), gt, None, not_clicked)
    assert second.positive and (second.x, second.y) != (6, 6) and gt[second.y, second.x]
    not_clicked[gt] = False
    assert next_click(np.zeros_like(gt), gt, None, not_clicked) is None


class _WorseEngine:
    """Almost the object after the box, half of it after the first click, all of it after the second."""

    def __init__(self, gt):
        self.gt = gt

    def predict(self, context, prompt, *, multimask=False):
        mask = self.gt.copy()
        if len(prompt.points) == 0:
            mask[5:10, 5:10] = False
        elif len(prompt.points) == 1:
            mask[:, 15:] = False
        return [Candidate(mask=mask)]


def test_harmful_clicks_are_counted_per_follow_up():
    from segtool.bench.noc import harmful_clicks, summarize

    gt = np.zeros((30, 30), bool)
    gt[5:25, 5:25] = True
    sample = Sample("s", np.zeros((30, 30, 3), np.uint8), gt, np.zeros_like(gt))
    trace = run_robot(_WorseEngine(gt), None, sample, max_clicks=4, first="box")
    assert trace.made[:3] == [True, True, True] and trace.ious[1] < trace.ious[0] - 0.05 and trace.ious[2] == 1.0
    harmful, follow_ups = harmful_clicks([trace])
    assert harmful == 1 and follow_ups == sum(trace.made[1:])
    report = summarize("fake", [trace], 4, "box")
    assert report["protocol"].startswith("box-first") and report["harmful_clicks"] == 1
    image = report["images"][0]  # per image too: split figures can be derived from one JSON exactly
    assert image["harmful_clicks"] == 1 and image["made"] == trace.made
    assert len(report["boundary_f_at_click"]) == 4
