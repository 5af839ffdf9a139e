"""COCO instance segmentation: export from core data, import with complete validation.

Export (:func:`build_coco`): categories are the label classes (``id`` = class id), images keep
their project ids and relative ``file_name``; annotations are listed per image bottom to top
(z-order) and numbered 1..N in that order, so an unchanged project always exports the same ids
and export -> import -> export reproduces the file even when the project has gaps in its ids. ``bbox`` is COCO ``[x, y, w, h]``,
``area`` the mask's pixel count, ``iscrowd`` 0. Segmentation modes:

- ``rle``: compressed RLE ``{"size": [H, W], "counts": str}`` -- exact.
- ``polygon``: polygons (traced on pixel edges, so pycocotools rasterises them back exactly);
  a mask with holes, which a COCO polygon cannot hold, is written as RLE instead (never dropped).
- ``auto``: polygons for masks without holes, RLE for masks with holes.

Import (:func:`load_coco`): polygons, compressed and uncompressed RLE; every problem (malformed
JSON, unknown image or category ids, unsafe ``file_name``, RLE size unlike the image, polygons
with fewer than 3 points, ...) is collected and the first ones raised as one
:class:`~segtool.core.errors.FormatError`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from segtool.core import masks
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.io.common import (
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    mask_to_coco_polygons,
    safe_relpath,
)

SEGMENTATION_MODES = ("rle", "polygon", "auto")


@dataclass
class CocoStats:
    """What an export wrote: counts per segmentation kind and what was left out."""

    images: int = 0
    annotations: int = 0
    rle: int = 0
    polygons: int = 0
    holes_kept_as_rle: int = 0
    skipped_unlabelled: int = 0


def coco_categories(classes: Sequence[LabelClass]) -> list[dict]:
    """COCO ``categories`` for the label classes (id = class id, with the class colour)."""
    return [{"id": int(c.id), "name": c.name, "supercategory": "", "color": [int(v) for v in c.color]}
            for c in sorted(classes, key=lambda c: c.id)]


def coco_annotation(inst: Instance, segmentation: str, stats: CocoStats) -> dict:
    """One COCO annotation dict for an instance (see the module docstring for ``segmentation``)."""
    seg: Any = {"size": [int(v) for v in inst.rle["size"]], "counts": inst.rle["counts"]}
    if segmentation != "rle":
        polygons, has_holes = mask_to_coco_polygons(inst.mask())
        if has_holes or not polygons:
            stats.holes_kept_as_rle += int(has_holes)
        else:
            seg = polygons
    if isinstance(seg, dict):
        stats.rle += 1
    else:
        stats.polygons += 1
    ann = {"id": int(inst.id), "image_id": int(inst.image_id), "category_id": int(inst.class_id),
           "segmentation": seg, "area": int(inst.area), "bbox": masks.bbox_xywh(inst.bbox), "iscrowd": 0}
    if inst.score is not None:
        ann["score"] = float(inst.score)
    if inst.attributes:
        ann["attributes"] = inst.attributes
    return ann


def build_coco(classes: Sequence[LabelClass], items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *,
               segmentation: str = "rle", date: str | None = None,
               description: str = "exported by segtool") -> tuple[dict, CocoStats]:
    """Build a COCO dataset dict.

    Parameters
    ----------
    classes
        All label classes (categories), in any order.
    items
        ``(image, instances)`` pairs; only ``accepted`` instances with a class are written, in
        ascending ``z`` then id.
    segmentation
        ``"rle"``, ``"polygon"`` or ``"auto"``.
    date
        ISO date for ``info.date_created`` (default: now).
    """
    if segmentation not in SEGMENTATION_MODES:
        raise FormatError(f"unknown segmentation mode {segmentation!r}; use one of {SEGMENTATION_MODES}")
    stats = CocoStats()
    images: list[dict] = []
    annotations: list[dict] = []
    for record, instances in items:
        images.append({"id": int(record.id), "file_name": record.path,
                       "width": int(record.width), "height": int(record.height)})
        for inst in sorted(instances, key=lambda i: (i.z, i.id)):
            if inst.state != "accepted":
                continue
            if inst.class_id is None:
                stats.skipped_unlabelled += 1
                continue
            ann = coco_annotation(inst, segmentation, stats)
            ann["id"] = len(annotations) + 1
            annotations.append(ann)
    stats.images, stats.annotations = len(images), len(annotations)
    info = {"description": description, "version": "1.0",
            "date_created": date or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return {"info": info, "licenses": [], "images": images, "annotations": annotations,
            "categories": coco_categories(classes)}, stats


def save_json(data: dict, path: str | Path) -> None:
    """Write a dataset dict as UTF-8 JSON (compact, ``ensure_ascii=False``), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; malformed JSON becomes a :class:`FormatError` with the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read {path}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_categories(data: list, problems: Problems) -> dict[int, tuple[str, tuple[int, int, int] | None]]:
    out: dict[int, tuple[str, tuple[int, int, int] | None]] = {}
    names: set[str] = set()
    for i, cat in enumerate(data):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")) or not isinstance(cat.get("name"), str) \
                or not cat["name"].strip():
            problems.add(f"categories[{i}] needs an integer id and a non-empty name")
            continue
        name = cat["name"].strip()
        if cat["id"] in out or name in names:
            problems.add(f"categories[{i}]: duplicate id {cat['id']} or name {name!r}")
            continue
        color = cat.get("color")
        ok = isinstance(color, list) and len(color) == 3 and all(_is_int(c) and 0 <= c <= 255 for c in color)
        out[cat["id"]] = (name, tuple(color) if ok else None)  # type: ignore[arg-type]
        names.add(name)
    return out


