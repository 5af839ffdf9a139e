"""Point 3 of issue 11, viewing aids, on the real window with real keys, wheel and slider: class names at
the instances (C toggles), the global mask opacity, H hides every mask, the zoom in the status bar, "fit"
kept while the window resizes until the user zooms, and the first window at a share of the screen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from test_main_window import NO_SAM, key, make_window, seed_instances

from segtool.demo import ensure_demo_images, render_sample
from segtool.gui.main_window import MainWindow
from segtool.gui.project_opening import open_project_path
from segtool.gui.settings import AppSettings


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "images"
    ensure_demo_images(folder, count=2)
    open_project_path(folder).close()
    seed_instances(folder)
    win = make_window(qtbot, tmp_path)
    win.open_project(folder)
    yield win
    win.close()


def _screen(win, x: float, y: float) -> np.ndarray:
    pos = win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    c = win.canvas.viewport().grab().toImage().pixelColor(pos)
    return np.array([c.red(), c.green(), c.blue()])


def _inside(win) -> tuple[int, int, np.ndarray]:
    """A pixel well inside the first seeded object, and the object's own image pixel there."""
    _, objects = render_sample(0)
    ys, xs = np.nonzero(objects[0].mask)
    y, x = int(np.median(ys)), int(np.median(xs))
    return x, y, win.session.image[y, x].astype(int)


def test_class_names_at_the_instances_toggle_with_c(qtbot, window):
    win = window
    tags = win.canvas.overlays.labels()
    assert sorted(t.text for t in tags) == ["thing"] * len(win.session.instances())
    assert all(t.isVisible() for t in tags)
    inst = win.session.instances()[0]
    x0, y0 = inst.bbox[:2]
    corner = win.canvas.mapFromScene(QPointF(x0, y0))
    probe = corner + QPoint(12, -6)  # inside the tag, just above the box corner
    image = win.canvas.viewport().grab().toImage()
    shown = image.pixelColor(probe)
    key(win, Qt.Key.Key_C)
    assert not win.actions["class_names"].isChecked() and not any(t.isVisible() for t in tags)
    hidden = win.canvas.viewport().grab().toImage().pixelColor(probe)
    assert shown != hidden  # the tag's dark box was on screen, and now the image is
    key(win, Qt.Key.Key_C)
    assert all(t.isVisible() for t in win.canvas.overlays.labels())


def test_mask_opacity_slider_and_h_hides_every_mask(qtbot, window):
    win = window
    x, y, under = _inside(win)
    color = np.array(win.canvas.class_color(win.session.instances()[0].class_id))
    slider = win.opacity_slider
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key.Key_End)  # opaque
    assert slider.value() == 100
    assert np.abs(_screen(win, x, y) - color).max() <= 2
    QTest.keyClick(slider, Qt.Key.Key_Home)  # transparent fill: the image shows through
    assert np.abs(_screen(win, x, y) - under).max() <= 2
    for _ in range(50):
        QTest.keyClick(slider, Qt.Key.Key_Right)
    half = _screen(win, x, y)
    assert slider.value() == 50 and np.abs(half - under).max() > 5 and np.abs(half - color).max() > 5
    QTest.keyClick(slider, Qt.Key.Key_End)
    key(win, Qt.Key.Key_H)  # hide all masks
    assert win.actions["hide_masks"].isChecked()
    assert np.abs(_screen(win, x, y) - under).max() <= 2
    assert win.canvas.instance_at(QPointF(x + 0.5, y + 0.5)) == -1  # hidden masks are not picked either
    key(win, Qt.Key.Key_H)
    assert np.abs(_screen(win, x, y) - color).max() <= 2


def _wheel(win, delta: int) -> None:
    pos = QPointF(win.canvas.viewport().rect().center())
    event = QWheelEvent(pos, win.canvas.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(win.canvas.viewport(), event)


def test_zoom_in_the_status_bar_and_fit_kept_while_resizing_until_the_user_zooms(qtbot, window):
    win = window
    win.canvas.fit_to_window()
    assert win.status.zoom_label.text() == f"zoom {100 * win.canvas.zoom():.0f}%"
    h, w = win.canvas.image_size()
    before = win.canvas.zoom()
    win.resize(win.width() - 300, win.height() - 200)  # a smaller window: still the whole image
    qtbot.waitUntil(lambda: win.canvas.zoom() < before * 0.95, timeout=3000)
    view = win.canvas.viewport().rect()
    assert win.canvas.is_fitted()
    assert min(view.width() / w, view.height() / h) == pytest.approx(win.canvas.zoom(), rel=0.02)
    assert win.status.zoom_label.text() == f"zoom {100 * win.canvas.zoom():.0f}%"
    _wheel(win, 240)  # the user zooms: resizing no longer refits
    zoomed = win.canvas.zoom()
    assert not win.canvas.is_fitted() and win.status.zoom_label.text() == f"zoom {100 * zoomed:.0f}%"
    win.resize(win.width() + 300, win.height() + 200)
    qtbot.wait(100)
    assert win.canvas.zoom() == pytest.approx(zoomed)
    key(win, Qt.Key.Key_F)  # F fits again, and fit follows the size again
    assert win.canvas.is_fitted()


def test_the_first_window_takes_most_of_the_screen_centred(qtbot, tmp_path):
    window = MainWindow(AppSettings(tmp_path / "fresh.ini"), sam=NO_SAM)
    qtbot.addWidget(window)
    assert not window.restored
    window.place_on_screen()
    window.show()
    qtbot.waitExposed(window)
    area = window.screen().availableGeometry()
    assert window.width() == pytest.approx(0.8 * area.width(), abs=2)
    assert window.height() == pytest.approx(0.8 * area.height(), abs=2)
    centre = window.frameGeometry().center()
    assert abs(centre.x() - area.center().x()) <= 2 and abs(centre.y() - area.center().y()) <= 2
