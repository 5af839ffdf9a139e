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

Conventions of Datumaro's formats the bridge keeps (no per-format reading or writing code; how
items are read lives in :mod:`segtool.io.datumaro_items`):

- Index-map formats (KITTI, Mapillary Vistas, Cityscapes, CamVid, VOC, ADE20K, ...) give the map's
  background as a mask labelled ``background``/``unlabeled``: it is the absence of an object, not
  a class (counted, not imported). KITTI's writer takes label 0 as background and instance id 0 as
  crowd, so the export puts ``unlabeled`` first and writes crowd regions with id 0.
- Importers that give one object twice (ADE20K: the class map, the instance mask and the polygon)
  keep it once: a polygon with the label and id/group of a mask of the item, and a mask that is
  exactly the union of other masks of its label (a class-level layer), are counted, not imported.
- Semantic-only writers (Cityscapes, CamVid in this Datumaro) keep one region per class: an
  export where an image has several instances of one class says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.core.safe_paths import RelPath
from segtool.io.common import ImportedDataset, Problems
from segtool.io.datumaro_items import note, read_item, reads_index_maps

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


#: Datumaro writers that take label 0 as the background and instance id 0 as a crowd region.
_BACKGROUND_FIRST = frozenset({"kitti", "kitti_segmentation"})
#: Datumaro writers that keep one region per class (instances of one class merge).
_SEMANTIC_ONLY = frozenset({"cityscapes", "camvid"})


def _item(dm, rec: ImageRecord, instances: Sequence[Instance], index: dict[int, int], image_root: Path,
          subset: str, crowd_id_zero: bool = False):
    from datumaro.components.annotation import Mask
    from datumaro.components.media import Image

    anns = []
    shown = [i for i in sorted(instances, key=lambda i: (i.z, i.id)) if i.class_id is not None and i.area > 0]
    for k, inst in enumerate(shown, 1):
        ann_id = 0 if crowd_id_zero and inst.iscrowd else k
        anns.append(Mask(image=inst.mask(), label=index[inst.class_id], id=ann_id, group=ann_id, z_order=k - 1,
                         attributes={"is_crowd": bool(inst.iscrowd), "track_id": k}))
    src = RelPath(rec.path, "project image path").inside(image_root)
    item_id = rec.path.rsplit(".", 1)[0] if "." in rec.path.rsplit("/", 1)[-1] else rec.path
    return dm.DatasetItem(id=item_id, subset=subset, media=Image.from_file(path=str(src), size=(rec.height, rec.width)),
                          annotations=anns), len(anns)


def _label_names(name: str, ordered: Sequence[LabelClass]) -> tuple[list[str], int]:
    """The label list written and the index of the first class in it (1 where the format's label 0
    is the background: an unused background name goes first)."""
    names = [c.name for c in ordered]
    if name not in _BACKGROUND_FIRST:
        return names, 0
    background = next(n for n in ("unlabeled", "background", "_background_", "void") if n not in names)
    return [background, *names], 1


def _merged_note(name: str, items: Sequence[tuple[ImageRecord, Sequence[Instance]]]) -> list[str]:
    """What a semantic-only writer loses: images where several instances of one class merge."""
    if name not in _SEMANTIC_ONLY:
        return []
    merged = sum(1 for _, insts in items
                 if len({i.class_id for i in insts if i.class_id is not None}) < sum(i.class_id is not None
                                                                                    for i in insts))
    if not merged:
        return []
    return [f"{merged} image(s) have several instances of one class: Datumaro's {name} writer keeps one region "
            "per class, so they merge (and crowd flags are not kept)"]


def export_datumaro(out: Path, name: str, classes: Sequence[LabelClass],
                    items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: Path,
                    splits: dict[str, str] | None = None,
                    progress: Callable[[int], None] | None = None) -> tuple[int, int, list[str]]:
    """Export through Datumaro's exporter ``name`` into ``out``; returns ``(images, masks, notes)``."""
    dm = _dm()
    _check_name(name, "export")
    from datumaro.components.annotation import AnnotationType, LabelCategories

    ordered = sorted(classes, key=lambda c: c.id)
    label_names, first = _label_names(name, ordered)
    index = {c.id: first + i for i, c in enumerate(ordered)}
    items = list(items)
    dm_items, total = [], 0
    for rec, insts in items:
        item, n = _item(dm, rec, insts, index, Path(image_root), (splits or {}).get(rec.path, "default"),
                        crowd_id_zero=name in _BACKGROUND_FIRST)
        dm_items.append(item)
        total += n
        if progress:
            progress(1)
    labels = LabelCategories.from_iterable(label_names)
    dataset = dm.Dataset.from_iterable(dm_items, categories={AnnotationType.label: labels})
    try:
        dataset.export(str(out), name, save_media=True)
    except Exception as exc:  # Datumaro raises many kinds; the user gets one line
        raise FormatError(f"Datumaro's {name} exporter failed: {type(exc).__name__}: {str(exc)[:300]}") from None
    return len(dm_items), total, _merged_note(name, items)


def load_datumaro(path: str | Path, name: str, project_root: str | Path, *, boxes: str = "skip") -> ImportedDataset:
    """Import ``path`` with Datumaro's importer ``name`` (see the module docstring)."""
    dm = _dm()
    _check_name(name, "import")
    from datumaro.components.annotation import AnnotationType

    try:
        dataset = dm.Dataset.import_from(str(path), name)
        items = list(dataset)
    except Exception as exc:
        raise FormatError(f"Datumaro's {name} importer cannot read {path}: {type(exc).__name__}: "
                          f"{str(exc)[:300]}") from None
    labels = dataset.categories().get(AnnotationType.label) or []
    problems = Problems(str(path))
    out = ImportedDataset(source=str(path))
    counts: dict[str, int] = {}
    for item in items:
        try:
            image = read_item(item, labels, Path(project_root), problems, counts, boxes=boxes,
                              index_maps=reads_index_maps(name))
        except (OSError, ValueError) as exc:  # an index map or image Datumaro cannot decode
            problems.add(f"item {item.id!r}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if image is not None:
            out.images.append(image)
    problems.raise_if_any()
    used = {a.category for im in out.images for a in im.annotations}
    out.categories = [(c.name, None) for c in labels if c.name in used]
    out.notes.extend(note(kind, n) for kind, n in sorted(counts.items()))
    return out
