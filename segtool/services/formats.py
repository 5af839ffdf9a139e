"""Dataset export and import use cases: the project store meets the io formats.

- :func:`export_project` writes COCO / Pascal VOC / YOLO from a project's *accepted* instances
  (``pending`` proposals are never exported).
- :func:`import_into_project` validates a COCO file, VOC folder or labelme file(s) completely,
  then adds classes, images and instances in ONE transaction: bad input raises a
  :class:`~segtool.core.errors.FormatError` listing the first problems and changes nothing.
  Importing the same file twice adds nothing (an identical mask of the same class on the same
  image is skipped).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from segtool.core import masks
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError
from segtool.core.names import check_class_name
from segtool.io import coco, labelme, voc, yolo
from segtool.io.common import ImportedDataset, Problems, split_names
from segtool.io.dataset_files import project_rel
from segtool.io.images import file_hash, probe_image
from segtool.services import format_registry as more
from segtool.store.sqlite import ProjectStore

#: Native formats; ``datumaro:NAME`` adds every format the installed Datumaro offers.
EXPORT_FORMATS = ("coco", "voc", "yolo", *more.EXPORTERS)
IMPORT_FORMATS = ("coco", "voc", "labelme", *more.IMPORTERS)
#: ``progress(n)`` is called with the number of images just finished.
Progress = Callable[[int], None]


@dataclass
class ExportReport:
    """Files written and counts (``details`` holds the format's own stats object)."""

    files: list[Path] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    details: object = None
    #: Accepted instances without a class, left out of the export (see ``unlabelled``).
    unlabelled_skipped: int = 0
    #: Accepted instances without a class, exported under the ``unlabelled`` class.
    unlabelled_exported: int = 0

    def summary(self) -> str:
        """One line for the user: what was written and what was left out."""
        text = f"exported {self.images} images, {self.annotations} annotations"
        if self.unlabelled_skipped:
            text += (f"; {self.unlabelled_skipped} unlabelled instance(s) skipped (give them a class, or export "
                     "them under one with --unlabelled NAME)")
        if self.unlabelled_exported:
            text += f"; {self.unlabelled_exported} unlabelled instance(s) exported under their own class"
        return text


@dataclass
class ImportReport:
    """What an import added (and skipped as already present)."""

    images_added: int = 0
    classes_added: int = 0
    instances_added: int = 0
    instances_skipped: int = 0
    #: What the source held but was not imported (boxes, keypoints, captions...), one line each.
    notes: list[str] = field(default_factory=list)


class _Unlabelled:
    """How accepted instances without a class are exported: counted and left out (``name=None``), or
    given the class ``name`` (an existing class of that name, else a class added to the export only)."""

    def __init__(self, store: ProjectStore, name: str | None) -> None:
        self.classes = store.classes()
        self.class_id: int | None = None
        self.skipped = self.exported = 0
        if name is not None:
            check_class_name(name)
            existing = next((c for c in self.classes if c.name == name), None)
            if existing is None:
                existing = LabelClass(max((c.id for c in self.classes), default=0) + 1, name, (255, 255, 255))
                self.classes = [*self.classes, existing]
            self.class_id = existing.id

    def apply(self, instances: list[Instance]) -> list[Instance]:
        out = []
        for inst in instances:
            if inst.class_id is None:
                if self.class_id is None:
                    self.skipped += 1
                    continue
                inst = dataclasses.replace(inst, class_id=self.class_id)
                self.exported += 1
            out.append(inst)
        return out


def _items(store: ProjectStore, records: list[ImageRecord],
           unlabelled: _Unlabelled | None = None) -> Iterator[tuple[ImageRecord, list[Instance]]]:
    for rec in records:
        insts = store.instances(rec.id, state="accepted")
        yield rec, (unlabelled.apply(insts) if unlabelled is not None else insts)


def export_project(store: ProjectStore, out: str | os.PathLike, fmt: str, *, segmentation: str = "rle",
                   split: dict[str, float] | None = None, seed: int = 0, copy_images: bool = False,
                   void_border: int = 0, progress: Progress | None = None, date: str | None = None,
                   unlabelled: str | None = None, overwrite: bool = False) -> ExportReport:
    """Export the project's accepted instances.

    Instances without a class are never dropped in silence: they are counted in
    ``ExportReport.unlabelled_skipped``, or exported under the class named ``unlabelled``.

    Parameters
    ----------
    out
        COCO: a ``.json`` file, or a folder receiving ``annotations.json`` (``<split>.json`` per split
        when ``split`` is given) and, with ``copy_images``, ``images/<relative path>``.
        VOC / YOLO: a folder.
    split
        ``{"val": 0.2}``: a seeded random 20 % of the images go to ``val``, the rest to ``train``.
    """
    if fmt not in EXPORT_FORMATS and not more.is_datumaro(fmt):
        raise FormatError(f"unknown export format {fmt!r}; use one of {EXPORT_FORMATS} or datumaro:NAME")
    out = Path(out)
    records = store.images()
    splits = split_names([r.path for r in records], split, seed)
    policy = _Unlabelled(store, unlabelled)
    classes = policy.classes
    if fmt in more.EXPORTERS or more.is_datumaro(fmt):
        job = more.ExportJob(out, classes, list(_items(store, records, policy)), store.root, splits,
                             bool(split), segmentation=segmentation, progress=progress, overwrite=overwrite)
        stats = more.export(fmt, job)
        report = ExportReport([out], stats.images, stats.annotations, stats)
    elif fmt == "voc":
        stats = voc.export_voc(out, classes, _items(store, records, policy), image_root=store.root, splits=splits,
                               void_border=void_border, progress=progress)
        report = ExportReport([out], stats.images, stats.objects, stats)
    elif fmt == "yolo":
        ystats = yolo.export_yolo(out, classes, _items(store, records, policy), image_root=store.root,
                                  splits=splits, progress=progress)
        report = ExportReport([out], ystats.images, ystats.polygons, ystats)
    else:
        report = _export_coco(store, out, records, splits if split else None, segmentation=segmentation,
                              copy_images=copy_images, progress=progress, date=date, policy=policy)
    report.unlabelled_skipped, report.unlabelled_exported = policy.skipped, policy.exported
    return report


def _export_coco(store: ProjectStore, out: Path, records: list[ImageRecord], splits: dict[str, str] | None, *,
                 segmentation: str, copy_images: bool, progress: Progress | None, date: str | None,
                 policy: _Unlabelled) -> ExportReport:
    single = out.suffix.lower() == ".json"
    if single and (splits or copy_images):
        raise FormatError("with --split or --copy-images, OUT must be a folder, not a .json file")
    groups: dict[str, list[ImageRecord]] = {}
    for rec in records:
        groups.setdefault(splits[rec.path] if splits else "annotations", []).append(rec)
    report = ExportReport()
    classes = policy.classes
    for name, recs in groups.items():
        def items(recs: list[ImageRecord] = recs) -> Iterator[tuple[ImageRecord, list[Instance]]]:
            for rec, insts in _items(store, recs, policy):
                yield rec, insts
                if progress:
                    progress(1)
        data, stats = coco.build_coco(classes, items(), segmentation=segmentation, date=date)
        target = out if single else out / f"{name}.json"
        coco.save_json(data, target)
        report.files.append(target)
        report.images += stats.images
        report.annotations += stats.annotations
        report.details = stats
    if copy_images:
        for rec in records:
            _copy(store.root / rec.path, out / "images" / rec.path)
    return report


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(src, dst)
    except OSError as exc:
        raise ImageReadError(f"cannot copy image {src}: {exc}") from exc


def load_dataset(store: ProjectStore, path: str | os.PathLike, fmt: str, *, boxes: str = "skip") -> ImportedDataset:
    """Parse and validate an import source on its own (no project changes).

    ``boxes``: what to do with annotations that are only a box (``"skip"`` and count them, or
    ``"mask"``: import them as box-shaped masks), for the formats that have them.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path} does not exist")
    if fmt in more.IMPORTERS or more.is_datumaro(fmt):
        return more.load(fmt, path, store.root, boxes=boxes, images=store.images())
    if fmt == "coco":
        return coco.load_coco(path)
    if fmt == "voc":
        return voc.load_voc(path, names=_voc_names(store, path))
    if fmt == "labelme":
        return labelme.load_labelme(path, store.root)
    raise FormatError(f"unknown import format {fmt!r}; use one of {IMPORT_FORMATS} or datumaro:NAME")


def _voc_names(store: ProjectStore, folder: Path) -> dict[str, str]:
    """VOC id -> project image path: the ids segtool's export gives every image, and, when the VOC
    folder lies inside the project (even as its root), ``JPEGImages/<id>.*`` of that folder."""
    paths = [r.path for r in store.images()]
    names = {v: k for k, v in voc.voc_ids(paths).items()}
    jpeg = project_rel(folder / "JPEGImages", store.root) if (folder / "JPEGImages").is_dir() else None
    if jpeg is not None:
        prefix = f"{jpeg}/"
        for p in paths:
            if p.startswith(prefix) and "/" not in p[len(prefix):]:
                names[p[len(prefix):].rsplit(".", 1)[0]] = p
    return names


def _resolve_images(store: ProjectStore, data: ImportedDataset, problems: Problems) -> dict[str, ImageRecord]:
    """Match every imported image to a project image (adding files that exist under the root)."""
    matched: dict[str, ImageRecord] = {}
    new: list[ImageRecord] = []
    for im in data.images:
        rec = store.image_by_path(im.file_name)
        if rec is None:
            file = store.root / im.file_name
            try:
                info = probe_image(file)
                rec = ImageRecord(0, im.file_name, info.width, info.height, file_hash(file))
                new.append(rec)
            except ImageReadError:
                problems.add(f"image {im.file_name!r} is neither in the project nor a readable file under {store.root}")
                continue
        if (rec.width, rec.height) != (im.width, im.height):
            problems.add(f"{im.file_name}: size {im.width}x{im.height} in the file, but the image is "
                         f"{rec.width}x{rec.height}")
            continue
        matched[im.file_name] = rec
    return matched


def import_into_project(store: ProjectStore, path: str | os.PathLike, fmt: str, *,
                        progress: Progress | None = None, dataset: ImportedDataset | None = None) -> ImportReport:
    """Validate ``path`` completely, then add its classes, images and instances in one transaction.

    ``dataset`` may be passed when :func:`load_dataset` already parsed ``path``.

    Raises
    ------
    FormatError
        Anything invalid (the message lists the first problems); the project is left unchanged.
    """
    data = dataset if dataset is not None else load_dataset(store, path, fmt)
    problems = Problems(str(path))
    matched = _resolve_images(store, data, problems)
    problems.raise_if_any()
    report = ImportReport(notes=list(data.notes))
    with store.transaction():
        added = store.add_images([rec for rec in matched.values() if rec.id == 0])
        report.images_added = len(added)
        by_path = {rec.path: rec for rec in added}
        class_ids: dict[str, int] = {}
        for name, color in data.categories:
            cls = store.class_by_name(name)
            source_id = data.source_ids.get(name)
            if cls is None:
                cls = store.add_class(name, color, source_id=source_id)
                report.classes_added += 1
            elif cls.source_id is None and source_id is not None:
                store.set_class_source_id(cls.id, source_id)
            class_ids[name] = cls.id
        for im in data.images:
            rec = by_path.get(im.file_name) or matched[im.file_name]
            _add_annotations(store, rec, im.annotations, class_ids, report)
            if progress:
                progress(1)
    return report


def _add_annotations(store: ProjectStore, rec: ImageRecord, annotations: list, class_ids: dict[str, int],
                     report: ImportReport) -> None:
    existing = store.instances(rec.id)
    seen = {(i.class_id, i.rle["counts"]) for i in existing}
    z = max((i.z for i in existing), default=-1) + 1
    new: list[Instance] = []
    for ann in annotations:
        cid = None if ann.category is None else \
            class_ids.get(ann.category) or store.class_by_name(ann.category).id  # type: ignore[union-attr]
        if (cid, ann.rle["counts"]) in seen:
            report.instances_skipped += 1
            continue
        seen.add((cid, ann.rle["counts"]))
        bbox = masks.rle_bbox(ann.rle)
        if bbox is None:
            report.instances_skipped += 1
            continue
        new.append(Instance(id=0, image_id=rec.id, class_id=cid, rle=ann.rle, bbox=bbox,
                            area=masks.rle_area(ann.rle), score=ann.score, source="import",
                            attributes=ann.attributes, z=z, iscrowd=ann.iscrowd))
        z += 1
    if new:
        store.add_instances(rec.id, new)
        report.instances_added += len(new)
