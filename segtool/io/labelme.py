"""labelme JSON import: polygons, rectangles, circles and masks become instances.

One labelme file describes one image (``imagePath`` relative to the JSON file, ``imageHeight``,
``imageWidth``, ``shapes``). Shapes with the same ``label`` and a non-null ``group_id`` form one
instance (labelme's convention for objects in several pieces). Line, line-strip and point
shapes carry no area: they are counted and named in the import's notes. As labelme's own
converters (labelme2voc, labelme2coco) read them: ``_background_`` shapes are background (no class,
not imported, counted) and ``__ignore__`` shapes are void: a void region (an instance without a
class marked crowd, VOC's 255 on export). A shape flag ``iscrowd`` (segtool's labelme export
writes it) marks a crowd region. A file whose image exists only as ``imageData`` brings the image
with it: it is written into the project folder (:mod:`segtool.io.labelme_images`) and added.
Every problem is collected; the first ones are raised as one
:class:`~segtool.core.errors.FormatError`.

Untrusted input: files are read by the untrusted-JSON loader; ``imagePath`` must lead inside the
project folder (after resolving links); ``imageHeight``/``imageWidth`` are checked against the pixel
limit before a canvas is allocated; vertices must be finite and near the image; ``group_id`` is an
integer or null; labels follow the class-name policy; an embedded mask PNG may not be larger than
the image (checked from its header).
"""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from segtool.core import masks
from segtool.core.errors import FormatError, UnsafePathError
from segtool.core.names import class_name_problem
from segtool.core.safe_paths import RelPath, describe, has_control_chars, is_valid_utf8
from segtool.core.untrusted_json import load_json
from segtool.io.common import (
    COORD_MARGIN,
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    declared_size_problem,
    points_problem,
)
from segtool.io.labelme_images import decode_image_data, place_embedded_image

#: Shape types without an area, skipped on import.
SKIPPED_SHAPES = ("line", "linestrip", "point", "points")
#: labelme's reserved labels (labelme2voc): the background, and void ("don't care") regions.
BACKGROUND, IGNORE = "_background_", "__ignore__"


def _points(shape: dict) -> np.ndarray | None:
    pts = shape.get("points")
    try:
        arr = np.asarray(pts, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        return None
    return arr


def shape_to_mask(shape: dict, height: int, width: int) -> tuple[np.ndarray | None, str | None]:
    """Rasterise one labelme shape to a bool ``(H, W)`` mask, as labelme itself does (PIL drawing).

    Returns ``(mask, None)``, ``(None, None)`` for shapes without area, or ``(None, reason)``.
    """
    kind = shape.get("shape_type") or "polygon"
    if kind in SKIPPED_SHAPES:
        return None, None
    pts = _points(shape)
    if pts is None:
        return None, "points must be a list of [x, y] finite numbers"
    reason = points_problem(pts, width, height)
    if reason:
        return None, reason
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    if kind == "polygon":
        if len(pts) < 3:
            return None, f"polygon with {len(pts)} point(s); at least 3 are needed"
        draw.polygon([tuple(p) for p in pts], outline=1, fill=1)
    elif kind == "rectangle" and len(pts) == 2:
        (x0, y0), (x1, y1) = np.sort(pts, axis=0)
        draw.rectangle([x0, y0, x1, y1], outline=1, fill=1)
    elif kind == "circle" and len(pts) == 2:
        r = math.dist(pts[0], pts[1])
        if r > COORD_MARGIN * max(width, height):
            return None, f"circle of radius {r:.6g} is far larger than the {width}x{height} image"
        cx, cy = pts[0]
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=1, fill=1)
    elif kind == "mask" and len(pts) == 2:
        return _mask_shape(shape, pts, height, width)
    else:
        return None, f"unsupported shape_type {describe(kind)} with {len(pts)} point(s)"
    return np.asarray(canvas, dtype=bool), None


def _mask_shape(shape: dict, pts: np.ndarray, height: int, width: int) -> tuple[np.ndarray | None, str | None]:
    try:
        with Image.open(io.BytesIO(base64.b64decode(shape.get("mask") or "", validate=True))) as im:
            if im.size[0] > width or im.size[1] > height:
                return None, f"mask of {im.size[0]}x{im.size[1]} pixels is larger than the {width}x{height} image"
            patch = np.asarray(im.convert("L")) > 0
    except Exception:  # noqa: BLE001 - base64 and Pillow raise many types for bad data
        return None, "mask shape without a readable base64 PNG"
    x0, y0 = (int(round(v)) for v in pts.min(axis=0))
    out = np.zeros((height, width), bool)
    h = max(0, min(patch.shape[0], height - y0))
    w = max(0, min(patch.shape[1], width - x0))
    if x0 < 0 or y0 < 0:
        return None, "mask shape starts outside the image"
    out[y0:y0 + h, x0:x0 + w] = patch[:h, :w]
    return out, None


def load_labelme(path: str | Path, root: str | Path) -> ImportedDataset:
    """Read one labelme JSON file or every ``*.json`` under a folder.

    Parameters
    ----------
    root
        The project folder; every ``imagePath`` (relative to its JSON file) must lie inside it and
        becomes the ``file_name`` relative to it.
    """
    path, root = Path(path), Path(root).resolve()
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files:
        raise FormatError(f"no labelme .json files under {path}")
    problems = Problems(str(path))
    dataset = ImportedDataset(source=str(path))
    categories: dict[str, None] = {}
    reader = _Reader(root, problems)
    for file in files:
        image = reader.load_one(file, load_json(file, what="labelme JSON file"))
        if image is not None:
            dataset.images.append(image)
            categories.update((a.category, None) for a in image.annotations if a.category is not None)
    problems.raise_if_any()
    dataset.categories = [(name, None) for name in categories]
    dataset.notes = reader.notes()
    return dataset


