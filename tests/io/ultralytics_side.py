"""Ultralytics' own readers, run in a subprocess by ``test_yolo_both_ways.py``, never imported by the tests.

Importing ultralytics monkey-patches ``PIL.Image.open`` and ``cv2.imread``/``imwrite`` for the whole
process (``ultralytics/utils/patches.py``), which would change what every later test reads; so its
code runs here, in a process of its own.

- ``merge IN.json OUT.json``: ``IN`` holds a list of polygon lists; ``OUT`` gets, for each, the flat
  polygon ``ultralytics.data.converter.merge_multi_segment`` joins them into.
- ``dataset YOLO_DIR SPLIT W H OUT.npz``: ``YOLODataset(task="segment")`` on the export; per image stem,
  the class indices (``<stem>:cls``) and the masks ``(N, H, W)`` bool (``<stem>:masks``).
- ``names DATA.yaml``: ``check_class_names`` of the file's ``names``, printed as JSON on the last line
  of stdout (Ultralytics may print before it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml


def merge(src: Path, dst: Path) -> None:
    from ultralytics.data.converter import merge_multi_segment

    out = [np.concatenate(merge_multi_segment([list(p) for p in polys]), axis=0).ravel().tolist()
           for polys in json.loads(src.read_text())]
    dst.write_text(json.dumps(out))


def dataset(root: Path, split: str, width: int, height: int, dst: Path) -> None:
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import YOLODataset

    data = yaml.safe_load((root / "data.yaml").read_text())
    hyp = get_cfg(overrides={"mask_ratio": 1, "overlap_mask": False})
    ds = YOLODataset(img_path=str(root / "images" / split), data={**data, "channels": 3}, task="segment",
                     imgsz=width, augment=False, hyp=hyp, rect=False, batch_size=1)
    arrays = {}
    for i in range(len(ds)):
        item = ds[i]
        top, left = int(round(item["ratio_pad"][1][1])), int(round(item["ratio_pad"][1][0]))
        stem = Path(item["im_file"]).stem
        arrays[f"{stem}:masks"] = item["masks"].numpy().astype(bool)[:, top:top + height, left:left + width]
        arrays[f"{stem}:cls"] = item["cls"].numpy().ravel().astype(int)
    np.savez(dst, **arrays)


def names(path: Path) -> None:
    from ultralytics.data.utils import check_class_names

    print(json.dumps({str(k): v for k, v in check_class_names(yaml.safe_load(path.read_text())["names"]).items()}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "merge":
        merge(Path(args[0]), Path(args[1]))
    elif command == "dataset":
        dataset(Path(args[0]), args[1], int(args[2]), int(args[3]), Path(args[4]))
    elif command == "names":
        names(Path(args[0]))
    else:
        raise SystemExit(f"unknown command {command}")
