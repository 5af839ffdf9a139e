"""Undoable commands on an :class:`~segtool.core.document.ImageDocument`.

Every change to an annotation is one of these objects, pushed on a
:class:`~segtool.core.history.History` (``history.push(cmd)``), which runs :meth:`Command.do` inside
one durable transaction. Commands compute what they need from the document the first time they
run and replay exactly that on redo, so they must only be run through a history.

=========================================  ===============================================================
``AddInstance(mask, class_id=..)``         new instance from a bool ``(H, W)`` mask; ``.instance_id`` after
``EditMask(id, patch, bbox, mode=..)``     brush/eraser/replace inside an XYXY bbox; stores only the packed
                                           XOR of the changed pixels' bbox (1 bit per pixel)
``DeleteInstances(ids)``                   remove (undo restores them, same ids)
``Relabel(ids, class_id)``                 change class
``Reorder(id, "up"|"down"|"top"|"bottom")``  change z (drawing order)
``Merge(ids)``                             union into ``ids[0]``, the others deleted
``Split(id)``                              one instance per 8-connected part (largest keeps the id)
``SetInstanceState(ids, state)``           ``accepted``/``pending``; ``AcceptProposals(ids)`` is the shortcut
``SetImageStatus(status)``                 ``todo``/``in-progress``/``done``
=========================================  ===============================================================

Masks are bool ``(H, W)``; bboxes XYXY with exclusive ends; :meth:`Command.nbytes` is what a
command keeps in memory (the history's budget).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as coco_mask

from segtool.core import masks
from segtool.core.document import INSTANCE_STATES, ImageDocument, Instance

BBox = tuple[int, int, int, int]


class Command:
    """Base class: ``do`` applies the change, ``undo`` reverts it; ``label`` is shown in Undo menus."""

    label = "edit"

    def do(self, doc: ImageDocument) -> None:
        raise NotImplementedError

    def undo(self, doc: ImageDocument) -> None:
        raise NotImplementedError

    def nbytes(self) -> int:
        """Approximate bytes this command keeps alive (patches, RLE strings)."""
        return sys.getsizeof(self)


def _instance_nbytes(inst: Instance) -> int:
    counts = inst.rle.get("counts", "")
    return 200 + (len(counts) if isinstance(counts, (str, bytes)) else 8 * len(counts))


class _Snapshot(Command):
    """A command described by instance snapshots: ``before`` replaced by ``after`` (matched by id).

    Subclasses implement :meth:`_plan` (called once, on the first ``do``) returning both lists;
    afterwards ``do``/``undo`` swap the snapshots, which makes redo exact.
    """

    def __init__(self) -> None:
        self._before: list[Instance] | None = None
        self._after: list[Instance] = []

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        raise NotImplementedError

    @staticmethod
    def _swap(doc: ImageDocument, old: list[Instance], new: list[Instance]) -> None:
        new_ids = {i.id for i in new}
        doc.remove([i.id for i in old if i.id not in new_ids])
        doc.put(new)

    def do(self, doc: ImageDocument) -> None:
        if self._before is None:
            self._before, self._after = self._plan(doc)
        self._swap(doc, self._before, self._after)

    def undo(self, doc: ImageDocument) -> None:
        self._swap(doc, self._after, self._before or [])

    def nbytes(self) -> int:
        return super().nbytes() + sum(_instance_nbytes(i) for i in (self._before or []) + self._after)


class AddInstance(_Snapshot):
    """Add one instance from a bool ``(H, W)`` mask (the image's shape), on top of the others; or from a
    bool ``crop`` at ``offset = (x0, y0)`` on an image of ``image_size = (H, W)`` (``mask=None``).

    The mask is encoded to RLE at once and not kept. After the first ``do``, :attr:`instance_id`
    holds the new id (the same on redo).
    """

    label = "add instance"

    def __init__(self, mask: np.ndarray | None = None, *, class_id: int | None, source: str = "brush",
                 score: float | None = None, attributes: dict[str, Any] | None = None,
                 state: str = "accepted", crop: np.ndarray | None = None, offset: tuple[int, int] = (0, 0),
                 image_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if state not in INSTANCE_STATES:
            raise ValueError(f"unknown state {state!r}")
        fields = {"id": 0, "image_id": 0, "class_id": class_id, "score": score, "source": source,
                  "attributes": dict(attributes or {}), "state": state}
        if mask is not None:
            self._template = Instance.from_mask(np.asarray(mask, dtype=bool), **fields)
        elif crop is not None and image_size is not None:
            self._template = Instance.from_crop(crop, offset, image_size, **fields)
        else:
            raise ValueError("AddInstance needs mask=(H, W), or crop= with offset= and image_size=")
        self.instance_id: int | None = None

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        if self._template.image_size != doc.shape:
            raise ValueError(f"mask shape {self._template.image_size} differs from the image's {doc.shape}")
        self.instance_id = doc.allocate_ids(1)[0]
        inst = replace(self._template, id=self.instance_id, image_id=doc.image.id, z=doc.next_z())
        return [], [inst]


class DeleteInstances(_Snapshot):
    """Delete instances by id; undo restores them with their ids, masks and z."""

    label = "delete"

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__()
        self.ids = [int(i) for i in ids]

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        return [doc.instance(i) for i in self.ids], []


class Relabel(_Snapshot):
    """Set the class of instances (``None`` = unlabelled)."""

    label = "relabel"

    def __init__(self, ids: Sequence[int], class_id: int | None) -> None:
        super().__init__()
        self.ids, self.class_id = [int(i) for i in ids], class_id

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        before = [doc.instance(i) for i in self.ids]
        return before, [replace(i, class_id=self.class_id) for i in before]


class SetInstanceState(_Snapshot):
    """Set the review state (``accepted`` or ``pending``) of instances."""

    label = "set state"

    def __init__(self, ids: Sequence[int], state: str) -> None:
        super().__init__()
        if state not in INSTANCE_STATES:
            raise ValueError(f"unknown state {state!r}; use one of {INSTANCE_STATES}")
        self.ids, self.state = [int(i) for i in ids], state

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        before = [doc.instance(i) for i in self.ids]
        return before, [replace(i, state=self.state) for i in before]


class AcceptProposals(SetInstanceState):
    """Accept pending proposals (state ``pending`` -> ``accepted``)."""

    label = "accept proposals"

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__(ids, "accepted")


class Reorder(_Snapshot):
    """Move one instance in the drawing order: ``"up"``, ``"down"``, ``"top"`` or ``"bottom"``.

    The image's instances get consecutive ``z`` values 0..n-1 in the new order.
    """

    label = "reorder"
    MOVES = ("up", "down", "top", "bottom")

    def __init__(self, instance_id: int, move: str) -> None:
        super().__init__()
        if move not in self.MOVES:
            raise ValueError(f"unknown move {move!r}; use one of {self.MOVES}")
        self.instance_id, self.move = int(instance_id), move

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        order = doc.instances()
        pos = [i.id for i in order].index(self.instance_id)
        target = {"up": min(pos + 1, len(order) - 1), "down": max(pos - 1, 0),
                  "top": len(order) - 1, "bottom": 0}[self.move]
        moved = order.pop(pos)
        order.insert(target, moved)
        changed = [(inst, z) for z, inst in enumerate(order) if inst.z != z]
        return [i for i, _ in changed], [replace(i, z=z) for i, z in changed]


class Merge(_Snapshot):
    """Merge instances into the first id: its mask becomes the union, the others are deleted."""

    label = "merge"

    def __init__(self, ids: Sequence[int]) -> None:
        super().__init__()
        if len(ids) < 2:
            raise ValueError("merge needs at least two instances")
        self.ids = [int(i) for i in ids]

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        before = [doc.instance(i) for i in self.ids]
        union = np.zeros(doc.shape, dtype=bool)
        for inst in before:
            union |= inst.mask()
        first = before[0]
        merged = replace(Instance.from_mask(union, id=first.id, image_id=first.image_id, class_id=first.class_id),
                         score=first.score, source=first.source, attributes=dict(first.attributes),
                         z=max(i.z for i in before), state=first.state)
        return before, [merged]


class Split(_Snapshot):
    """Split an instance into its 8-connected parts; the largest keeps the id, the rest get new ids."""

    label = "split"

    def __init__(self, instance_id: int) -> None:
        super().__init__()
        self.instance_id = int(instance_id)
        self.new_ids: list[int] = []

    def _plan(self, doc: ImageDocument) -> tuple[list[Instance], list[Instance]]:
        inst = doc.instance(self.instance_id)
        n, labels = cv2.connectedComponents(inst.mask().astype(np.uint8), connectivity=8)
        if n <= 2:
            return [], []
        areas = np.bincount(labels.ravel(), minlength=n)[1:]
        order = (np.argsort(-areas, kind="stable") + 1).tolist()
        self.new_ids = doc.allocate_ids(len(order) - 1)
        ids = [inst.id, *self.new_ids]
        z = doc.next_z()
        after = []
        for k, (label, iid) in enumerate(zip(order, ids, strict=True)):
            part = Instance.from_mask(labels == label, id=iid, image_id=inst.image_id, class_id=inst.class_id)
            after.append(replace(part, score=inst.score, source=inst.source, attributes=dict(inst.attributes),
                                 state=inst.state, z=inst.z if k == 0 else z + k - 1))
        return [inst], after


class EditMask(Command):
    """Change an instance's mask inside an XYXY bbox (brush, eraser, refinement).

    Parameters
    ----------
    instance_id : int
    patch : bool ndarray, shape ``(y1 - y0, x1 - x0)``
        The stroke (``mode="add"``/``"erase"``) or the new content (``mode="replace"``) of the bbox.
    bbox : (x0, y0, x1, y1)
        Where ``patch`` lies in the image, XYXY with exclusive ends, clipped to the image.
    mode : {"add", "erase", "replace"}

    Only the XOR between old and new mask, cropped to the changed pixels' bbox and bit-packed, is
    kept (about ``w * h / 8`` bytes). An edit may leave an empty mask (area 0); deleting it is a
    separate command.
    """

    label = "edit mask"
    MODES = ("add", "erase", "replace")

    def __init__(self, instance_id: int, patch: np.ndarray, bbox: BBox, mode: str = "replace") -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {self.MODES}")
        x0, y0, x1, y1 = (int(v) for v in bbox)
        patch = np.asarray(patch, dtype=bool)
        if patch.shape != (y1 - y0, x1 - x0):
            raise ValueError(f"patch shape {patch.shape} does not match bbox {bbox} (rows {y1 - y0}, cols {x1 - x0})")
        self.instance_id, self.mode = int(instance_id), mode
        self._patch: np.ndarray | None = patch
        self._bbox: BBox = (x0, y0, x1, y1)
        self._xor: np.ndarray | None = None  # packed bits of the diff inside self._bbox
        self._shape: tuple[int, int] = (0, 0)

    @property
    def changed(self) -> bool:
        """Whether the edit changed any pixel (known after the first ``do``)."""
        return self._xor is not None and self._shape[0] * self._shape[1] > 0

    def do(self, doc: ImageDocument) -> None:
        if self._patch is not None:
            self._first_do(doc)
        else:
            self._apply_xor(doc)

    def undo(self, doc: ImageDocument) -> None:
        self._apply_xor(doc)

    def nbytes(self) -> int:
        held = 0 if self._xor is None else self._xor.nbytes
        return super().nbytes() + held + (0 if self._patch is None else self._patch.nbytes)

    def _first_do(self, doc: ImageDocument) -> None:
        inst = doc.instance(self.instance_id)
        full = _take_mask(doc, inst)
        x0, y0, x1, y1 = _clip(self._bbox, inst.image_size)
        patch = self._patch[y0 - self._bbox[1]:y1 - self._bbox[1], x0 - self._bbox[0]:x1 - self._bbox[0]]
        old = full[y0:y1, x0:x1].astype(bool)
        new = {"add": old | patch, "erase": old & ~patch, "replace": patch}[self.mode]
        diff = old ^ new
        self._patch = None
        tight = masks.mask_bbox(diff)
        if tight is None:
            self._xor, self._bbox, self._shape = np.zeros(0, np.uint8), (x0, y0, x0, y0), (0, 0)
            _give_back(doc, inst, full)
            return
        tx0, ty0, tx1, ty1 = tight
        self._bbox = (x0 + tx0, y0 + ty0, x0 + tx1, y0 + ty1)
        cropped = diff[ty0:ty1, tx0:tx1]
        self._shape = cropped.shape
        self._xor = np.packbits(cropped)
        full[y0:y1, x0:x1] = new
        _store_mask(doc, inst, full)

    def _apply_xor(self, doc: ImageDocument) -> None:
        if not self.changed:
            return
        inst = doc.instance(self.instance_id)
        full = _take_mask(doc, inst)
        h, w = self._shape
        diff = np.unpackbits(self._xor, count=h * w).reshape(h, w).astype(bool)
        x0, y0, x1, y1 = self._bbox
        full[y0:y1, x0:x1] ^= diff
        _store_mask(doc, inst, full)


def _clip(bbox: BBox, shape: tuple[int, int]) -> BBox:
    h, w = shape
    x0, y0, x1, y1 = bbox
    x0, y0 = min(max(x0, 0), w), min(max(y0, 0), h)
    return (x0, y0, max(x0, min(x1, w)), max(y0, min(y1, h)))


# One decoded mask per document, kept between consecutive edits of the same instance (a brush stroke),
# so an edit costs one RLE encode instead of decode + encode. Fortran order: what pycocotools uses.
_CACHE_ATTR = "_edit_mask_cache"


def _take_mask(doc: ImageDocument, inst: Instance) -> np.ndarray:
    """The instance's mask as a Fortran-ordered uint8 ``(H, W)`` array the caller may modify."""
    cached = doc.__dict__.pop(_CACHE_ATTR, None)
    if cached is not None and cached[0] == inst.id and cached[1] == inst.rle["counts"]:
        return cached[2]
    counts = inst.rle["counts"]
    rle = {"size": list(inst.image_size), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return coco_mask.decode(rle)


def _give_back(doc: ImageDocument, inst: Instance, full: np.ndarray) -> None:
    doc.__dict__[_CACHE_ATTR] = (inst.id, inst.rle["counts"], full)


def _store_mask(doc: ImageDocument, inst: Instance, full: np.ndarray) -> None:
    """Encode ``full`` as the instance's new mask and write it to the document (then cache it)."""
    rle = coco_mask.encode(np.asfortranarray(full, dtype=np.uint8))
    new_rle = {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}
    area = int(coco_mask.area(rle))
    bbox: BBox = (0, 0, 0, 0)
    if area:
        x, y, w, h = (int(round(v)) for v in coco_mask.toBbox(rle))
        bbox = (x, y, x + w, y + h)
    updated = replace(inst, rle=new_rle, bbox=bbox, area=area)
    doc.put([updated])
    _give_back(doc, updated, full)


class SetImageStatus(Command):
    """Set the image's review status (``todo``, ``in-progress``, ``done``)."""

    label = "set image status"

    def __init__(self, status: str) -> None:
        self.status = status
        self._old: str | None = None

    def do(self, doc: ImageDocument) -> None:
        if self._old is None:
            self._old = doc.image.status
        doc.set_status(self.status)

    def undo(self, doc: ImageDocument) -> None:
        doc.set_status(self._old or "todo")