def _image_rel(file: Path, data: dict, root: Path) -> RelPath:
    """``imagePath`` (relative to the JSON file, ``..`` allowed) as a path relative to ``root``.

    Raises
    ------
    UnsafePathError
        Not text, absolute, NUL/control characters, invalid Unicode, or outside ``root`` (also
        through a link).
    """
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path.strip():
        raise UnsafePathError(f"imagePath {describe(image_path)} must name the image file")
    if not is_valid_utf8(image_path) or has_control_chars(image_path):
        raise UnsafePathError(f"imagePath {describe(image_path)} holds a NUL, a control character or invalid Unicode")
    text = image_path.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafePathError(f"imagePath {describe(image_path)} is absolute; labelme paths are relative to the "
                              "JSON file")
    full = Path(os.path.normpath(file.parent.resolve() / text))
    try:
        rel = RelPath(full.relative_to(root).as_posix(), "imagePath")
    except ValueError:
        raise UnsafePathError(f"imagePath {describe(image_path)} is not inside the project folder {root}") from None
    rel.inside(root)
    return rel


def _group_key(label: str, gid: Any, index: int) -> tuple[str, Any] | None:
    """Instances are grouped by ``(label, group_id)``; a shape without group is its own instance."""
    if gid is None:
        return (label, ("shape", index))
    if isinstance(gid, int) and not isinstance(gid, bool):
        return (label, gid)
    return None


class _Reader:
    """Reads the files of one import: counts what it leaves out, plans embedded images' names."""

    def __init__(self, root: Path, problems: Problems) -> None:
        self.root, self.problems = root, problems
        self.skipped: dict[str, int] = {}
        self.embedded = 0
        self.planned: dict[str, str] = {}

    def notes(self) -> list[str]:
        """One line per kind of shape left out, and the images written from ``imageData``."""
        out = [f"{n} {kind} shape(s) not imported (no area)" if kind != BACKGROUND else
               f"{n} {BACKGROUND} shape(s) not imported (background, not a class)"
               for kind, n in sorted(self.skipped.items())]
        if self.embedded:
            out.append(f"{self.embedded} image(s) written into the project folder from imageData")
        return out

    def image_of(self, file: Path, data: dict) -> ImportedImage | None:
        """The image ``file`` annotates: its embedded ``imageData`` when it has one (as labelme's
        own reader decides), placed in the project folder, else the file at ``imagePath``."""
        folder = None
        try:
            rel = _image_rel(file, data, self.root)
            if data.get("imageData") in (None, ""):
                return ImportedImage(rel, 0, 0)
            folder = (self.root / rel).parent
        except UnsafePathError as exc:
            if data.get("imageData") in (None, ""):
                self.problems.add(f"{file.name}: {exc}")
                return None
        raw, suffix = decode_image_data(data.get("imageData"))
        if raw is None:
            self.problems.add(f"{file.name}: {suffix}")
            return None
        try:
            rel, write = place_embedded_image(file, data.get("imagePath"), raw, suffix, self.root, self.planned,
                                              folder)
        except UnsafePathError as exc:
            self.problems.add(f"{file.name}: {exc}")
            return None
        self.embedded += write is not None
        return ImportedImage(rel, 0, 0, embedded=write)

    def load_one(self, file: Path, data: Any) -> ImportedImage | None:
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
            self.problems.add(f"{file.name}: not a labelme file (no 'shapes' list)")
            return None
        h, w = data.get("imageHeight"), data.get("imageWidth")
        reason = declared_size_problem(w, h)
        if reason:
            self.problems.add(f"{file.name}: imageWidth x imageHeight: {reason}")
            return None
        image = self.image_of(file, data)
        if image is None:
            return None
        image.width, image.height = w, h
        groups: dict[tuple[str, Any], tuple[np.ndarray, bool]] = {}
        for i, shape in enumerate(data["shapes"]):
            found = self._shape(file, i, shape, h, w)
            if found is not None:
                key, mask, crowd = found
                old = groups.get(key)
                groups[key] = (old[0] | mask, old[1] or crowd) if old else (mask, crowd)
        for (label, _), (mask, crowd) in groups.items():
            if mask.any():
                void = label == IGNORE
                image.annotations.append(ImportedAnnotation(None if void else label, masks.encode_rle(mask),
                                                            iscrowd=crowd or void))
        return image

    def _shape(self, file: Path, i: int, shape: Any, h: int, w: int) -> tuple[tuple[str, Any], np.ndarray, bool] | None:
        """``(group key, mask, crowd)`` of one shape, or ``None`` (a problem, or a shape left out)."""
        if not isinstance(shape, dict):
            self.problems.add(f"{file.name}: shapes[{i}] is not an object")
            return None
        label = shape.get("label")
        reason = class_name_problem(label)
        if reason:
            self.problems.add(f"{file.name}: shapes[{i}]: label: {reason}")
            return None
        key = _group_key(label, shape.get("group_id"), i)
        if key is None:
            self.problems.add(f"{file.name}: shapes[{i}] ({label}): group_id {describe(shape.get('group_id'))} "
                              "must be an integer or null")
            return None
        mask, reason = shape_to_mask(shape, h, w)
        if reason:
            self.problems.add(f"{file.name}: shapes[{i}] ({label}): {reason}")
            return None
        kind = BACKGROUND if label == BACKGROUND else str(shape.get("shape_type") or "polygon")
        if mask is None or label == BACKGROUND:
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
            return None
        flags = shape.get("flags")
        return key, mask, isinstance(flags, dict) and flags.get("iscrowd") is True
