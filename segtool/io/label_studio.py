"""Label Studio JSON: export and import of polygon labels and brush labels.

Brush masks use Label Studio's own RLE through ``label-studio-sdk``'s converter code
(``label_studio_sdk.converter.brush``: ``mask2rle`` to write, ``decode_from_annotation`` to read);
segtool has no decoder of its own. The SDK is optional (``pip install "segtool[formats]"``); without
it polygons still work and brush labels are refused with that hint.

Export (:func:`export_label_studio`) writes ``tasks.json`` (a list of tasks, what Label Studio's
"JSON" export and import use) and ``label_config.xml`` (a labelling config with the classes and
their colours)::

    {"id": 1, "data": {"image": "/data/local-files/?d=sub/c.jpg"},
     "annotations": [{"id": 1, "result": [
        {"id": "1-0", "type": "brushlabels", "from_name": "brush", "to_name": "image",
         "original_width": 64, "original_height": 48, "image_rotation": 0,
         "value": {"format": "rle", "rle": [...], "brushlabels": ["cat"]}},
        {"id": "1-1", "type": "polygonlabels", "from_name": "polygon", ...,
         "value": {"points": [[x%, y%], ...], "closed": true, "polygonlabels": ["dog"]}}]}]}

Image references are Label Studio local-storage URLs relative to the project folder (serve it with
``LOCAL_FILES_DOCUMENT_ROOT``). ``segmentation="rle"`` writes brush labels (exact); ``"polygon"`` /
``"auto"`` write polygon labels (percent of the image size, on pixel edges) where a mask is one part
without holes, brush labels otherwise.

Import (:func:`load_label_studio`): the completed annotations of each task (its predictions when it
has none, with their scores); ``polygonlabels`` and ``brushlabels`` become instances,
``rectanglelabels`` are counted and skipped unless ``boxes="mask"``; other result types (keypoints,
choices, text) are counted as not imported. A task's image is matched to a project image by its
local-files path, else by its file name (Label Studio's upload prefix ``1a2b3c4d-`` removed).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from segtool.core import masks
from segtool.core.atomic import write_text
from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.core.names import check_names_for_format, class_name_problem
from segtool.core.safe_paths import describe, rel_path_or_none
from segtool.core.untrusted_json import load_json
from segtool.io.common import (
    ImportedAnnotation,
    ImportedDataset,
    ImportedImage,
    Problems,
    mask_to_coco_polygons,
)
from segtool.io.dataset_files import box_to_rle, polygons_to_rle

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
_SDK_HINT = 'Label Studio brush labels need label-studio-sdk: pip install "segtool[formats]"'


def _brush():
    """``label_studio_sdk.converter.brush`` (its package prints missing optional imports: silenced)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from label_studio_sdk.converter import brush
    except ImportError:
        raise FormatError(_SDK_HINT) from None
    return brush


@dataclass
class LabelStudioStats:
    """What an export wrote."""

    images: int = 0
    annotations: int = 0
    brushes: int = 0
    polygons: int = 0
    notes: list[str] = field(default_factory=list)


def _result(inst: Instance, name: str, rid: str, segmentation: str, stats: LabelStudioStats) -> dict:
    h, w = inst.image_size
    mask = inst.mask()
    base = {"id": rid, "from_name": "brush", "to_name": "image", "original_width": w, "original_height": h,
            "image_rotation": 0, "origin": "manual"}
    if segmentation != "rle":
        polygons, has_holes = mask_to_coco_polygons(mask)
        if len(polygons) == 1 and not has_holes:
            pts = np.asarray(polygons[0]).reshape(-1, 2) / (w, h) * 100.0
            stats.polygons += 1
            return {**base, "from_name": "polygon", "type": "polygonlabels",
                    "value": {"points": pts.round(6).tolist(), "closed": True, "polygonlabels": [name]}}
    stats.brushes += 1
    rle = _brush().mask2rle(mask.astype(np.uint8) * 255)
    return {**base, "type": "brushlabels", "value": {"format": "rle", "rle": [int(v) for v in rle],
                                                      "brushlabels": [name]}}


def label_config(classes: Sequence[LabelClass]) -> str:
    """A Label Studio labelling config (XML) with brush and polygon labels for the classes."""
    from xml.sax.saxutils import quoteattr

    labels = "".join(f'    <Label value={quoteattr(c.name)} background="#{"".join(f"{v:02x}" for v in c.color)}"/>\n'
                     for c in sorted(classes, key=lambda c: c.id))
    return (f'<View>\n  <Image name="image" value="$image" zoom="true"/>\n'
            f'  <BrushLabels name="brush" toName="image">\n{labels}  </BrushLabels>\n'
            f'  <PolygonLabels name="polygon" toName="image">\n{labels}  </PolygonLabels>\n</View>\n')


