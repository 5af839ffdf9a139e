"""Commands and history on an in-memory ImageDocument: every change undoes and redoes exactly."""

from __future__ import annotations

import numpy as np
import pytest

from segtool.core.commands import (
    AcceptProposals,
    AddInstance,
    DeleteInstances,
    EditMask,
    Merge,
    Relabel,
    Reorder,
    SetImageStatus,
    Split,
)
from segtool.core.document import DocumentEvent, ImageDocument, ImageRecord
from segtool.core.history import History

H, W = 60, 80


def _doc() -> ImageDocument:
    return ImageDocument(ImageRecord(7, "a.png", W, H, "hash"))


def _rect(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _state(doc: ImageDocument) -> list[tuple]:
    return [(i.id, i.class_id, i.z, i.state, i.area, i.bbox, i.rle["counts"]) for i in doc.instances()]


def test_add_edit_undo_redo_restores_exact_masks() -> None:
    doc = _doc()
    history = History(doc)
    add = history.push(AddInstance(_rect(10, 10, 30, 20), class_id=1, source="sam", score=0.9))
    iid = add.instance_id
    assert doc.instance(iid).area == 200 and doc.instance(iid).bbox == (10, 10, 30, 20)
    before = doc.instance(iid).mask()
    stroke = np.ones((5, 10), bool)
    history.push(EditMask(iid, stroke, (25, 18, 35, 23), mode="add"))
    after = before.copy()
    after[18:23, 25:35] = True
    assert np.array_equal(doc.instance(iid).mask(), after)
    assert doc.instance(iid).bbox == (10, 10, 35, 23)
    history.push(EditMask(iid, np.ones((10, 5), bool), (10, 10, 15, 20), mode="erase"))
    assert doc.instance(iid).area == int(after.sum()) - 50
    history.undo()
    assert np.array_equal(doc.instance(iid).mask(), after)
    history.undo()
    assert np.array_equal(doc.instance(iid).mask(), before)
    history.undo()
    assert len(doc) == 0
    for _ in range(3):
        history.redo()
    assert doc.instance(iid).area == int(after.sum()) - 50
    assert doc.instance(iid).source == "sam" and doc.instance(iid).score == pytest.approx(0.9)


def test_edit_mask_keeps_only_the_cropped_packed_diff() -> None:
    doc = _doc()
    history = History(doc)
    iid = history.push(AddInstance(_rect(0, 0, 40, 40), class_id=1)).instance_id
    edit = history.push(EditMask(iid, np.ones((20, 30), bool), (30, 30, 60, 50), mode="add"))
    # 30x30 stroke over a 40x40 square: the changed pixels are the stroke minus the 10x10 overlap.
    assert edit._bbox == (30, 30, 60, 50)
    assert edit._xor.nbytes == (20 * 30 + 7) // 8
    noop = history.push(EditMask(iid, np.ones((5, 5), bool), (0, 0, 5, 5), mode="add"))
    assert not noop.changed
    replace = history.push(EditMask(iid, np.zeros((10, 10), bool), (0, 0, 10, 10), mode="replace"))
    assert replace._bbox == (0, 0, 10, 10)
    assert doc.instance(iid).area == 40 * 40 + 20 * 30 - 100 - 100


def test_edit_mask_clips_to_the_image() -> None:
    doc = _doc()
    history = History(doc)
    iid = history.push(AddInstance(_rect(70, 50, 80, 60), class_id=None)).instance_id
    history.push(EditMask(iid, np.ones((20, 20), bool), (70, 50, 90, 70), mode="add"))
    assert doc.instance(iid).bbox == (70, 50, 80, 60)
    with pytest.raises(ValueError, match="patch shape"):
        EditMask(iid, np.ones((3, 3), bool), (0, 0, 4, 3))


def test_macro_is_one_undo_step_and_rolls_back_on_error() -> None:
    doc = _doc()
    history = History(doc)
    iid = history.push(AddInstance(_rect(0, 0, 5, 5), class_id=1)).instance_id
    start = _state(doc)
    with history.macro("brush stroke"):
        for k in range(10):
            history.push(EditMask(iid, np.ones((3, 3), bool), (5 + 3 * k, 5, 8 + 3 * k, 8), mode="add"))
    assert len(history) == 2 and history.undo_label == "brush stroke"
    assert doc.instance(iid).area == 25 + 90
    history.undo()
    assert _state(doc) == start
    history.redo()
    assert doc.instance(iid).area == 115
    with pytest.raises(RuntimeError), history.macro("failing"):
        history.push(EditMask(iid, np.ones((3, 3), bool), (40, 40, 43, 43), mode="add"))
        raise RuntimeError("tool crashed")
    assert doc.instance(iid).area == 115 and len(history) == 2


def test_delete_relabel_accept_status_round_trip() -> None:
    doc = _doc()
    history = History(doc)
    a = history.push(AddInstance(_rect(0, 0, 10, 10), class_id=1, state="pending")).instance_id
    b = history.push(AddInstance(_rect(20, 20, 30, 30), class_id=1)).instance_id
    start = _state(doc)
    history.push(AcceptProposals([a]))
    assert doc.instance(a).state == "accepted"
    history.push(Relabel([a, b], 2))
    assert {doc.instance(i).class_id for i in (a, b)} == {2}
    history.push(DeleteInstances([a]))
    assert a not in doc and b in doc
    history.push(SetImageStatus("done"))
    assert doc.image.status == "done"
    for _ in range(4):
        history.undo()
    assert _state(doc) == start and doc.image.status == "todo"


def test_reorder_changes_drawing_order() -> None:
    doc = _doc()
    history = History(doc)
    ids = [history.push(AddInstance(_rect(k, k, k + 10, k + 10), class_id=1)).instance_id for k in range(3)]
    assert [i.id for i in doc.instances()] == ids
    history.push(Reorder(ids[0], "top"))
    assert [i.id for i in doc.instances()] == [ids[1], ids[2], ids[0]]
    history.push(Reorder(ids[0], "down"))
    assert [i.id for i in doc.instances()] == [ids[1], ids[0], ids[2]]
    labels = doc.label_map(class_ids=False)
    assert labels[11, 11] == ids[2]  # topmost wins where all three overlap
    history.undo()
    history.undo()
    assert [i.id for i in doc.instances()] == ids


def test_merge_and_split_are_inverse_in_pixels() -> None:
    doc = _doc()
    history = History(doc)
    a = history.push(AddInstance(_rect(0, 0, 10, 10), class_id=3)).instance_id
    b = history.push(AddInstance(_rect(30, 30, 35, 35), class_id=4)).instance_id
    union = doc.instance(a).mask() | doc.instance(b).mask()
    history.push(Merge([a, b]))
    assert len(doc) == 1 and np.array_equal(doc.instance(a).mask(), union)
    assert doc.instance(a).class_id == 3
    split = history.push(Split(a))
    parts = doc.instances()
    assert len(parts) == 2 and sorted(p.area for p in parts) == [25, 100]
    assert doc.instance(a).area == 100 and split.new_ids[0] != b
    history.undo()
    history.undo()
    assert doc.instance(b).area == 25 and doc.instance(a).area == 100


def test_events_clean_state_and_failed_command() -> None:
    doc = _doc()
    events: list[DocumentEvent] = []
    doc.subscribe(events.append)
    history = History(doc)
    changes: list[int] = []
    history.subscribe(lambda: changes.append(1))
    assert history.is_clean
    iid = history.push(AddInstance(_rect(0, 0, 4, 4), class_id=1)).instance_id
    assert events == [DocumentEvent("added", (iid,))] and not history.is_clean and changes
    history.mark_clean()
    history.push(Relabel([iid], 2))
    history.undo()
    assert history.is_clean
    with pytest.raises(KeyError):
        history.push(DeleteInstances([iid, 999]))
    assert iid in doc and len(history) == 1
    with pytest.raises(ValueError, match="differs"):
        history.push(AddInstance(np.ones((5, 5), bool), class_id=1))


def test_add_from_a_crop_equals_add_from_the_full_mask() -> None:
    rng = np.random.default_rng(3)
    crop = rng.random((17, 23)) > 0.5
    crop[0, :] = crop[-1, :] = crop[:, 0] = crop[:, -1] = False  # a loose crop: the bbox is tightened
    full = np.zeros((H, W), bool)
    full[30:47, 50:73] = crop
    a, b = _doc(), _doc()
    History(a).push(AddInstance(full, class_id=2, source="sam"))
    History(b).push(AddInstance(crop=crop, offset=(50, 30), image_size=(H, W), class_id=2, source="sam"))
    assert _state(a) == _state(b)
    assert np.array_equal(b.instances()[0].mask(), full)
    with pytest.raises(ValueError, match="does not fit"):
        AddInstance(crop=crop, offset=(70, 30), image_size=(H, W), class_id=2)
    with pytest.raises(ValueError, match="needs mask"):
        AddInstance(class_id=2)
