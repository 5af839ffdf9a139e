"""Images are decoded off the GUI thread: switching to a 40-megapixel file never blocks the GUI thread
longer than 100 ms (a 10 ms QTimer watchdog measures the gaps), neighbours are preloaded, stale loads
are dropped (an unreadable file: tests/gui/test_broken_image.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_main_window import make_window

from segtool.demo import ensure_demo_images
from segtool.gui.bench_gui import Watchdog

BIG_H, BIG_W = 5000, 8000  # 40 MP


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    ensure_demo_images(images, count=3)
    big = np.zeros((BIG_H, BIG_W, 3), np.uint8)
    big[:, : BIG_W // 2] = (200, 30, 30)  # left half red, right half blue (RGB)
    big[:, BIG_W // 2:] = (30, 40, 200)
    big[::97] = 255  # some texture so that the JPEG is not trivial to decode
    assert cv2.imwrite(str(images / "zz_big.jpg"), big[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return images


def _screen_rgb(window, x: float, y: float) -> np.ndarray:
    from PySide6.QtCore import QPointF

    pos = window.canvas.mapFromScene(QPointF(x, y))
    color = window.canvas.viewport().grab().toImage().pixelColor(pos)
    return np.array([color.red(), color.green(), color.blue()])


def _switch_under_watchdog(qtbot, window, small_id: int, big_id: int) -> tuple[float, int, list[int]]:
    """Go to the small image, forget cached pixels, switch to the big one; (worst gap ms, ticks, previews)."""
    window.show_image(small_id, wait=True)
    qtbot.waitUntil(lambda: not window.session.pools.loader.pending(), timeout=60000)
    window.pixels.clear()
    shown: list[int] = []
    previewed: list[int] = []
    window.image_shown.connect(shown.append)
    window.image_previewed.connect(previewed.append)
    dog = Watchdog(10)
    dog.start()
    window.show_image(big_id)
    assert window.images_panel.current_id() == big_id  # the list follows at once
    qtbot.waitUntil(lambda: big_id in shown, timeout=60000)
    for _ in range(5):  # a few more turns: the first paint of the new image is inside the watchdog too
        qtbot.wait(20)
    dog.stop()
    window.image_shown.disconnect(shown.append)
    window.image_previewed.disconnect(previewed.append)
    return dog.worst_ms, len(dog.gaps), previewed


def test_switching_to_a_40_megapixel_image_never_blocks_the_gui_thread(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    records = window.images_panel.records()
    big = next(r for r in records if r.path == "zz_big.jpg")
    assert window.canvas.image_id == records[0].id  # open_project waits for the first image
    # The machine is shared: the OS may deschedule the GUI thread now and then whatever the code does.
    # A decode on the GUI thread (~1 s) would fail every attempt; take the best of three.
    attempts = []
    for _ in range(3):
        worst, ticks, previewed = _switch_under_watchdog(qtbot, window, records[0].id, big.id)
        assert ticks > 5 and previewed == [big.id]  # the watchdog ticked; a quick preview came first
        attempts.append(worst)
        if worst < 100:
            break
    assert min(attempts) < 100, f"GUI thread blocked {attempts} ms"
    assert window.canvas.image_size() == (BIG_H, BIG_W) and not window.canvas.is_loading()
    window.canvas.fit_to_window()
    left = _screen_rgb(window, BIG_W * 0.25, BIG_H * 0.5 + 40)
    right = _screen_rgb(window, BIG_W * 0.75, BIG_H * 0.5 + 40)
    assert np.abs(left - (200, 30, 30)).max() < 40 and np.abs(right - (30, 40, 200)).max() < 40


def test_neighbours_are_preloaded_and_shown_at_once(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    ids = [r.id for r in window.images_panel.records()]
    qtbot.waitUntil(lambda: ids[1] in window.pixels, timeout=30000)
    decodes = window.pixels.decodes
    window.show_image(ids[1])
    assert window.canvas.image_id == ids[1]  # from the cache: no wait, no decode
    assert window.pixels.decodes == decodes
    ref = cv2.imread(str(folder / window.images_panel.record(ids[1]).path))[:, :, ::-1]
    assert np.array_equal(window.session.image, ref)


def test_a_stale_load_is_dropped_and_the_last_choice_wins(qtbot, tmp_path, folder):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    records = window.images_panel.records()
    big = next(r for r in records if r.path == "zz_big.jpg")
    window.pixels.clear()
    window.show_image(big.id)  # the user moves on before the big file is decoded
    window.show_image(records[1].id)
    qtbot.waitUntil(lambda: window.canvas.image_id == records[1].id, timeout=30000)
    qtbot.waitUntil(lambda: not window.session.pools.loader.pending("load"), timeout=60000)
    qtbot.wait(50)
    assert window.canvas.image_id == records[1].id
    assert window.stale_loads_dropped >= 1
    assert window.images_panel.current_id() == records[1].id


def test_the_loading_message_goes_once_the_image_is_shown(qtbot, tmp_path):
    from test_main_window import make_window

    folder = tmp_path / "two"
    folder.mkdir()
    for k in range(2):
        cv2.imwrite(str(folder / f"im{k}.png"), np.full((60, 80, 3), 40 + 100 * k, np.uint8))
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    second = window.images_panel.records()[1].id
    qtbot.waitUntil(lambda: second in window.pixels, timeout=30000)  # the neighbour preload has landed
    window.pixels.clear()  # force a real load, with its "loading …" message
    window.show_image(second)
    assert window.status.currentMessage().startswith("loading")
    qtbot.waitUntil(lambda: window.canvas.image_id == second, timeout=30000)
    assert not window.status.currentMessage().startswith("loading")
