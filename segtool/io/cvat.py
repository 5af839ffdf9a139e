"""CVAT for images 1.1 XML: export and import of polygons, boxes and masks.

Export (:func:`export_cvat`) writes ``annotations.xml`` and the images under ``images/<path>``
(where CVAT's and Datumaro's ``cvat`` importers look for them)::

    <annotations><version>1.1</version><meta><task>... <labels><label><name>cat</name>
      <color>#c80a0a</color><type>any</type><attributes/></label></labels></task></meta>
      <image id="0" name="sub/c.jpg" width="64" height="48" [subset="val"]>
        <polygon label="cat" source="manual" occluded="0" points="x,y;x,y;..." z_order="0"/>
        <mask label="dog" source="manual" occluded="0" rle="4, 2, ..." left="5" top="3"
              width="20" height="11" z_order="1"/>

A mask's ``rle`` is CVAT's: run lengths over its ``width x height`` box in row-major order,
starting with a background run. ``segmentation="rle"`` writes every instance as a mask (exact);
``"polygon"``/``"auto"`` write a polygon (on pixel edges, rasterised back exactly) where the mask is
one part without holes, and a mask otherwise. ``z_order`` is the instance's rank bottom to top;
``occluded`` comes from the instance attribute of that name.

Import (:func:`load_cvat`): ``<polygon>``, ``<mask>`` and ``<box>`` (rotated boxes too) of every
``<image>``; ``<box>`` shapes are counted and skipped unless ``boxes="mask"``; polylines, points,
tags and tracks are counted as not imported. Instances keep their ``z_order`` order, ``occluded``
and ``<attribute>`` values; label colours become class colours. The XML is read with a size limit
and without DTDs or entities.
"""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from segtool.core import masks
from segtool.core.atomic import write_bytes
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError, UnsafePathError
from segtool.core.names import check_names_for_format, class_name_problem
from segtool.core.safe_paths import RelPath
from segtool.io.common import (
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    mask_to_coco_polygons,
)
from segtool.io.dataset_files import polygons_to_rle, resolve_named_image

#: Largest annotations.xml read (bytes).
MAX_XML_BYTES = 1 << 30
_NOT_IMPORTED = ("polyline", "points", "cuboid", "skeleton", "ellipse", "tag", "track")


@dataclass
class CvatStats:
    """What an export wrote."""

    images: int = 0
    annotations: int = 0
    polygons: int = 0
    masks: int = 0
    notes: list[str] = field(default_factory=list)


def mask_to_cvat_rle(mask: np.ndarray) -> tuple[list[int], tuple[int, int, int, int]]:
    """CVAT's mask encoding of a non-empty bool ``(H, W)`` mask.

    Returns ``(runs, (left, top, width, height))``: run lengths over the tight box, row-major,
    alternating background/foreground and starting with background (possibly 0).
    """
    x0, y0, x1, y1 = masks.mask_bbox(mask)
    crop = mask[y0:y1, x0:x1].ravel()
    change = np.flatnonzero(np.diff(crop.astype(np.int8))) + 1
    bounds = np.concatenate(([0], change, [crop.size]))
    runs = np.diff(bounds).tolist()
    if crop[0]:
        runs = [0, *runs]
    return runs, (x0, y0, x1 - x0, y1 - y0)


def cvat_rle_to_mask(runs: Sequence[int], left: int, top: int, width: int, height: int,
                     size: tuple[int, int]) -> np.ndarray:
    """Decode CVAT's mask runs (see :func:`mask_to_cvat_rle`) to a bool ``(H, W)`` mask."""
    values = np.zeros(len(runs), bool)
    values[1::2] = True
    crop = np.repeat(values, np.asarray(runs, np.int64)).reshape(height, width)
    out = np.zeros(size, bool)
    out[top:top + height, left:left + width] = crop
    return out


def _hex(color: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color))


def _meta(classes: Sequence[LabelClass], count: int, subsets: Sequence[str]) -> str:
    labels = "".join(f"<label><name>{_text(c.name)}</name><color>{_hex(c.color)}</color><type>any</type>"
                     "<attributes></attributes></label>" for c in sorted(classes, key=lambda c: c.id))
    subs = "".join(f"<subset>{_text(s)}</subset>" for s in subsets)
    return (f"<meta><task><name>segtool export</name><size>{count}</size><mode>annotation</mode>"
            f"<overlap>0</overlap><labels>{labels}</labels>{subs}</task></meta>")


def _text(value: str) -> str:
    return quoteattr(value)[1:-1]


