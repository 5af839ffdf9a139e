"""The formats beyond COCO/VOC/YOLO-export: which reader and writer serves each ``--format`` name.

- :data:`IMPORTERS` / :data:`EXPORTERS`: native formats (``yolo`` import, ``cvat``, ``label-studio``,
  ``labelme`` export, ``instance-masks``, ``semantic-masks``), each a pure reader/writer in
  :mod:`segtool.io`.
- ``datumaro:NAME``: any importer/exporter of the installed Datumaro (optional extra ``[formats]``),
  through the one bridge :mod:`segtool.io.datumaro_bridge`.

Writers write into the temporary folder the export pipeline (:func:`segtool.services.formats.export_project`)
provides and moves into place whole (:class:`~segtool.core.atomic.AtomicFolder`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.io.common import ImportedDataset

DATUMARO_PREFIX = "datumaro:"


@dataclass
class FormatStats:
    """What an export wrote: counts and what was lost on the way (one line each)."""

    images: int = 0
    annotations: int = 0
    notes: list[str] = field(default_factory=list)
    #: ``(image path, reason)`` of images left out because they could not be read.
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ExportJob:
    """Everything an exporter gets: the target, the classes, ``(image, accepted instances)`` pairs,
    the project folder (for the image files), the split of every image path and the options."""

    out: Path
    classes: Sequence[LabelClass]
    items: list[tuple[ImageRecord, list[Instance]]]
    image_root: Path
    splits: dict[str, str]
    has_split: bool = False
    segmentation: str = "auto"
    progress: Callable[[int], None] | None = None


def is_datumaro(fmt: str) -> bool:
    """Whether ``fmt`` names a Datumaro format (``datumaro:cityscapes``)."""
    return fmt.startswith(DATUMARO_PREFIX) and len(fmt) > len(DATUMARO_PREFIX)


def _load_yolo(path: Path, root: Path, *, boxes: str, images: Sequence[ImageRecord]) -> ImportedDataset:
    from segtool.io.yolo_import import load_yolo

    return load_yolo(path, root, boxes=boxes)


def _load_cvat(path: Path, root: Path, *, boxes: str, images: Sequence[ImageRecord]) -> ImportedDataset:
    from segtool.io.cvat import load_cvat

    return load_cvat(path, root, boxes=boxes)


def _export_cvat(job: ExportJob, folder: Path) -> FormatStats:
    from segtool.io.cvat import export_cvat

    stats = export_cvat(folder, job.classes, job.items, image_root=job.image_root,
                        splits=job.splits if job.has_split else None, segmentation=job.segmentation,
                        progress=job.progress)
    return FormatStats(stats.images, stats.annotations, stats.notes)


def _load_label_studio(path: Path, root: Path, *, boxes: str, images: Sequence[ImageRecord]) -> ImportedDataset:
    from segtool.io.label_studio import load_label_studio

    return load_label_studio(path, {r.path: (r.height, r.width) for r in images}, boxes=boxes)


def _export_label_studio(job: ExportJob, folder: Path) -> FormatStats:
    from segtool.io.label_studio import export_label_studio

    stats = export_label_studio(folder, job.classes, job.items, segmentation=job.segmentation, progress=job.progress)
    return FormatStats(stats.images, stats.annotations, stats.notes)


def _export_labelme(job: ExportJob, folder: Path) -> FormatStats:
    from segtool.io.labelme_export import export_labelme

    stats = export_labelme(folder, job.classes, job.items, image_root=job.image_root, progress=job.progress)
    return FormatStats(stats.images, stats.annotations, stats.notes, stats.skipped)


def _mask_loader(kind: str):
    def load(path: Path, root: Path, *, boxes: str, images: Sequence[ImageRecord]) -> ImportedDataset:
        from segtool.io.mask_folders import load_mask_folder

        return load_mask_folder(path, kind, images, root)
    return load


def _mask_exporter(kind: str):
    def export(job: ExportJob, folder: Path) -> FormatStats:
        from segtool.io.mask_folders import export_mask_folder

        stats = export_mask_folder(folder, kind, job.classes, job.items, progress=job.progress)
        return FormatStats(stats.images, stats.annotations, stats.notes)
    return export


#: ``--format`` name -> reader ``(path, project_root, *, boxes, images) -> ImportedDataset``.
IMPORTERS: dict[str, Callable[..., ImportedDataset]] = {
    "yolo": _load_yolo,
    "cvat": _load_cvat,
    "label-studio": _load_label_studio,
    "instance-masks": _mask_loader("instance"),
    "semantic-masks": _mask_loader("semantic"),
}
#: ``--format`` name -> writer ``(job, folder) -> FormatStats`` (``folder`` is the temporary folder).
EXPORTERS: dict[str, Callable[[ExportJob, Path], FormatStats]] = {
    "cvat": _export_cvat,
    "labelme": _export_labelme,
    "label-studio": _export_label_studio,
    "instance-masks": _mask_exporter("instance"),
    "semantic-masks": _mask_exporter("semantic"),
}


def load(fmt: str, path: Path, root: Path, *, boxes: str = "skip", images: Sequence[ImageRecord] = ()) -> ImportedDataset:
    """Read and validate ``path`` in format ``fmt`` (a name of :data:`IMPORTERS` or ``datumaro:NAME``)."""
    if is_datumaro(fmt):
        from segtool.io.datumaro_bridge import load_datumaro

        return load_datumaro(path, fmt[len(DATUMARO_PREFIX):], root, boxes=boxes)
    if fmt not in IMPORTERS:
        raise FormatError(f"unknown import format {fmt!r}")
    return IMPORTERS[fmt](path, root, boxes=boxes, images=images)


def write(fmt: str, job: ExportJob, folder: Path) -> FormatStats:
    """Write ``job`` in format ``fmt`` into ``folder`` (the export pipeline's temporary folder, moved
    to ``job.out`` when complete)."""
    if is_datumaro(fmt):
        from segtool.io.datumaro_bridge import export_datumaro

        def writer(j: ExportJob, folder: Path) -> FormatStats:
            images, anns, notes = export_datumaro(folder, fmt[len(DATUMARO_PREFIX):], j.classes, j.items,
                                                  image_root=j.image_root,
                                                  splits=j.splits if j.has_split else None, progress=j.progress)
            return FormatStats(images, anns, notes)
    elif fmt in EXPORTERS:
        writer = EXPORTERS[fmt]
    else:
        raise FormatError(f"unknown export format {fmt!r}")
    return writer(job, folder)
