"""Pascal VOC segmentation: export (the VOC2012 folder layout) and import of class/object PNGs.

Layout written by :func:`export_voc` into ``out/`` (what ``torchvision.datasets.VOCSegmentation``
reads as ``root/VOCdevkit/VOC2012``)::

    JPEGImages/<id>.jpg                  the images (JPEG files copied, others converted)
    SegmentationClass/<id>.png           palette PNG, index = class (0 background, 1..K classes)
    SegmentationObject/<id>.png          palette PNG, index = object 1..N, bottom to top by z-order
    Annotations/<id>.xml                 one <object> (name, 1-based inclusive bndbox) per instance
    ImageSets/Segmentation/{train,val,trainval}.txt
    labelmap.txt                         ``name:r,g,b::`` per index, background first

Index 255 is "void": with ``void_border=N`` a band of N pixels around every object boundary is
set to 255 in both PNGs, as in the original VOC. ``<id>`` is the image's relative path without
suffix, folders joined by ``__`` (see :func:`voc_ids`). Classes get indices 1..K in id order.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np
from PIL import Image

from segtool.core import masks
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError
from segtool.io.coco import rle_string_to_counts
from segtool.io.common import ImportedAnnotation, ImportedDataset, ImportedImage, Problems, voc_palette
from segtool.io.images import load_image

#: The 20 Pascal VOC classes plus background, used to name indices when no labelmap.txt exists.
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
VOID = 255
_PALETTE = voc_palette()


@dataclass
class VocStats:
    """What an export wrote."""

    images: int = 0
    objects: int = 0


def voc_ids(paths: Iterable[str]) -> dict[str, str]:
    """Flat, unique VOC ids for relative image paths: ``"a/b/c.png"`` -> ``"a__b__c"``.

    When two paths would collide (``x.jpg`` and ``x.png``) the suffix is kept (``x_png``).
    """
    paths = list(paths)
    base = {p: p.rsplit(".", 1)[0].replace("/", "__") if "." in p.rsplit("/", 1)[-1] else p.replace("/", "__")
            for p in paths}
    taken: dict[str, int] = {}
    for b in base.values():
        taken[b] = taken.get(b, 0) + 1
    out: dict[str, str] = {}
    for p, b in base.items():
        out[p] = b if taken[b] == 1 else p.replace("/", "__").replace(".", "_")
    return out


def class_indices(classes: Sequence[LabelClass]) -> dict[int, int]:
    """Class id -> VOC index (1..K in id order). More than 254 classes cannot be written."""
    ordered = sorted(classes, key=lambda c: c.id)
    if len(ordered) > 254:
        raise FormatError(f"Pascal VOC holds at most 254 classes, the project has {len(ordered)}")
    return {c.id: i + 1 for i, c in enumerate(ordered)}


def render_maps(instances: Sequence[Instance], size: tuple[int, int], class_index: Mapping[int, int],
                void_border: int = 0) -> tuple[np.ndarray, np.ndarray, list[Instance]]:
    """Paint instances bottom to top into class and object index maps.

    Returns ``(class_map, object_map, objects)``: two ``uint8`` ``(H, W)`` arrays and the painted
    instances in object-index order (index ``k`` is ``objects[k-1]``). Only accepted, labelled
    instances are painted.
    """
    h, w = size
    cls = np.zeros((w, h), np.uint8).T  # Fortran-ordered (H, W) arrays: RLE runs are contiguous
    obj = np.zeros((w, h), np.uint8).T
    objects = [i for i in sorted(instances, key=lambda i: (i.z, i.id))
               if i.state == "accepted" and i.class_id is not None]
    if len(objects) > 254:
        raise FormatError(f"Pascal VOC holds at most 254 objects per image, got {len(objects)}")
    cls_t, obj_t = cls.T.reshape(-1), obj.T.reshape(-1)  # column-major (RLE order) views
    for k, inst in enumerate(objects, start=1):
        if tuple(inst.image_size) != (h, w):
            raise FormatError(f"instance {inst.id}: mask size {inst.image_size} differs from the image {(h, w)}")
        for start, stop in _rle_runs(inst.rle):
            cls_t[start:stop] = class_index[inst.class_id]
            obj_t[start:stop] = k
    cls, obj = np.ascontiguousarray(cls), np.ascontiguousarray(obj)
    if void_border > 0:
        kernel = np.ones((2 * void_border + 1, 2 * void_border + 1), np.uint8)
        band = cv2.dilate(obj, kernel) != cv2.erode(obj, kernel)
        cls[band] = VOID
        obj[band] = VOID
    return cls, obj, objects


def _rle_runs(rle: dict) -> list[tuple[int, int]]:
    """Foreground runs ``(start, stop)`` of an RLE as indices into the column-major flat mask."""
    counts = rle["counts"]
    runs = counts if isinstance(counts, list) else rle_string_to_counts(
        counts.decode("ascii") if isinstance(counts, bytes) else counts)
    if runs is None:
        raise FormatError("corrupt RLE in the project")
    ends = np.cumsum(runs)
    return [(int(ends[i - 1]), int(ends[i])) for i in range(1, len(runs), 2)]


def save_palette_png(index_map: np.ndarray, path: Path) -> None:
    """Write a ``uint8`` ``(H, W)`` index map as a palette PNG with the VOC colour map."""
    h, w = index_map.shape
    im = Image.frombytes("P", (w, h), np.ascontiguousarray(index_map, dtype=np.uint8).tobytes())
    im.putpalette(_PALETTE.ravel().tolist())
    im.save(path, optimize=False, compress_level=1)


def annotation_xml(voc_id: str, record: ImageRecord, objects: Sequence[Instance],
                   names: Mapping[int, str]) -> bytes:
    """The ``Annotations/<id>.xml`` document: size and one object with a 1-based inclusive bndbox each."""
    parts = ["<annotation>\n  <folder>VOC2012</folder>\n",
             f"  <filename>{escape(voc_id)}.jpg</filename>\n  <source>\n    <database>segtool</database>\n"
             f"  </source>\n  <size>\n    <width>{record.width}</width>\n    <height>{record.height}</height>\n"
             "    <depth>3</depth>\n  </size>\n  <segmented>1</segmented>\n"]
    for inst in objects:
        x0, y0, x1, y1 = inst.bbox
        truncated = int(x0 == 0 or y0 == 0 or x1 == record.width or y1 == record.height)
        parts.append(f"  <object>\n    <name>{escape(names[inst.class_id])}</name>\n    <pose>Unspecified</pose>\n"
                     f"    <truncated>{truncated}</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
                     f"      <xmin>{x0 + 1}</xmin>\n      <ymin>{y0 + 1}</ymin>\n      <xmax>{x1}</xmax>\n"
                     f"      <ymax>{y1}</ymax>\n    </bndbox>\n  </object>\n")
    parts.append("</annotation>\n")
    return "".join(parts).encode("utf-8")


def _write_jpeg(src: Path, dst: Path) -> None:
    if src.suffix.lower() in (".jpg", ".jpeg"):
        try:
            shutil.copyfile(src, dst)
            return
        except OSError as exc:
            raise ImageReadError(f"cannot copy image {src}: {exc}") from exc
    rgb = load_image(src)
    if not cv2.imwrite(str(dst), np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise FormatError(f"cannot write {dst}")


def export_voc(out: str | Path, classes: Sequence[LabelClass],
               items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: str | Path,
               splits: Mapping[str, str] | None = None, void_border: int = 0, copy_images: bool = True,
               progress: Callable[[int], None] | None = None) -> VocStats:
    """Write a Pascal VOC segmentation dataset (layout in the module docstring).

    Parameters
    ----------
    items
        ``(image, instances)`` pairs; needs all images up front only for their ids (iterated once).
    image_root
        Folder the records' relative paths are under (the project root).
    splits
        Relative image path -> split name (``train``/``val``/...); default: all ``train``.
    copy_images
        Write ``JPEGImages`` (readers such as torchvision need it).
    """
    out = Path(out)
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "Annotations", "ImageSets/Segmentation"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    items = list(items)
    ids = voc_ids(rec.path for rec, _ in items)
    index = class_indices(classes)
    names = {c.id: c.name for c in classes}
    lists: dict[str, list[str]] = {"train": [], "val": []}
    stats = VocStats()
    for rec, instances in items:
        vid = ids[rec.path]
        cls, obj, objects = render_maps(instances, (rec.height, rec.width), index, void_border)
        save_palette_png(cls, out / "SegmentationClass" / f"{vid}.png")
        save_palette_png(obj, out / "SegmentationObject" / f"{vid}.png")
        (out / "Annotations" / f"{vid}.xml").write_bytes(annotation_xml(vid, rec, objects, names))
        if copy_images:
            _write_jpeg(Path(image_root) / rec.path, out / "JPEGImages" / f"{vid}.jpg")
        lists.setdefault((splits or {}).get(rec.path, "train"), []).append(vid)
        stats.images += 1
        stats.objects += len(objects)
        if progress:
            progress(1)
    sets = out / "ImageSets" / "Segmentation"
    for name, vids in lists.items():
        (sets / f"{name}.txt").write_text("".join(f"{v}\n" for v in vids))
    (sets / "trainval.txt").write_text("".join(f"{ids[rec.path]}\n" for rec, _ in items))
    ordered = sorted(classes, key=lambda c: c.id)
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    lines += [f"{c.name}:{','.join(str(int(v)) for v in _PALETTE[index[c.id]])}::" for c in ordered]
    (out / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return stats


def read_labelmap(path: Path) -> list[str]:
    """Class names by index from a ``labelmap.txt`` (``name:r,g,b:...``; index 0 is background)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split(":", 1)[0].strip())
    return names


