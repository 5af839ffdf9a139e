"""Image-list thumbnails are made lazily (visible rows only, in the background) with the image's colours;
the window geometry and dock layout saved at close come back at the next start."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from test_main_window import NO_SAM, make_window

from segtool.gui.main_window import MainWindow
from segtool.gui.settings import AppSettings


def _colour(k: int) -> tuple[int, int, int]:
    return (40 + (k * 37) % 200, 30 + (k * 91) % 200, 20 + (k * 53) % 200)


def _folder(tmp_path, n: int):
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(n):
        img = np.zeros((120, 160, 3), np.uint8)
        img[:] = _colour(k)
        cv2.imwrite(str(folder / f"img_{k:03d}.png"), img[:, :, ::-1])
    return folder


def test_thumbnails_are_made_for_visible_rows_only_and_show_the_image(qtbot, tmp_path):
    folder = _folder(tmp_path, 60)
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    panel = window.images_panel
    visible = panel.visible_rows()
    assert 0 < len(visible) < 60
    records = panel.records()
    qtbot.waitUntil(lambda: all(window.thumbnails.icon(records[r].id) for r in visible), timeout=30000)
    qtbot.wait(100)
    assert len(window.thumbnails) < 60  # lazily: rows never scrolled into view have none
    first = records[visible[0]]
    image = window.thumbnails.icon(first.id).pixmap(64, 64).toImage()
    assert max(image.width(), image.height()) == 64
    centre = image.pixelColor(image.width() // 2, image.height() // 2)
    k = int(first.path[4:7])
    assert np.abs(np.array([centre.red(), centre.green(), centre.blue()]) - _colour(k)).max() <= 3
    assert not panel.list.item(visible[0]).icon().isNull()
    panel.list.scrollToBottom()
    last = records[-1]
    qtbot.waitUntil(lambda: window.thumbnails.icon(last.id) is not None, timeout=30000)
    qtbot.waitUntil(lambda: not panel.list.item(len(records) - 1).icon().isNull(), timeout=5000)


def test_window_geometry_and_dock_layout_are_restored(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    assert not window.restored  # nothing saved yet
    window.resize(770, 570)  # inside the offscreen screen (800x600), which restoring clamps to
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.instances_panel)
    window.options_panel.hide()
    qtbot.wait(50)
    window.close()
    again = MainWindow(AppSettings(tmp_path / "settings.ini"), sam=NO_SAM)
    qtbot.addWidget(again)
    assert again.restored
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (770, 570)
    assert again.dockWidgetArea(again.instances_panel) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert again.dockWidgetArea(again.classes_panel) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not again.options_panel.isVisible() and again.classes_panel.isVisible()


def test_closing_the_project_with_a_thumbnail_request_pending_raises_nothing(qtbot, tmp_path):
    """A scroll or resize queues a thumbnail request (30 ms timer); closing the project before it fires
    must not ask the closed store for paths (pytest-qt fails the test on any exception in the event loop)."""
    folder = _folder(tmp_path, 12)
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    window.images_panel._request_visible_thumbnails()
    assert window.images_panel._thumb_timer.isActive()
    window.close_project()
    qtbot.wait(120)  # the timer fires here
    assert window.images_panel.records() == []
