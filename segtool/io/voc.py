"""Pascal VOC segmentation: export (the VOC2012 folder layout) and import of class/object PNGs.

Layout written by :func:`export_voc` into ``out/`` (what ``torchvision.datasets.VOCSegmentation``
reads as ``root/VOCdevkit/VOC2012``)::

    JPEGImages/<id>.jpg | <id>.png       the images: JPEG and PNG files copied as they are, others
                                         converted to PNG (lossless); with ``jpeg=True`` every image
                                         is ``<id>.jpg`` (non-JPEG converted at quality 95), which
                                         torchvision's ``VOCSegmentation`` needs: it opens
                                         ``JPEGImages/<id>.jpg`` only
    SegmentationClass/<id>.png           palette PNG, index = class (0 background, 1..K classes)
    SegmentationObject/<id>.png          palette PNG, index = object 1..N, bottom to top by z-order
    Annotations/<id>.xml                 one <object> (name, 1-based inclusive bndbox) per instance
    ImageSets/Segmentation/{train,val,trainval}.txt
    labelmap.txt                         ``name:r,g,b::`` per index, background first

Index 255 is "void": with ``void_border=N`` a band of N pixels around every object boundary is
set to 255 in both PNGs, as in the original VOC. ``<id>`` is the image's relative path without
suffix, folders joined by ``__``, unique by construction (see :func:`voc_ids`). Classes get
indices 1..K in id order.

Names: class names follow the one name policy (:mod:`segtool.core.names`); ``labelmap.txt`` cannot
hold ``:`` or a leading ``#``, so such names are refused before anything is written; everything
else is written exactly (UTF-8; XML escaped), so re-importing an export gives the same classes.
Import checks each PNG's declared size from its header before decoding it, and reads
``labelmap.txt`` as UTF-8 only (another encoding is refused with its reason, never guessed).
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from segtool.core import masks
from segtool.core.atomic import as_segtool_error
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, ImageReadError, UnsafePathError
from segtool.core.names import check_names_for_format, class_name_problem, unique_stems
from segtool.core.rle import RleError, decode_counts, segment_cumsum
from segtool.core.safe_paths import RelPath, describe
from segtool.io.common import (
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    declared_size_problem,
    image_suffix,
    voc_palette,
    write_image_as,
)
from segtool.io.dataset_files import image_beside

#: The 20 Pascal VOC classes plus background, used to name indices when no labelmap.txt exists.
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")
VOID = 255
_PALETTE = voc_palette()
_PALETTE_LIST = _PALETTE.ravel().tolist()
#: Export threads. More than the cores on purpose: creating 4-5 files per image is latency-bound
#: (measured on a loaded 2-core machine: 8-16 threads beat 2 and 4, see ``segtool bench export``).
DEFAULT_WORKERS = 8


@dataclass
class VocStats:
    """What an export wrote; ``skipped`` lists ``(image path, reason)`` of images left out (unreadable);
    ``png`` counts the images written as ``JPEGImages/<id>.png``; ``notes`` say what a reader needs."""

    images: int = 0
    objects: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    png: int = 0
    notes: list[str] = field(default_factory=list)


def voc_ids(paths: Iterable[str]) -> dict[str, str]:
    """Flat VOC ids for relative image paths, unique by construction: ``"a/b/c.png"`` -> ``"a__b__c"``
    (:func:`segtool.core.names.unique_stems`; ``x.jpg`` and ``x.png`` give ``x`` and ``x_png``,
    ``sub/x.jpg`` and ``sub__x.jpg`` never share an id)."""
    return unique_stems(paths)


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
    instances and void regions (no class, crowd) are painted; crowd regions and void regions are
    void (255) in both maps; where objects overlap, the one with the higher ``(z, id)`` wins.
    """
    h, w = size
    objects = [i for i in sorted(instances, key=lambda i: (i.z, i.id))
               if i.state == "accepted" and (i.class_id is not None or i.iscrowd)]
    if len(objects) > 254:
        raise FormatError(f"Pascal VOC holds at most 254 objects per image, got {len(objects)}")
    for inst in objects:
        if tuple(inst.image_size) != (h, w):
            raise FormatError(f"instance {inst.id}: mask size {inst.image_size} differs from the image {(h, w)}")
    obj = paint_objects([inst.rle for inst in objects], (h, w))
    lut = np.zeros(256, np.uint8)
    lut[1:len(objects) + 1] = [VOID if inst.iscrowd else class_index[inst.class_id] for inst in objects]
    cls = cv2.LUT(obj, lut)
    if any(inst.iscrowd for inst in objects):  # a crowd region is void (255) in both maps, as in VOC
        crowd = np.zeros(256, np.uint8)
        crowd[1:len(objects) + 1] = [VOID if inst.iscrowd else k for k, inst in enumerate(objects, 1)]
        obj = cv2.LUT(obj, crowd)
    if void_border > 0:
        kernel = np.ones((2 * void_border + 1, 2 * void_border + 1), np.uint8)
        band = cv2.dilate(obj, kernel) != cv2.erode(obj, kernel)
        cls[band] = VOID
        obj[band] = VOID
    return cls, obj, objects


