"""YOLO segmentation export (Ultralytics layout): normalised polygons per image plus ``data.yaml``.

Layout written into ``out/``::

    images/<split>/<id><suffix>      the images (copied)
    labels/<split>/<id>.txt          one line per polygon: ``class x1 y1 x2 y2 ...`` in [0, 1]
    data.yaml                        path, train/val folders, names {index: name}

Class indices are 0..K-1 in class-id order. Polygons are outer rings on pixel edges (x / width,
y / height); YOLO cannot express holes, so a mask with holes is written as its outer rings and
counted in :attr:`YoloStats.holes_dropped`. ``<id>`` comes from :func:`segtool.io.voc.voc_ids`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import ImageReadError
from segtool.io.common import mask_to_coco_polygons
from segtool.io.voc import voc_ids


@dataclass
class YoloStats:
    """What an export wrote."""

    images: int = 0
    polygons: int = 0
    holes_dropped: int = 0


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


def export_yolo(out: str | Path, classes: Sequence[LabelClass],
                items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: str | Path,
                splits: Mapping[str, str] | None = None,
                progress: Callable[[int], None] | None = None) -> YoloStats:
    """Write a YOLO segmentation dataset (layout in the module docstring); images are always copied."""
    out = Path(out)
    items = list(items)
    ids = voc_ids(rec.path for rec, _ in items)
    ordered = sorted(classes, key=lambda c: c.id)
    index = {c.id: i for i, c in enumerate(ordered)}
    stats = YoloStats()
    used: set[str] = set()
    for rec, instances in items:
        split = (splits or {}).get(rec.path, "train")
        used.add(split)
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        src = Path(image_root) / rec.path
        try:
            shutil.copyfile(src, out / "images" / split / f"{ids[rec.path]}{src.suffix.lower()}")
        except OSError as exc:
            raise ImageReadError(f"cannot copy image {src}: {exc}") from exc
        lines = yolo_lines(instances, index, rec.width, rec.height, stats)
        (out / "labels" / split / f"{ids[rec.path]}.txt").write_text("".join(f"{x}\n" for x in lines))
        stats.images += 1
        if progress:
            progress(1)
    data = {"path": str(out.resolve()), "train": "images/train",
            "val": "images/val" if "val" in used else "images/train",
            "names": {i: c.name for i, c in enumerate(ordered)}}
    for split in sorted(used - {"train", "val"}):
        data[split] = f"images/{split}"
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return stats
