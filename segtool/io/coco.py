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
:class:`~segtool.core.errors.FormatError`. The file is read by the untrusted-JSON loader (size and
depth limits; an image given as a COCO file is "not a COCO JSON file"); declared sizes, polygon
coordinates and RLE strings are validated before pycocotools sees them (it segfaults on 3e9, 1e308
or RLE runs that do not add up); category names follow the class-name policy.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycocotools import mask as coco_mask

from segtool.core import masks
from segtool.core.atomic import as_segtool_error, write_text
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, UnsafePathError
from segtool.core.names import class_name_problem
from segtool.core.rle import rle_problem, string_to_counts
from segtool.core.safe_paths import RelPath, describe
from segtool.core.untrusted_json import load_json
from segtool.io.common import (
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    declared_size_problem,
    mask_to_coco_polygons,
    polygon_problem,
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


def category_ids(classes: Sequence[LabelClass]) -> dict[int, int]:
    """Class id -> COCO category id: the classes' source ids when every class has one and they are
    distinct (a COCO -> segtool -> COCO round trip keeps labelme2coco's ids 0..15), else class ids."""
    sources = [c.source_id for c in classes]
    if classes and None not in sources and len(set(sources)) == len(sources):
        return {c.id: int(c.source_id) for c in classes}  # type: ignore[arg-type]
    return {c.id: int(c.id) for c in classes}


def coco_categories(classes: Sequence[LabelClass]) -> list[dict]:
    """COCO ``categories`` for the label classes (ids from :func:`category_ids`, with the class colour)."""
    ids = category_ids(classes)
    return [{"id": ids[c.id], "name": c.name, "supercategory": "", "color": [int(v) for v in c.color]}
            for c in sorted(classes, key=lambda c: ids[c.id])]


def coco_annotation(inst: Instance, segmentation: str, stats: CocoStats) -> dict:
    """One COCO annotation dict for an instance (see the module docstring for ``segmentation``)."""
    seg: Any = {"size": [int(v) for v in inst.rle["size"]], "counts": inst.rle["counts"]}
    if segmentation != "rle" and not inst.iscrowd:  # a crowd region is always RLE, as COCO has it
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
           "segmentation": seg, "area": int(inst.area), "bbox": masks.bbox_xywh(inst.bbox),
           "iscrowd": int(bool(inst.iscrowd))}
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
    ids = category_ids(classes)
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
            ann["category_id"] = ids.get(inst.class_id, inst.class_id)
            annotations.append(ann)
    stats.images, stats.annotations = len(images), len(annotations)
    info = {"description": description, "version": "1.0",
            "date_created": date or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return {"info": info, "licenses": [], "images": images, "annotations": annotations,
            "categories": coco_categories(classes)}, stats


def save_json(data: dict, path: str | Path, *, durable: bool = True) -> None:
    """Write a dataset dict as UTF-8 JSON (compact, ``ensure_ascii=False``) atomically, creating parent folders.

    Raises
    ------
    FormatError
        The data holds NaN/infinity or text that is not valid Unicode (strict JSON cannot hold them).
    SegtoolError
        The file cannot be written (disk full, permission denied); ``path`` is then unchanged.
    """
    path = Path(path)
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise FormatError(f"cannot write {path}: {str(exc)[:120]} (nothing was written)") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise as_segtool_error(exc, path.parent, "create") from None
    write_text(path, text, durable=durable)


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """Parse an untrusted JSON file (:func:`segtool.core.untrusted_json.load_json`: size and depth limits)."""
    return load_json(path, what=what)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_categories(data: list, problems: Problems) -> dict[int, tuple[str, tuple[int, int, int] | None]]:
    out: dict[int, tuple[str, tuple[int, int, int] | None]] = {}
    names: set[str] = set()
    for i, cat in enumerate(data):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            problems.add(f"categories[{i}] needs an integer id and a name")
            continue
        name = cat.get("name")
        reason = class_name_problem(name)
        if reason:
            problems.add(f"categories[{i}]: {reason}")
            continue
        if cat["id"] in out or name in names:
            problems.add(f"categories[{i}]: duplicate id {cat['id']} or name {describe(name)}")
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
        try:
            rel = RelPath(img.get("file_name"), "file_name")
        except UnsafePathError as exc:
            problems.add(f"images[{i}]: {exc}")
            continue
        w, h = img.get("width"), img.get("height")
        reason = declared_size_problem(w, h)
        if reason:
            problems.add(f"images[{i}] ({rel}): {reason}")
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
        reason = polygon_problem(seg, width, height)
        if reason:
            return None, reason
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
            reason = rle_problem(counts, height, width)
            if reason:
                return None, f"compressed RLE: {reason}"
            rle = {"size": [height, width], "counts": counts.encode("ascii")}
        else:
            return None, "RLE counts must be a string or a list of integers"
    else:
        return None, "segmentation must be a list of polygons or an RLE dict"
    counts = rle["counts"]
    return {"size": [height, width], "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}, None


def rle_string_to_counts(text: str) -> list[int] | None:
    """Run lengths of COCO's compressed RLE string, or ``None`` if it is corrupt
    (:func:`segtool.core.rle.string_to_counts`)."""
    return string_to_counts(text)


def load_coco(path: str | Path, *, boxes: str = "skip") -> ImportedDataset:
    """Read and validate a COCO instances file.

    Annotations with only a ``bbox`` are counted and skipped (``boxes="mask"``: imported as box
    masks); keypoints and captions are counted as not imported; a panoptic file is refused with a
    pointer to ``--format datumaro:coco_panoptic``.

    Returns
    -------
    ImportedDataset
        Categories in file order (their ids kept as source ids), images in file order with their
        annotations (compressed RLE, the image's size; ``iscrowd`` 1 kept on the annotation).

    Raises
    ------
    FormatError
        Malformed JSON or any inconsistency; the message lists the first problems.
    """
    path = Path(path)
    data = load_json(path, what="COCO JSON file")
    problems = Problems(str(path))
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise FormatError(f"{path}: not a COCO JSON file (it needs 'images' and 'categories' lists)")
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        raise FormatError(f"{path}: 'annotations' must be a list")
    if any(isinstance(a, dict) and "segments_info" in a for a in anns[:50]):
        raise FormatError(f"{path}: COCO panoptic: use --format datumaro:coco_panoptic")
    cats = _parse_categories(data["categories"], problems)
    images = _parse_images(data["images"], problems)
    counts = {"bbox": 0, "keypoints": 0, "caption": 0}
    for i, ann in enumerate(anns):
        _parse_annotation(i, ann, images, cats, problems, boxes, counts)
    problems.raise_if_any()
    dataset = ImportedDataset(source=str(path), categories=list(cats.values()), images=list(images.values()),
                              source_ids={name: cid for cid, (name, _) in cats.items()})
    if counts["bbox"]:
        dataset.notes.append(f"{counts['bbox']} bbox-only annotation(s) imported as box masks" if boxes == "mask"
                             else f"{counts['bbox']} bbox-only annotation(s) skipped (import them as box masks "
                             "with --boxes mask)")
    if counts["keypoints"]:
        dataset.notes.append(f"keypoints of {counts['keypoints']} annotation(s) not imported (segtool keeps masks)")
    if counts["caption"]:
        dataset.notes.append(f"{counts['caption']} caption(s) not imported")
    return dataset


def _bbox_only(ann: dict, image: ImportedImage, boxes: str, counts: dict[str, int]) -> dict | None | str:
    """For an annotation without a segmentation: its box mask (``boxes="mask"``), ``None`` (skipped
    and counted) or the reason it is bad."""
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                              and math.isfinite(v) for v in bbox)):
        return "segmentation missing and no valid bbox [x, y, w, h]"
    counts["bbox"] += 1
    if boxes != "mask":
        return None
    x, y, w, h = (float(v) for v in bbox)
    from segtool.io.dataset_files import box_to_rle

    return box_to_rle(x, y, x + w, y + h, image.height, image.width)


