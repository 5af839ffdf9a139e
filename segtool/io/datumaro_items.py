"""How the Datumaro bridge reads one :class:`datumaro.DatasetItem` into segtool annotations.

Polygons (and boxes with ``boxes="mask"``) become masks through Datumaro's own converters
(``PolygonsToMasks.convert_polygon``, ``BoxesToMasks.convert_bbox``), after their vertices are
checked as every outside polygon is (:func:`segtool.io.common.polygon_problem`). The same object
given twice is kept once (see :mod:`segtool.io.datumaro_bridge`): a polygon or box with the label
and id/group of a mask of the item, and a mask that is exactly the union of other masks of its
label. In index-map formats a mask labelled as the map's background is not an object.

What is left out is counted in ``counts`` (kind -> number), which the bridge turns into notes.
Masks are bool ``(H, W)``; bboxes XYXY with exclusive ends.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segtool.core import masks
from segtool.core.names import class_name_problem
from segtool.io.common import ImportedAnnotation, ImportedImage, Problems, polygon_problem
from segtool.io.dataset_files import project_rel
from segtool.io.images import probe_image

#: Label names an index-map format uses for "no object here".
BACKGROUND_NAMES = frozenset({"background", "_background_", "unlabeled", "unlabelled", "void"})
#: Datumaro formats that read index maps (their background comes back as a mask).
INDEX_MAP_FORMATS = ("ade20k", "camvid", "cityscapes", "common_semantic_segmentation", "kitti",
                     "mapillary_vistas", "mvtec_segmentation", "synthia", "voc")

REPEATED_OUTLINE = "repeated outline"
CLASS_LAYER = "class layer"
BACKGROUND = "background"
EMPTY = "empty mask"
#: The note of each kind of left-out annotation the reader counts itself (``{n}``: how many).
NOTES = {REPEATED_OUTLINE: "{n} polygon(s) outlining an object already read as a mask not imported (kept once)",
         CLASS_LAYER: "{n} class-level mask(s) repeating the instances of their class not imported (kept once)",
         BACKGROUND: "{n} background region(s) of the index maps not imported (no object there)",
         EMPTY: "{n} empty mask(s) not imported"}


def note(kind: str, n: int) -> str:
    """One line saying what was left out (``kind``: a key of ``counts``, a Datumaro annotation type name)."""
    if kind in NOTES:
        return NOTES[kind].format(n=n)
    hint = " (import them as box masks with --boxes mask)" if kind == "bbox" else ""
    return f"{n} {kind} annotation(s) not imported{hint}"


def reads_index_maps(fmt: str) -> bool:
    """Whether Datumaro's importer ``fmt`` reads index maps (``kitti_segmentation``, ``voc``...)."""
    return fmt.startswith(INDEX_MAP_FORMATS)


def _label_name(ann, labels) -> str | None:
    if ann.label is None or not (0 <= ann.label < len(labels)):
        return None
    return labels[ann.label].name


def _key(ann) -> tuple:
    return ann.label, ann.id, ann.group


def _outlines_to_masks(item, boxes: str, problems: Problems, counts: dict[str, int]) -> list[tuple[object, bool]]:
    """``(mask annotation, from an outline)`` for the item's masks, polygons and ellipses (and boxes,
    ``boxes="mask"``), bottom to top; other annotations are counted."""
    from datumaro.components.annotation import AnnotationType
    from datumaro.plugins.transforms import BoxesToMasks, PolygonsToMasks

    out = []
    for ann in sorted(item.annotations, key=lambda a: getattr(a, "z_order", 0)):
        kind = ann.type
        if kind == AnnotationType.mask:
            out.append((ann, False))
            continue
        if not (kind in (AnnotationType.polygon, AnnotationType.ellipse)
                or (kind == AnnotationType.bbox and boxes == "mask")):
            counts[kind.name] = counts.get(kind.name, 0) + 1
            continue
        h, w = item.media.size
        reason = polygon_problem([[float(v) for v in ann.as_polygon()]], w, h)
        if reason:
            problems.add(f"item {item.id!r}: {kind.name}: {reason}")
            continue
        out.append((BoxesToMasks.convert_bbox(ann, h, w) if kind == AnnotationType.bbox
                    else PolygonsToMasks.convert_polygon(ann, h, w), True))
    return out