def _parse_images(data: list, problems: Problems) -> dict[int, ImportedImage]:
    out: dict[int, ImportedImage] = {}
    seen: set[str] = set()
    for i, img in enumerate(data):
        if not isinstance(img, dict) or not _is_int(img.get("id")):
            problems.add(f"images[{i}] needs an integer id")
            continue
        rel = safe_relpath(img.get("file_name"))
        if rel is None:
            problems.add(f"images[{i}] file_name {img.get('file_name')!r} must be a relative path inside the "
                         "project folder (no '..', not absolute)")
            continue
        w, h = img.get("width"), img.get("height")
        if not (_is_int(w) and _is_int(h) and w > 0 and h > 0):
            problems.add(f"images[{i}] ({rel}) needs positive integer width and height")
            continue
        if img["id"] in out or rel in seen:
            problems.add(f"images[{i}]: duplicate id {img['id']} or file_name {rel!r}")
            continue
        out[img["id"]] = ImportedImage(rel, int(w), int(h))
        seen.add(rel)
    return out


def segmentation_to_rle(seg: Any, height: int, width: int) -> tuple[dict | None, str | None]:
    """Convert a COCO ``segmentation`` (polygons, compressed or uncompressed RLE) to compressed RLE.

    Returns ``(rle, None)`` or ``(None, reason)``; ``rle`` has ``str`` counts and size ``[height, width]``.
    """
    if isinstance(seg, list):
        if not seg or not all(isinstance(p, list) for p in seg):
            return None, "segmentation must be a non-empty list of polygons"
        for p in seg:
            if len(p) < 6 or len(p) % 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   and math.isfinite(v) for v in p):
                return None, f"polygon with fewer than 3 points or non-numeric coordinates ({len(p)} values)"
        rle = coco_mask.merge(coco_mask.frPyObjects([[float(v) for v in p] for p in seg], height, width))
    elif isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
            return None, "RLE needs size [height, width]"
        if [int(size[0]), int(size[1])] != [height, width]:
            return None, f"mask size {size[0]}x{size[1]} (HxW) does not match the image {height}x{width}"
        if isinstance(counts, list):
            if not all(_is_int(v) and v >= 0 for v in counts) or sum(counts) != height * width:
                return None, f"uncompressed RLE counts must be non-negative and sum to {height * width}"
            rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        elif isinstance(counts, str):
            runs = rle_string_to_counts(counts)
            if runs is None or sum(runs) != height * width:
                return None, f"compressed RLE is corrupt (its runs do not cover {height}x{width} pixels)"
            rle = {"size": [height, width], "counts": counts.encode("ascii")}
        else:
            return None, "RLE counts must be a string or a list of integers"
    else:
        return None, "segmentation must be a list of polygons or an RLE dict"
    counts = rle["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}, None


def rle_string_to_counts(text: str) -> list[int] | None:
    """Decode COCO's compressed RLE string (pycocotools' ``rleFrString``) to run lengths, or ``None`` if corrupt.

    Vectorised with numpy: 6-bit little-endian groups (``0x20`` = more follows, ``0x10`` of the last
    character = negative), runs from the third on stored as differences to the run two before.
    """
    try:
        data = np.frombuffer(text.encode("ascii"), np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        return None
    if data.size == 0:
        return []
    if data.min() < 0 or data.max() > 63 or data[-1] & 0x20:
        return None
    ends = np.flatnonzero((data & 0x20) == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    shift = np.arange(data.size) - np.repeat(starts, ends - starts + 1)
    x = np.add.reduceat((data & 0x1F) << (5 * shift), starts)
    negative = (data[ends] & 0x10) != 0
    x[negative] |= -1 << (5 * (shift[ends][negative] + 1))
    counts = x.copy()
    counts[1::2] = np.cumsum(x[1::2])
    counts[2::2] = np.cumsum(x[2::2])
    if counts.min() < 0:
        return None
    return counts.tolist()


def load_coco(path: str | Path) -> ImportedDataset:
    """Read and validate a COCO instances file.

    Returns
    -------
    ImportedDataset
        Categories in file order, images in file order with their annotations (compressed RLE,
        the image's size). Annotations with ``iscrowd`` 1 are imported like the others.

    Raises
    ------
    FormatError
        Malformed JSON or any inconsistency; the message lists the first problems.
    """
    path = Path(path)
    data = read_json(path)
    problems = Problems(str(path))
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise FormatError(f"{path} is not a COCO file: it needs 'images' and 'categories' lists")
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        raise FormatError(f"{path}: 'annotations' must be a list")
    cats = _parse_categories(data["categories"], problems)
    images = _parse_images(data["images"], problems)
    for i, ann in enumerate(anns):
        _parse_annotation(i, ann, images, cats, problems)
    problems.raise_if_any()
    return ImportedDataset(source=str(path), categories=list(cats.values()), images=list(images.values()))


def _parse_annotation(i: int, ann: Any, images: dict[int, ImportedImage],
                      cats: dict[int, tuple[str, Any]], problems: Problems) -> None:
    if not isinstance(ann, dict):
        problems.add(f"annotations[{i}] is not an object")
        return
    image = images.get(ann.get("image_id")) if _is_int(ann.get("image_id")) else None
    if image is None:
        problems.add(f"annotations[{i}] points at missing image id {ann.get('image_id')!r}")
        return
    cat = cats.get(ann.get("category_id")) if _is_int(ann.get("category_id")) else None
    if cat is None:
        problems.add(f"annotations[{i}] has unknown category id {ann.get('category_id')!r}")
        return
    rle, reason = segmentation_to_rle(ann.get("segmentation"), image.height, image.width)
    if rle is None:
        problems.add(f"annotations[{i}] ({image.file_name}): {reason}")
        return
    score = ann.get("score")
    attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
    image.annotations.append(ImportedAnnotation(cat[0], rle, float(score) if isinstance(score, (int, float))
                                                and not isinstance(score, bool) else None, dict(attrs)))
