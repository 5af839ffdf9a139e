"""Point 5 of issue 11: a file that will not open shows a placeholder ("cannot open NAME: reason") on the
canvas, the editing tools are off (a click stores nothing), no image's status changes, nothing goes to
stderr as a traceback, and the image list keeps its layout. Real clicks and keys on the real window."""

from __future__ import annotations

import numpy as np
import pytest
from canvas_helpers import click, drag
from PySide6.QtCore import Qt
from test_main_window import key, make_window

from segtool.demo import ensure_demo_images
from segtool.store.sqlite import ProjectStore


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    ensure_demo_images(images, count=3)
    return images


def _statuses(folder) -> dict[str, str]:
    with ProjectStore.open(folder / "project.segtool", readonly=True) as store:
        return {r.path: r.status for r in store.images()}


def _instances(folder) -> int:
    with ProjectStore.open(folder / "project.segtool", readonly=True) as store:
        return sum(len(store.instances(r.id)) for r in store.images())


def test_a_broken_file_shows_a_placeholder_with_tools_off_and_changes_nothing(qtbot, tmp_path, folder, capfd):
    window = make_window(qtbot, tmp_path)
    window.open_project(folder)
    records = window.images_panel.records()
    qtbot.waitUntil(lambda: not window.session.pools.loader.pending(), timeout=30000)
    broken = records[1]
    data = (folder / broken.path).read_bytes()
    (folder / broken.path).write_bytes(data[: len(data) // 3])  # truncated after the project was made
    window.pixels.clear()
    window.store.set_image_status(records[0].id, "done")
    window.images_panel.set_status(records[0].id, "done")
    before = _statuses(folder)
    capfd.readouterr()
    key(window, Qt.Key.Key_D)  # the user goes to the broken image
    qtbot.waitUntil(lambda: window.canvas.placeholder_text() is not None, timeout=30000)
    text = window.canvas.placeholder_text()
    assert text.startswith(f"cannot open {broken.path}: ") and str(folder) not in text
    assert window.canvas.image_id == broken.id and window.session.image is None
    assert broken.path in window.status.currentMessage()
    # the placeholder is what is on screen: no pixels of the previous image are left
    shot = window.canvas.viewport().grab().toImage()
    pixels = np.array([shot.pixelColor(x, y).getRgb()[:3] for x in range(0, shot.width(), 5)
                       for y in range(0, shot.height(), 5)])
    assert (pixels == (40, 40, 44)).all(axis=1).mean() > 0.9  # the canvas background and grey text only
    assert (pixels.max(axis=1) - pixels.min(axis=1)).max() < 20  # not one coloured pixel of a photo
    # every editing tool is off, and clicking, dragging or Enter stores nothing
    assert not window.actions["tool:wand"].isEnabled() and not window.actions["tool:brush"].isEnabled()
    assert not window.actions["done"].isEnabled()
    window.canvas.set_tool("brush")  # even if a tool was active before
    drag(window.canvas, [(50, 50), (90, 60), (120, 80)])
    click(window.canvas, 60, 60)
    key(window, Qt.Key.Key_Return)
    key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # "mark done" does nothing here
    assert _instances(folder) == 0 and window.session.instances() == []
    assert _statuses(folder) == before  # no image's status changed, the broken one included
    # the list keeps its layout: every row as tall as the others, with an icon of the same size
    panel = window.images_panel
    heights = {panel.list.visualItemRect(panel.list.item(i)).height() for i in range(panel.list.count())}
    assert len(heights) == 1
    icon = panel.list.item(1).icon()
    assert not icon.isNull() and icon.actualSize(panel.list.iconSize()) == panel.list.iconSize()
    assert "cannot open" in panel.list.item(1).toolTip()
    # nothing on stderr is a traceback
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    # the next image works as before
    key(window, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.canvas.image_id == records[2].id and window.canvas.has_pixels(), timeout=30000)
    assert window.canvas.placeholder_text() is None and window.actions["tool:wand"].isEnabled()
    assert window.session.image is not None and np.asarray(window.session.image).shape[2] == 3
