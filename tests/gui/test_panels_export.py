"""The export dialog runs in the background pool and writes files that real readers accept."""

from __future__ import annotations

import numpy as np
from PIL import Image
from pycocotools.coco import COCO
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_main_window import make_window, seed_instances

from segtool.demo import ensure_demo_images, render_sample
from segtool.gui.dialogs.export import ExportDialog
from segtool.gui.project_opening import open_project_path


def _window_with_annotations(qtbot, tmp_path):
    folder = tmp_path / "images"
    ensure_demo_images(folder, count=3)
    open_project_path(folder).close()
    seed_instances(folder, 0)
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    return window


def _export(qtbot, window, fmt: str, out) -> ExportDialog:
    dialog = ExportDialog(window.store, window.session.pools.background, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.format_combo.setCurrentText(fmt)
    dialog.out_edit.setText(str(out))
    QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert dialog.running()  # the GUI thread returned while the job runs
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert dialog.error is None, dialog.error
    return dialog


def test_export_dialog_coco_is_read_back_by_pycocotools(qtbot, tmp_path):
    window = _window_with_annotations(qtbot, tmp_path)
    dialog = _export(qtbot, window, "coco", tmp_path / "coco")
    assert dialog.progress.value() == dialog.progress.maximum() == 3
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    _, objects = render_sample(0)
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == len(objects)
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert set(cats.values()) == {"thing"}
    got = sorted(int(coco.annToMask(a).sum()) for a in coco.loadAnns(coco.getAnnIds()))
    assert got == sorted(int(o.mask.sum()) for o in objects)
    for ann in coco.loadAnns(coco.getAnnIds()):
        m = coco.annToMask(ann).astype(bool)
        assert any(np.array_equal(m, o.mask) for o in objects)


def test_export_dialog_voc_and_yolo_write_their_files(qtbot, tmp_path):
    window = _window_with_annotations(qtbot, tmp_path)
    _export(qtbot, window, "voc", tmp_path / "voc")
    pngs = sorted((tmp_path / "voc" / "SegmentationObject").glob("*.png"))
    assert pngs
    objects = np.array(Image.open(pngs[0]))
    assert len(set(np.unique(objects)) - {0, 255}) == len(render_sample(0)[1])
    _export(qtbot, window, "yolo", tmp_path / "yolo")
    assert (tmp_path / "yolo" / "data.yaml").is_file()
    labels = [p for p in (tmp_path / "yolo").rglob("*.txt") if p.read_text().strip()]
    assert len(labels) == 1 and len(labels[0].read_text().splitlines()) == len(render_sample(0)[1])
