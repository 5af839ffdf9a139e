"""Classical tools, brush/eraser, polygon and undo/redo on the real canvas with real mouse/keyboard events."""

from __future__ import annotations

import numpy as np
from canvas_helpers import click, drag, scene_image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segtool.core.masks import mask_iou
from segtool.engines.base import Candidate


def _accept(canvas) -> None:
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Return)


def test_wand_click_then_enter_adds_the_object(qtbot, canvas):
    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("wand")
    ys, xs = np.nonzero(ellipse)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, xs.mean(), ys.mean())
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.source == "wand" and mask_iou(inst.mask(), ellipse) >= 0.9


def test_brush_stroke_is_one_undo_step_and_redo_restores_it(qtbot, canvas):
    rgb, _, square = scene_image()
    canvas.show_image(1, rgb)
    iid = canvas.session.commit_new(square, "polygon")
    before = canvas.session.instance(iid).mask()
    canvas.session.options.brush_radius = 6
    canvas.set_tool("brush")
    ys, xs = np.nonzero(square)
    y = int(ys.mean())
    path = [(float(x), float(y)) for x in range(int(xs.max()) - 10, int(xs.max()) + 60, 5)]
    drag(canvas, path)  # 14 mouse moves
    after = canvas.session.instance(iid).mask()
    assert after.sum() > before.sum() + 40 * 10  # the stroke reached 50+ px beyond the square, 12 px wide
    assert after[y, int(xs.max()) + 50] and (after | before).sum() == after.sum()
    assert canvas.session.undo()  # ONE undo removes the whole stroke
    assert np.array_equal(canvas.session.instance(iid).mask(), before)
    assert canvas.session.undo() and canvas.session.instance(iid) is None  # then the add itself
    assert canvas.session.redo() and canvas.session.redo()
    assert np.array_equal(canvas.session.instance(iid).mask(), after)
    assert iid in canvas.overlay_items()  # the view followed the document


def test_eraser_on_selected_mask_and_ctrl_z(qtbot, canvas):
    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    iid = canvas.session.commit_new(ellipse, "wand")
    canvas.session.select([iid])
    canvas.set_tool("eraser")
    ys, xs = np.nonzero(ellipse)
    cy = int(ys.mean())
    drag(canvas, [(float(x), float(cy)) for x in range(int(xs.min()) - 5, int(xs.max()) + 6, 4)])
    erased = canvas.session.instance(iid).mask()
    assert not erased[cy, int(xs.mean())] and erased.sum() < ellipse.sum()
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas.session.instance(iid).mask(), ellipse)
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(canvas.session.instance(iid).mask(), erased)


def test_brush_size_keys(qtbot, canvas):
    rgb, _, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("brush")
    canvas.session.options.brush_radius = 8
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_BracketRight)
    assert canvas.session.options.brush_radius > 8
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_BracketLeft)
    assert canvas.session.options.brush_radius < 8


def test_polygon_clicks_and_enter(qtbot, canvas):
    rgb, _, square = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("polygon")
    ys, xs = np.nonzero(square)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]:
        click(canvas, x, y)
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.source == "polygon" and mask_iou(inst.mask(), square) >= 0.97


def test_grabcut_box_then_enter(qtbot, canvas):
    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("grabcut")
    ys, xs = np.nonzero(ellipse)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=20000):
        drag(canvas, [(xs.min() - 8, ys.min() - 8), (xs.mean(), ys.mean()), (xs.max() + 8, ys.max() + 8)])
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.source == "grabcut" and mask_iou(inst.mask(), ellipse) >= 0.85


def test_grabcut_starts_from_a_click_and_a_second_click_corrects_it(qtbot, canvas):
    """A click (no drag) starts a GrabCut object, as the click-first benchmark does; a right click
    on the square it leaked into (if any) or on the background continues that object."""
    rgb, ellipse, square = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("grabcut")
    ys, xs = np.nonzero(ellipse)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=20000):
        click(canvas, xs.mean(), ys.mean())
    first = canvas.tool().current().mask
    assert mask_iou(first, ellipse) >= 0.85
    assert not (first & square).any()  # the other object (another colour) is not taken
    sy, sx = np.nonzero(~ellipse & ~square)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=20000):
        click(canvas, sx[0] + 5, sy[0] + 5, Qt.MouseButton.RightButton)
    assert len(canvas.tool().prompt.points) == 2  # the same object, continued (not a new box)
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.source == "grabcut" and mask_iou(inst.mask(), ellipse) >= 0.85


