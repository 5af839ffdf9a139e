"""YOLO import (Ultralytics layout): ``data.yaml`` + ``labels/**/*.txt`` polygons become instances.

Layout read from a dataset folder (or its ``data.yaml``)::

    data.yaml                    names: {0: cat, ...} or [cat, ...] (else classes.txt, else "0", "1", ...)
    images/<split>/<stem>.<ext>  the images (they must lie inside the project folder)
    labels/<split>/<stem>.txt    one object per line: ``class x1 y1 x2 y2 ...`` normalised to [0, 1]

Every label file under the dataset is paired with its image as Ultralytics does (the last
``labels`` folder of its path replaced by ``images``, same stem, any image suffix). A line of 4
coordinates is a detection box ``class cx cy w h``: boxes are counted and skipped, or imported as
box masks with ``boxes="mask"``. A polygon is rasterised with pycocotools (exact for the edge-traced
polygons segtool exports). The class index is kept as the class's source id. Every problem is
collected and the first ones raised as one :class:`~segtool.core.errors.FormatError`.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from segtool.core.errors import FormatError, ImageReadError
from segtool.core.names import class_name_problem
from segtool.io.common import ImportedAnnotation, ImportedDataset, ImportedImage, Problems
from segtool.io.dataset_files import box_to_rle, image_beside, polygons_to_rle, project_rel
from segtool.io.images import probe_image

BOX_POLICIES = ("skip", "mask")
#: Largest label file read (bytes).
MAX_LABEL_BYTES = 64 << 20
#: Slack allowed outside [0, 1] for normalised coordinates (rounding in other tools' writers).
_TOLERANCE = 1e-3


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
        if len(text) > 1 << 20:
            raise FormatError(f"{path}: larger than 1 MiB; not a YOLO data.yaml")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise FormatError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path} is not a YOLO data.yaml (it needs a 'names' mapping or list)")
    return data


def class_names(root: Path, yaml_file: Path | None) -> list[str] | None:
    """Class names by index from ``data.yaml`` (``names`` as a list or ``{index: name}``), else
    ``classes.txt``; ``None`` when neither exists (indices are then named ``"0"``, ``"1"``, ...)."""
    if yaml_file is not None:
        names = _read_yaml(yaml_file).get("names")
        if isinstance(names, list):
            return [str(n) for n in names]
        if isinstance(names, dict):
            if not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 100_000 for k in names):
                raise FormatError(f"{yaml_file}: names keys must be class indices 0, 1, 2, ...")
            out = [str(i) for i in range(max(names, default=-1) + 1)]
            for k, v in names.items():
                out[k] = str(v)
            return out
        if names is not None:
            raise FormatError(f"{yaml_file}: names must be a list or a mapping of index to name")
    classes_txt = root / "classes.txt"
    if classes_txt.is_file():
        return [line.strip() for line in classes_txt.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    return None


def _image_for(label: Path, root: Path) -> Path | None:
    parts = list(label.relative_to(root).parts)
    if "labels" not in parts:
        return None
    k = len(parts) - 1 - parts[::-1].index("labels")
    folder = root.joinpath(*parts[:k], "images", *parts[k + 1:-1])
    return image_beside(folder, label.stem)


def _parse_line(tokens: list[str], h: int, w: int) -> tuple[int, str, list[float]] | str:
    """``(class, "polygon"|"box", coords in pixels)`` or the reason the line is bad."""
    try:
        cls = int(tokens[0])
        values = [float(t) for t in tokens[1:]]
    except ValueError:
        return "the class must be an integer and the coordinates numbers"
    if cls < 0:
        return f"negative class index {cls}"
    if not all(math.isfinite(v) and -_TOLERANCE <= v <= 1 + _TOLERANCE for v in values):
        return "coordinates must be normalised to [0, 1]"
    if len(values) == 4:
        cx, cy, bw, bh = values
        return cls, "box", [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
    if len(values) < 6 or len(values) % 2:
        return f"{len(values)} coordinates: a polygon needs an even number, at least 6 (a box needs 4)"
    return cls, "polygon", [v * (w if j % 2 == 0 else h) for j, v in enumerate(values)]


def _read_label_file(label: Path, rel: str, size: tuple[int, int], names: list[str] | None, boxes: str,
                     problems: Problems, counts: dict[str, int]) -> ImportedImage:
    h, w = size
    image = ImportedImage(rel, w, h)
    if label.stat().st_size > MAX_LABEL_BYTES:
        problems.add(f"{label.name}: larger than {MAX_LABEL_BYTES >> 20} MiB")
        return image
    try:
        text = label.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(f"{label.name}: cannot read it ({exc})")
        return image
    for n, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        parsed = _parse_line(tokens, h, w)
        if isinstance(parsed, str):
            problems.add(f"{label.name} line {n}: {parsed}")
            continue
        cls, kind, coords = parsed
        if names is not None and cls >= len(names):
            problems.add(f"{label.name} line {n}: class {cls} is not in data.yaml's names ({len(names)} classes)")
            continue
        name = names[cls] if names is not None else str(cls)
        if kind == "box":
            counts["boxes"] += 1
            if boxes != "mask":
                continue
            rle = box_to_rle(*coords, h, w)
        else:
            rle, reason = polygons_to_rle([coords], h, w)
            if rle is None:
                problems.add(f"{label.name} line {n}: {reason}")
                continue
        image.annotations.append(ImportedAnnotation(name, rle, attributes={}))
        counts.setdefault(f"class:{name}", cls)
    return image


def load_yolo(path: str | Path, project_root: str | Path, *, boxes: str = "skip") -> ImportedDataset:
    """Read a YOLO segmentation (or detection) dataset; see the module docstring.

    Parameters
    ----------
    path
        The dataset folder or its ``data.yaml``.
    project_root
        The project folder: every image must lie inside it.
    boxes
        ``"skip"`` (count detection boxes in :attr:`ImportedDataset.notes`) or ``"mask"`` (import
        them as box-shaped masks).
    """
    if boxes not in BOX_POLICIES:
        raise FormatError(f"unknown --boxes {boxes!r}; use one of {BOX_POLICIES}")
    path = Path(path)
    yaml_file = path if path.is_file() else next((p for p in (path / "data.yaml", path / "dataset.yaml")
                                                  if p.is_file()), None)
    root = path.parent if path.is_file() else path
    names = class_names(root, yaml_file)
    problems = Problems(str(path))
    for i, name in enumerate(names or []):
        if class_name_problem(name):
            problems.add(f"class {i}: {class_name_problem(name)}")
    if names is not None and len(set(names)) != len(names):
        problems.add("data.yaml names the same class twice")
    labels = sorted(p for p in root.rglob("*.txt") if "labels" in p.relative_to(root).parts)
    if not labels:
        raise FormatError(f"no YOLO label files (labels/**/*.txt) under {root}")
    dataset = ImportedDataset(source=str(path))
    counts: dict = {"boxes": 0}
    for label in labels:
        image_file = _image_for(label, root)
        if image_file is None:
            problems.add(f"{label.relative_to(root)}: no image beside it (images/.../{label.stem}.*)")
            continue
        rel = project_rel(image_file, project_root)
        if rel is None:
            problems.add(f"{image_file}: not inside the project folder {project_root}; import from a dataset "
                         "inside the project folder")
            continue
        try:
            info = probe_image(image_file)
        except ImageReadError as exc:
            problems.add(str(exc))
            continue
        dataset.images.append(_read_label_file(label, rel, (info.height, info.width), names, boxes, problems,
                                                counts))
    problems.raise_if_any()
    used = {k[6:]: v for k, v in counts.items() if k.startswith("class:")}
    index = {n: i for i, n in enumerate(names)} if names is not None else used
    dataset.categories = [(n, None) for n in sorted(index, key=index.__getitem__)]
    dataset.source_ids = dict(index)
    if counts["boxes"] and boxes == "skip":
        dataset.notes.append(f"{counts['boxes']} detection box(es) without a polygon skipped "
                             "(import them as box masks with --boxes mask)")
    elif counts["boxes"]:
        dataset.notes.append(f"{counts['boxes']} detection box(es) imported as box masks")
    return dataset
