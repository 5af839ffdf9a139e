"""Helper process for the crash tests (not a test module).

``python crash_worker.py PROJECT edit SEED``: edits image 1 forever through History, printing
``begin K OP ID AREA`` before each command (``ID`` is ``-`` for an add, ``AREA`` the area it will
leave) and ``done K ID`` after it returned. ``python crash_worker.py PROJECT hold``: opens the
project for writing, prints ``ready`` and sleeps.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from segtool.core.commands import AddInstance, EditMask
from segtool.core.history import History
from segtool.store.sqlite import ProjectStore


def _say(*words: object) -> None:
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def edit_forever(project: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    store = ProjectStore.open(project)
    doc = store.open_image(1)
    history = History(doc)
    h, w = doc.shape
    _say("ready")
    k, last, area_before = 0, None, 0
    while True:
        if k % 3 == 0 or last is None:
            x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
            mask = np.zeros((h, w), bool)
            mask[y0:y0 + int(rng.integers(5, 40)), x0:x0 + int(rng.integers(5, 40))] = True
            _say("begin", k, "add", "-", int(mask.sum()))
            last = history.push(AddInstance(mask, class_id=1, source="brush")).instance_id
        elif k % 3 == 1:
            x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            area_before = doc.instance(last).area
            new = doc.instance(last).mask()
            new[y0:y0 + 20, x0:x0 + 20] = True
            _say("begin", k, "edit", last, int(new.sum()))
            history.push(EditMask(last, np.ones((20, 20), bool), (x0, y0, x0 + 20, y0 + 20), mode="add"))
        else:
            _say("begin", k, "undo", last, area_before)
            history.undo()
        _say("done", k, last)
        k += 1


def hold(project: str) -> None:
    with ProjectStore.open(project):
        _say("ready")
        time.sleep(600)


if __name__ == "__main__":
    if sys.argv[2] == "edit":
        edit_forever(sys.argv[1], int(sys.argv[3]))
    else:
        hold(sys.argv[1])