def _shape_xml(inst: Instance, name: str, z: int, segmentation: str, stats: CvatStats) -> str:
    mask = inst.mask()
    occluded = int(bool(inst.attributes.get("occluded")))
    common = f'label={quoteattr(name)} source="manual" occluded="{occluded}"'
    attrs = "".join(f"<attribute name={quoteattr(str(k))}>{_text(str(v))}</attribute>"
                    for k, v in sorted(inst.attributes.items()) if k != "occluded")
    if segmentation != "rle":
        polygons, has_holes = mask_to_coco_polygons(mask)
        if len(polygons) == 1 and not has_holes:
            pts = np.asarray(polygons[0]).reshape(-1, 2)
            points = ";".join(f"{x:.2f},{y:.2f}" for x, y in pts)
            stats.polygons += 1
            return f'<polygon {common} points="{points}" z_order="{z}">{attrs}</polygon>'
    runs, (left, top, width, height) = mask_to_cvat_rle(mask)
    stats.masks += 1
    return (f'<mask {common} rle="{", ".join(map(str, runs))}" left="{left}" top="{top}" width="{width}" '
            f'height="{height}" z_order="{z}">{attrs}</mask>')


def export_cvat(out: Path, classes: Sequence[LabelClass], items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *,
                image_root: Path, splits: dict[str, str] | None = None, segmentation: str = "auto",
                progress: Callable[[int], None] | None = None) -> CvatStats:
    """Write ``out/annotations.xml`` and ``out/images/<path>`` (see the module docstring)."""
    check_names_for_format([c.name for c in classes], "cvat")
    names = {c.id: c.name for c in classes}
    items = list(items)
    stats = CvatStats()
    subsets = sorted(set((splits or {}).values()))
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>',
             _meta(classes, len(items), subsets)]
    for k, (rec, instances) in enumerate(items):
        subset = f' subset={quoteattr(splits[rec.path])}' if splits else ""
        parts.append(f'<image id="{k}" name={quoteattr(rec.path)} width="{rec.width}" height="{rec.height}"{subset}>')
        shown = [i for i in sorted(instances, key=lambda i: (i.z, i.id)) if i.class_id is not None and i.area > 0]
        for z, inst in enumerate(shown):
            parts.append(_shape_xml(inst, names[inst.class_id], z, segmentation, stats))
            stats.annotations += 1
        parts.append("</image>")
        _copy_image(image_root, rec.path, out / "images")
        stats.images += 1
        if progress:
            progress(1)
    parts.append("</annotations>\n")
    write_bytes(out / "annotations.xml", "\n".join(parts).encode("utf-8"), durable=False)
    return stats


def _copy_image(root: Path, rel: str, images: Path) -> None:
    src = RelPath(rel, "project image path").inside(root)
    dst = RelPath(rel, "project image path").inside(images)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        raise FormatError(f"cannot copy image {src}: {exc}") from None


# -- import -------------------------------------------------------------------------------------------
def _read_root(path: Path) -> ET.Element:
    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            raise FormatError(f"{path}: {size} bytes, larger than the {MAX_XML_BYTES}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc}") from None
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise FormatError(f"{path}: XML with a DTD or entities is refused (a CVAT file has none)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FormatError(f"{path} is not valid XML: {exc}") from None
    if root.tag != "annotations":
        raise FormatError(f"{path} is not a CVAT for images XML file (its root is <{root.tag}>, not <annotations>)")
    return root


def _labels(root: ET.Element, problems: Problems) -> dict[str, tuple[int, int, int] | None]:
    out: dict[str, tuple[int, int, int] | None] = {}
    for label in root.iter("label"):
        name = (label.findtext("name") or "").strip()
        if class_name_problem(name):
            problems.add(f"label {name!r}: {class_name_problem(name)}")
            continue
        color = (label.findtext("color") or "").strip()
        ok = len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:])
        out[name] = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)) if ok else None
    return out


