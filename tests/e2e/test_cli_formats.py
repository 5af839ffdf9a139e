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


def test_export_never_drops_unlabelled_instances_silently(tmp_path: Path, capsys) -> None:
    from pycocotools.coco import COCO

    folder = tmp_path / "imgs"
    _project(folder)
    with ProjectStore.open(folder) as store:
        rec = store.images()[0]
        m = np.zeros((30, 40), bool)
        m[22:28, 2:12] = True
        store.add_instances(rec.id, [Instance.from_mask(m, id=0, image_id=rec.id, class_id=None)])
    out = tmp_path / "skip.json"
    assert main(["export", str(folder), str(out), "--format", "coco"]) == 0
    assert "1 annotations; 1 unlabelled instance(s) skipped" in capsys.readouterr().out
    assert len(COCO(str(out)).getAnnIds()) == 1
    out2 = tmp_path / "named.json"
    assert main(["export", str(folder), str(out2), "--format", "coco", "--unlabelled", "misc"]) == 0
    assert "2 annotations; 1 unlabelled instance(s) exported" in capsys.readouterr().out
    coco = COCO(str(out2))
    misc = coco.getCatIds(catNms=["misc"])
    assert len(misc) == 1 and len(coco.getAnnIds(catIds=misc)) == 1
    assert coco.annToMask(coco.loadAnns(coco.getAnnIds(catIds=misc))[0]).sum() == m.sum()
    assert main(["export", str(folder), str(tmp_path / "bad.json"), "--format", "coco", "--unlabelled", "a\nb"]) == 1
    assert "control character" in capsys.readouterr().err
