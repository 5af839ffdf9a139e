"""Issue 2, point 4: 1,000 brush-like edits on a 24-megapixel image keep the history well under 100 MB."""

from __future__ import annotations

import tracemalloc

import numpy as np

from segtool.core.commands import AddInstance, EditMask
from segtool.core.document import ImageDocument, ImageRecord
from segtool.core.history import History

H, W = 4000, 6000  # 24 megapixels
RADIUS = 24


def _dab() -> np.ndarray:
    yy, xx = np.mgrid[-RADIUS:RADIUS + 1, -RADIUS:RADIUS + 1]
    return xx * xx + yy * yy <= RADIUS * RADIUS


def test_thousand_brush_edits_on_24_megapixels_stay_small() -> None:
    doc = ImageDocument(ImageRecord(1, "big.tif", W, H, "h"))
    history = History(doc)
    start = np.zeros((H, W), bool)
    start[1000:3000, 1500:4500] = True
    iid = history.push(AddInstance(start, class_id=1)).instance_id
    del start
    original_counts = doc.instance(iid).rle["counts"]
    rng = np.random.default_rng(0)
    dab = _dab()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    x, y = 3000.0, 2000.0
    for stroke in range(50):  # 50 strokes of 20 dabs = 1,000 edits, each stroke one undo step
        mode = "add" if stroke % 2 == 0 else "erase"
        with history.macro("brush stroke"):
            for _ in range(20):
                x = float(np.clip(x + rng.normal(0, 40), 1200, 4800))
                y = float(np.clip(y + rng.normal(0, 40), 700, 3300))
                x0, y0 = int(x) - RADIUS, int(y) - RADIUS
                history.push(EditMask(iid, dab, (x0, y0, x0 + dab.shape[1], y0 + dab.shape[0]), mode=mode))
    held = history.nbytes()
    traced = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert len(history) == 51
    assert doc.instance(iid).rle["counts"] != original_counts  # the strokes really changed the mask
    # One full-size mask stays cached for the next edit (24 MB, transient); the history holds the diffs.
    assert held < 10 * 2**20, f"history holds {held / 2**20:.1f} MiB"
    assert traced < 100 * 2**20, f"{traced / 2**20:.1f} MiB traced after 1,000 edits"
    print(f"history {held / 2**20:.2f} MiB, traced {traced / 2**20:.1f} MiB")
    for _ in range(50):
        history.undo()
    assert doc.instance(iid).rle["counts"] == original_counts