def _parse_annotation(i: int, ann: Any, images: dict[int, ImportedImage], cats: dict[int, tuple[str, Any]],
                      problems: Problems, boxes: str = "skip", counts: dict[str, int] | None = None) -> None:
    counts = counts if counts is not None else {"bbox": 0, "keypoints": 0, "caption": 0}
    if not isinstance(ann, dict):
        problems.add(f"annotations[{i}] is not an object")
        return
    if "caption" in ann and "segmentation" not in ann:
        counts["caption"] += 1
        return
    counts["keypoints"] += int(bool(ann.get("keypoints")))
    image = images.get(ann.get("image_id")) if _is_int(ann.get("image_id")) else None
    if image is None:
        problems.add(f"annotations[{i}] points at missing image id {ann.get('image_id')!r}")
        return
    cat = cats.get(ann.get("category_id")) if _is_int(ann.get("category_id")) else None
    if cat is None:
        problems.add(f"annotations[{i}] has unknown category id {ann.get('category_id')!r}")
        return
    if ann.get("segmentation") in (None, []):
        box = _bbox_only(ann, image, boxes, counts)
        if isinstance(box, str):
            problems.add(f"annotations[{i}] ({image.file_name}): {box}")
        if isinstance(box, dict):
            image.annotations.append(ImportedAnnotation(cat[0], box, iscrowd=ann.get("iscrowd") == 1))
        return
    rle, reason = segmentation_to_rle(ann.get("segmentation"), image.height, image.width)
    if rle is None:
        problems.add(f"annotations[{i}] ({image.file_name}): {reason}")
        return
    score = ann.get("score")
    if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool)
                                  and math.isfinite(score)):
        problems.add(f"annotations[{i}] ({image.file_name}): score {describe(score)} must be a finite number")
        return
    attrs = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
    image.annotations.append(ImportedAnnotation(cat[0], rle, None if score is None else float(score), dict(attrs),
                                                iscrowd=ann.get("iscrowd") == 1))
