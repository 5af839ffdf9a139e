"""labelme JSON export: one ``<stem>.json`` beside a copy of its image ``<stem>.<suffix>`` per image,
as labelme keeps a folder (``imagePath`` is the image's file name, ``imageData`` null).

Every accepted instance becomes shapes labelme's own ``LabelFile`` loads and its ``shape_to_mask`` /
``shapes_to_label`` turn back into exactly the instance's mask:

- polygons (vertices on the boundary pixels' centres, as labelme draws them), one per part, sharing
  a ``group_id`` when the instance has several parts (labelme's convention, which its converters
  and segtool's import merge into one object), when PIL's polygon fill -- what ``shape_to_mask``
  does -- gives back the mask pixel for pixel;
- otherwise (holes, parts too thin for a polygon) one ``mask`` shape: ``points`` are the bbox
  corners ``[[x0, y0], [x1, y1]]`` with inclusive ends and ``mask`` a base64 PNG of the bbox crop,
  as labelme stores its own masks.

Crowd regions keep their class and get the shape flag ``iscrowd``; void regions (no class, crowd)
are written with labelme's ``__ignore__`` label, which labelme2voc paints as void. ``stem`` comes
from :func:`segtool.core.names.unique_stems` (``sub/c.jpg`` -> ``sub__c``). Coordinates are
``(x, y)`` pixels; masks bool ``(H, W)``.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from segtool.core.atomic import write_text
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import ImageReadError
from segtool.core.names import check_names_for_format, unique_stems
from segtool.io.common import copy_image
from segtool.io.labelme import IGNORE, shape_to_mask

#: The labelme file format version written (mask shapes exist since labelme 5.4).
LABELME_VERSION = "5.5.0"


@dataclass
class LabelmeStats:
    """What an export wrote; ``skipped``: ``(image path, reason)`` of unreadable images."""

    images: int = 0
    annotations: int = 0
    masks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _shape(label: str, points: list, kind: str, group_id: int | None, crowd: bool, mask: str | None = None) -> dict:
    return {"label": label, "points": points, "group_id": group_id, "description": "", "shape_type": kind,
            "flags": {"iscrowd": True} if crowd else {}, "mask": mask}


def _polygons(mask: np.ndarray) -> list[list[list[float]]] | None:
    """Outer boundaries of a bool ``(H, W)`` mask without holes, as labelme polygons that PIL fills
    back to exactly ``mask``; ``None`` when the mask has holes or no polygon set reproduces it.

    Traced and checked in the bbox crop (every vertex is a mask pixel, so nothing is drawn
    outside it), then moved to image coordinates.
    """
    x0, y0, w, h = cv2.boundingRect(mask.astype(np.uint8))
    crop = np.ascontiguousarray(mask[y0:y0 + h, x0:x0 + w], np.uint8)
    for method in (cv2.CHAIN_APPROX_SIMPLE, cv2.CHAIN_APPROX_NONE):
        contours, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, method)
        if hierarchy is None or (hierarchy[0][:, 3] >= 0).any():
            return None
        local = [[[float(x), float(y)] for x, y in c.reshape(-1, 2)] for c in contours]
        if any(len(p) < 3 for p in local):
            return None
        drawn = np.zeros(crop.shape, bool)
        for p in local:
            drawn |= shape_to_mask({"shape_type": "polygon", "points": p}, h, w)[0]
        if np.array_equal(drawn, crop.astype(bool)):
            return [[[x + x0, y + y0] for x, y in p] for p in local]
    return None


def _mask_b64(crop: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def instance_shapes(inst: Instance, label: str, group_id: int) -> tuple[list[dict], bool]:
    """labelme shapes of one instance (see the module docstring) and whether it became a mask shape.

    ``group_id`` is used when the instance is several polygons.
    """
    mask = inst.mask()
    polygons = _polygons(mask)
    crowd = bool(inst.iscrowd) and label != IGNORE
    if polygons is not None:
        gid = group_id if len(polygons) > 1 else None
        return [_shape(label, p, "polygon", gid, crowd) for p in polygons], False
    x0, y0, x1, y1 = inst.bbox
    points = [[float(x0), float(y0)], [float(x1 - 1), float(y1 - 1)]]  # inclusive, as labelme has it
    return [_shape(label, points, "mask", None, crowd, _mask_b64(mask[y0:y1, x0:x1]))], True


def labelme_document(rec: ImageRecord, instances: Sequence[Instance], names: dict[int, str],
                     image_name: str) -> tuple[dict, int, int]:
    """The labelme JSON of one image; returns ``(document, instances written, mask shapes)``."""
    shapes: list[dict] = []
    written = as_masks = 0
    for k, inst in enumerate(sorted(instances, key=lambda i: (i.z, i.id)), 1):
        if inst.state != "accepted" or inst.area == 0 or (inst.class_id is None and not inst.iscrowd):
            continue
        label = IGNORE if inst.class_id is None else names[inst.class_id]
        found, is_mask = instance_shapes(inst, label, k)
        shapes += found
        written += 1
        as_masks += is_mask
    doc = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_name, "imageData": None,
           "imageHeight": int(rec.height), "imageWidth": int(rec.width)}
    return doc, written, as_masks


def export_labelme(out: Path, classes: Sequence[LabelClass], items: Iterable[tuple[ImageRecord, Sequence[Instance]]],
                   *, image_root: Path, progress: Callable[[int], None] | None = None) -> LabelmeStats:
    """Write ``out/<stem>.json`` and ``out/<stem>.<suffix>`` for every image (see the module docstring)."""
    check_names_for_format([c.name for c in classes], "labelme")
    names = {c.id: c.name for c in classes}
    items = list(items)
    stems = unique_stems(rec.path for rec, _ in items)
    out.mkdir(parents=True, exist_ok=True)
    stats = LabelmeStats()
    for rec, insts in items:
        suffix = Path(rec.path).suffix.lower()
        image_name = f"{stems[rec.path]}{suffix}"
        try:
            copy_image(image_root, rec.path, out / image_name)
        except ImageReadError as exc:
            stats.skipped.append((rec.path, str(exc)))
            continue
        doc, written, as_masks = labelme_document(rec, insts, names, image_name)
        write_text(out / f"{stems[rec.path]}.json", json.dumps(doc, ensure_ascii=False, indent=2), durable=False)
        stats.images += 1
        stats.annotations += written
        stats.masks += as_masks
        if progress:
            progress(1)
    if stats.masks:
        stats.notes.append(f"{stats.masks} instance(s) written as labelme mask shapes (holes, or parts a polygon "
                           "cannot draw exactly); the others as polygons")
    return stats
