"""Proposal review in the real window: Propose in the background, pending drawn dashed, keys under the
real mouse cursor accept/reject, rows read back from SQLite."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from scenes import disc_and_rectangle

from segtool.core.masks import mask_iou
from segtool.gui.main_window import MainWindow
from segtool.gui.sam_models import MODEL_HINT, SamChoice
from segtool.gui.settings import AppSettings
from segtool.services.project_init import init_project
from segtool.store.sqlite import ProjectStore

NO_SAM = SamChoice(None, "no model", "-", MODEL_HINT)
Y, N = Qt.Key.Key_Y, Qt.Key.Key_N
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image, disc, rect = disc_and_rectangle()
    Image.fromarray(image).save(folder / "scene.png")
    init_project(folder)
    win = MainWindow(AppSettings(tmp_path / "settings.ini"), sam=NO_SAM)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    win.open_project(folder)
    win.canvas.fit_to_window()
    win.truth = {"disc": disc, "rect": rect}
    yield win
    win.close()


def _key(win: MainWindow, k: Qt.Key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    if QApplication.activeWindow() is not win:
        win.activateWindow()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            QApplication.setActiveWindow(win)
    win.canvas.setFocus()
    QTest.keyClick(win.canvas, k, mods)
    QApplication.processEvents()


def _hover(win: MainWindow, x: float, y: float) -> None:
    vp = win.canvas.viewport()
    QTest.mouseMove(vp, win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5)))
    QApplication.processEvents()


def _rows(win: MainWindow) -> dict[int, tuple]:
    """id -> (state, score, class_id, mask) of every instance, read back from the project file."""
    with ProjectStore.open(win.store.path, readonly=True) as store:
        image_id = store.images()[0].id
        return {i.id: (i.state, i.score, i.class_id, i.mask()) for i in store.instances(image_id)}


def _propose(qtbot, win: MainWindow) -> int:
    added: list[int] = []
    win.review.proposals_added.connect(added.append)
    _key(win, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert win.review.busy()  # runs in the background: the GUI thread is free
    qtbot.waitUntil(lambda: bool(added), timeout=180_000)
    return added[0]


def _top_pending_at(win: MainWindow, x: int, y: int) -> int:
    return win.canvas.instance_at(QPointF(x + 0.5, y + 0.5))


def test_propose_then_review_with_keys_under_the_cursor(qtbot, window) -> None:
    win = window
    n = _propose(qtbot, win)
    rows = _rows(win)
    assert n == len(rows) > 0
    assert all(state == "pending" and score is not None for state, score, _, _ in rows.values())
    assert max(mask_iou(r[3], win.truth["disc"]) for r in rows.values()) >= 0.9
    items = win.canvas.overlay_items()
    assert set(items) == set(rows) and all(item.dashed for item in items.values())  # drawn distinctly

    cls = win.store.add_class("object")
    win.session.set_current_class(cls.id)
    _hover(win, 90, 120)
    target = _top_pending_at(win, 90, 120)
    assert target in rows
    _key(win, Y)
    rows = _rows(win)
    assert rows[target][0] == "accepted" and rows[target][2] == cls.id
    assert not win.canvas.overlay_items()[target].dashed

    _hover(win, 240, 120)
    target = _top_pending_at(win, 240, 120)
    assert target in rows and rows[target][0] == "pending"
    _key(win, N)
    assert target not in _rows(win)

    win.review.threshold = float(np.median([r[1] for r in rows.values() if r[0] == "pending"]))
    _key(win, Y, SHIFT)
    after = _rows(win)
    assert all(r[0] == "accepted" for r in after.values() if r[1] >= win.review.threshold)
    assert any(r[0] == "pending" for r in after.values())
    _key(win, N, SHIFT)
    final = _rows(win)
    assert final and all(r[0] == "accepted" for r in final.values())
    with ProjectStore.open(win.store.path, readonly=True) as store:
        assert store.counts()["pending_proposals"] == 0

    win.session.undo()  # reject-rest is one undoable step
    assert len(_rows(win)) == len(after)


def test_proposals_skip_existing_instances_and_stale_results(qtbot, window) -> None:
    win = window
    win.session.commit_new(win.truth["disc"], "polygon")
    n = _propose(qtbot, win)
    pending = [r for r in _rows(win).values() if r[0] == "pending"]
    assert n == len(pending) > 0
    assert max(mask_iou(r[3], win.truth["disc"]) for r in pending) < 0.7
    assert max(mask_iou(r[3], win.truth["rect"]) for r in pending) >= 0.9

    before = len(_rows(win))
    job = win.review.propose()
    win.session.generation += 1  # the user moved on: the result must not land
    qtbot.waitUntil(lambda: not win.review.busy(), timeout=180_000)
    assert job is not None and len(_rows(win)) == before