def paint_objects(rles: Sequence[dict], size: tuple[int, int]) -> np.ndarray:
    """Object index map of RLEs painted in order: ``uint8`` ``(H, W)``, pixel = 1 + index of the last RLE covering it.

    Vectorised, without a Python loop over runs: all RLEs of the image are decoded in one pass;
    the run boundaries of all of them cut the column-major pixel line into segments; every
    segment gets the largest index of the runs covering it (``np.maximum.at``), and the segments
    are expanded to pixels with one ``np.repeat``. At most 255 RLEs.
    """
    h, w = size
    if len(rles) > 255:
        raise FormatError(f"an index map holds at most 255 objects, got {len(rles)}")
    if not rles:
        return np.zeros((h, w), np.uint8)
    try:
        counts, owner, pos = decode_counts([_counts_text(r) for r in rles], h * w)
    except RleError as exc:
        raise FormatError(f"{exc} in the project") from None
    ends = segment_cumsum(counts, owner)
    fg = (pos % 2 == 1) & (counts > 0)
    start, stop, value = ends[fg] - counts[fg], ends[fg], (owner[fg] + 1).astype(np.uint8)
    bounds = np.sort(np.concatenate(([0, h * w], start, stop)))
    bounds = bounds[np.flatnonzero(np.diff(bounds, prepend=-1))]  # unique (np.unique hashes: slower)
    first, last = np.searchsorted(bounds, start), np.searchsorted(bounds, stop)  # run = segments first..last-1
    segments = np.zeros(bounds.size - 1, np.uint8)
    covered = last - first
    total = np.cumsum(covered)
    cuts = np.searchsorted(total, np.arange(_PAINT_CHUNK, int(total[-1]) if total.size else 0, _PAINT_CHUNK))
    edges = [0, *sorted(set(cuts.tolist())), covered.size]
    for a, b in zip(edges[:-1], edges[1:], strict=False):  # chunks keep the index arrays small
        n = covered[a:b]
        idx = np.arange(int(n.sum()), dtype=np.int64) + np.repeat(first[a:b] - (np.cumsum(n) - n), n)
        np.maximum.at(segments, idx, np.repeat(value[a:b], n))
    flat = np.repeat(segments, np.diff(bounds))
    return cv2.transpose(flat.reshape(w, h))  # RLE order is column-major


#: Most segment indices materialised at once by :func:`paint_objects` (int64: 32 MiB).
_PAINT_CHUNK = 1 << 22


def _counts_text(rle: dict) -> str:
    """The compressed counts string of an RLE dict (``str``, ``bytes`` or uncompressed ``list`` counts)."""
    counts = rle["counts"]
    if isinstance(counts, bytes):
        return counts.decode("ascii")
    if isinstance(counts, list):
        h, w = (int(v) for v in rle["size"])
        return coco_mask.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"].decode("ascii")
    return counts


def save_palette_png(index_map: np.ndarray, path: Path) -> None:
    """Write a ``uint8`` ``(H, W)`` index map as a palette PNG with the VOC colour map.

    zlib level 1 with the run-length strategy: label maps are long runs, so this is the fastest
    setting and still smaller than the default strategy.
    """
    h, w = index_map.shape
    im = Image.frombytes("P", (w, h), np.ascontiguousarray(index_map, dtype=np.uint8).tobytes())
    im.putpalette(_PALETTE_LIST)
    im.save(path, format="PNG", optimize=False, compress_level=1, compress_type=zlib.Z_RLE)


