"""Helpers the dataset readers share: where an image named by a dataset lies in the project, and
polygons to masks.

Every path taken from a dataset is checked with :class:`~segtool.core.safe_paths.RelPath` (no
absolute paths, no ``..``, links may not lead out of their root) before it is used.
Coordinates: polygons are flat ``[x1, y1, x2, y2, ...]`` in pixels (COCO's convention: pixel
``(i, j)`` covers ``[i, i+1) x [j, j+1)``); masks are bool ``(H, W)`` arrays.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from segtool.core.errors import UnsafePathError
from segtool.core.safe_paths import RelPath
from segtool.io.common import polygon_problem
from segtool.io.images import IMAGE_EXTENSIONS

#: Most vertices accepted in one polygon read from a dataset (a guard before pycocotools).
MAX_POLYGON_POINTS = 1_000_000


def project_rel(file: str | os.PathLike, root: str | os.PathLike) -> RelPath | None:
    """``file`` as a :class:`RelPath` relative to the project folder ``root``, or ``None`` when it
    lies outside it (after resolving links)."""
    base = Path(os.path.realpath(root))
    full = Path(os.path.realpath(file))
    try:
        rel = full.relative_to(base)
    except ValueError:
        return None
    try:
        return RelPath(rel.as_posix(), "image path")
    except UnsafePathError:
        return None


def image_beside(folder: Path, stem: str) -> Path | None:
    """The image file ``folder/<stem>.<image suffix>`` (any case of suffix), or ``None``."""
    for suffix in sorted(IMAGE_EXTENSIONS):
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def resolve_named_image(name: object, bases: Iterable[Path], root: Path, what: str) -> RelPath:
    """The project-relative path of the image a dataset calls ``name``.

    ``name`` must be a safe relative path (:class:`RelPath`); it is looked up under each of
    ``bases`` in turn (folders such as the dataset's ``images/``), confined to that base.

    Raises
    ------
    UnsafePathError
        ``name`` is unsafe, or the file found lies outside the project folder ``root``.
    FileNotFoundError
        No base holds the file.
    """
    rel = RelPath(name, what)
    for base in bases:
        full = rel.inside(base)
        if full.is_file():
            found = project_rel(full, root)
            if found is None:
                raise UnsafePathError(f"{what} {rel} lies outside the project folder {root}; copy the dataset "
                                      "into the project folder first")
            return found
    raise FileNotFoundError(rel)


def polygons_to_rle(polygons: Sequence[Sequence[float]], height: int, width: int) -> tuple[dict | None, str | None]:
    """Rasterise flat pixel polygons (their union) with pycocotools, as COCO does.

    Returns ``(rle, None)`` with ``str`` counts, or ``(None, reason)`` for polygons with fewer than 3
    points, non-finite or non-numeric coordinates, more than :data:`MAX_POLYGON_POINTS` vertices,
    vertices far outside the image or a total edge length no mask needs
    (:func:`segtool.io.common.polygon_problem`: pycocotools would allocate gigabytes for them).
    """
    clean = []
    for poly in polygons:
        if len(poly) < 6 or len(poly) % 2 or len(poly) > 2 * MAX_POLYGON_POINTS:
            return None, f"polygon with fewer than 3 points, an odd number of coordinates or too many ({len(poly)} values)"
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in poly):
            return None, "polygon with non-numeric or non-finite coordinates"
        clean.append([float(v) for v in poly])
    if not clean:
        return None, "no polygon"
    reason = polygon_problem(clean, width, height)
    if reason:
        return None, reason
    rle = coco_mask.merge(coco_mask.frPyObjects(clean, height, width))
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}, None


def box_to_rle(x0: float, y0: float, x1: float, y1: float, height: int, width: int) -> dict:
    """The mask of an axis-aligned box in pixel coordinates (edges), clipped to the image."""
    mask = np.zeros((height, width), bool)
    a, b = max(0, int(round(x0))), min(width, int(round(x1)))
    c, d = max(0, int(round(y0))), min(height, int(round(y1)))
    mask[c:d, a:b] = True
    rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}
