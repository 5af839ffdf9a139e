"""The one bridge to Datumaro (optional extra ``[formats]``): segtool masks to and from Datumaro
annotations, so every format the installed Datumaro reads or writes works through its own
importers and exporters (``--format datumaro:NAME``), with no format code of ours here.

- Export: one :class:`datumaro.DatasetItem` per image (id = the image's path without suffix,
  subset = its split, media = the image file), one ``Mask`` per accepted instance (label = class,
  ``id``/``group`` = its rank bottom to top, ``z_order``, attributes ``is_crowd`` and ``track_id``
  (the same rank: the instance identity formats such as MOTS ask for)), then
  ``Dataset.export(folder, NAME, save_media=True)``.
- Import: ``Dataset.import_from(path, NAME)``; polygons become masks through Datumaro's own
  ``polygons_to_masks`` transform (boxes too with ``boxes="mask"``, ``boxes_to_masks``); every mask
  becomes an instance (``is_crowd`` -> iscrowd; a mask without a label, as in SA-1B, an instance
  without a class). Other annotations (boxes, points, captions, labels,
  polylines) are counted as not imported. Images must lie inside the project folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from segtool.core import masks
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.core.names import class_name_problem
from segtool.core.safe_paths import RelPath
from segtool.io.common import ImportedAnnotation, ImportedDataset, ImportedImage, Problems
from segtool.io.dataset_files import project_rel
from segtool.io.images import probe_image

_HINT = 'Datumaro formats need the optional extra: pip install "segtool[formats]"'


def _dm():
    try:
        import datumaro as dm
    except ImportError:
        raise FormatError(_HINT) from None
    return dm


def available_formats(kind: str) -> list[str]:
    """Names the installed Datumaro offers for ``kind`` ``"import"`` or ``"export"`` ([] without it)."""
    try:
        from datumaro.components.environment import DEFAULT_ENVIRONMENT as env
    except ImportError:
        return []
    return sorted(env.importers if kind == "import" else env.exporters)


def _check_name(name: str, kind: str) -> None:
    names = available_formats(kind)
    if not names:
        _dm()
    if name not in names:
        raise FormatError(f"Datumaro has no {kind}er {name!r}; it offers: {', '.join(names)}")


def _item(dm, rec: ImageRecord, instances: Sequence[Instance], index: dict[int, int], image_root: Path,
          subset: str):
    from datumaro.components.annotation import Mask
    from datumaro.components.media import Image

    anns = []
    shown = [i for i in sorted(instances, key=lambda i: (i.z, i.id)) if i.class_id is not None and i.area > 0]
    for k, inst in enumerate(shown, 1):
        anns.append(Mask(image=inst.mask(), label=index[inst.class_id], id=k, group=k, z_order=k - 1,
                         attributes={"is_crowd": bool(inst.iscrowd), "track_id": k}))
    src = RelPath(rec.path, "project image path").inside(image_root)
    item_id = rec.path.rsplit(".", 1)[0] if "." in rec.path.rsplit("/", 1)[-1] else rec.path
    return dm.DatasetItem(id=item_id, subset=subset, media=Image.from_file(path=str(src), size=(rec.height, rec.width)),
                          annotations=anns), len(anns)


def export_datumaro(out: Path, name: str, classes: Sequence[LabelClass],
                    items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: Path,
                    splits: dict[str, str] | None = None,
                    progress: Callable[[int], None] | None = None) -> tuple[int, int, list[str]]:
    """Export through Datumaro's exporter ``name`` into ``out``; returns ``(images, masks, notes)``."""
    dm = _dm()
    _check_name(name, "export")
    from datumaro.components.annotation import AnnotationType, LabelCategories

    ordered = sorted(classes, key=lambda c: c.id)
    index = {c.id: i for i, c in enumerate(ordered)}
    dm_items, total = [], 0
    for rec, insts in items:
        item, n = _item(dm, rec, insts, index, Path(image_root), (splits or {}).get(rec.path, "default"))
        dm_items.append(item)
        total += n
        if progress:
            progress(1)
    labels = LabelCategories.from_iterable(c.name for c in ordered)
    dataset = dm.Dataset.from_iterable(dm_items, categories={AnnotationType.label: labels})
    try:
        dataset.export(str(out), name, save_media=True)
    except Exception as exc:  # Datumaro raises many kinds; the user gets one line
        raise FormatError(f"Datumaro's {name} exporter failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    return len(dm_items), total, []


def _label_name(ann, labels) -> str | None:
    if ann.label is None or not (0 <= ann.label < len(labels)):
        return None
    return labels[ann.label].name


def _read_item(item, labels, root: Path, problems: Problems, counts: dict[str, int]) -> ImportedImage | None:
    from datumaro.components.annotation import Mask

    path = getattr(item.media, "path", None)
    rel = project_rel(path, root) if path else None
    if rel is None:
        problems.add(f"item {item.id!r}: its image {path!r} is not inside the project folder {root}")
        return None
    anns = []
    for ann in sorted(item.annotations, key=lambda a: getattr(a, "z_order", 0)):
        if not isinstance(ann, Mask):
            kind = ann.type.name
            counts[kind] = counts.get(kind, 0) + 1
            continue
        label = _label_name(ann, labels)
        if label is not None and class_name_problem(label):
            problems.add(f"item {item.id!r}: label {label!r}: {class_name_problem(label)}")
            continue
        mask = np.asarray(ann.image).astype(bool)
        if mask.ndim != 2:
            problems.add(f"item {item.id!r}: a mask of shape {mask.shape}")
            continue
        anns.append(ImportedAnnotation(label, masks.encode_rle(mask), iscrowd=bool(ann.attributes.get("is_crowd"))))
    if anns:
        h, w = anns[0].rle["size"]
    else:
        info = probe_image(path)
        h, w = info.height, info.width
    return ImportedImage(rel, int(w), int(h), anns)


def load_datumaro(path: str | Path, name: str, project_root: str | Path, *, boxes: str = "skip") -> ImportedDataset:
    """Import ``path`` with Datumaro's importer ``name`` (see the module docstring)."""
    dm = _dm()
    _check_name(name, "import")
    from datumaro.components.annotation import AnnotationType

    try:
        dataset = dm.Dataset.import_from(str(path), name)
        dataset.transform("polygons_to_masks")
        if boxes == "mask":
            dataset.transform("boxes_to_masks")
        items = list(dataset)
    except Exception as exc:
        raise FormatError(f"Datumaro's {name} importer cannot read {path}: {type(exc).__name__}: "
                          f"{str(exc)[:300]}") from None
    labels = dataset.categories().get(AnnotationType.label) or []
    problems = Problems(str(path))
    out = ImportedDataset(source=str(path))
    counts: dict[str, int] = {}
    for item in items:
        image = _read_item(item, labels, Path(project_root), problems, counts)
        if image is not None:
            out.images.append(image)
    problems.raise_if_any()
    used = {a.category for im in out.images for a in im.annotations}
    out.categories = [(c.name, None) for c in labels if c.name in used]
    for kind, n in sorted(counts.items()):
        hint = " (import them as box masks with --boxes mask)" if kind == "bbox" else ""
        out.notes.append(f"{n} {kind} annotation(s) not imported{hint}")
    return out
