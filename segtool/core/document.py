"""The annotation data model: label classes, instances, images, and the per-image document. No Qt.

:class:`ImageDocument` is what the GUI edits: ``doc = store.open_image(image_id)``, then changes go
through :class:`segtool.core.history.History` (``history.push(AddInstance(...))``); listeners added
with ``doc.subscribe(callback)`` get a :class:`DocumentEvent` after each committed change.

Coordinates: bboxes are XYXY with exclusive ends (see :mod:`segtool.core.masks`); image sizes are
``(width, height)`` attributes; arrays are ``(H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from segtool.core import masks

#: Where an instance came from.
SOURCES = ("sam", "grabcut", "wand", "watershed", "superpixel", "brush", "polygon", "proposal", "import")
#: Review state of an image.
IMAGE_STATUSES = ("todo", "in-progress", "done")
#: ``accepted`` instances are exported; ``pending`` ones are unreviewed proposals.
INSTANCE_STATES = ("accepted", "pending")


@dataclass
class LabelClass:
    """A category. ``color`` is ``(r, g, b)`` in 0..255.

    ``source_id`` is the category id the class had in the dataset it was imported from (COCO
    ``category_id``, YOLO class index), kept so that an export writes the same ids back; ``None``
    for classes made in segtool.
    """

    id: int
    name: str
    color: tuple[int, int, int]
    source_id: int | None = None


@dataclass
class Instance:
    """One object mask on one image.

    ``rle`` is compressed COCO RLE (``{"size": [H, W], "counts": str}``); ``bbox`` is its tight XYXY
    (exclusive) box and ``area`` its pixel count, both derived from ``rle`` by :meth:`from_mask`.
    ``z`` orders instances on an image (higher is drawn on top). ``iscrowd`` marks a region of
    several objects annotated as one (COCO ``iscrowd: 1``; exported as RLE, and as void in VOC).
    """

    id: int
    image_id: int
    class_id: int | None
    rle: dict
    bbox: tuple[int, int, int, int]
    area: int
    score: float | None = None
    source: str = "brush"
    attributes: dict[str, Any] = field(default_factory=dict)
    z: int = 0
    state: str = "accepted"
    iscrowd: bool = False

    @classmethod
    def from_mask(cls, mask: np.ndarray, *, id: int, image_id: int, class_id: int | None, **kw: Any) -> Instance:
        """Build an instance from a bool ``(H, W)`` mask (bbox and area are computed)."""
        bbox = masks.mask_bbox(mask) or (0, 0, 0, 0)
        return cls(id=id, image_id=image_id, class_id=class_id, rle=masks.encode_rle(mask),
                   bbox=bbox, area=int(np.count_nonzero(mask)), **kw)

    @classmethod
    def from_crop(cls, crop: np.ndarray, offset: tuple[int, int], image_size: tuple[int, int], *, id: int,
                  image_id: int, class_id: int | None, **kw: Any) -> Instance:
        """Build an instance from a bool ``(h, w)`` ``crop`` whose top-left pixel is ``offset = (x0, y0)`` on
        an image of ``image_size = (H, W)``; nothing of the image's size is allocated."""
        crop = np.asarray(crop, bool)
        return cls(id=id, image_id=image_id, class_id=class_id, rle=masks.encode_rle_crop(crop, offset, image_size),
                   bbox=masks.crop_bbox(crop, offset) or (0, 0, 0, 0), area=int(np.count_nonzero(crop)), **kw)

    def mask(self) -> np.ndarray:
        """Decode to a full bool ``(H, W)`` mask (transient: do not keep it around)."""
        return masks.decode_rle(self.rle)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the image this instance's RLE covers."""
        return (int(self.rle["size"][0]), int(self.rle["size"][1]))


@dataclass
class ImageRecord:
    """One image of a project. ``path`` is POSIX, relative to the project folder."""

    id: int
    path: str
    width: int
    height: int
    content_hash: str
    status: str = "todo"


@dataclass(frozen=True)
class DocumentEvent:
    """What changed in an :class:`ImageDocument`.

    ``kind`` is ``"added"``, ``"changed"`` or ``"removed"`` (``ids`` are instance ids), ``"status"``
    (the image's status changed; ``ids`` is empty) or ``"reset"`` (reload everything: sent after a
    failed command was rolled back).
    """

    kind: str
    ids: tuple[int, ...] = ()


class DocumentSink(Protocol):
    """Where an :class:`ImageDocument` persists its changes (``segtool.store.sqlite.ProjectStore``).

    ``transaction()`` must be nesting-safe and commit durably when the outermost level exits.
    """

    def transaction(self) -> AbstractContextManager[Any]: ...

    def allocate_instance_ids(self, n: int) -> list[int]: ...

    def save_instances(self, instances: Sequence[Instance]) -> None: ...

    def delete_instances(self, ids: Sequence[int]) -> None: ...

    def set_image_status(self, image_id: int, status: str) -> None: ...

    def instances(self, image_id: int, *, state: str | None = None) -> list[Instance]: ...


Listener = Callable[[DocumentEvent], None]


