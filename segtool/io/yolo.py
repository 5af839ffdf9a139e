"""YOLO segmentation export (Ultralytics layout): normalised polygons per image plus ``data.yaml``.

Layout written into ``out/``::

    images/<split>/<id><suffix>      the images (copied)
    labels/<split>/<id>.txt          one line per polygon: ``class x1 y1 x2 y2 ...`` in [0, 1]
    data.yaml                        path, train (val, test: when those splits exist), nc, names {index: name}

Class indices are 0..K-1: the classes' source ids when they are exactly 0..K-1 (a YOLO or COCO
dataset imported with ids 0..K-1 keeps them), else class-id order. Each instance is ONE line: its
outer rings on pixel edges (x / width, y / height), several parts joined into one polygon exactly
as Ultralytics' own ``convert_coco`` joins them (:func:`join_parts`, ``merge_multi_segment``: the
parts are connected at their closest points by a zero-width double line). YOLO cannot express holes:
a mask with holes is written as its outer rings and counted in :attr:`YoloStats.holes_dropped`.
``data.yaml``: ``val:`` only when a ``val`` split exists, and ``names``/``nc`` always valid for
Ultralytics (a project without classes names one placeholder class, :data:`PLACEHOLDER_CLASS`).
``<id>`` comes from :func:`segtool.core.names.unique_stems`
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

import numpy as np
import yaml

from segtool.core.atomic import as_segtool_error
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError, UnsafePathError
from segtool.core.names import check_names_for_format, unique_stems
from segtool.core.safe_paths import plain_word
from segtool.io.common import copy_image, mask_to_coco_polygons

_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
#: The one class ``data.yaml`` names when the project has none (Ultralytics refuses 0 classes).
PLACEHOLDER_CLASS = "object"


@dataclass
class YoloStats:
    """What an export wrote."""

    images: int = 0
    polygons: int = 0
    holes_dropped: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Instances of several parts written as one joined polygon.
    parts_joined: int = 0
    notes: list[str] = field(default_factory=list)


def _closest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Indices ``(i, j)`` of the closest points ``a[i]``, ``b[j]`` (Ultralytics' ``min_index``)."""
    dist = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(dist, axis=None), dist.shape)
    return int(i), int(j)


def join_parts(polygons: Sequence[Sequence[float]]) -> list[float]:
    """Join several flat polygons into one, as Ultralytics' ``merge_multi_segment`` does.

    Consecutive parts are linked at their closest vertices; the walk goes forward through every
    part and back through the middle ones, so each link is a zero-width double line. The result
    is the flat ``[x1, y1, ...]`` concatenation Ultralytics' ``convert_coco`` writes.
    """
    segs = [np.asarray(p, np.float64).reshape(-1, 2) for p in polygons]
    if len(segs) == 1:
        return segs[0].ravel().tolist()
    links: list[list[int]] = [[] for _ in segs]
    for i in range(1, len(segs)):
        a, b = _closest_pair(segs[i - 1], segs[i])
        links[i - 1].append(a)
        links[i].append(b)
    out: list[np.ndarray] = []
    last = len(segs) - 1
    for i, idx in enumerate(links):  # forward
        if len(idx) == 2 and idx[0] > idx[1]:
            idx = [len(segs[i]) - 1 - x for x in idx]
            segs[i] = segs[i][::-1, :]
        segs[i] = np.roll(segs[i], -idx[0], axis=0)
        segs[i] = np.concatenate([segs[i], segs[i][:1]])
        out.append(segs[i] if i in (0, last) else segs[i][: idx[1] - idx[0] + 1])
    for i in range(last, -1, -1):  # and back through the middle parts
        if i not in (0, last):
            out.append(segs[i][abs(links[i][1] - links[i][0]):])
    return np.concatenate(out, axis=0).ravel().tolist()


def yolo_lines(instances: Sequence[Instance], class_index: Mapping[int, int], width: int, height: int,
               stats: YoloStats) -> list[str]:
    """Label-file lines for one image's accepted, labelled instances (bottom to top): one per instance."""
    lines = []
    for inst in sorted(instances, key=lambda i: (i.z, i.id)):
        if inst.state != "accepted" or inst.class_id is None:
            continue
        polygons, has_holes = mask_to_coco_polygons(inst.mask())
        stats.holes_dropped += int(has_holes)
        if not polygons:
            continue
        stats.parts_joined += int(len(polygons) > 1)
        flat = join_parts(polygons)
        coords = [min(max(v / (width if j % 2 == 0 else height), 0.0), 1.0) for j, v in enumerate(flat)]
        lines.append(f"{class_index[inst.class_id]} " + " ".join(f"{v:.6f}" for v in coords))
        stats.polygons += 1
    return lines


def class_order(classes: Sequence[LabelClass]) -> list[LabelClass]:
    """Classes in YOLO index order: by source id when those are exactly 0..K-1, else by class id."""
    by_source = sorted(classes, key=lambda c: (c.source_id is None, c.source_id or 0, c.id))
    if [c.source_id for c in by_source] == list(range(len(classes))):
        return by_source
    return sorted(classes, key=lambda c: c.id)


def data_yaml(classes: Sequence[LabelClass], splits: set[str], path: Path) -> str:
    """The ``data.yaml`` text: ``path``, train (and val, test, ... when those splits exist), ``nc``, ``names``."""
    data: dict = {"path": str(path), "train": "images/train"}
    for split in sorted(splits - {"train"}, key=lambda s: (s != "val", s)):
        data[split] = f"images/{split}"
    names = {i: c.name for i, c in enumerate(class_order(classes))} or {0: PLACEHOLDER_CLASS}
    data["nc"] = len(names)
    data["names"] = names
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


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
    index = {c.id: i for i, c in enumerate(class_order(classes))}
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
        (out / "data.yaml").write_text(data_yaml(classes, used, Path(dataset_path or out).resolve()),
                                       encoding="utf-8")
    except OSError as exc:
        raise as_segtool_error(exc, out) from None
    if not classes:
        stats.notes.append(f"the project has no classes: data.yaml names one placeholder class "
                           f"{PLACEHOLDER_CLASS!r} (Ultralytics needs at least one)")
    if stats.holes_dropped:
        stats.notes.append(f"{stats.holes_dropped} mask(s) had holes, which YOLO polygons cannot hold: holes lost")
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
