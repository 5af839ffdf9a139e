"""Run with the labelme test venv's python (``outside_tools.tool_venv(LABELME)``), never imported by
the tests: labelme's ``LabelFile`` imports PyQt5, which must not share a process with PySide6.

``read FOLDER OUT.npz``: every ``*.json`` of FOLDER loaded with labelme's own ``LabelFile``; per
file, each shape decoded to a full-size mask by labelme's own code (``utils.shape_to_mask`` for
polygons, the bbox paste of ``utils.shapes_to_label`` for mask shapes) and the class / instance
maps of ``utils.shapes_to_label``; metadata (label, group_id, shape_type, flags) as JSON.

``write JSON IMAGE IMAGE_PATH SHAPES.json``: a labelme file written by ``LabelFile.save`` with the
image embedded as ``imageData`` (what labelme's GUI writes with "Save With Image Data").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _shape_mask(utils, shape: dict, size: tuple[int, int]) -> np.ndarray:
    if shape["shape_type"] == "mask":  # as utils.shapes_to_label pastes it
        mask = np.zeros(size, bool)
        (x1, y1), (x2, y2) = np.asarray(shape["points"]).astype(int)
        mask[y1:y2 + 1, x1:x2 + 1] = shape["mask"]
        return mask
    return utils.shape_to_mask(size, shape["points"], shape["shape_type"])


def read(folder: Path, out: Path) -> None:
    from labelme import LabelFile, utils

    arrays, meta = {}, {}
    for file in sorted(folder.glob("*.json")):
        lf = LabelFile(str(file))
        image = utils.img_data_to_arr(lf.image_data)
        size = image.shape[:2]
        shapes = []
        for k, shape in enumerate(lf.shapes):
            arrays[f"{file.stem}/{k}"] = _shape_mask(utils, shape, size)
            shapes.append({key: shape[key] for key in ("label", "group_id", "shape_type", "flags")})
        names = {"_background_": 0, **{s["label"]: i for i, s in enumerate(lf.shapes, 1)}}
        cls, ins = utils.shapes_to_label(size, lf.shapes, names)
        arrays[f"{file.stem}/ins"], arrays[f"{file.stem}/cls"] = ins, cls
        meta[file.stem] = {"image_path": lf.image_path, "size": list(size), "shapes": shapes,
                           "labels": {str(v): n for n, v in names.items()}}
    np.savez_compressed(out, **arrays)
    out.with_suffix(".json").write_text(json.dumps(meta))


def write(json_file: Path, image: Path, image_path: str, shapes_file: Path) -> None:
    from labelme import LabelFile, utils

    data = LabelFile.load_image_file(str(image))
    h, w = utils.img_data_to_arr(data).shape[:2]
    LabelFile().save(str(json_file), json.loads(shapes_file.read_text()), image_path, h, w, image_data=data)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        write(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], Path(sys.argv[5]))