def annotation_xml(voc_id: str, record: ImageRecord, objects: Sequence[Instance],
                   names: Mapping[int, str], filename: str | None = None) -> bytes:
    """The ``Annotations/<id>.xml`` document: the image's file name (default ``<id>.jpg``), its size
    and one object with a 1-based inclusive bndbox each."""
    parts = ["<annotation>\n  <folder>VOC2012</folder>\n",
             f"  <filename>{escape(filename or voc_id + '.jpg')}</filename>\n  <source>\n    <database>segtool</database>\n"
             f"  </source>\n  <size>\n    <width>{record.width}</width>\n    <height>{record.height}</height>\n"
             "    <depth>3</depth>\n  </size>\n  <segmented>1</segmented>\n"]
    for inst in objects:
        if inst.class_id is None:  # a void region is no object
            continue
        x0, y0, x1, y1 = inst.bbox
        truncated = int(x0 == 0 or y0 == 0 or x1 == record.width or y1 == record.height)
        parts.append(f"  <object>\n    <name>{escape(names[inst.class_id])}</name>\n    <pose>Unspecified</pose>\n"
                     f"    <truncated>{truncated}</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
                     f"      <xmin>{x0 + 1}</xmin>\n      <ymin>{y0 + 1}</ymin>\n      <xmax>{x1}</xmax>\n"
                     f"      <ymax>{y1}</ymax>\n    </bndbox>\n  </object>\n")
    parts.append("</annotation>\n")
    return "".join(parts).encode("utf-8")