def export_label_studio(out: Path, classes: Sequence[LabelClass],
                        items: Iterable[tuple[ImageRecord, Sequence[Instance]]], *, segmentation: str = "rle",
                        progress: Callable[[int], None] | None = None) -> LabelStudioStats:
    """Write ``out/tasks.json`` and ``out/label_config.xml`` (see the module docstring)."""
    import json

    check_names_for_format([c.name for c in classes], "label-studio")
    names = {c.id: c.name for c in classes}
    stats = LabelStudioStats()
    tasks = []
    for k, (rec, instances) in enumerate(items, 1):
        shown = [i for i in sorted(instances, key=lambda i: (i.z, i.id)) if i.class_id is not None and i.area > 0]
        result = [_result(inst, names[inst.class_id], f"{k}-{n}", segmentation, stats) for n, inst in enumerate(shown)]
        tasks.append({"id": k, "data": {"image": f"/data/local-files/?d={rec.path}"},
                      "annotations": [{"id": k, "result": result, "was_cancelled": False, "ground_truth": False}],
                      "predictions": []})
        stats.images += 1
        stats.annotations += len(result)
        if progress:
            progress(1)
    write_text(out / "tasks.json", json.dumps(tasks, ensure_ascii=False), durable=False)
    write_text(out / "label_config.xml", label_config(classes), durable=False)
    return stats


# -- import -------------------------------------------------------------------------------------------
def _image_ref(task: dict) -> str | None:
    data = task.get("data")
    if not isinstance(data, dict):
        return None
    value = data.get("image")
    if not isinstance(value, str):
        value = next((v for v in data.values() if isinstance(v, str)), None)
    return value


def match_image(ref: str, image_paths: Sequence[str]) -> str | None:
    """The project image a Label Studio image reference means (see the module docstring), or ``None``."""
    parsed = urlparse(ref)
    local = parse_qs(parsed.query).get("d", [None])[0] if parsed.path.endswith("/local-files/") else None
    paths = set(image_paths)
    if local:
        rel = rel_path_or_none(unquote(local))
        if rel is not None:
            for p in paths:
                if p == rel or rel.endswith("/" + p):
                    return p
    name = unquote(Path(parsed.path).name)
    for candidate in (name, _UPLOAD_PREFIX.sub("", name)):
        found = [p for p in paths if p.rsplit("/", 1)[-1] == candidate]
        if len(found) == 1:
            return found[0]
    return None


def _brush_rle(result: dict, h: int, w: int) -> tuple[dict | None, str | None]:
    value = result["value"]
    rle = value.get("rle")
    if not isinstance(rle, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255
                                            for v in rle) or len(rle) < 4:
        return None, "brush rle must be a list of bytes (0..255)"
    if len(rle) > 16 * h * w + 64:
        return None, "brush rle is longer than any mask of this image can be"
    declared = int.from_bytes(bytes(rle[:4]), "big")  # the header's value count, checked before decoding
    if declared != h * w * 4:
        return None, f"brush rle holds {declared} values, not {h}x{w}x4 for this image"
    try:
        layers = _brush().decode_from_annotation("brush", [{"type": "brushlabels", "rle": rle,
                                                            "original_width": w, "original_height": h,
                                                            "brushlabels": ["x"]}])
    except (ValueError, IndexError) as exc:
        return None, f"corrupt brush rle ({exc})"
    (layer,) = layers.values()
    return masks.encode_rle(layer > 0), None


def _percent_points(points: Any, h: int, w: int) -> list[float] | None:
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 3 or not np.isfinite(arr).all():
        return None
    return (arr / 100.0 * (w, h)).ravel().tolist()


def _box(value: dict, h: int, w: int) -> dict | None:
    try:
        x, y, bw, bh = (float(value[k]) for k in ("x", "y", "width", "height"))
        rotation = float(value.get("rotation", 0) or 0)
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x, y, bw, bh, rotation)):
        return None
    if rotation == 0:
        return box_to_rle(x * w / 100, y * h / 100, (x + bw) * w / 100, (y + bh) * h / 100, h, w)
    a = math.radians(rotation)  # Label Studio rotates about the top-left corner
    corners = [(0, 0), (bw, 0), (bw, bh), (0, bh)]
    pts = [((x + cx * math.cos(a) - cy * math.sin(a)) * w / 100, (y + cx * math.sin(a) + cy * math.cos(a)) * h / 100)
           for cx, cy in corners]
    return polygons_to_rle([[v for p in pts for v in p]], h, w)[0]


