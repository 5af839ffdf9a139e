"""GrabCut follow-up rules (segtool.engines.grabcut_clicks): clicked pieces only, flood guard."""

from __future__ import annotations

import cv2
import numpy as np

from segtool.bench.robot import load_dataset, run_robot
from segtool.core.masks import mask_iou
from segtool.engines.base import Prompt
from segtool.engines.graphcut import GrabCutEngine


def _twin_scene() -> tuple[np.ndarray, np.ndarray]:
    """An orange ellipse (the object) and a same-coloured disc apart from it on a blue-green ground."""
    rng = np.random.default_rng(7)
    h, w = 200, 320
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (100, 100), (60, 45), 15, 0, 360, 1, -1)
    twin = np.zeros((h, w), np.uint8)
    cv2.circle(twin, (255, 100), 35, 1, -1)
    image = np.empty((h, w, 3), np.float32)
    image[:] = (40, 120, 110)
    image[(gt > 0) | (twin > 0)] = (220, 130, 40)
    image += cv2.resize(rng.normal(0, 15, (h // 4, w // 4, 3)).astype(np.float32), (w, h))
    return np.clip(image, 0, 255).astype(np.uint8), gt > 0


def test_a_click_only_start_keeps_only_the_piece_that_holds_the_click() -> None:
    image, gt = _twin_scene()
    prompt = Prompt(points=[[100, 100]], labels=[1])
    kept, every = GrabCutEngine(), GrabCutEngine(clicked_components=False)
    mask = kept.predict(kept.prepare(image), prompt)[0].mask
    loose = every.predict(every.prepare(image), prompt)[0].mask
    assert loose[100, 255] and mask_iou(loose, gt) < 0.7  # the same colour elsewhere is taken too
    assert not mask[60:140, 220:290].any()
    assert mask_iou(mask, gt) > 0.95
    raw = GrabCutEngine()
    raw.raw = True  # the behaviour before issue 15 keeps every piece
    assert raw.predict(raw.prepare(image), prompt)[0].mask[100, 255]


def test_flood_guard_stops_a_click_on_the_ram_from_flooding_the_rock(grabcut_dir) -> None:
    """304074 (a ram on same-coloured rock, tune split): unguarded, a late positive click floods the
    rock. (With the weaker data term of the default data_power 0.75 that click no longer floods
    there, so both engines use the stronger 1.0 to show the guard at work on a real image.)"""
    sample = next(s for s in load_dataset(grabcut_dir) if s.name == "304074")
    guarded, unguarded = GrabCutEngine(data_power=1.0), GrabCutEngine(data_power=1.0, flood_ratio=0)
    ctx = guarded.prepare(sample.image)
    kept = run_robot(guarded, ctx, sample, max_clicks=20, first="click")
    flooded = run_robot(unguarded, ctx, sample, max_clicks=20, first="click")
    harmful = [sum(d < -0.05 for d in t.follow_up_deltas()) for t in (kept, flooded)]
    assert harmful[0] < harmful[1]
    assert min(flooded.ious[14:]) < 0.5 < 0.9 < min(kept.ious[14:])
