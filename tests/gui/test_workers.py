"""Worker pools: results on the GUI thread, progress, cancel, latest-request-wins coalescing."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from segtool.gui.workers import BackgroundPool, LatestRequestQueue


def test_background_job_reports_progress_and_result_on_gui_thread(qtbot):
    pool = BackgroundPool(1)
    seen: dict = {"progress": []}
    pool.job_progress.connect(lambda jid, done, total: seen["progress"].append((done, total)))

    def job(control):
        seen["worker"] = threading.get_ident()
        for i in range(3):
            control.progress(i + 1, 3)
        return 42

    def done(result):
        seen["result"] = result
        seen["on_gui"] = QThread.currentThread() is QApplication.instance().thread()

    pool.submit("encode", 5, 1, job, done)
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    assert seen["result"].value == 42 and (seen["result"].image_id, seen["result"].generation) == (5, 1)
    assert seen["on_gui"] and seen["worker"] != threading.get_ident()
    qtbot.waitUntil(lambda: seen["progress"] == [(1, 3), (2, 3), (3, 3)], timeout=2000)
    pool.wait()


def test_cancelled_jobs_stop_and_errors_are_reported(qtbot):
    pool = BackgroundPool(1)
    gate = threading.Event()
    results = []

    def slow(control):
        gate.wait(5)
        return "late" if not control.cancelled else None

    first = pool.submit("encode", 1, 1, slow, results.append)
    queued = pool.submit("prefetch", 2, 1, lambda c: "never", results.append)
    pool.submit("bad", 3, 1, lambda c: 1 / 0, results.append)
    queued.cancel()
    first.cancel()
    gate.set()
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    by_kind = {r.kind: r for r in results}
    assert by_kind["encode"].cancelled and by_kind["encode"].value is None
    assert by_kind["prefetch"].cancelled and by_kind["prefetch"].value is None
    assert "ZeroDivisionError" in by_kind["bad"].error
    pool.wait()


def test_latest_request_wins(qtbot):
    queue = LatestRequestQueue()
    gate = threading.Event()
    ran, delivered = [], []

    def make(i):
        def job(control):
            ran.append(i)
            if i == 0:
                gate.wait(5)
            return i
        return job

    for i in range(6):  # the user clicks 6 times while the first prediction is still running
        queue.request("predict", 1, 1, make(i), lambda r: delivered.append(r.value))
    gate.set()
    qtbot.waitUntil(lambda: not queue.busy(), timeout=5000)
    assert ran == [0, 5] and delivered == [0, 5] and queue.coalesced == 4
