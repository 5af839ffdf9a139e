"""Committing a candidate from its crop (issue 14): the same instance as from the full mask, also when
the crop is looser than its foreground (a speck pass or a zoom frame can leave empty margins)."""

from __future__ import annotations

import numpy as np

from segtool.core.document import ImageDocument, ImageRecord
from segtool.engines.base import Candidate
from segtool.gui.canvas.docops import DocumentOps

H, W = 60, 80


def _ops() -> DocumentOps:
    return DocumentOps(ImageDocument(ImageRecord(1, "a.png", W, H, "h")))


def test_add_and_edit_from_a_loose_crop_equal_the_full_mask():
    full = np.zeros((H, W), bool)
    full[30:40, 50:70] = True
    loose = full[20:45, 40:75]  # 10 empty rows above, 10 empty columns left of the foreground
    cand = Candidate(crop=loose, offset=(40, 20), image_size=(H, W))
    by_crop, by_mask = _ops(), _ops()
    assert np.array_equal(by_crop.instance(by_crop.add(cand, 1, "sam", 0.9)).mask(), full)
    by_mask.add(full, 1, "sam", 0.9)
    assert by_crop.instances()[0].rle == by_mask.instances()[0].rle
    assert by_crop.instances()[0].bbox == by_mask.instances()[0].bbox

    first = np.zeros((H, W), bool)
    first[2:12, 2:12] = True  # the instance before the edit, far from the new mask
    ops = _ops()
    iid = ops.add(first, 1, "brush", None)
    ops.edit(iid, cand)
    assert np.array_equal(ops.instance(iid).mask(), full)
    ops.undo()
    assert np.array_equal(ops.instance(iid).mask(), first)