def _annotation(result: dict, h: int, w: int, boxes: str, counts: dict[str, int],
                score: float | None) -> tuple[ImportedAnnotation | None, str | None]:
    kind = str(result.get("type", "")).lower()
    value = result.get("value")
    if not isinstance(value, dict):
        return None, "result without a value"
    labels = value.get(kind)
    if kind not in ("polygonlabels", "brushlabels", "rectanglelabels"):
        counts[kind or "untyped"] = counts.get(kind or "untyped", 0) + 1
        return None, None
    if not (isinstance(labels, list) and len(labels) >= 1 and isinstance(labels[0], str)) or class_name_problem(labels[0]):
        return None, f"{kind} needs a valid label (got {describe(labels)})"
    if kind == "rectanglelabels":
        counts["rectangle"] = counts.get("rectangle", 0) + 1
        if boxes != "mask":
            return None, None
        rle = _box(value, h, w)
        reason = None if rle is not None else "rectangle needs numeric x, y, width, height (percent)"
    elif kind == "polygonlabels":
        pts = _percent_points(value.get("points"), h, w)
        rle, reason = polygons_to_rle([pts], h, w) if pts is not None else (None, "points must be [[x%, y%], ...]")
    else:
        rle, reason = _brush_rle(result, h, w)
    if rle is None:
        return None, reason
    s = result.get("score", score)
    return ImportedAnnotation(labels[0], rle, float(s) if isinstance(s, (int, float)) and not isinstance(s, bool)
                              else None), None


def _results(task: dict) -> tuple[list[dict], float | None]:
    """The results to import: the last completed annotation, else the first prediction."""
    done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if done:
        return [r for r in done[-1].get("result") or [] if isinstance(r, dict)], None
    preds = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    if preds:
        score = preds[0].get("score")
        return [r for r in preds[0].get("result") or [] if isinstance(r, dict)], \
            float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
    return [], None


def _task(i: int, task: Any, sizes: dict[str, tuple[int, int]], boxes: str, problems: Problems,
          counts: dict[str, int]) -> ImportedImage | None:
    if not isinstance(task, dict):
        problems.add(f"task {i} is not an object")
        return None
    ref = _image_ref(task)
    rel = match_image(ref, list(sizes)) if ref else None
    if rel is None:
        problems.add(f"task {task.get('id', i)}: image {describe(ref)} matches no image of the project")
        return None
    h, w = sizes[rel]
    image = ImportedImage(rel, w, h)
    results, score = _results(task)
    for result in results:
        ow, oh = result.get("original_width", w), result.get("original_height", h)
        if (ow, oh) != (w, h):
            problems.add(f"task {task.get('id', i)} ({rel}): result made on a {ow}x{oh} image, the image is {w}x{h}")
            continue
        ann, reason = _annotation(result, h, w, boxes, counts, score)
        if reason:
            problems.add(f"task {task.get('id', i)} ({rel}): {reason}")
        if ann is not None:
            image.annotations.append(ann)
    return image


def load_label_studio(path: str | Path, image_sizes: dict[str, tuple[int, int]], *,
                      boxes: str = "skip") -> ImportedDataset:
    """Read a Label Studio JSON export (a file, or a folder holding ``tasks.json``).

    Parameters
    ----------
    image_sizes
        The project's images: relative path -> ``(H, W)``; tasks are matched to them.
    """
    path = Path(path)
    file = path / "tasks.json" if path.is_dir() else path
    data = load_json(file, what="Label Studio JSON file")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise FormatError(f"{file} is not a Label Studio export (a list of tasks)")
    problems = Problems(str(file))
    dataset = ImportedDataset(source=str(file))
    counts: dict[str, int] = {}
    for i, task in enumerate(data):
        image = _task(i, task, image_sizes, boxes, problems, counts)
        if image is not None:
            dataset.images.append(image)
    problems.raise_if_any()
    seen: dict[str, None] = {}
    for image in dataset.images:
        seen.update((a.category, None) for a in image.annotations)
    dataset.categories = [(n, None) for n in seen]
    rect = counts.pop("rectangle", 0)
    if rect:
        dataset.notes.append(f"{rect} rectangle(s) imported as box masks" if boxes == "mask" else
                             f"{rect} rectangle(s) skipped (import them as box masks with --boxes mask)")
    for kind, n in sorted(counts.items()):
        dataset.notes.append(f"{n} {kind} result(s) not imported (segtool keeps masks)")
    return dataset