class _ThreeMasks:
    """A tiny engine returning three nested squares around the click (to test candidate cycling)."""

    name = "three"

    def prepare(self, image):
        return image.shape[:2]

    def predict(self, context, prompt, *, multimask=False):
        h, w = context
        x, y = (int(v) for v in prompt.points[-1])
        out = []
        for r in (10, 20, 40):
            m = np.zeros((h, w), bool)
            m[max(0, y - r):y + r, max(0, x - r):x + r] = True
            out.append(Candidate(m, 1.0 / r))
        return out


def test_tab_cycles_candidates_and_enter_takes_the_shown_one(qtbot, canvas):
    rgb, _, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.session.set_sam_engine(_ThreeMasks())
    canvas.set_tool("sam-click")
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, 200, 200)
    assert canvas.candidate_item().bbox == (190, 190, 210, 210)
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Tab)
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Tab)
    assert canvas.candidate_item().bbox == (160, 160, 240, 240)
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert tuple(inst.bbox) == (160, 160, 240, 240)
    # Alt+Enter replaces the selected instance's mask (one EditMask) instead of adding one
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, 300, 300)
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Return, Qt.KeyboardModifier.AltModifier)
    (edited,) = canvas.session.instances()
    assert edited.id == inst.id and tuple(edited.bbox) == (290, 290, 310, 310)
    assert canvas.session.undo() and tuple(canvas.session.instance(inst.id).bbox) == (160, 160, 240, 240)


def test_refine_tightens_the_selected_mask_with_one_edit(qtbot, canvas):
    import cv2

    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    sloppy = cv2.dilate(ellipse.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    iid = canvas.session.commit_new(sloppy, "brush")
    canvas.session.select([iid])
    with qtbot.waitSignal(canvas.candidate_painted, timeout=20000):
        canvas.set_tool("refine")  # refines the selected mask at once
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.id == iid and mask_iou(inst.mask(), ellipse) > mask_iou(sloppy, ellipse) + 0.05
    assert canvas.session.undo() and np.array_equal(canvas.session.instance(iid).mask(), sloppy)


def test_watershed_scribbles_inside_and_outside(qtbot, canvas):
    rgb, ellipse, _ = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("watershed")
    ys, xs = np.nonzero(ellipse)
    cx, cy = float(xs.mean()), float(ys.mean())
    drag(canvas, [(cx - 40, cy), (cx, cy + 10), (cx + 40, cy)])
    with qtbot.waitSignal(canvas.candidate_painted, timeout=20000):
        drag(canvas, [(20, 20), (20, 460), (600, 460)], Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: not canvas.session.pools.interactive.busy(), timeout=20000)
    assert canvas.tool().prompt.scribbles[1].label == 0
    _accept(canvas)
    (inst,) = canvas.session.instances()
    assert inst.source == "watershed" and mask_iou(inst.mask(), ellipse) >= 0.85


def test_superpixel_clicks_add_and_remove_regions(qtbot, canvas):
    rgb, _, square = scene_image()
    canvas.show_image(1, rgb)
    canvas.set_tool("superpixel")
    ys, xs = np.nonzero(square)
    for y in np.linspace(ys.min() + 5, ys.max() - 5, 9):  # zig-zag strokes across the square
        drag(canvas, [(x, y) for x in np.linspace(xs.min() + 5, xs.max() - 5, 12)])
    click(canvas, 30, 30)  # a region outside the square...
    click(canvas, 30, 30, Qt.MouseButton.RightButton)  # ...removed again
    session = canvas.session
    qtbot.waitUntil(lambda: canvas.tool().current() is not None and not session.pools.interactive.busy()
                    and not session.pools.background.pending(), timeout=30000)
    prompt = canvas.tool().prompt
    assert len(prompt.scribbles) == 9 and prompt.labels.tolist() == [1, 0]
    _accept(canvas)
    (inst,) = canvas.session.instances()
    m = inst.mask()
    assert inst.source == "superpixel" and mask_iou(m, square) >= 0.85 and not m[30, 30]
