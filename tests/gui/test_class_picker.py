"""Point 1 of issue 11, "a class for every mask": the class picker at the cursor on Enter (type to filter,
Up/Down, Enter picks, a new name creates the class, Esc cancels and stores nothing), asked once per image,
one key away (L); Ctrl+L and a double-click on the class cell relabel; the export dialog says how many
unlabelled instances it skipped, or exports them under a class the user names. Real keys and clicks on
the real window; rows read back from SQLite; the COCO file read back by pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click
from pycocotools.coco import COCO
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_main_window import key, make_window

from segtool.demo import ensure_demo_images, render_sample, sample_index
from segtool.store.sqlite import ProjectStore


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "images"
    ensure_demo_images(folder, count=3)
    win = make_window(qtbot, tmp_path)
    win.open_project(folder)
    win.folder = folder
    yield win
    win.close()


def _stored(win) -> list[tuple[int, int | None]]:
    """(image id, class id) of every instance in the project file."""
    with ProjectStore.open(win.folder / "project.segtool", readonly=True) as store:
        return [(r.id, i.class_id) for r in store.images() for i in store.instances(r.id)]


def _object(win):
    """The largest sample object of the image shown: (centre (x, y), mask)."""
    record = win.images_panel.record(win.images_panel.current_id())
    _, objects = render_sample(sample_index(record.path))
    obj = max(objects, key=lambda o: o.mask.sum())
    return obj.center, obj.mask


def _wand_candidate(qtbot, win) -> tuple[float, float]:
    """A real click with the magic wand on the largest object; waits for the candidate; returns the point."""
    key(win, Qt.Key.Key_W)
    (x, y), _ = _object(win)
    QTest.mouseMove(win.canvas.viewport(), win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5)))
    click(win.canvas, x, y)
    qtbot.waitUntil(lambda: win.canvas.candidate_item() is not None, timeout=10000)
    return x, y


def _picker(qtbot, win):
    qtbot.waitUntil(lambda: win.chooser.picker is not None and win.chooser.picker.isVisible(), timeout=3000)
    return win.chooser.picker


def _type(picker, text: str) -> None:
    QTest.keyClicks(picker.filter_edit, text)


def _press(picker, k: Qt.Key) -> None:
    QTest.keyClick(picker.filter_edit, k)
    QApplication.processEvents()


def test_enter_asks_for_a_class_at_the_cursor_once_per_image(qtbot, window):
    win = window
    for name in ("cat", "dog", "dolphin"):
        win.store.add_class(name)
    win.classes_panel.reload()
    x, y = _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    cursor = win.canvas.viewport().mapToGlobal(win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5)))
    assert (picker.pos() - cursor).manhattanLength() < 12  # at the cursor
    assert picker.rows() == ["1  cat", "2  dog", "3  dolphin", "(no class)"]
    _type(picker, "do")  # typing filters
    assert picker.rows() == ["2  dog", "3  dolphin", 'New class "do"']
    assert picker.list.currentRow() == 0
    _press(picker, Qt.Key.Key_Down)  # Up/Down move in the list
    assert picker.list.currentItem().text() == "3  dolphin"
    assert _stored(win) == []  # nothing is stored before the pick
    _press(picker, Qt.Key.Key_Return)  # Enter picks
    dolphin = win.store.class_by_name("dolphin").id
    image_id = win.images_panel.current_id()
    assert _stored(win) == [(image_id, dolphin)] and win.chooser.picker is None  # closed
    assert win.classes_panel.current_class_id() == dolphin
    # on the same image the last class is used without asking
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    assert win.chooser.picker is None
    assert _stored(win) == [(image_id, dolphin), (image_id, dolphin)]
    # the next image asks again, with the last class highlighted: Enter, Enter
    key(win, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: win.canvas.image_id != image_id and win.canvas.has_pixels(), timeout=10000)
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    assert picker.list.currentItem().text() == "3  dolphin"
    _press(picker, Qt.Key.Key_Return)
    assert _stored(win)[-1] == (win.canvas.image_id, dolphin)


def test_a_project_without_classes_gets_the_picker_and_a_new_name_creates_the_class(qtbot, window):
    win = window
    assert win.store.classes() == []
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    assert picker.rows() == ["(no class)"]
    _type(picker, "wheel barrow")
    assert picker.rows() == ['New class "wheel barrow"']
    _press(picker, Qt.Key.Key_Return)
    created = win.store.class_by_name("wheel barrow")
    assert created is not None and [c.name for c in win.classes_panel.classes()] == ["wheel barrow"]
    assert _stored(win) == [(win.canvas.image_id, created.id)]


def test_esc_in_the_picker_cancels_the_accept_and_stores_nothing(qtbot, window):
    win = window
    win.store.add_class("cat")
    win.classes_panel.reload()
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    _press(picker, Qt.Key.Key_Escape)
    assert win.chooser.picker is None
    assert _stored(win) == []
    assert win.canvas.candidate_item() is not None  # the candidate is still there: Enter asks again
    key(win, Qt.Key.Key_Escape)  # Esc on the canvas discards it
    assert win.canvas.candidate_item() is None and not win.canvas.has_pending()
    assert _stored(win) == []


def test_no_class_is_stored_only_when_the_user_picks_it(qtbot, window):
    win = window
    win.store.add_class("cat")
    win.classes_panel.reload()
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    _press(picker, Qt.Key.Key_Up)  # from "cat" up to the last row, "(no class)"
    assert picker.list.currentItem().text() == "(no class)"
    _press(picker, Qt.Key.Key_Return)
    assert _stored(win) == [(win.canvas.image_id, None)]


def test_l_picks_the_class_for_the_next_masks_and_ctrl_l_relabels_the_selection(qtbot, window):
    win = window
    cat, dog = win.store.add_class("cat"), win.store.add_class("dog")
    win.classes_panel.reload()
    key(win, Qt.Key.Key_L)
    picker = _picker(qtbot, win)
    _type(picker, "dog")
    _press(picker, Qt.Key.Key_Return)
    assert win.session.current_class_id == dog.id and win.session.class_ready()
    _wand_candidate(qtbot, win)
    key(win, Qt.Key.Key_Return)  # picked already on this image: no question
    assert win.chooser.picker is None
    (iid,) = [i.id for i in win.session.instances()]
    win.session.select([iid])
    key(win, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    picker = _picker(qtbot, win)
    assert "1 selected" in picker.title.text()
    _type(picker, "cat")
    _press(picker, Qt.Key.Key_Return)
    assert _stored(win) == [(win.canvas.image_id, cat.id)]
    assert win.session.current_class_id == dog.id  # relabelling does not change the class for the next masks
    key(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step
    assert _stored(win) == [(win.canvas.image_id, dog.id)]


def test_double_click_on_the_class_cell_relabels_that_instance(qtbot, window):
    win = window
    cat, dog = win.store.add_class("cat"), win.store.add_class("dog")
    win.classes_panel.reload()
    _, mask = _object(win)
    win.session.set_current_class(cat.id)
    a = win.session.commit_new(mask, "polygon")
    b = win.session.commit_new(np.roll(mask, 40, axis=1), "polygon")
    tree = win.instances_panel.tree
    row = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if int(tree.topLevelItem(i).text(0)) == b)
    rect = tree.visualItemRect(row)
    cell = rect.topLeft() + QPointF(tree.header().sectionPosition(1) + 20, rect.height() / 2).toPoint()
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, cell)
    QTest.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, cell)
    picker = _picker(qtbot, win)
    _type(picker, "dog")
    _press(picker, Qt.Key.Key_Return)
    classes = {i.id: i.class_id for i in win.session.instances()}
    assert classes == {a: cat.id, b: dog.id}
    with ProjectStore.open(win.folder / "project.segtool", readonly=True) as store:
        assert {i.id: i.class_id for i in store.instances(win.canvas.image_id)} == {a: cat.id, b: dog.id}


def _export(qtbot, win, out, unlabelled_text: str | None):
    from segtool.gui.dialogs.export import ExportDialog

    dialog = ExportDialog(win.store, win.session.pools.background, win)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.out_edit.setText(str(out))
    if unlabelled_text is not None:
        dialog.unlabelled_combo.lineEdit().selectAll()
        QTest.keyClicks(dialog.unlabelled_combo.lineEdit(), unlabelled_text)
    QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None or dialog.error is not None, timeout=30000)
    return dialog


def test_the_export_dialog_counts_unlabelled_instances_or_exports_them_under_a_named_class(qtbot, window, tmp_path):
    win = window
    cat = win.store.add_class("cat")
    win.classes_panel.reload()
    _, mask = _object(win)
    win.session.set_current_class(cat.id)
    win.session.commit_new(mask, "polygon")
    win.session.set_current_class(None)  # the user picked "(no class)" for the second one
    win.session.commit_new(np.roll(mask, 40, axis=1), "polygon")
    skipped = _export(qtbot, win, tmp_path / "out1", None)
    assert skipped.report.unlabelled_skipped == 1
    assert "1 unlabelled instances skipped" in skipped.result_label.text()
    coco = COCO(str(tmp_path / "out1" / "annotations.json"))
    assert len(coco.getAnnIds()) == 1
    named = _export(qtbot, win, tmp_path / "out2", "thing")
    assert named.report.unlabelled_exported == 1 and "exported as \"thing\"" in named.result_label.text()
    coco = COCO(str(tmp_path / "out2" / "annotations.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(names[a["category_id"]] for a in coco.loadAnns(coco.getAnnIds())) == ["cat", "thing"]


def test_a_polygon_waits_for_its_class_and_esc_leaves_it_open(qtbot, window):
    win = window
    win.store.add_class("roof")
    win.classes_panel.reload()
    key(win, Qt.Key.Key_O)
    for x, y in ((100, 100), (220, 100), (220, 200), (100, 200)):
        click(win.canvas, x, y)
    key(win, Qt.Key.Key_Return)  # closes the polygon: the class comes first
    picker = _picker(qtbot, win)
    _press(picker, Qt.Key.Key_Escape)
    tool = win.canvas.tool()
    assert _stored(win) == [] and len(tool.vertices) == 4 and not tool._closing  # still open, editable
    click(win.canvas, 100, 150)  # one more vertex, then close again
    key(win, Qt.Key.Key_Return)
    picker = _picker(qtbot, win)
    _press(picker, Qt.Key.Key_Return)
    roof = win.store.class_by_name("roof").id
    assert _stored(win) == [(win.canvas.image_id, roof)] and tool.vertices == []
