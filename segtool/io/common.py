"""Helpers shared by the dataset formats: problem collection, declared sizes and coordinates, splits, polygons.

Everything a dataset file declares is checked here before any allocation or C call:
:func:`declared_size_problem` (image sizes, against the pixel limit of :mod:`segtool.io.images`) and
:func:`polygon_problem` (vertices finite, within :data:`COORD_MARGIN` image sizes of the image,
total edge length bounded: pycocotools turns 3e9 or 1e308 into a segfault and a long zigzag into
gigabytes). Paths from data go through :class:`segtool.core.safe_paths.RelPath`.

Coordinates: polygons are flat ``[x1, y1, x2, y2, ...]`` lists in COCO's convention, where pixel
``(i, j)`` covers ``[i, i+1) x [j, j+1)``; masks are bool ``(H, W)`` arrays.
"""

from __future__ import annotations

import errno
import math
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segtool.core.atomic import as_segtool_error
from segtool.core.errors import FormatError, ImageReadError, UnsafePathError
from segtool.core.safe_paths import RelPath, describe, plain_word, rel_path_or_none
from segtool.io.images import load_image, max_pixels_limit

#: How many problems an import error lists before it summarises the rest.
MAX_LISTED_PROBLEMS = 10


@dataclass
class Problems:
    """Collects validation problems of one input; :meth:`raise_if_any` turns them into one error."""

    source: str
    limit: int = MAX_LISTED_PROBLEMS
    items: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, message: str) -> None:
        """Record one problem (only the first :attr:`limit` are kept verbatim)."""
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(message)

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        """Raise :class:`FormatError` listing the first problems, if any were recorded."""
        if not self.total:
            return
        more = f"; ... and {self.total - len(self.items)} more" if self.total > len(self.items) else ""
        raise FormatError(f"{self.source}: {self.total} problem(s), nothing was imported: "
                          + "; ".join(self.items) + more)


def safe_relpath(name: object) -> str | None:
    """The :class:`~segtool.core.safe_paths.RelPath` of ``name``, or ``None`` when it is unsafe
    (kept for callers of the old name; new code uses ``RelPath`` and its message)."""
    return rel_path_or_none(name)


#: How far outside the image, in image sizes, a polygon vertex may lie (parts outside are clipped).
COORD_MARGIN = 1.0
#: Longest total edge length of one annotation's polygons, in pixels, beyond ``64 * (W + H)``.
MAX_PERIMETER = 1_000_000


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def declared_size_problem(width: object, height: object) -> str | None:
    """Why a declared image size cannot be used (not positive integers, above the pixel limit), or ``None``.

    Checked before anything of that size is allocated.
    """
    if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):  # type: ignore[operator]
        return f"image size {describe(width)}x{describe(height)} must be positive integers"
    limit = max_pixels_limit()
    if width * height > limit:  # type: ignore[operator]
        return (f"declared image size {width}x{height} is above the limit of {limit / 1e6:.0f} megapixels "
                "(SEGTOOL_MAX_PIXELS)")
    return None


def points_problem(xy: np.ndarray, width: int, height: int) -> str | None:
    """Why float ``(K, 2)`` ``(x, y)`` vertices cannot be rasterised on a ``width x height`` image, or ``None``."""
    if xy.size and not np.isfinite(xy).all():
        return "coordinates must be finite numbers (NaN or infinity found)"
    mx, my = COORD_MARGIN * width, COORD_MARGIN * height
    if xy.size and ((xy[:, 0] < -mx).any() or (xy[:, 0] > width + mx).any()
                    or (xy[:, 1] < -my).any() or (xy[:, 1] > height + my).any()):
        bad = xy[(xy[:, 0] < -mx) | (xy[:, 0] > width + mx) | (xy[:, 1] < -my) | (xy[:, 1] > height + my)][0]
        return (f"vertex ({bad[0]:.6g}, {bad[1]:.6g}) lies far outside the {width}x{height} image "
                f"(more than {COORD_MARGIN:g} image size away)")
    return None