def _floats(el: ET.Element, keys: Sequence[str]) -> list[float] | None:
    try:
        values = [float(el.attrib[k]) for k in keys]
    except (KeyError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _shape_rle(el: ET.Element, h: int, w: int, boxes: str) -> tuple[dict | None, str | None]:
    if el.tag == "polygon":
        try:
            pts = [float(v) for pair in el.attrib["points"].split(";") for v in pair.split(",")]
        except (KeyError, ValueError):
            return None, "points must be 'x,y;x,y;...'"
        return polygons_to_rle([pts], h, w)
    if el.tag == "box":
        box = _floats(el, ("xtl", "ytl", "xbr", "ybr"))
        if box is None:
            return None, "box needs numeric xtl, ytl, xbr, ybr"
        if boxes != "mask":
            return None, None
        x0, y0, x1, y1 = box
        angle = math.radians(float(el.attrib.get("rotation", 0) or 0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        rot = [(cx + (x - cx) * math.cos(angle) - (y - cy) * math.sin(angle),
                cy + (x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)) for x, y in corners]
        return polygons_to_rle([[v for p in rot for v in p]], h, w)
    return _mask_rle(el, h, w)


def _mask_rle(el: ET.Element, h: int, w: int) -> tuple[dict | None, str | None]:
    try:
        left, top, width, height = (int(el.attrib[k]) for k in ("left", "top", "width", "height"))
        runs = [int(v) for v in el.attrib["rle"].split(",")]
    except (KeyError, ValueError):
        return None, "mask needs integer rle, left, top, width and height"
    if width <= 0 or height <= 0 or left < 0 or top < 0 or left + width > w or top + height > h:
        return None, f"mask box {left},{top} {width}x{height} is not inside the {w}x{h} image"
    if any(r < 0 for r in runs) or sum(runs) != width * height:
        return None, f"mask rle runs must be non-negative and sum to {width}x{height} = {width * height}"
    return masks.encode_rle(cvat_rle_to_mask(runs, left, top, width, height, (h, w))), None


def _attributes(el: ET.Element) -> dict:
    attrs: dict = {}
    if el.attrib.get("occluded") == "1":
        attrs["occluded"] = True
    for a in el.iter("attribute"):
        if a.attrib.get("name"):
            attrs[a.attrib["name"]] = a.text or ""
    return attrs


def _image(el: ET.Element, bases: list[Path], root: Path, labels: dict, boxes: str, problems: Problems,
           counts: dict[str, int]) -> ImportedImage | None:
    name = el.attrib.get("name")
    try:
        rel = resolve_named_image(name, bases, root, "CVAT image name")
    except UnsafePathError as exc:
        problems.add(str(exc))
        return None
    except FileNotFoundError:
        problems.add(f"image {name!r} is not in {' or '.join(str(b) for b in bases)}")
        return None
    try:
        w, h = int(el.attrib["width"]), int(el.attrib["height"])
    except (KeyError, ValueError):
        problems.add(f"image {name!r} needs integer width and height")
        return None
    image = ImportedImage(rel, w, h)
    shapes = []
    for order, shape in enumerate(el):
        if shape.tag in _NOT_IMPORTED:
            counts[shape.tag] = counts.get(shape.tag, 0) + 1
            continue
        if shape.tag not in ("polygon", "box", "mask"):
            continue
        label = shape.attrib.get("label", "")
        if label not in labels:
            problems.add(f"{name}: <{shape.tag}> label {label!r} is not in the labels of <meta>")
            continue
        rle, reason = _shape_rle(shape, h, w, boxes)
        if reason:
            problems.add(f"{name}: <{shape.tag}> ({label}): {reason}")
        if shape.tag == "box":
            counts["box"] = counts.get("box", 0) + 1
        if rle is not None:
            try:
                z = int(shape.attrib.get("z_order", 0))
            except ValueError:
                z = 0
            shapes.append((z, order, ImportedAnnotation(label, rle, attributes=_attributes(shape))))
    image.annotations = [a for _, _, a in sorted(shapes, key=lambda s: s[:2])]
    return image


def load_cvat(path: str | Path, project_root: str | Path, *, boxes: str = "skip") -> ImportedDataset:
    """Read a CVAT for images 1.1 XML file (or a folder holding ``annotations.xml``).

    Images are looked up by their ``name`` under the XML's ``images/`` folder, the XML's folder and
    the project folder, in that order; each must lie inside the project folder.
    """
    path = Path(path)
    file = path / "annotations.xml" if path.is_dir() else path
    root_el = _read_root(file)
    problems = Problems(str(file))
    labels = _labels(root_el, problems)
    project_root = Path(project_root)
    bases = [file.parent / "images", file.parent, project_root]
    dataset = ImportedDataset(source=str(file))
    counts: dict[str, int] = {}
    for el in root_el.iter("image"):
        image = _image(el, bases, project_root, labels, boxes, problems, counts)
        if image is not None:
            dataset.images.append(image)
    problems.raise_if_any()
    dataset.categories = list(labels.items())
    box_count = counts.pop("box", 0)
    if box_count:
        dataset.notes.append(f"{box_count} box(es) imported as box masks" if boxes == "mask" else
                             f"{box_count} box(es) skipped (import them as box masks with --boxes mask)")
    for tag, n in sorted(counts.items()):
        dataset.notes.append(f"{n} <{tag}> element(s) not imported (segtool keeps masks)")
    return dataset
