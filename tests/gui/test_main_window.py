"""The main window with real keyboard/mouse events: open a project, navigate, class keys, instances dock,
restart keeps the position, quitting asks nothing and leaves the project closed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from segtool.core.document import Instance
from segtool.demo import ensure_demo_images, render_sample, sample_index
from segtool.gui.app import ensure_demo_project
from segtool.gui.main_window import MainWindow
from segtool.gui.project_opening import CURRENT_IMAGE_KEY, open_project_path
from segtool.gui.sam_models import MODEL_HINT, SamChoice
from segtool.gui.settings import AppSettings
from segtool.store.sqlite import ProjectStore

NO_SAM = SamChoice(None, "no model", "-", MODEL_HINT)


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    ensure_demo_images(images, count=4)
    return images


def make_window(qtbot, tmp_path, sam: SamChoice = NO_SAM) -> MainWindow:
    window = MainWindow(AppSettings(tmp_path / "settings.ini"), sam=sam)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitActive(window)
    return window


def key(window: MainWindow, k: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A real key press delivered to the canvas (the focused widget when annotating)."""
    if QApplication.activeWindow() is not window:  # offscreen: activation is not automatic
        window.activateWindow()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            QApplication.setActiveWindow(window)
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, k, mods)
    QApplication.processEvents()


def seed_instances(folder, n_image: int = 0) -> list[int]:
    """Store the exact object masks of sample ``n_image`` as instances; returns their ids (bottom to top)."""
    with ProjectStore.open(folder / "project.segtool") as store:
        rec = next(r for r in store.images() if sample_index(r.path) == n_image)
        _, objects = render_sample(n_image)
        cls = store.add_class("thing")
        new = [Instance.from_mask(o.mask, id=0, image_id=rec.id, class_id=cls.id, source="polygon", z=k)
               for k, o in enumerate(objects)]
        return [i.id for i in store.add_instances(rec.id, new)]


