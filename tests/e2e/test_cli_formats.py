"""``segtool export`` / ``segtool import`` end to end through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as coco_mask

from segtool.cli import main
from segtool.core.document import ImageRecord, Instance
from segtool.store.sqlite import ProjectStore


def _project(folder: Path) -> None:
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((30, 40, 3), 90, np.uint8))
    with ProjectStore.create(folder) as store:
        (rec,) = store.add_images([ImageRecord(0, "a.png", 40, 30, "h")])
        cls = store.add_class("leaf")
        m = np.zeros((30, 40), bool)
        m[5:20, 8:30] = True
        m[10:14, 15:20] = False
        store.add_instances(rec.id, [Instance.from_mask(m, id=0, image_id=rec.id, class_id=cls.id)])


def test_export_import_cli(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "imgs"
    _project(folder)
    out = tmp_path / "out.json"
    assert main(["export", str(folder / "project.segtool"), str(out), "--format", "coco"]) == 0
    data = json.loads(out.read_text())
    ann = data["annotations"][0]
    assert isinstance(ann["segmentation"], dict)  # auto keeps the hole as RLE
    assert coco_mask.decode({"size": ann["segmentation"]["size"],
                             "counts": ann["segmentation"]["counts"].encode()})[12, 17] == 0
    assert main(["export", str(folder), str(tmp_path / "voc"), "--format", "voc"]) == 0
    assert (tmp_path / "voc" / "SegmentationClass" / "a.png").is_file()
    # importing the export again adds nothing; bad input exits 1 with one line and changes nothing
    assert main(["import", str(folder), str(out), "--format", "coco"]) == 0
    assert "imported 0 instances (1 already present)" in capsys.readouterr().out
    ann["segmentation"] = [[1, 1, 2, 2]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["import", str(folder), str(bad), "--format", "coco"]) == 1
    err = capsys.readouterr().err
    assert "fewer than 3 points" in err and len(err.strip().splitlines()) == 1
    with ProjectStore.open(folder, readonly=True) as store:
        assert store.counts()["instances"] == 1