def polygon_problem(polygons: object, width: int, height: int) -> str | None:
    """Why COCO ``segmentation`` polygons (a list of flat ``[x1, y1, ...]`` lists) cannot be rasterised
    on a ``width x height`` image, or ``None``: at least 3 numeric vertices each, finite, within the
    margin, and a bounded total edge length (what pycocotools allocates)."""
    if not isinstance(polygons, list) or not polygons or not all(isinstance(p, list) for p in polygons):
        return "segmentation must be a non-empty list of polygons"
    total = 0.0
    for p in polygons:
        if len(p) < 6 or len(p) % 2 or not all((isinstance(v, (int, float)) and not isinstance(v, bool)) for v in p):
            return f"polygon with fewer than 3 points or non-numeric coordinates ({len(p)} values)"
        try:
            xy = np.asarray(p, np.float64).reshape(-1, 2)
        except (OverflowError, ValueError):
            return "coordinates must be finite numbers"
        problem = points_problem(xy, width, height)
        if problem:
            return problem
        step = np.abs(np.diff(np.vstack([xy, xy[:1]]), axis=0)).max(axis=1)
        total += float(step.sum())
    if total > MAX_PERIMETER + 64 * (width + height):
        return f"polygons with a total edge length of {total:.0f} pixels (more than any mask of this image needs)"
    return None


def image_source(image_root: str | Path, rel: str) -> Path:
    """The real file of the project image ``rel``: :class:`ImageReadError` when the path is unsafe or a
    link leads outside ``image_root`` (exports never read outside the image folder)."""
    try:
        return RelPath(rel, "image path").inside(image_root)
    except UnsafePathError as exc:
        raise ImageReadError(str(exc)) from None


def copy_image(image_root: str | Path, rel: str, dst: Path) -> None:
    """Copy project image ``rel`` (confined to ``image_root``, see :func:`image_source`) to ``dst``.

    Raises
    ------
    ImageReadError
        The image is missing, unreadable, not a regular file, or outside the image folder; the
        caller skips the image and reports it.
    """
    src = image_source(image_root, rel)
    if not src.is_file():
        raise ImageReadError(f"image file not found: {src}" if not src.exists() else f"{src} is not a regular file")
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) or exc.filename == str(dst):
            raise as_segtool_error(exc, dst) from None  # the export cannot go on
        raise ImageReadError(f"cannot copy image {src}: {exc.strerror or exc}") from None


def image_suffix(rel: str, jpeg: bool) -> str:
    """The suffix of the image ``rel`` in ``JPEGImages/``: ``.jpg`` for JPEG files (and for every file
    with ``jpeg``), ``.png`` for the others (PNG copied, other formats converted losslessly)."""
    return ".jpg" if jpeg or rel.lower().endswith((".jpg", ".jpeg")) else ".png"


def write_image_as(image_root: Path, rel: str, dst: Path) -> None:
    """Write project image ``rel`` to ``dst`` (``.jpg`` or ``.png``, see :func:`image_suffix`): files
    already in that format are copied, others converted. :class:`ImageReadError` when the image
    cannot be read (or lies outside ``image_root``)."""
    same = (".jpg", ".jpeg") if dst.suffix == ".jpg" else (".png",)
    if rel.lower().endswith(same):
        copy_image(image_root, rel, dst)
        return
    rgb = np.ascontiguousarray(load_image(image_source(image_root, rel))[:, :, ::-1])
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if dst.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, data = cv2.imencode(dst.suffix, rgb, params)
    if not ok:
        raise FormatError(f"cannot encode {dst.name}")
    try:
        dst.write_bytes(data.tobytes())
    except OSError as exc:
        raise as_segtool_error(exc, dst) from None


def split_names(keys: Sequence[str], fractions: dict[str, float] | None, seed: int = 0) -> dict[str, str]:
    """Assign every key to a split: ``{"val": 0.2}`` puts a seeded random 20 % in ``val``, the rest in ``train``.

    The result only depends on the set of keys, the fractions and the seed (keys are sorted first).
    """
    ordered = sorted(keys)
    if not fractions:
        return {k: "train" for k in ordered}
    for name in fractions:
        try:
            plain_word(name, "split name")
        except UnsafePathError as exc:
            raise FormatError(str(exc)) from None
    total = sum(fractions.values())
    if any(not (v >= 0) for v in fractions.values()) or total > 1.0 + 1e-9:
        raise FormatError(f"split fractions must be >= 0 and sum to at most 1, got {fractions}")
    rng = random.Random(seed)
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    out: dict[str, str] = {}
    start = 0
    for name, frac in fractions.items():
        n = int(round(frac * len(shuffled)))
        for k in shuffled[start:start + n]:
            out[k] = name
        start += n
    for k in shuffled[start:]:
        out[k] = "train"
    return {k: out[k] for k in ordered}


