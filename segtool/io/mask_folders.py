"""Plain mask folders: instance-index PNGs and semantic (class-index) PNGs, import and export.

- ``instance-masks``: one PNG per image, 0 = background, k = instance k (Penn-Fudan's ``PedMasks``,
  many medical layouts). Export writes ``masks/<stem>.png`` (8-bit, 16-bit beyond 255 instances),
  instances bottom to top, plus ``instances.txt`` (``stem k class`` per line). Import reads a folder
  of such PNGs; every instance gets the class of ``instances.txt`` when present, else ``class_name``.
- ``semantic-masks``: one PNG per image holding class ids (palette indices or gray values),
  0 = background, 255 = void, and ``class_names.txt`` (line k = name of id k, as labelme2voc
  writes it; ``labelmap.txt`` is read too). ``_background_`` is not a class; 255 and
  ``__ignore__`` are void: imported as one void region per image (no class, crowd). Export writes
  VOC-palette ``masks/<stem>.png`` and ``class_names.txt`` (crowd and void regions 255); import
  makes one instance per class present in an image.

A mask ``X.png`` or ``X_mask.png`` belongs to the project image whose file stem (or flat export
stem, ``sub/c.jpg`` -> ``sub__c``) is ``X`` (images
inside the mask folder itself are never matched, so a dataset folder that is also the project
folder works even when its mask PNGs were registered as images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from segtool.core import masks
from segtool.core.atomic import write_text
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.core.names import check_names_for_format, class_name_problem, unique_stems
from segtool.io.common import ImportedAnnotation, ImportedDataset, ImportedImage, Problems
from segtool.io.dataset_files import project_rel
from segtool.io.images import max_pixels_limit
from segtool.io.voc import VOID, paint_objects, read_labelmap, save_palette_png

BACKGROUND, IGNORE = "_background_", "__ignore__"


@dataclass
class MaskFolderStats:
    """What an export wrote."""

    images: int = 0
    annotations: int = 0
    notes: list[str] = field(default_factory=list)


def _ordered(instances: Sequence[Instance], void: bool = False) -> list[Instance]:
    """Labelled instances bottom to top (and void regions, no class and crowd, with ``void``)."""
    return [i for i in sorted(instances, key=lambda i: (i.z, i.id))
            if (i.class_id is not None or (void and i.iscrowd)) and i.area > 0]


def _instance_map(instances: Sequence[Instance], size: tuple[int, int]) -> np.ndarray:
    if len(instances) <= 255:
        return paint_objects([i.rle for i in instances], size)
    out = np.zeros(size, np.uint16)
    for k, inst in enumerate(instances, 1):
        out[inst.mask()] = k
    return out


def export_mask_folder(out: Path, kind: str, classes: Sequence[LabelClass],
                       items: Iterable[tuple[ImageRecord, Sequence[Instance]]],
                       progress: Callable[[int], None] | None = None) -> MaskFolderStats:
    """Write ``out/masks/<stem>.png`` and the class file (see the module docstring)."""
    check_names_for_format([c.name for c in classes], "semantic-masks" if kind == "semantic" else "instance-masks")
    items = list(items)
    stems = unique_stems(rec.path for rec, _ in items)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    ordered = sorted(classes, key=lambda c: c.id)
    if kind == "semantic" and len(ordered) > 254:
        raise FormatError(f"semantic mask PNGs hold at most 254 classes, the project has {len(ordered)}")
    index = {c.id: i for i, c in enumerate(ordered, 1)}
    names = {c.id: c.name for c in ordered}
    stats, lines = MaskFolderStats(), []
    for rec, insts in items:
        shown = _ordered(insts, void=kind == "semantic")
        size = (rec.height, rec.width)
        target = out / "masks" / f"{stems[rec.path]}.png"
        if kind == "semantic":
            sem = np.zeros(size, np.uint8)
            for inst in shown:
                sem[inst.mask()] = VOID if inst.iscrowd else index[inst.class_id]
            save_palette_png(sem, target)
        else:
            Image.fromarray(_instance_map(shown, size)).save(target, format="PNG")
            lines += [f"{stems[rec.path]} {k} {names[i.class_id]}" for k, i in enumerate(shown, 1)]
        stats.images += 1
        stats.annotations += sum(i.class_id is not None for i in shown)
        if progress:
            progress(1)
    if kind == "semantic":
        write_text(out / "class_names.txt", "\n".join([BACKGROUND, *(c.name for c in ordered)]) + "\n", durable=False)
    else:
        write_text(out / "instances.txt", "".join(f"{line}\n" for line in lines), durable=False)
    return stats


# -- import -------------------------------------------------------------------------------------------
def _read_png(path: Path, problems: Problems) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels_limit():
                problems.add(f"{path.name}: {w}x{h} pixels, above the limit")
                return None
            if im.mode not in ("P", "L", "I", "I;16", "1"):
                problems.add(f"{path.name}: mode {im.mode}; a mask PNG holds one index per pixel (gray or palette)")
                return None
            return np.array(im)
    except Exception as exc:  # Pillow raises many kinds for broken files
        problems.add(f"{path.name}: not a readable PNG ({type(exc).__name__})")
        return None


def class_file_names(folder: Path) -> list[str] | None:
    """Names by id from ``class_names.txt`` (one per line, line k = id k) or ``labelmap.txt``."""
    for candidate in (folder, folder.parent):
        if (candidate / "class_names.txt").is_file():
            return [ln.strip() for ln in (candidate / "class_names.txt").read_text(encoding="utf-8-sig").splitlines()
                    if ln.strip()]
        if (candidate / "labelmap.txt").is_file():
            return read_labelmap(candidate / "labelmap.txt")
    return None


def _pairs(folder: Path, images: Sequence[ImageRecord], root: Path) -> tuple[list[tuple[Path, ImageRecord]], list[str]]:
    inside = project_rel(folder, root)
    candidates = [r for r in images if inside is None or not (r.path + "/").startswith(inside + "/")]
    flat = unique_stems(r.path for r in candidates)  # the stems segtool's exports use ("sub/c.jpg" -> "sub__c")
    by_stem: dict[str, list[ImageRecord]] = {}
    for rec in candidates:  # not the mask PNGs themselves, should they be registered as images
        by_stem.setdefault(rec.path.rsplit("/", 1)[-1].rsplit(".", 1)[0], []).append(rec)
        if flat[rec.path] != rec.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]:
            by_stem.setdefault(flat[rec.path], []).append(rec)
    pairs, missing = [], []
    for png in sorted(folder.glob("*.png")):
        stem = png.stem[:-5] if png.stem.endswith("_mask") and png.stem[:-5] in by_stem else png.stem
        recs = by_stem.get(stem, [])
        if len(recs) == 1:
            pairs.append((png, recs[0]))
        else:
            missing.append(f"{png.name}: {'no' if not recs else 'more than one'} project image with stem {stem!r}")
    return pairs, missing


def _instances_txt(folder: Path) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for candidate in (folder / "instances.txt", folder.parent / "instances.txt"):
        if candidate.is_file():
            for line in candidate.read_text(encoding="utf-8-sig").splitlines():
                parts = line.split(" ", 2)
                if len(parts) == 3 and parts[1].isdigit():
                    out[(parts[0], int(parts[1]))] = parts[2].strip()
            break
    return out


def load_mask_folder(path: str | Path, kind: str, images: Sequence[ImageRecord], root: str | Path, *,
                     class_name: str = "object") -> ImportedDataset:
    """Read a folder of instance-index or semantic mask PNGs (see the module docstring).

    ``path`` is the mask folder, or a dataset folder holding ``masks/``, ``PedMasks/`` or
    ``SegmentationClassPNG/``.
    """
    folder = Path(path)
    for sub in ("masks", "PedMasks", "SegmentationClassPNG", "SegmentationClass"):
        if (folder / sub).is_dir() and not any(folder.glob("*.png")):
            folder = folder / sub
            break
    pairs, missing = _pairs(folder, images, Path(root))
    if not pairs:
        raise FormatError(f"{folder}: no mask PNG matches a project image" + (f" ({missing[0]})" if missing else ""))
    problems = Problems(str(folder))
    for m in missing:
        problems.add(m)
    dataset = ImportedDataset(source=str(folder))
    if kind == "semantic":
        names = class_file_names(folder)
        if names is None:
            raise FormatError(f"{folder}: semantic masks need class_names.txt (or labelmap.txt) naming the ids")
        for n in names:
            if class_name_problem(n):
                problems.add(f"class_names.txt: {class_name_problem(n)}")
    labels = _instances_txt(folder) if kind == "instance" else {}
    for png, rec in pairs:
        arr = _read_png(png, problems)
        if arr is None:
            continue
        if arr.shape != (rec.height, rec.width):
            problems.add(f"{png.name}: {arr.shape[1]}x{arr.shape[0]}, but {rec.path} is {rec.width}x{rec.height}")
            continue
        image = ImportedImage(rec.path, rec.width, rec.height)
        values = [int(v) for v in np.unique(arr) if v != 0 and not (kind == "semantic" and v == VOID)]
        void = (arr == VOID) if kind == "semantic" else np.zeros(arr.shape, bool)
        for v in values:
            if kind == "semantic":
                name = names[v] if v < len(names) else None
                if name is None:
                    problems.add(f"{png.name}: id {v} is not in the class file ({len(names)} names)")
                    continue
                if name == BACKGROUND:
                    continue
                if name == IGNORE:
                    void |= arr == v
                    continue
            else:
                name = labels.get((png.stem, v), class_name)
            image.annotations.append(ImportedAnnotation(name, masks.encode_rle(arr == v)))
        if void.any():  # 255 / __ignore__: one void region (no class, crowd), as labelme2voc means it
            image.annotations.append(ImportedAnnotation(None, masks.encode_rle(void), iscrowd=True))
        dataset.images.append(image)
    problems.raise_if_any()
    seen: dict[str, None] = {}
    for im in dataset.images:
        seen.update((a.category, None) for a in im.annotations if a.category is not None)
    dataset.categories = [(n, None) for n in seen]
    if kind == "semantic":
        dataset.source_ids = {n: names.index(n) for n in seen}
    return dataset
