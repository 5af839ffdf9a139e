"""YOLO segmentation export (Ultralytics layout): normalised polygons per image plus ``data.yaml``.

Layout written into ``out/``::

    images/<split>/<id><suffix>      the images (copied)
    labels/<split>/<id>.txt          one line per polygon: ``class x1 y1 x2 y2 ...`` in [0, 1]
    data.yaml                        path, train/val folders, names {index: name}

Class indices are 0..K-1 in class-id order. Polygons are outer rings on pixel edges (x / width,
y / height); YOLO cannot express holes, so a mask with holes is written as its outer rings and
counted in :attr:`YoloStats.holes_dropped`. ``<id>`` comes from :func:`segtool.core.names.unique_stems`
(unique by construction); split names are plain words; ``data.yaml`` is written by
``yaml.safe_dump``, which quotes or escapes every class name the name policy allows, so names
round-trip exactly. Images are read only inside the image folder; an image that cannot be read is
skipped (no label file either) and listed in :attr:`YoloStats.skipped`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from segtool.core.atomic import as_segtool_error
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError, UnsafePathError
from segtool.core.names import check_names_for_format, unique_stems
from segtool.core.safe_paths import plain_word
from segtool.io.common import copy_image, mask_to_coco_polygons

_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


@dataclass
class YoloStats:
    """What an export wrote."""

    images: int = 0
    polygons: int = 0
    holes_dropped: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def yolo_lines(instances: Sequence[Instance], class_index: Mapping[int, int], width: int, height: int,
               stats: YoloStats) -> list[str]:
    """Label-file lines for one image's accepted, labelled instances (bottom to top)."""
    lines = []
    for inst in sorted(instances, key=lambda i: (i.z, i.id)):
        if inst.state != "accepted" or inst.class_id is None:
            continue
        polygons, has_holes = mask_to_coco_polygons(inst.mask())
        stats.holes_dropped += int(has_holes)
        for poly in polygons:
            coords = [min(max(v / (width if j % 2 == 0 else height), 0.0), 1.0) for j, v in enumerate(poly)]
            lines.append(f"{class_index[inst.class_id]} " + " ".join(f"{v:.6f}" for v in coords))
            stats.polygons += 1
    return lines


def _suffix(rel: str) -> str:
    """The image's suffix in lower case when it is a plain one (``.jpg``), else ``.img``."""
    name = rel.rsplit("/", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return suffix.lower() if _SUFFIX.fullmatch(suffix) else ".img"


def export_yolo(out: str | Path, classes: Sequence[LabelClass],
                items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: str | Path,
                splits: Mapping[str, str] | None = None,
                progress: Callable[[int], None] | None = None, dataset_path: str | Path | None = None) -> YoloStats:
    """Write a YOLO segmentation dataset (layout in the module docstring); images are always copied.

    ``dataset_path`` is the ``path`` written in ``data.yaml`` (default ``out``): the final folder when
    ``out`` is a temporary one that is moved into place afterwards.
    """
    out = Path(out)
    check_names_for_format([c.name for c in classes], "yolo")
    items = list(items)
    ids = unique_stems(rec.path for rec, _ in items)
    ordered = sorted(classes, key=lambda c: c.id)
    index = {c.id: i for i, c in enumerate(ordered)}
    stats = YoloStats()
    used: set[str] = {"train"}
    try:
        for rec, instances in items:
            split = (splits or {}).get(rec.path, "train")
            _export_image(out, split, ids[rec.path], rec, instances, image_root, index, stats)
            used.add(split)
            if progress:
                progress(1)
        (out / "images" / "train").mkdir(parents=True, exist_ok=True)
        (out / "labels" / "train").mkdir(parents=True, exist_ok=True)
        data = {"path": str(Path(dataset_path or out).resolve()), "train": "images/train",
                "val": "images/val" if "val" in used else "images/train",
                "names": {i: c.name for i, c in enumerate(ordered)}}
        for split in sorted(used - {"train", "val"}):
            data[split] = f"images/{split}"
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as exc:
        raise as_segtool_error(exc, out) from None
    return stats


def _export_image(out: Path, split: str, stem: str, rec: ImageRecord, instances: Sequence[Instance],
                  image_root: str | Path, index: Mapping[int, int], stats: YoloStats) -> None:
    """Copy one image and write its label file (or record it in ``stats.skipped`` when unreadable)."""
    try:
        plain_word(split, "split name")
    except UnsafePathError as exc:
        raise FormatError(str(exc)) from None
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    try:
        copy_image(image_root, rec.path, out / "images" / split / f"{stem}{_suffix(rec.path)}")
    except ImageReadError as exc:
        stats.skipped.append((rec.path, str(exc)))
        return
    lines = yolo_lines(instances, index, rec.width, rec.height, stats)
    (out / "labels" / split / f"{stem}.txt").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    stats.images += 1
