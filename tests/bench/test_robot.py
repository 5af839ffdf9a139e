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