def _read_index_png(path: Path, problems: Problems) -> np.ndarray | None:
    try:
        with Image.open(path) as im:
            if im.mode in ("P", "L"):
                return np.array(im)
            rgb = np.asarray(im.convert("RGB"))
    except Exception as exc:
        problems.add(f"{path.name}: not a readable PNG ({exc})")
        return None
    lut = {tuple(int(v) for v in c): i for i, c in enumerate(_PALETTE)}
    flat = rgb.reshape(-1, 3)
    colours, inverse = np.unique(flat, axis=0, return_inverse=True)
    mapped = [lut.get(tuple(int(v) for v in c)) for c in colours]
    if any(m is None for m in mapped):
        problems.add(f"{path.name}: colours that are not in the VOC palette")
        return None
    return np.asarray(mapped, np.uint8)[inverse.ravel()].reshape(rgb.shape[:2])


def load_voc(root: str | Path, names: Mapping[str, str] | None = None) -> ImportedDataset:
    """Read a VOC folder's ``SegmentationObject``/``SegmentationClass`` PNGs as instances.

    Each object index (not 0, not 255) becomes one instance whose class is the most frequent class
    index under it; without an object PNG, each class index becomes one instance. Class names come
    from ``labelmap.txt``, else the 20 VOC classes.

    Parameters
    ----------
    names
        VOC id -> image path relative to the project folder (see :func:`voc_ids`); ids not in it
        are reported as problems. ``None`` names each image ``JPEGImages/<id>.jpg``.
    """
    root = Path(root)
    cls_dir, obj_dir = root / "SegmentationClass", root / "SegmentationObject"
    if not cls_dir.is_dir():
        raise FormatError(f"{root} is not a Pascal VOC folder: SegmentationClass/ is missing")
    labelmap = root / "labelmap.txt"
    class_names = read_labelmap(labelmap) if labelmap.is_file() else list(VOC_CLASSES)
    problems = Problems(str(root))
    dataset = ImportedDataset(source=str(root))
    used: dict[str, None] = {}
    for cls_png in sorted(cls_dir.glob("*.png")):
        vid = cls_png.stem
        rel = names.get(vid) if names is not None else f"JPEGImages/{vid}.jpg"
        if rel is None:
            problems.add(f"{vid}: no image of the project has this VOC id")
            continue
        image = _load_voc_image(vid, rel, cls_png, obj_dir / f"{vid}.png", class_names, problems)
        if image is not None:
            dataset.images.append(image)
            for ann in image.annotations:
                used.setdefault(ann.category, None)
    problems.raise_if_any()
    dataset.categories = [(n, None) for n in used]
    return dataset


def _load_voc_image(vid: str, rel: str, cls_png: Path, obj_png: Path, class_names: Sequence[str],
                    problems: Problems) -> ImportedImage | None:
    cls = _read_index_png(cls_png, problems)
    obj = _read_index_png(obj_png, problems) if obj_png.is_file() else None
    if cls is None or (obj_png.is_file() and obj is None):
        return None
    if obj is not None and obj.shape != cls.shape:
        problems.add(f"{vid}: SegmentationObject size {obj.shape} differs from SegmentationClass {cls.shape}")
        return None
    h, w = cls.shape
    image = ImportedImage(rel, w, h)
    regions = obj if obj is not None else cls
    for k in (int(v) for v in np.unique(regions) if v not in (0, VOID)):
        region = regions == k
        under = cls[region]
        under = under[(under != 0) & (under != VOID)]
        if under.size == 0:
            problems.add(f"{vid}: object {k} has no class in SegmentationClass")
            continue
        ci = int(np.bincount(under).argmax())
        if ci >= len(class_names):
            problems.add(f"{vid}: class index {ci} is not in the label map ({len(class_names) - 1} classes)")
            continue
        image.annotations.append(ImportedAnnotation(class_names[ci], masks.encode_rle(region)))
    return image