def parse_split(text: str | None) -> dict[str, float] | None:
    """Parse ``"val=0.2"`` or ``"val=0.1,test=0.1"`` into ``{"val": 0.2}`` (``None`` stays ``None``)."""
    if not text:
        return None
    out: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            frac = float(value)
        except ValueError:
            frac = math.nan
        name = name.strip()
        if not name or not (0.0 <= frac <= 1.0) or name == "train" or name in out:
            raise FormatError(f"bad --split {describe(text)}: use NAME=FRACTION, e.g. val=0.2 (train gets the rest)")
        try:
            plain_word(name, "split name")
        except UnsafePathError as exc:
            raise FormatError(f"bad --split {describe(text)}: {exc}") from None
        out[name] = frac
    return out


def mask_to_coco_polygons(mask: np.ndarray) -> tuple[list[list[float]], bool]:
    """Outer rings of a bool ``(H, W)`` mask as COCO polygons that pycocotools rasterises back exactly.

    Rings are traced on a 2x nearest-neighbour upsampling of the bbox crop, so vertices lie on pixel
    edges; a polygon with fewer than 3 vertices (a 1-pixel sliver) is padded by repetition.

    Returns
    -------
    polygons, has_holes
        Flat ``[x1, y1, ...]`` lists (pixel-edge coordinates) and whether the mask had holes (which
        polygons cannot represent).
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return [], False
    cols = np.flatnonzero(mask.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    crop = mask[y0:int(rows[-1]) + 1, x0:int(cols[-1]) + 1].astype(np.uint8)
    up = np.kron(crop, np.ones((2, 2), np.uint8))
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    has_holes = hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())
    polygons = []
    for i, contour in enumerate(contours):
        if hierarchy[0][i][3] >= 0:
            continue
        pts = (contour.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0 + (x0, y0)
        flat = [round(float(v), 2) for v in pts.ravel()]
        while len(flat) < 6:
            flat = flat + flat[:2]
        polygons.append(flat)
    return polygons, has_holes


def voc_palette() -> np.ndarray:
    """The Pascal VOC colour map: ``uint8`` array ``(256, 3)`` (index 0 black, 255 ``(224, 224, 192)``)."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


@dataclass
class ImportedAnnotation:
    """One object read from a dataset file: its category name and compressed COCO RLE (``str`` counts).

    ``iscrowd`` marks a crowd region (COCO ``iscrowd: 1``, a Cityscapes/Datumaro ``is_crowd`` mask).
    ``category`` ``None``: an instance without a class (SA-1B masks).
    """

    category: str | None
    rle: dict
    score: float | None = None
    attributes: dict = field(default_factory=dict)
    iscrowd: bool = False


@dataclass
class ImportedImage:
    """One image of a dataset file. ``file_name`` is POSIX and relative to the project folder."""

    file_name: str
    width: int
    height: int
    annotations: list[ImportedAnnotation] = field(default_factory=list)
    #: The image's bytes when the source carries them (labelme ``imageData``) and no file is at
    #: ``file_name`` yet: the import writes them there (then adds the image), and only then.
    embedded: Callable[[], bytes] | None = None


@dataclass
class ImportedDataset:
    """What an importer validated: categories (name, optional ``(r, g, b)``) and images, in file order."""

    source: str
    categories: list[tuple[str, tuple[int, int, int] | None]] = field(default_factory=list)
    images: list[ImportedImage] = field(default_factory=list)
    #: Category name -> its id in the source (COCO ``category_id``, YOLO index), kept on the class.
    source_ids: dict[str, int] = field(default_factory=dict)
    #: What was read but not imported, one line each ("3 bbox-only annotations skipped ...").
    notes: list[str] = field(default_factory=list)

    @property
    def annotation_count(self) -> int:
        """Total number of annotations over all images."""
        return sum(len(im.annotations) for im in self.images)