def _repeats_a_mask(k: int, arrays: list[np.ndarray], keys: list[tuple], outline: list[bool]) -> bool:
    """Whether outline ``k`` has the label and id/group of a mask of the item and overlaps it mostly
    (IoU >= 0.5: the same object outlined again, as ADE20K gives it)."""
    return any(not outline[j] and keys[j] == keys[k] and masks.mask_iou(arrays[j], arrays[k]) >= 0.5
               for j in range(len(arrays)))


def _is_union_of_others(k: int, arrays: list[np.ndarray], boxes: list, labels: list, kept: list[bool]) -> bool:
    """Whether mask ``k`` equals the union of the other kept masks of its label lying inside its bbox."""
    x0, y0, x1, y1 = boxes[k]
    inside = [j for j in range(len(arrays)) if j != k and kept[j] and labels[j] == labels[k] and boxes[j] is not None
              and boxes[j][0] >= x0 and boxes[j][1] >= y0 and boxes[j][2] <= x1 and boxes[j][3] <= y1]
    if not inside:
        return False
    union = np.zeros((y1 - y0, x1 - x0), bool)
    for j in inside:
        union |= arrays[j][y0:y1, x0:x1]
    return bool(np.array_equal(union, arrays[k][y0:y1, x0:x1]))


def _drop_class_layers(arrays: list[np.ndarray], labels: list, counts: dict[str, int]) -> list[bool]:
    """Which masks to keep: a labelled mask equal to the union of other masks of its label is a
    class-level layer of the same objects (ADE20K's class map beside its instance masks)."""
    boxes = [masks.mask_bbox(a) for a in arrays]
    kept = [b is not None for b in boxes]
    if not all(kept):
        counts[EMPTY] = counts.get(EMPTY, 0) + kept.count(False)
    for k in range(len(arrays)):
        if kept[k] and labels[k] is not None and _is_union_of_others(k, arrays, boxes, labels, kept):
            kept[k] = False
            counts[CLASS_LAYER] = counts.get(CLASS_LAYER, 0) + 1
    return kept


def read_item(item, labels, root: Path, problems: Problems, counts: dict[str, int], *, boxes: str = "skip",
              index_maps: bool = False) -> ImportedImage | None:
    """One Datumaro item as an :class:`ImportedImage` (``None`` and a problem when it cannot be).

    ``index_maps``: the format reads index maps, so masks labelled with a :data:`BACKGROUND_NAMES`
    name are the map's background (counted, not imported).
    """
    path = getattr(item.media, "path", None)
    rel = project_rel(path, root) if path else None
    if rel is None:
        problems.add(f"item {item.id!r}: its image {path!r} is not inside the project folder {root}")
        return None
    arrays, names, crowd, keys, outline = [], [], [], [], []
    for ann, from_outline in _outlines_to_masks(item, boxes, problems, counts):
        label = _label_name(ann, labels)
        if label is not None and class_name_problem(label):
            problems.add(f"item {item.id!r}: label {label!r}: {class_name_problem(label)}")
            continue
        if index_maps and label is not None and label.lower() in BACKGROUND_NAMES:
            counts[BACKGROUND] = counts.get(BACKGROUND, 0) + 1
            continue
        mask = np.asarray(ann.image).astype(bool)
        if mask.ndim != 2 or (arrays and mask.shape != arrays[0].shape):
            problems.add(f"item {item.id!r}: a mask of shape {mask.shape}"
                         + (f" beside masks of shape {arrays[0].shape}" if arrays else ""))
            continue
        arrays.append(mask)
        names.append(label)
        crowd.append(bool(ann.attributes.get("is_crowd")))
        keys.append(_key(ann))
        outline.append(from_outline)
    repeats = [outline[k] and _repeats_a_mask(k, arrays, keys, outline) for k in range(len(arrays))]
    if any(repeats):
        counts[REPEATED_OUTLINE] = counts.get(REPEATED_OUTLINE, 0) + sum(repeats)
        arrays, names, crowd = ([v for v, r in zip(seq, repeats, strict=True) if not r] for seq in (arrays, names, crowd))
    kept = _drop_class_layers(arrays, names, counts)
    anns = [ImportedAnnotation(names[k], masks.encode_rle(arrays[k]), iscrowd=crowd[k])
            for k in range(len(arrays)) if kept[k]]
    if arrays:
        h, w = arrays[0].shape
    else:
        info = probe_image(path)
        h, w = info.height, info.width
    return ImportedImage(rel, int(w), int(h), anns)
