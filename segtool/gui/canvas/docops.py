"""The document operations the canvas needs, over a core ``ImageDocument`` and its ``History``.

Every change is a core command (:mod:`segtool.core.commands`) pushed on the image's
:class:`~segtool.core.history.History`, so it is durable in the project store when it returns and undoable.
Without a project (no store), an in-memory ``ImageDocument`` is used with the same semantics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from segtool.core.commands import AddInstance, Command, EditMask
from segtool.core.document import DocumentEvent, ImageDocument, ImageRecord, Instance
from segtool.core.history import History
from segtool.core.masks import bbox_union, crop_bbox, mask_bbox

Listener = Callable[[list[int]], None]


class MaskCrop(Protocol):
    """A mask kept as a bool ``crop`` whose top-left pixel is ``offset = (x0, y0)`` on an image of
    ``image_size = (H, W)`` (an engine's :class:`~segtool.engines.base.Candidate`)."""

    crop: np.ndarray
    offset: tuple[int, int]
    image_size: tuple[int, int]


BBox = tuple[int, int, int, int]


class DocumentOps:
    """Add / edit / push / undo / redo on one image; listeners get the touched instance ids ([] = all).

    Parameters
    ----------
    doc : the image's ``ImageDocument``.
    history : its ``History`` (a new one when ``None``; pass the main window's to share Ctrl+Z).
    """

    def __init__(self, doc: ImageDocument, history: History | None = None) -> None:
        self.doc = doc
        self.history = history if history is not None else History(doc)
        self._listeners: list[Listener] = []
        self._unsubscribe = doc.subscribe(self._on_doc_event)

    def close(self) -> None:
        """Stop listening to the document (when the canvas moves to another image)."""
        self._unsubscribe()
        self._listeners.clear()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _on_doc_event(self, event: DocumentEvent) -> None:
        ids = [] if event.kind == "reset" else list(event.ids)
        if event.kind == "status":
            return
        for listener in list(self._listeners):
            listener(ids)

    def instances(self) -> list[Instance]:
        return self.doc.instances()

    def instance(self, instance_id: int) -> Instance | None:
        return self.doc.instance(instance_id) if instance_id in self.doc else None

    def add(self, mask: np.ndarray | MaskCrop, class_id: int | None, source: str, score: float | None) -> int:
        """AddInstance from bool ``(H, W)`` ``mask`` (or a crop with its offset); returns the new id."""
        score = None if score is None else float(score)
        if isinstance(mask, np.ndarray):
            command = AddInstance(mask, class_id=class_id, source=source, score=score)
        else:
            command = AddInstance(crop=mask.crop, offset=mask.offset, image_size=mask.image_size, class_id=class_id,
                                  source=source, score=score)
        self.history.push(command)
        assert command.instance_id is not None
        return command.instance_id

    def edit(self, instance_id: int, mask: np.ndarray | MaskCrop) -> None:
        """EditMask (replace) of ``instance_id`` with bool ``(H, W)`` ``mask`` (or a crop with its offset),
        cropped to old | new bbox."""
        old = self.doc.instance(instance_id)
        old_box = tuple(old.bbox) if old.area else None
        if isinstance(mask, np.ndarray):
            box = bbox_union(old_box, mask_bbox(mask))
            if box is not None:
                x0, y0, x1, y1 = box
                self.history.push(EditMask(instance_id, mask[y0:y1, x0:x1], box, mode="replace"))
            return
        new_box = crop_bbox(mask.crop, mask.offset)
        box = bbox_union(old_box, new_box)
        if box is None:
            return
        x0, y0, x1, y1 = box
        patch = np.zeros((y1 - y0, x1 - x0), bool)
        if new_box is not None:  # the crop's foreground (the crop itself may be looser than its box)
            (bx0, by0, bx1, by1), (ox, oy) = new_box, mask.offset
            patch[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0] = mask.crop[by0 - oy:by1 - oy, bx0 - ox:bx1 - ox]
        self.history.push(EditMask(instance_id, patch, box, mode="replace"))

    def paint(self, instance_id: int, patch: np.ndarray, bbox: BBox, erase: bool) -> None:
        """EditMask add/erase of bool ``patch`` (shape of ``bbox``, XYXY exclusive) on ``instance_id``."""
        self.history.push(EditMask(instance_id, patch, bbox, mode="erase" if erase else "add"))

    def push(self, command: Command) -> None:
        self.history.push(command)

    @contextlib.contextmanager
    def macro(self, name: str) -> Iterator[None]:
        with self.history.macro(name):
            yield

    def undo(self) -> bool:
        return self.history.undo() is not None

    def redo(self) -> bool:
        return self.history.redo() is not None

    def can_undo(self) -> bool:
        return bool(self.history.can_undo)

    def can_redo(self) -> bool:
        return bool(self.history.can_redo)


def make_document_ops(document: ImageDocument | None, history: History | None, store: Any, image_id: int,
                      size: tuple[int, int] | None = None) -> DocumentOps:
    """The ops for one image: ``document`` if given, else the store's ``open_image(image_id)`` when the
    store knows the image, else an in-memory document of ``size = (H, W)``."""
    if document is None and store is not None and image_id >= 0:
        try:
            document = store.open_image(image_id)
        except Exception:  # the image is not in this project: work in memory
            document = None
    if document is None:
        h, w = size or (0, 0)
        document = ImageDocument(ImageRecord(id=image_id, path="", width=w, height=h, content_hash=""))
    return DocumentOps(document, history)
