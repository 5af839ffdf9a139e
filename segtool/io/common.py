"""Helpers shared by the dataset formats: problem collection, safe relative paths, splits, polygons.

Coordinates: polygons are flat ``[x1, y1, x2, y2, ...]`` lists in COCO's convention, where pixel
``(i, j)`` covers ``[i, i+1) x [j, j+1)``; masks are bool ``(H, W)`` arrays.
"""

from __future__ import annotations

import math
import posixpath
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from segtool.core.errors import FormatError

#: How many problems an import error lists before it summarises the rest.
MAX_LISTED_PROBLEMS = 10


@dataclass
class Problems:
    """Collects validation problems of one input; :meth:`raise_if_any` turns them into one error."""

    source: str
    limit: int = MAX_LISTED_PROBLEMS
    items: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, message: str) -> None:
        """Record one problem (only the first :attr:`limit` are kept verbatim)."""
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(message)

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        """Raise :class:`FormatError` listing the first problems, if any were recorded."""
        if not self.total:
            return
        more = f"; ... and {self.total - len(self.items)} more" if self.total > len(self.items) else ""
        raise FormatError(f"{self.source}: {self.total} problem(s), nothing was imported: "
                          + "; ".join(self.items) + more)


def safe_relpath(name: object) -> str | None:
    """Normalise an image path that must stay inside the project folder.

    Returns the POSIX relative path, or ``None`` when ``name`` is not a non-empty string, is absolute
    (``/x``, ``C:\\x``, ``\\\\server``) or climbs out with ``..``.
    """
    if not isinstance(name, str) or not name.strip():
        return None
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return None
    norm = posixpath.normpath(text)
    if norm == "." or norm.startswith("../") or norm == ".." or "/../" in f"/{norm}/":
        return None
    return norm


def split_names(keys: Sequence[str], fractions: dict[str, float] | None, seed: int = 0) -> dict[str, str]:
    """Assign every key to a split: ``{"val": 0.2}`` puts a seeded random 20 % in ``val``, the rest in ``train``.

    The result only depends on the set of keys, the fractions and the seed (keys are sorted first).
    """
    ordered = sorted(keys)
    if not fractions:
        return {k: "train" for k in ordered}
    total = sum(fractions.values())
    if any(v < 0 for v in fractions.values()) or total > 1.0 + 1e-9:
        raise FormatError(f"split fractions must be >= 0 and sum to at most 1, got {fractions}")
    rng = random.Random(seed)
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    out: dict[str, str] = {}
    start = 0
    for name, frac in fractions.items():
        n = int(round(frac * len(shuffled)))
        for k in shuffled[start:start + n]:
            out[k] = name
        start += n
    for k in shuffled[start:]:
        out[k] = "train"
    return {k: out[k] for k in ordered}


def parse_split(text: str | None) -> dict[str, float] | None:
    """Parse ``"val=0.2"`` or ``"val=0.1,test=0.1"`` into ``{"val": 0.2}`` (``None`` stays ``None``)."""
    if not text:
        return None
    out: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            frac = float(value)
        except ValueError:
            frac = math.nan
        if not name.strip() or not (0.0 <= frac <= 1.0) or name.strip() == "train":
            raise FormatError(f"bad --split {text!r}: use NAME=FRACTION, e.g. val=0.2 (train gets the rest)")
        out[name.strip()] = frac
    return out


def mask_to_coco_polygons(mask: np.ndarray) -> tuple[list[list[float]], bool]:
    """Outer rings of a bool ``(H, W)`` mask as COCO polygons that pycocotools rasterises back exactly.

    Rings are traced on a 2x nearest-neighbour upsampling of the bbox crop, so vertices lie on pixel
    edges; a polygon with fewer than 3 vertices (a 1-pixel sliver) is padded by repetition.

    Returns
    -------
    polygons, has_holes
        Flat ``[x1, y1, ...]`` lists (pixel-edge coordinates) and whether the mask had holes (which
        polygons cannot represent).
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return [], False
    cols = np.flatnonzero(mask.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    crop = mask[y0:int(rows[-1]) + 1, x0:int(cols[-1]) + 1].astype(np.uint8)
    up = np.kron(crop, np.ones((2, 2), np.uint8))
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    has_holes = hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())
    polygons = []
    for i, contour in enumerate(contours):
        if hierarchy[0][i][3] >= 0:
            continue
        pts = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0 + (x0, y0)
        flat = [round(float(v), 2) for v in pts.ravel()]
        while len(flat) < 6:
            flat = flat + flat[:2]
        polygons.append(flat)
    return polygons, has_holes


def voc_palette() -> np.ndarray:
    """The Pascal VOC colour map: ``uint8`` array ``(256, 3)`` (index 0 black, 255 ``(224, 224, 192)``)."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


@dataclass
class ImportedAnnotation:
    """One object read from a dataset file: its category name and compressed COCO RLE (``str`` counts).

    ``iscrowd`` marks a crowd region (COCO ``iscrowd: 1``, a Cityscapes/Datumaro ``is_crowd`` mask).
    ``category`` ``None``: an instance without a class (SA-1B masks).
    """

    category: str | None
    rle: dict
    score: float | None = None
    attributes: dict = field(default_factory=dict)
    iscrowd: bool = False


@dataclass
class ImportedImage:
    """One image of a dataset file. ``file_name`` is POSIX and relative to the project folder."""

    file_name: str
    width: int
    height: int
    annotations: list[ImportedAnnotation] = field(default_factory=list)


@dataclass
class ImportedDataset:
    """What an importer validated: categories (name, optional ``(r, g, b)``) and images, in file order."""

    source: str
    categories: list[tuple[str, tuple[int, int, int] | None]] = field(default_factory=list)
    images: list[ImportedImage] = field(default_factory=list)
    #: Category name -> its id in the source (COCO ``category_id``, YOLO index), kept on the class.
    source_ids: dict[str, int] = field(default_factory=dict)
    #: What was read but not imported, one line each ("3 bbox-only annotations skipped ...").
    notes: list[str] = field(default_factory=list)

    @property
    def annotation_count(self) -> int:
        """Total number of annotations over all images."""
        return sum(len(im.annotations) for im in self.images)
