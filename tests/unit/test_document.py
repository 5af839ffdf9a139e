"""ImageDocument: z-order, label maps, events delivered once a transaction commits."""

from __future__ import annotations

import numpy as np
import pytest

from segtool.core.document import DocumentEvent, ImageDocument, ImageRecord, Instance


def _inst(iid: int, box: tuple[int, int, int, int], z: int, class_id: int = 1) -> Instance:
    m = np.zeros((10, 12), bool)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = True
    return Instance.from_mask(m, id=iid, image_id=3, class_id=class_id, z=z)


def test_instances_are_z_ordered_and_label_map_puts_later_on_top() -> None:
    doc = ImageDocument(ImageRecord(3, "x.png", 12, 10, "h"),
                        [_inst(5, (0, 0, 6, 6), z=2, class_id=2), _inst(4, (3, 3, 9, 9), z=1)])
    assert [i.id for i in doc.instances()] == [4, 5] and doc.next_z() == 3
    labels = doc.label_map()
    assert labels[4, 4] == 2 and labels[8, 8] == 1 and labels[0, 11] == 0
    assert doc.allocate_ids(2) == [6, 7]


def test_events_wait_for_the_transaction_and_bad_input_is_refused() -> None:
    doc = ImageDocument(ImageRecord(3, "x.png", 12, 10, "h"))
    seen: list[DocumentEvent] = []
    unsubscribe = doc.subscribe(seen.append)
    with doc.transaction():
        doc.put([_inst(1, (0, 0, 2, 2), z=0)])
        doc.put([_inst(1, (0, 0, 3, 3), z=0)])
        assert seen == []
    assert seen == [DocumentEvent("added", (1,)), DocumentEvent("changed", (1,))]
    assert [i.id for i in doc.remove([1, 99])] == [1]
    doc.set_status("done")
    assert seen[-2:] == [DocumentEvent("removed", (1,)), DocumentEvent("status")]
    with pytest.raises(ValueError, match="unknown image status"):
        doc.set_status("finished")
    with pytest.raises(ValueError, match="belongs to image"):
        doc.put([Instance.from_mask(np.ones((10, 12), bool), id=2, image_id=4, class_id=None)])
    unsubscribe()
    doc.put([_inst(3, (0, 0, 1, 1), z=0)])
    assert len(seen) == 4
