"""The few document operations the canvas needs, over the store's per-image document and core History.

:func:`make_document_ops` picks the implementation: the project's document + ``History`` with core commands
when a store (or a document) is given, else :class:`LocalDocumentOps`, an in-memory document with the
same undo semantics (a window with no project open, and a fallback while lower layers evolve).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from segtool.core.document import Instance

Listener = Callable[[list[int]], None]


class DocumentOps(Protocol):
    """Add / edit / push / undo / redo on one image's instances; listeners get the touched ids."""

    def instances(self) -> list[Instance]: ...
    def add(self, mask: np.ndarray, class_id: int | None, source: str, score: float | None) -> int: ...
    def edit(self, instance_id: int, mask: np.ndarray) -> None: ...
    def push(self, command: Any) -> None: ...
    def macro(self, name: str) -> contextlib.AbstractContextManager: ...
    def undo(self) -> bool: ...
    def redo(self) -> bool: ...
    def can_undo(self) -> bool: ...
    def can_redo(self) -> bool: ...
    def subscribe(self, listener: Listener) -> None: ...


class LocalDocumentOps:
    """In-memory instances of one image with an undo stack; a macro groups commits into one step."""

    def __init__(self, image_id: int) -> None:
        self.image_id = image_id
        self._items: dict[int, Instance] = {}
        self._undo: list[list[tuple[int, Instance | None, Instance | None]]] = []
        self._redo: list[list[tuple[int, Instance | None, Instance | None]]] = []
        self._open: list[tuple[int, Instance | None, Instance | None]] | None = None
        self._depth = 0
        self._listeners: list[Listener] = []
        self._next_id = 1

    def instances(self) -> list[Instance]:
        return list(self._items.values())

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def add(self, mask: np.ndarray, class_id: int | None, source: str, score: float | None) -> int:
        new_id = self._next_id
        self._next_id += 1
        z = max((i.z for i in self._items.values()), default=-1) + 1
        inst = Instance.from_mask(mask, id=new_id, image_id=self.image_id, class_id=class_id,
                                  source=source, score=score, z=z)
        self._record(new_id, None, inst)
        return new_id

    def edit(self, instance_id: int, mask: np.ndarray) -> None:
        before = self._items[instance_id]
        after = copy.copy(before)
        fresh = Instance.from_mask(mask, id=before.id, image_id=before.image_id, class_id=before.class_id)
        after.rle, after.bbox, after.area = fresh.rle, fresh.bbox, fresh.area
        self._record(instance_id, before, after)

    def push(self, command: Any) -> None:
        raise NotImplementedError("core commands need a project; open or create one first")

    @contextlib.contextmanager
    def macro(self, name: str) -> Iterator[None]:
        self._depth += 1
        if self._depth == 1:
            self._open = []
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                step, self._open = self._open, None
                if step:
                    self._undo.append(step)
                    self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        step = self._undo.pop()
        for iid, before, _after in reversed(step):
            self._set(iid, before)
        self._redo.append(step)
        self._notify([iid for iid, _, _ in step])
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        step = self._redo.pop()
        for iid, _before, after in step:
            self._set(iid, after)
        self._undo.append(step)
        self._notify([iid for iid, _, _ in step])
        return True

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def _record(self, iid: int, before: Instance | None, after: Instance | None) -> None:
        self._set(iid, after)
        if self._open is not None:
            self._open.append((iid, before, after))
        else:
            self._undo.append([(iid, before, after)])
            self._redo.clear()
        self._notify([iid])

    def _set(self, iid: int, inst: Instance | None) -> None:
        if inst is None:
            self._items.pop(iid, None)
        else:
            self._items[iid] = inst

    def _notify(self, ids: list[int]) -> None:
        for listener in list(self._listeners):
            listener(ids)


def make_document_ops(document: Any, history: Any, store: Any, image_id: int,
                      size: tuple[int, int] | None = None) -> DocumentOps:
    """The :class:`DocumentOps` for one image: the project's document when there is one, else local."""
    if document is not None or store is not None:
        from segtool.gui.canvas.storeops import StoreDocumentOps

        return StoreDocumentOps(document, history, store, image_id)
    return LocalDocumentOps(image_id)
