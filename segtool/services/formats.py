"""Dataset export and import use cases: the project store meets the io formats.

- :func:`export_project` writes COCO / Pascal VOC / YOLO from a project's *accepted* instances
  (``pending`` proposals are never exported), through one pipeline: everything refusable is checked
  first, folders are built beside ``OUT`` and moved into place whole, unreadable images are skipped
  and listed.
- :func:`import_into_project` validates a COCO file, VOC folder or labelme file(s) completely,
  then adds classes, images and instances in ONE transaction: bad input raises a
  :class:`~segtool.core.errors.FormatError` listing the first problems and changes nothing.
  Importing the same file twice adds nothing (an identical mask of the same class on the same
  image is skipped).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from segtool.core import masks
from segtool.core.atomic import AtomicFolder, as_segtool_error, write_bytes
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError, UnsafePathError
from segtool.core.names import check_class_name, check_names_for_format
from segtool.core.safe_paths import RelPath
from segtool.io import coco, labelme, voc, yolo
from segtool.io.common import ImportedDataset, Problems, copy_image, image_source, split_names
from segtool.io.dataset_files import project_rel, resolve_named_image
from segtool.io.images import file_hash, probe_image
from segtool.services import format_registry as more
from segtool.store.sqlite import ProjectStore

#: COCO folder layouts: Datumaro's (``annotations/instances_<split>.json`` + ``images/<split>/``, the
#: default) and segtool's first (``annotations.json`` or ``<split>.json``).
COCO_LAYOUTS = ("datumaro", "flat")
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
    #: ``(image path, reason)`` of images left out because they could not be read.
    skipped_images: list[tuple[str, str]] = field(default_factory=list)
    #: Void regions (no class, crowd: labelme's ``__ignore__``) left out: the format has no void.
    void_skipped: int = 0

    def summary(self) -> str:
        """One line for the user: what was written and what was left out."""
        text = f"exported {self.images} images, {self.annotations} annotations"
        if self.unlabelled_skipped:
            text += (f"; {self.unlabelled_skipped} unlabelled instance(s) skipped (give them a class, or export "
                     "them under one with --unlabelled NAME)")
        if self.unlabelled_exported:
            text += f"; {self.unlabelled_exported} unlabelled instance(s) exported under their own class"
        if self.skipped_images:
            text += f"; {len(self.skipped_images)} unreadable image(s) skipped with their annotations"
        if self.void_skipped:
            text += (f"; {self.void_skipped} void region(s) left out (this format has no void; VOC, semantic-masks "
                     "and labelme keep them)")
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


#: Formats that keep void regions (an instance without a class marked crowd: labelme's
#: ``__ignore__``, VOC's 255); the others leave them out and say how many.
VOID_FORMATS = ("voc", "labelme", "semantic-masks")


class _Unlabelled:
    """How accepted instances without a class are exported: counted and left out (``name=None``), or
    given the class ``name`` (an existing class of that name, else a class added to the export only).

    A void region (no class, ``iscrowd``) is not an unlabelled object: it is kept as it is where the
    format has void (``keep_void``), else counted in ``void_skipped`` and left out."""

    def __init__(self, store: ProjectStore, name: str | None, keep_void: bool = False) -> None:
        self.classes = store.classes()
        self.class_id: int | None = None
        self.keep_void = keep_void
        self.skipped = self.exported = self.void_skipped = 0
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
            if inst.class_id is None and inst.iscrowd:
                if self.keep_void:
                    out.append(inst)
                else:
                    self.void_skipped += 1
                continue
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
                   unlabelled: str | None = None, overwrite: bool = False, jpeg: bool = False,
                   layout: str | None = None) -> ExportReport:
    """Export the project's accepted instances.

    Everything that can be refused is checked before anything is written: the format, the class
    names (:func:`segtool.core.names.check_names_for_format`), ``unlabelled``, the split names
    (plain words) and ``out``. A folder export is built in a temporary folder beside ``out`` and
    moved into place at the end (:class:`~segtool.core.atomic.AtomicFolder`): a failure or a kill
    leaves ``out`` as it was; an existing ``out`` is replaced only with ``overwrite`` and only when
    a segtool export wrote it. A COCO ``.json`` file is written atomically (and replaced only with
    ``overwrite``). Images that cannot be read (VOC/YOLO, COCO ``copy_images``) are skipped with
    their annotations and listed in ``ExportReport.skipped_images``; an empty project gives an empty
    but valid dataset.

    Instances without a class are never dropped in silence: they are counted in
    ``ExportReport.unlabelled_skipped``, or exported under the class named ``unlabelled``.

    Parameters
    ----------
    out
        COCO: a ``.json`` file, or a folder. A folder gets the layout Datumaro and CVAT import as it
        is (``layout="datumaro"``, the default): ``annotations/instances_<split>.json`` and the
        images in ``images/<split>/<relative path>`` (``<split>`` is ``default`` without ``split``,
        else ``train`` and the split names). ``layout="flat"`` (segtool's first layout):
        ``annotations.json`` (``<split>.json`` per split), images in ``images/<relative path>`` only
        with ``copy_images``.
        VOC / YOLO: a folder.
    jpeg
        VOC: every image as ``JPEGImages/<id>.jpg`` (torchvision); default: PNG sources stay PNG.
    split
        ``{"val": 0.2}``: a seeded random 20 % of the images go to ``val``, the rest to ``train``.
    """
    if fmt not in EXPORT_FORMATS and not more.is_datumaro(fmt):
        raise FormatError(f"unknown export format {fmt!r}; use one of {EXPORT_FORMATS} or datumaro:NAME")
    out = Path(out)
    records = store.images()
    splits = split_names([r.path for r in records], split, seed)
    policy = _Unlabelled(store, unlabelled, keep_void=fmt in VOID_FORMATS)
    check_names_for_format([c.name for c in policy.classes], fmt)
    job = _Job(store, records, splits, split, policy, segmentation, copy_images, void_border, progress, date, out,
               fmt, jpeg)
    if layout not in (None, *COCO_LAYOUTS):
        raise FormatError(f"unknown COCO layout {layout!r}; use one of {COCO_LAYOUTS}")
    job.layout = layout or "datumaro"
    if fmt == "coco" and out.suffix.lower() == ".json":
        if split or copy_images or layout:
            raise FormatError(f"{out}: with --split, --copy-images or --layout, OUT must be a folder, not a .json "
                              "file")
        report = _export_coco_file(job, overwrite)
    else:
        with AtomicFolder(out, overwrite=overwrite) as folder:
            report = _FOLDER_EXPORTERS.get(fmt, _export_more)(job, folder)
        report.files = [out / f.relative_to(folder) for f in report.files] if report.files else [out]
    report.unlabelled_skipped, report.unlabelled_exported = policy.skipped, policy.exported
    report.void_skipped = policy.void_skipped
    return report


@dataclass
class _Job:
    """What every exporter needs: the project, its images, the split of every path and the options."""

    store: ProjectStore
    records: list[ImageRecord]
    splits: dict[str, str]
    fractions: dict[str, float] | None
    policy: _Unlabelled
    segmentation: str
    copy_images: bool
    void_border: int
    progress: Progress | None
    date: str | None
    final: Path
    fmt: str = ""
    jpeg: bool = False
    layout: str = "datumaro"

    def items(self, records: list[ImageRecord] | None = None) -> Iterator[tuple[ImageRecord, list[Instance]]]:
        return _items(self.store, self.records if records is None else records, self.policy)


def _export_more(job: _Job, folder: Path) -> ExportReport:
    """The formats of :mod:`segtool.services.format_registry` (CVAT, Label Studio, mask folders, Datumaro)."""
    more_job = more.ExportJob(job.final, job.policy.classes, list(job.items()), job.store.root, job.splits,
                              bool(job.fractions), segmentation=job.segmentation, progress=job.progress)
    stats = more.write(job.fmt, more_job, folder)
    return ExportReport([], stats.images, stats.annotations, stats, skipped_images=list(stats.skipped))


def _export_voc(job: _Job, folder: Path) -> ExportReport:
    stats = voc.export_voc(folder, job.policy.classes, job.items(), image_root=job.store.root, splits=job.splits,
                           void_border=job.void_border, progress=job.progress, jpeg=job.jpeg)
    return ExportReport([], stats.images, stats.objects, stats, skipped_images=list(stats.skipped))


def _export_yolo(job: _Job, folder: Path) -> ExportReport:
    stats = yolo.export_yolo(folder, job.policy.classes, job.items(), image_root=job.store.root, splits=job.splits,
                             progress=job.progress, dataset_path=job.final)
    return ExportReport([], stats.images, stats.polygons, stats, skipped_images=list(stats.skipped))


def _export_coco_folder(job: _Job, folder: Path) -> ExportReport:
    return (_export_coco_datumaro if job.layout == "datumaro" else _export_coco_flat)(job, folder)


def _split_groups(job: _Job, records: list[ImageRecord], unsplit: str) -> dict[str, list[ImageRecord]]:
    """Split name -> its images (``{unsplit: all}`` without ``--split``; every split, even empty)."""
    groups: dict[str, list[ImageRecord]] = {name: [] for name in ([unsplit] if not job.fractions
                                                                   else ["train", *job.fractions])}
    for rec in records:
        groups[job.splits[rec.path] if job.fractions else unsplit].append(rec)
    return groups


def _export_coco_datumaro(job: _Job, folder: Path) -> ExportReport:
    """``annotations/instances_<split>.json`` + ``images/<split>/<relative path>``: what Datumaro's
    (and so CVAT's) COCO importer reads as it is (``file_name`` is relative to ``images/<split>/``)."""
    report = ExportReport()
    for name, recs in _split_groups(job, job.records, "default").items():
        try:
            (folder / "images" / name).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_segtool_error(exc, folder, "create") from None
        kept, skipped = _copy_images(job.store.root, recs, folder / "images" / name)
        report.skipped_images += skipped
        data, stats = coco.build_coco(job.policy.classes, _counted(job, kept), segmentation=job.segmentation,
                                      date=job.date)
        target = folder / "annotations" / f"instances_{name}.json"
        coco.save_json(data, target, durable=False)
        report.files.append(target)
        report.images += stats.images
        report.annotations += stats.annotations
        report.details = stats
    return report


def _export_coco_flat(job: _Job, folder: Path) -> ExportReport:
    records, skipped = job.records, []
    if job.copy_images:
        records, skipped = _copy_images(job.store.root, job.records, folder / "images")
    groups = _split_groups(job, records, "annotations")
    report = ExportReport(skipped_images=skipped)
    for name, recs in groups.items():
        data, stats = coco.build_coco(job.policy.classes, _counted(job, recs), segmentation=job.segmentation,
                                      date=job.date)
        coco.save_json(data, folder / f"{name}.json", durable=False)
        report.files.append(folder / f"{name}.json")
        report.images += stats.images
        report.annotations += stats.annotations
        report.details = stats
    return report


def _export_coco_file(job: _Job, overwrite: bool) -> ExportReport:
    target = job.final
    if target.exists() and not overwrite:
        raise FormatError(f"{target} exists; pass --overwrite to replace it (nothing was written)")
    if target.is_dir():
        raise FormatError(f"{target} is a folder; name a .json file or a folder without the .json suffix")
    data, stats = coco.build_coco(job.policy.classes, _counted(job, job.records), segmentation=job.segmentation,
                                  date=job.date)
    coco.save_json(data, target)
    return ExportReport([target], stats.images, stats.annotations, stats)


def _counted(job: _Job, records: list[ImageRecord]) -> Iterator[tuple[ImageRecord, list[Instance]]]:
    for item in job.items(records):
        yield item
        if job.progress:
            job.progress(1)


def _copy_images(root: Path, records: list[ImageRecord], dest: Path) -> tuple[list[ImageRecord], list[tuple[str, str]]]:
    """Copy every image to ``dest/<relative path>`` (read inside ``root`` only, written inside ``dest``
    only); returns the records copied and ``(path, reason)`` of those that could not be read."""
    kept, skipped = [], []
    for rec in records:
        try:
            target = RelPath(rec.path, "image path").inside(dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_image(root, rec.path, target)
        except ImageReadError as exc:
            skipped.append((rec.path, str(exc)))
            continue
        except OSError as exc:
            raise as_segtool_error(exc, dest) from None
        kept.append(rec)
    return kept, skipped


_FOLDER_EXPORTERS: dict[str, Callable[[_Job, Path], ExportReport]] = {
    "coco": _export_coco_folder, "voc": _export_voc, "yolo": _export_yolo}


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
        return _coco_images_beside(coco.load_coco(path, boxes=boxes), path, store.root)
    if fmt == "voc":
        return voc.load_voc(path, names=_voc_names(store, path))
    if fmt == "labelme":
        return labelme.load_labelme(path, store.root)
    raise FormatError(f"unknown import format {fmt!r}; use one of {IMPORT_FORMATS} or datumaro:NAME")


def _coco_images_beside(data: ImportedDataset, path: Path, root: Path) -> ImportedDataset:
    """Name every image of a COCO file by its path in the project: a ``file_name`` that is not a
    project file is looked up where COCO layouts keep images: ``images/<split>/`` beside
    ``annotations/instances_<split>.json`` (Datumaro, CVAT), ``images/`` and the file's folder."""
    split = path.stem[len("instances_"):] if path.stem.startswith("instances_") else path.stem
    bases = [path.parent.parent / "images" / split, path.parent / "images" / split, path.parent / "images",
             path.parent]
    for im in data.images:
        if (root / im.file_name).is_file():
            continue
        with contextlib.suppress(FileNotFoundError, UnsafePathError):  # reported as unknown when it stays so
            im.file_name = resolve_named_image(im.file_name, bases, root, "file_name")
    return data


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
            try:
                file = image_source(store.root, im.file_name)  # never outside the image folder
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
    written: list[Path] = []
    try:
        _write_embedded_images(store.root, data, written)
        return _import_validated(store, path, data, progress)
    except BaseException:
        for file in reversed(written):  # the project folder is left as it was
            if file.is_dir():
                with contextlib.suppress(OSError):
                    file.rmdir()
            else:
                file.unlink(missing_ok=True)
        raise


def _write_embedded_images(root: Path, data: ImportedDataset, written: list[Path]) -> None:
    """Write the images a validated source carries (labelme ``imageData``) where it named them,
    appending every folder created and file written to ``written`` (the caller removes them if the
    import fails). Never replaces a file."""
    for im in data.images:
        if im.embedded is None:
            continue
        target = RelPath(im.file_name, "image path").inside(root)
        if target.exists() or target.is_symlink():
            raise FormatError(f"{target} appeared during the import; nothing was imported")
        missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
        try:
            for folder in reversed(missing):
                folder.mkdir()
                written.append(folder)
        except OSError as exc:
            raise as_segtool_error(exc, target.parent, "create") from None
        write_bytes(target, im.embedded())
        written.append(target)


def _import_validated(store: ProjectStore, path: str | os.PathLike, data: ImportedDataset,
                      progress: Progress | None) -> ImportReport:
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