def export_voc(out: str | Path, classes: Sequence[LabelClass],
               items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, image_root: str | Path,
               splits: Mapping[str, str] | None = None, void_border: int = 0, copy_images: bool = True,
               progress: Callable[[int], None] | None = None, workers: int | None = None,
               jpeg: bool = False) -> VocStats:
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
    jpeg
        Every image as ``JPEGImages/<id>.jpg`` (torchvision's ``VOCSegmentation`` opens only those);
        default: PNG sources stay PNG (``<id>.png``), and the export says torchvision needs ``jpeg``.
    workers
        Threads that render and write the images' files (numpy, zlib and file I/O release the
        GIL); default :data:`DEFAULT_WORKERS`; ``0`` writes on the calling thread. ``items`` is
        always iterated on the calling thread (a project store's connection stays there).
    """
    out = Path(out)
    check_names_for_format([c.name for c in classes], "voc")
    index = class_indices(classes)
    try:
        for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "Annotations", "ImageSets/Segmentation"):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise as_segtool_error(exc, out, "create") from None
    items = list(items)
    ids = voc_ids(rec.path for rec, _ in items)
    job = _ImageJob(out, index, {c.id: c.name for c in classes}, void_border,
                    Path(image_root) if copy_images else None, jpeg)
    lists: dict[str, list[str]] = {"train": [], "val": []}
    stats = VocStats()
    written: set[str] = set()

    def done(result: tuple[str, int, str | None]) -> None:
        path, objects, skipped = result
        if skipped is None:
            stats.images += 1
            stats.objects += objects
            stats.png += int(copy_images and image_suffix(path, jpeg) == ".png")
            written.add(path)
        else:
            stats.skipped.append((path, skipped))
        if progress:
            progress(1)

    _run_jobs(job, ((ids[rec.path], rec, insts) for rec, insts in items),
              DEFAULT_WORKERS if workers is None else workers, done)
    kept = [rec for rec, _ in items if rec.path in written]
    for rec in kept:
        lists.setdefault((splits or {}).get(rec.path, "train"), []).append(ids[rec.path])
    _write_lists(out, lists, [ids[rec.path] for rec in kept])
    _write_labelmap(out, classes)
    if stats.png:
        stats.notes.append(f"{stats.png} image(s) written as JPEGImages/<id>.png (PNG sources kept lossless); "
                           "torchvision's VOCSegmentation opens only <id>.jpg: export with --jpeg for it")
    return stats


@dataclass
class _ImageJob:
    """Everything one image's files need besides the image itself (shared, read-only, by the workers)."""

    out: Path
    index: Mapping[int, int]
    names: Mapping[int, str]
    void_border: int
    image_root: Path | None
    jpeg: bool = False

    def __call__(self, vid: str, rec: ImageRecord, instances: Sequence[Instance]) -> tuple[str, int, str | None]:
        """Write the (image,) class/object PNGs and XML of one image.

        Returns ``(path, objects, None)``, or ``(path, 0, reason)`` when the image cannot be read
        (nothing of it is written then; the export goes on and reports it).
        """
        filename = f"{vid}{image_suffix(rec.path, self.jpeg)}"
        if self.image_root is not None:
            try:
                write_image_as(self.image_root, rec.path, self.out / "JPEGImages" / filename)
            except ImageReadError as exc:
                return rec.path, 0, str(exc)
        cls, obj, objects = render_maps(instances, (rec.height, rec.width), self.index, self.void_border)
        try:
            save_palette_png(cls, self.out / "SegmentationClass" / f"{vid}.png")
            save_palette_png(obj, self.out / "SegmentationObject" / f"{vid}.png")
            (self.out / "Annotations" / f"{vid}.xml").write_bytes(annotation_xml(vid, rec, objects, self.names, filename))
        except OSError as exc:
            raise as_segtool_error(exc, self.out) from None
        return rec.path, sum(i.class_id is not None for i in objects), None


def _run_jobs(job: _ImageJob, tasks: Iterable[tuple[str, ImageRecord, Sequence[Instance]]], workers: int,
              done: Callable[[tuple[str, int, str | None]], None]) -> None:
    """Run ``job`` over ``tasks`` on ``workers`` threads, at most ``2 * workers`` images in flight.

    ``done(result)`` is called on the calling thread, in task order. The first error is raised
    after the images still queued are cancelled.
    """
    if workers <= 0:
        for task in tasks:
            done(job(*task))
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voc-export")
    pending: deque[Future[tuple[str, int, str | None]]] = deque()
    try:
        for task in tasks:
            pending.append(pool.submit(job, *task))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                done(pending.popleft().result())
        while pending:
            done(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise as_segtool_error(exc, path) from None


def _write_lists(out: Path, lists: Mapping[str, list[str]], all_ids: Sequence[str]) -> None:
    sets = out / "ImageSets" / "Segmentation"
    for name, vids in lists.items():
        _write_text(sets / f"{name}.txt", "".join(f"{v}\n" for v in vids))
    _write_text(sets / "trainval.txt", "".join(f"{v}\n" for v in all_ids))


def _write_labelmap(out: Path, classes: Sequence[LabelClass]) -> None:
    index = class_indices(classes)
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    lines += [f"{c.name}:{','.join(str(int(v)) for v in _PALETTE[index[c.id]])}::"
              for c in sorted(classes, key=lambda c: c.id)]
    _write_text(out / "labelmap.txt", "\n".join(lines) + "\n")


def read_labelmap(path: Path) -> list[str]:
    """Class names by index from a ``labelmap.txt`` (``name:r,g,b:...``; index 0 is background).

    Lines end at ``\n`` only (a class name may hold any other character the name policy allows).

    Raises
    ------
    FormatError
        The file is unreadable, not UTF-8 (e.g. Latin-1: segtool does not guess encodings), or
        names a class the name policy refuses or twice.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text (byte {exc.start}); save labelmap.txt as UTF-8") from None
    names: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = line.split(":", 1)[0]
        problem = class_name_problem(name)
        if problem is None and name in names:
            problem = f"class {describe(name)} is listed twice"
        if problem:
            raise FormatError(f"{path}: line {number}: {problem}")
        names.append(name)
    return names


def _read_index_png(path: Path, problems: Problems) -> np.ndarray | None:
    """A ``uint8`` ``(H, W)`` index map from a palette, gray or RGB (VOC colours) PNG; the declared size
    is checked from the header before anything is decoded."""
    try:
        with Image.open(path) as im:
            reason = declared_size_problem(*im.size)
            if reason:
                problems.add(f"{path.name}: {reason}")
                return None
            if im.mode in ("P", "L"):
                return np.array(im)
            rgb = np.asarray(im.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for corrupt files
        problems.add(f"{path.name}: not a readable PNG ({str(exc)[:120]})")
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
        are reported as problems. ``None`` names each image ``JPEGImages/<id>.<suffix>`` (the file
        there, ``.jpg`` when there is none).
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
        rel = names.get(vid) if names is not None else _jpeg_images_name(root, vid)
        if rel is None:
            problems.add(f"{describe(vid)}: no image of the project has this VOC id")
            continue
        try:
            rel = RelPath(rel, "VOC image path")
        except UnsafePathError as exc:
            problems.add(str(exc))
            continue
        image = _load_voc_image(vid, rel, cls_png, obj_dir / f"{vid}.png", class_names, problems)
        if image is not None:
            dataset.images.append(image)
            for ann in image.annotations:
                used.setdefault(ann.category, None)
    problems.raise_if_any()
    dataset.categories = [(n, None) for n in used]
    return dataset


def _jpeg_images_name(root: Path, vid: str) -> str:
    """``JPEGImages/<file>`` of VOC id ``vid``: the image there in any suffix (PNG sources stay PNG)."""
    found = image_beside(root / "JPEGImages", vid)
    return f"JPEGImages/{found.name if found is not None else vid + '.jpg'}"


def _load_voc_image(vid: str, rel: str, cls_png: Path, obj_png: Path, class_names: Sequence[str],
                    problems: Problems) -> ImportedImage | None:
    cls = _read_index_png(cls_png, problems)
    obj = _read_index_png(obj_png, problems) if obj_png.is_file() else None
    if cls is None or (obj_png.is_file() and obj is None):
        return None
    if obj is not None and obj.shape != cls.shape:  # (both headers were checked before decoding)
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
