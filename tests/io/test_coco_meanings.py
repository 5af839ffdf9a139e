"""COCO meanings kept: iscrowd (instance -> iscrowd 1 RLE, void in VOC), source category ids,
bbox-only annotations counted (or box masks), keypoints/captions reported, panoptic pointed at Datumaro."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from format_projects import H, W, make_project
from PIL import Image
from pycocotools import mask as coco_mask

from segtool.core.errors import FormatError
from segtool.core.masks import encode_rle
from segtool.services.formats import export_project, import_into_project, load_dataset


def _coco(ids=(0, 15)) -> dict:
    crowd = np.zeros((H, W), bool)
    crowd[20:40, 10:50] = True
    rle = encode_rle(crowd)
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
            "categories": [{"id": ids[0], "name": "_person"}, {"id": ids[1], "name": "car"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": ids[0], "segmentation": rle, "iscrowd": 1, "area": 800,
                 "bbox": [10, 20, 40, 20]},
                {"id": 2, "image_id": 1, "category_id": ids[1], "segmentation": [[1, 1, 9, 1, 9, 9, 1, 9]],
                 "iscrowd": 0, "keypoints": [2, 2, 2]},
                {"id": 3, "image_id": 1, "category_id": ids[1], "bbox": [30, 2, 10, 5], "iscrowd": 0},
            ]}


def test_crowd_and_source_ids_survive_coco_round_trip_and_voc_void(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(json.dumps(_coco()))
    with make_project(tmp_path / "p", names=("a.jpg",), classes=()) as store:
        store.delete_instances([i.id for i in store.instances(1)])
        report = import_into_project(store, tmp_path / "in.json", "coco")
        assert report.instances_added == 2
        assert any("1 bbox-only annotation(s) skipped" in n for n in report.notes)
        assert any("keypoints of 1 annotation(s) not imported" in n for n in report.notes)
        assert [i.iscrowd for i in store.instances(1)] == [True, False]
        export_project(store, tmp_path / "out.json", "coco", segmentation="polygon")
        export_project(store, tmp_path / "voc", "voc")
    data = json.loads((tmp_path / "out.json").read_text())
    assert sorted(c["id"] for c in data["categories"]) == [0, 15]
    crowd = next(a for a in data["annotations"] if a["iscrowd"] == 1)
    assert crowd["category_id"] == 0 and isinstance(crowd["segmentation"], dict)
    assert coco_mask.decode({"size": crowd["segmentation"]["size"],
                             "counts": crowd["segmentation"]["counts"].encode()}).sum() == 800
    cls = np.array(Image.open(tmp_path / "voc" / "SegmentationClass" / "a.png"))
    assert (cls[20:40, 10:50] == 255).all() and (cls[1:9, 1:9] > 0).all()


def test_bbox_only_annotations_become_box_masks_on_request(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(json.dumps(_coco()))
    with make_project(tmp_path / "p", names=("a.jpg",), classes=()) as store:
        data = load_dataset(store, tmp_path / "in.json", "coco", boxes="mask")
        box = data.images[0].annotations[-1]
        m = coco_mask.decode({"size": box.rle["size"], "counts": box.rle["counts"].encode()}).astype(bool)
        assert m.sum() == 50 and m[2:7, 30:40].all()


def test_panoptic_input_points_at_datumaro(tmp_path: Path) -> None:
    pan = {"images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}], "categories": [],
           "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 1, "category_id": 1}]}]}
    (tmp_path / "pan.json").write_text(json.dumps(pan))
    with make_project(tmp_path / "p", names=("a.jpg",)) as store:
        with pytest.raises(FormatError, match="COCO panoptic: use --format datumaro:coco_panoptic"):
            load_dataset(store, tmp_path / "pan.json", "coco")