class ImageDocument:
    """The in-memory annotation of one image: its record and its instances, with change events.

    Views read it and listen (:meth:`subscribe`); they never change it directly. Changes go through
    commands (:mod:`segtool.core.commands`) pushed on a :class:`segtool.core.history.History`, which
    call the low-level mutators :meth:`put`, :meth:`remove` and :meth:`set_status`. When the document
    has a ``sink`` (the project store), every mutation is written to it inside :meth:`transaction`,
    so a command that returned is durable. Without a sink the document is purely in memory (tests,
    scratch work) and allocates instance ids itself.

    Events are plain Python callbacks, no Qt. Inside a transaction they are queued and delivered
    once it commits; if it fails, the document reloads from the sink and sends one ``"reset"``.

    Parameters
    ----------
    image : ImageRecord
        The image (its ``width``/``height`` give the ``(H, W)`` of every mask).
    instances : iterable of Instance
        Its instances (any order; :meth:`instances` returns them by ascending ``z``, then id).
    sink : DocumentSink, optional
        Persistence backend.
    """

    def __init__(self, image: ImageRecord, instances: Iterable[Instance] = (),
                 sink: DocumentSink | None = None) -> None:
        self.image = image
        self.sink = sink
        self._instances: dict[int, Instance] = {inst.id: inst for inst in instances}
        self._listeners: list[Listener] = []
        self._depth = 0
        self._pending: list[DocumentEvent] = []
        self._next_local_id = max(self._instances, default=0) + 1

    # -- reading ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the image."""
        return (self.image.height, self.image.width)

    def instances(self, state: str | None = None) -> list[Instance]:
        """Instances bottom to top (ascending ``z``, then id), optionally only one ``state``."""
        items = [i for i in self._instances.values() if state is None or i.state == state]
        return sorted(items, key=lambda i: (i.z, i.id))

    def instance(self, instance_id: int) -> Instance:
        """The instance with this id (``KeyError`` if it is not on this image)."""
        return self._instances[instance_id]

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._instances

    def __len__(self) -> int:
        return len(self._instances)

    def next_z(self) -> int:
        """A ``z`` above every instance (for a new instance drawn on top)."""
        return max((i.z for i in self._instances.values()), default=-1) + 1

    def label_map(self, class_ids: bool = True) -> np.ndarray:
        """Semantic ``(H, W)`` int32 map: class id (or instance id) per pixel, 0 = none; later z on top."""
        out = np.zeros(self.shape, dtype=np.int32)
        for inst in self.instances(state="accepted"):
            value = (inst.class_id or 0) if class_ids else inst.id
            out[inst.mask()] = value
        return out

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every change; returns a function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: DocumentEvent) -> None:
        if self._depth:
            self._pending.append(event)
            return
        for listener in list(self._listeners):
            listener(event)

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group mutations: durable and announced together, or rolled back (and ``"reset"``)."""
        outer = self._depth == 0
        self._depth += 1
        try:
            with self.sink.transaction() if self.sink is not None else nullcontext():
                yield
        except BaseException:
            self._depth -= 1
            if outer:
                self._pending.clear()
                self.reload()
            raise
        self._depth -= 1
        if outer:
            events, self._pending = self._pending, []
            for event in events:
                self._emit(event)

    def reload(self) -> None:
        """Re-read the instances from the sink (no-op without one) and send ``"reset"``."""
        if self.sink is not None:
            self._instances = {i.id: i for i in self.sink.instances(self.image.id)}
        self._emit(DocumentEvent("reset"))

    # -- low-level mutators (used by commands) ----------------------------------------------
    def allocate_ids(self, n: int) -> list[int]:
        """``n`` fresh instance ids (from the sink when there is one, never reused)."""
        if self.sink is not None:
            return list(self.sink.allocate_instance_ids(n))
        ids = list(range(self._next_local_id, self._next_local_id + n))
        self._next_local_id += n
        return ids

    def put(self, instances: Sequence[Instance]) -> None:
        """Add or replace instances (matched by id); persisted, then ``"added"``/``"changed"`` events."""
        if not instances:
            return
        for inst in instances:
            if inst.image_id != self.image.id:
                raise ValueError(f"instance {inst.id} belongs to image {inst.image_id}, not {self.image.id}")
        if self.sink is not None:
            self.sink.save_instances(instances)
        added = tuple(i.id for i in instances if i.id not in self._instances)
        changed = tuple(i.id for i in instances if i.id in self._instances)
        for inst in instances:
            self._instances[inst.id] = inst
            self._next_local_id = max(self._next_local_id, inst.id + 1)
        if added:
            self._emit(DocumentEvent("added", added))
        if changed:
            self._emit(DocumentEvent("changed", changed))

    def remove(self, ids: Sequence[int]) -> list[Instance]:
        """Remove instances by id; returns the removed ones (unknown ids are ignored)."""
        present = [i for i in ids if i in self._instances]
        if not present:
            return []
        if self.sink is not None:
            self.sink.delete_instances(present)
        removed = [self._instances.pop(i) for i in present]
        self._emit(DocumentEvent("removed", tuple(present)))
        return removed

    def set_status(self, status: str) -> None:
        """Set the image's review status (one of :data:`IMAGE_STATUSES`)."""
        if status not in IMAGE_STATUSES:
            raise ValueError(f"unknown image status {status!r}; use one of {IMAGE_STATUSES}")
        if self.sink is not None:
            self.sink.set_image_status(self.image.id, status)
        self.image = replace(self.image, status=status)
        self._emit(DocumentEvent("status"))