def test_open_folder_creates_project_and_lists_images(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    assert (folder / "project.segtool").is_file()
    names = [r.path for r in window.images_panel.records()]
    assert names == sorted(p.name for p in folder.glob("*.png"))
    first = window.images_panel.records()[0]
    assert window.images_panel.current_id() == first.id
    assert window.canvas.image_size() == (first.height, first.width)
    assert window.images_panel.list.count() == 4


def test_keyboard_navigation_and_restart_keeps_position(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    ids = [r.id for r in window.images_panel.records()]
    key(window, Qt.Key.Key_D)
    assert window.images_panel.current_id() == ids[1]
    key(window, Qt.Key.Key_PageDown)
    assert window.images_panel.current_id() == ids[2]
    key(window, Qt.Key.Key_A)
    assert window.images_panel.current_id() == ids[1]
    key(window, Qt.Key.Key_PageUp)
    key(window, Qt.Key.Key_PageUp)  # already at the first image: stays
    assert window.images_panel.current_id() == ids[0]
    for _ in range(3):
        key(window, Qt.Key.Key_D)
    assert window.images_panel.current_id() == ids[3]
    assert "4/4" in window.status.position_label.text()
    window.close()  # quitting asks nothing and releases the project
    with ProjectStore.open(folder, readonly=True) as store:
        assert store.meta_get(CURRENT_IMAGE_KEY) == ids[3]
    again = make_window(qtbot, tmp_path)
    again.open_project(folder / "project.segtool")
    assert again.images_panel.current_id() == ids[3]


def test_filter_hides_rows_and_navigation_skips_them(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    ids = [r.id for r in window.images_panel.records()]
    QTest.keyClicks(window.images_panel.filter_edit, "_03_")
    hidden = [window.images_panel.list.item(i).isHidden() for i in range(4)]
    assert hidden == [True, True, False, True]
    key(window, Qt.Key.Key_D)
    assert window.images_panel.current_id() == ids[2]
    key(window, Qt.Key.Key_D)  # no visible image after it
    assert window.images_panel.current_id() == ids[2]


def test_class_keys_pick_the_class_for_the_next_mask(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    a = window.classes_panel.add_class("cat")
    b = window.classes_panel.add_class("dog")
    key(window, Qt.Key.Key_1)
    assert window.session.current_class_id == a.id
    key(window, Qt.Key.Key_2)
    assert window.session.current_class_id == b.id
    assert window.classes_panel.current_class_id() == b.id
    key(window, Qt.Key.Key_9)  # no ninth class: nothing changes
    assert window.session.current_class_id == b.id
    window.classes_panel.rename_class(a.id, "kitten")
    window.classes_panel.recolor_class(a.id, (1, 2, 3))
    with ProjectStore.open(folder, readonly=True) as store:
        assert [(c.name, c.color) for c in store.classes()][0] == ("kitten", (1, 2, 3))


def _select_rows(window: MainWindow, ids: list[int]) -> None:
    """Click (Ctrl+click) the rows of ``ids`` in the instances dock."""
    tree = window.instances_panel.tree
    first = True
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if int(item.text(0)) in ids:
            rect = tree.visualItemRect(item)
            mods = Qt.KeyboardModifier.NoModifier if first else Qt.KeyboardModifier.ControlModifier
            QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, mods, rect.center())
            first = False


def _stored(folder, image_id: int) -> list[Instance]:
    with ProjectStore.open(folder, readonly=True) as store:
        return store.instances(image_id)


def test_instances_dock_delete_undo_relabel_reorder_merge(qtbot, tmp_path, folder):
    ProjectStore.create(folder / "project.segtool").close()
    open_project_path(folder).close()  # scan the images
    ids = seed_instances(folder)
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    image_id = window.images_panel.current_id()
    panel = window.instances_panel
    assert panel.ids() == list(reversed(ids))  # top of the z-order first
    # delete with the button, undo with Ctrl+Z
    _select_rows(window, [ids[0]])
    assert window.session.selected_ids == [ids[0]]
    QTest.mouseClick(panel.buttons["delete"], Qt.MouseButton.LeftButton)
    assert ids[0] not in [i.id for i in _stored(folder, image_id)]
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ids[0] in [i.id for i in _stored(folder, image_id)]
    # relabel: the button opens the class picker
    other = window.store.add_class("other")
    window.classes_panel.reload()
    _select_rows(window, [ids[1]])
    QTest.mouseClick(panel.buttons["relabel"], Qt.MouseButton.LeftButton)
    assert window.chooser.picker is not None
    QTest.keyClicks(window.chooser.picker.filter_edit, "oth")
    QTest.keyClick(window.chooser.picker.filter_edit, Qt.Key.Key_Return)
    assert {i.id: i.class_id for i in _stored(folder, image_id)}[ids[1]] == other.id
    # move the bottom instance up one step
    _select_rows(window, [ids[0]])
    QTest.mouseClick(panel.buttons["up"], Qt.MouseButton.LeftButton)
    order = [i.id for i in _stored(folder, image_id)]
    assert order.index(ids[0]) == 1 and panel.ids()[-1] == ids[1]
    # merge two: one instance whose mask is the union
    masks_before = {i.id: i.mask() for i in _stored(folder, image_id)}
    _select_rows(window, [ids[0], ids[2]])
    QTest.mouseClick(panel.buttons["merge"], Qt.MouseButton.LeftButton)
    after = {i.id: i for i in _stored(folder, image_id)}
    assert len(after) == len(ids) - 1
    assert np.array_equal(after[ids[0]].mask(), masks_before[ids[0]] | masks_before[ids[2]])
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(_stored(folder, image_id)) == len(ids)


def test_visibility_hides_the_overlay(qtbot, tmp_path, folder):
    ProjectStore.create(folder / "project.segtool").close()
    open_project_path(folder).close()
    ids = seed_instances(folder)
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    assert all(item.isVisible() for item in window.canvas.overlay_items().values())
    _select_rows(window, [ids[1]])
    QTest.mouseClick(window.instances_panel.buttons["visible"], Qt.MouseButton.LeftButton)
    visible = {iid: item.isVisible() for iid, item in window.canvas.overlay_items().items()}
    assert visible == {i: i != ids[1] for i in ids}


def test_first_edit_marks_image_in_progress_and_mark_done(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    image_id = window.images_panel.current_id()
    window.set_tool("brush")
    from canvas_helpers import drag

    drag(window.canvas, [(100, 100), (140, 110), (180, 130)])
    picker = window.chooser.picker  # no class picked on this image yet: the stroke waits for one
    assert picker is not None and _stored(folder, image_id) == []
    QTest.keyClicks(picker.filter_edit, "scratch")
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    with ProjectStore.open(folder, readonly=True) as store:
        (inst,) = store.instances(image_id)
        assert inst.class_id == store.class_by_name("scratch").id
        assert store.image(image_id).status == "in-progress"
    key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with ProjectStore.open(folder, readonly=True) as store:
        assert store.image(image_id).status == "done"


def test_sam_tools_disabled_with_a_hint_without_model(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    for name in ("sam-click", "sam-box"):
        action = window.actions[f"tool:{name}"]
        assert not action.isEnabled()
        assert "segtool models download mobile_sam" in action.toolTip()
        assert "segtool models add" in action.toolTip()
    assert window.actions["tool:wand"].isEnabled()
    key(window, Qt.Key.Key_W)
    assert window.canvas.tool_name() == "wand"
    assert "no model" in window.status.model_label.text()


def test_demo_project_is_generated_once_with_an_annotated_sample(tmp_path):
    folder = ensure_demo_project()
    first = sorted(p.stat().st_mtime_ns for p in folder.glob("*.png"))
    assert ensure_demo_project() == folder
    assert sorted(p.stat().st_mtime_ns for p in folder.glob("*.png")) == first
    with ProjectStore.open(folder, readonly=True) as store:
        counts = store.counts()
        assert counts["images"] >= 6 and counts["annotated_images"] == 1
        assert counts["instances"] == len(render_sample(0)[1])
