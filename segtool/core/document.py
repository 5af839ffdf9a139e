"""The annotation data model: label classes, instances, images. No Qt.

Coordinates: bboxes are XYXY with exclusive ends (see :mod:`segtool.core.masks`); image sizes are
``(width, height)`` attributes; arrays are ``(H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    """A category. ``color`` is ``(r, g, b)`` in 0..255."""

    id: int
    name: str
    color: tuple[int, int, int]


@dataclass
class Instance:
    """One object mask on one image.

    ``rle`` is compressed COCO RLE (``{"size": [H, W], "counts": str}``); ``bbox`` is its tight XYXY
    (exclusive) box and ``area`` its pixel count, both derived from ``rle`` by :meth:`from_mask`.
    ``z`` orders instances on an image (higher is drawn on top).
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

    @classmethod
    def from_mask(cls, mask: np.ndarray, *, id: int, image_id: int, class_id: int | None, **kw: Any) -> Instance:
        """Build an instance from a bool ``(H, W)`` mask (bbox and area are computed)."""
        bbox = masks.mask_bbox(mask) or (0, 0, 0, 0)
        return cls(id=id, image_id=image_id, class_id=class_id, rle=masks.encode_rle(mask),
                   bbox=bbox, area=int(np.count_nonzero(mask)), **kw)

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
