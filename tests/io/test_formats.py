"""COCO / VOC / YOLO / labelme through real readers and a real project store."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from segtool.core.document import ImageRecord, Instance
from segtool.core.errors import FormatError
from segtool.core.masks import mask_iou
from segtool.io.coco import build_coco
from segtool.io.voc import voc_ids
from segtool.services.formats import export_project, import_into_project
from segtool.store.sqlite import ProjectStore

H, W = 48, 64
NAMES = ["a.jpg", "b.png", "sub/c.jpg", "d.jpg"]


def _masks(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    ring = np.zeros((H, W), bool)
    ring[5:30, 5:35] = True
    ring[12:20, 12:22] = False  # a hole
    blob = np.zeros((H, W), np.uint8)
    cv2.ellipse(blob, (int(rng.integers(30, 50)), 30), (12, 9), int(rng.integers(0, 180)), 0, 360, 1, -1)
    two = np.zeros((H, W), bool)
    two[40:47, 0:6] = True  # touches the border
    two[2:4, 55:64] = True  # second part
    return [ring, blob.astype(bool), two]


def _make_project(folder: Path, *, pending: bool = True) -> ProjectStore:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in NAMES:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    store = ProjectStore.create(folder)
    recs = store.add_images([ImageRecord(0, n, W, H, f"hash-{n}") for n in NAMES])
    cat, dog = store.add_class("cat", (200, 10, 10)), store.add_class("dog")
    for k, rec in enumerate(recs[:3]):
        ms = _masks(k)
        insts = [Instance.from_mask(m, id=0, image_id=rec.id, class_id=c.id, z=z)
                 for z, (m, c) in enumerate(zip(ms, (cat, dog, cat), strict=True))]
        if pending:
            insts.append(Instance.from_mask(ms[1], id=0, image_id=rec.id, class_id=cat.id, z=9, state="pending",
                                            source="proposal", score=0.5))
        store.add_instances(rec.id, insts)
    return store


@pytest.fixture
def store(tmp_path: Path):
    s = _make_project(tmp_path / "proj")
    yield s
    s.close()


def _coco_quiet(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def test_coco_rle_export_is_read_by_pycocotools_pixel_exact(store: ProjectStore, tmp_path: Path) -> None:
    out = tmp_path / "coco.json"
    export_project(store, out, "coco", segmentation="rle")
    gt = _coco_quiet(out)
    assert sorted(c["name"] for c in gt.loadCats(gt.getCatIds())) == ["cat", "dog"]
    assert len(gt.getAnnIds()) == 9  # pending proposals are not exported
    expected = [i for r in store.images() for i in store.instances(r.id, state="accepted")]
    for ann, inst in zip(gt.loadAnns(gt.getAnnIds()), expected, strict=True):
        assert ann["image_id"] == inst.image_id and ann["category_id"] == inst.class_id
        np.testing.assert_array_equal(gt.annToMask(ann).astype(bool), inst.mask())
        assert ann["area"] == inst.area and ann["iscrowd"] == 0
        x, y, w, h = ann["bbox"]
        assert (x, y, x + w, y + h) == tuple(inst.bbox)
    img = gt.loadImgs(gt.getImgIds())[0]
    assert (img["width"], img["height"]) == (W, H)
    dets = [dict(a, score=1.0) for a in gt.loadAnns(gt.getAnnIds())]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(dets), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_auto_and_polygon_keep_holes_and_rasterise_back(store: ProjectStore, tmp_path: Path) -> None:
    for mode in ("auto", "polygon"):
        out = tmp_path / f"{mode}.json"
        export_project(store, out, "coco", segmentation=mode)
        gt = _coco_quiet(out)
        kinds = set()
        expected = [i for r in store.images() for i in store.instances(r.id, state="accepted")]
        for ann, inst in zip(gt.loadAnns(gt.getAnnIds()), expected, strict=True):
            has_hole = inst.mask()[15, 15] == 0 and inst.mask()[7, 7]
            kinds.add(type(ann["segmentation"]).__name__)
            if has_hole:
                assert isinstance(ann["segmentation"], dict), "a mask with a hole must stay RLE"
            assert mask_iou(gt.annToMask(ann).astype(bool), inst.mask()) == 1.0
        assert kinds == {"dict", "list"}


def test_split_is_seeded_and_copy_images(store: ProjectStore, tmp_path: Path) -> None:
    out1, out2 = tmp_path / "s1", tmp_path / "s2"
    export_project(store, out1, "coco", split={"val": 0.5}, seed=3, copy_images=True, layout="flat")
    export_project(store, out2, "coco", split={"val": 0.5}, seed=3, layout="flat")
    train, val = (json.loads((out1 / f"{n}.json").read_text()) for n in ("train", "val"))
    assert len(val["images"]) == 2 and len(train["images"]) == 2
    assert {i["file_name"] for i in train["images"] + val["images"]} == set(NAMES)
    assert json.loads((out2 / "val.json").read_text())["images"] == val["images"]
    for img in val["images"]:
        assert (out1 / "images" / img["file_name"]).read_bytes() == (store.root / img["file_name"]).read_bytes()


def _strip_dates(data: dict) -> dict:
    data = dict(data)
    data["info"] = {k: v for k, v in data["info"].items() if k != "date_created"}
    return data


@pytest.mark.parametrize("mode", ["rle", "auto"])
def test_coco_export_import_export_round_trip(store: ProjectStore, tmp_path: Path, mode: str) -> None:
    first = tmp_path / "first.json"
    export_project(store, first, "coco", segmentation=mode)
    other = _make_project(tmp_path / "other", pending=False)
    with other:
        for rec in other.images():
            other.delete_instances([i.id for i in other.instances(rec.id)])
        report = import_into_project(other, first, "coco")
        assert report.instances_added == 9 and report.classes_added == 0
        again = import_into_project(other, first, "coco")
        assert again.instances_added == 0 and again.instances_skipped == 9
        second = tmp_path / "second.json"
        export_project(other, second, "coco", segmentation=mode)
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert len(a["annotations"]) == 9
    assert _strip_dates(a) == _strip_dates(b)


def test_coco_import_into_fresh_project_creates_classes(tmp_path: Path) -> None:
    src = _make_project(tmp_path / "src")
    with src:
        export_project(src, tmp_path / "x.json", "coco", segmentation="polygon")
        expected = {rec.path: sorted(i.mask().sum() for i in src.instances(rec.id, state="accepted"))
                    for rec in src.images()}
    dst_dir = tmp_path / "src"  # same image folder, new project file
    with ProjectStore.create(dst_dir / "second.segtool", root=dst_dir) as dst:
        import_into_project(dst, tmp_path / "x.json", "coco")
        assert [c.name for c in dst.classes()] == ["cat", "dog"] and dst.classes()[0].color == (200, 10, 10)
        got = {rec.path: sorted(i.mask().sum() for i in dst.instances(rec.id)) for rec in dst.images()}
    assert got == expected


def _bad_coco_cases(good: dict) -> dict[str, tuple[object, str]]:
    def variant(fn) -> dict:
        d = json.loads(json.dumps(good))
        fn(d)
        return d

    return {
        "malformed": ('{"images": [', "malformed JSON"),
        "missing_image": (variant(lambda d: d["annotations"][0].update(image_id=999)), "missing image id 999"),
        "unknown_category": (variant(lambda d: d["annotations"][1].update(category_id=77)), "unknown category id 77"),
        "dotdot": (variant(lambda d: d["images"][0].update(file_name="../outside.jpg")), "../outside.jpg"),
        "absolute": (variant(lambda d: d["images"][0].update(file_name="/etc/passwd")), "/etc/passwd"),
        "size": (variant(lambda d: d["annotations"][0]["segmentation"].update(size=[10, 10])), "does not match"),
        "short_polygon": (variant(lambda d: d["annotations"][2].update(segmentation=[[1, 1, 5, 5]])),
                          "fewer than 3 points"),
        "image_size": (variant(lambda d: d["images"][1].update(width=W + 1)), "size"),
        "not_in_project": (variant(lambda d: d["images"][3].update(file_name="nowhere.jpg")), "nowhere.jpg"),
    }


def test_bad_coco_input_leaves_project_unchanged(store: ProjectStore, tmp_path: Path) -> None:
    good_path = tmp_path / "good.json"
    export_project(store, good_path, "coco", segmentation="rle")
    good = json.loads(good_path.read_text())
    before = store.counts()
    for name, (content, expected) in _bad_coco_cases(good).items():
        path = tmp_path / f"{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(FormatError, match="problem|JSON") as err:
            import_into_project(store, path, "coco")
        assert expected in str(err.value), (name, str(err.value))
        assert store.counts() == before, name
    many = json.loads(json.dumps(good))
    for ann in many["annotations"]:
        ann["category_id"] = 55
    (tmp_path / "many.json").write_text(json.dumps(many))
    with pytest.raises(FormatError, match=r"9 problem\(s\)"):
        import_into_project(store, tmp_path / "many.json", "coco")
    assert store.counts() == before


def test_voc_export_read_by_torchvision(store: ProjectStore, tmp_path: Path) -> None:
    from torchvision.datasets import VOCSegmentation

    root = tmp_path / "voc"
    out = root / "VOCdevkit" / "VOC2012"
    export_project(store, out, "voc", split={"val": 0.25}, seed=1, jpeg=True)  # torchvision opens <id>.jpg only
    ids = voc_ids(r.path for r in store.images())
    cls_index = {c.id: i + 1 for i, c in enumerate(store.classes())}
    for image_set in ("train", "val"):
        ds = VOCSegmentation(str(root), year="2012", image_set=image_set)
        names = (out / "ImageSets" / "Segmentation" / f"{image_set}.txt").read_text().split()
        assert len(ds) == len(names) > 0
        for k, vid in enumerate(names):
            image, target = ds[k]
            rec = next(r for r in store.images() if ids[r.path] == vid)
            expected = np.zeros((H, W), np.uint8)
            for inst in store.instances(rec.id, state="accepted"):  # bottom to top
                expected[inst.mask()] = cls_index[inst.class_id]
            assert image.size == (W, H) and target.mode == "P"
            np.testing.assert_array_equal(np.asarray(target), expected)
            assert target.getpalette()[3:6] == [128, 0, 0]
    assert (out / "labelmap.txt").read_text().splitlines()[1:] == ["background:0,0,0::", "cat:128,0,0::",
                                                                     "dog:0,128,0::"]


def test_voc_objects_xml_void_border_and_reimport(store: ProjectStore, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    out = tmp_path / "voc"
    export_project(store, out, "voc")
    rec = store.images()[0]
    insts = store.instances(rec.id, state="accepted")
    obj = np.asarray(Image.open(out / "SegmentationObject" / "a.png"))
    assert sorted(np.unique(obj)) == [0, 1, 2, 3]
    np.testing.assert_array_equal(obj == 3, insts[2].mask())  # top object intact
    boxes = [[int(o.find(f"bndbox/{t}").text) for t in ("xmin", "ymin", "xmax", "ymax")]
             for o in ET.parse(out / "Annotations" / "a.xml").getroot().iter("object")]
    assert boxes == [[i.bbox[0] + 1, i.bbox[1] + 1, i.bbox[2], i.bbox[3]] for i in insts]
    export_project(store, tmp_path / "void", "voc", void_border=2)
    cls = np.asarray(Image.open(tmp_path / "void" / "SegmentationClass" / "a.png"))
    assert (cls == 255).any() and cls[25, 25] == 1  # band is void, interior keeps its class
    # re-import into a project without instances gives the same masks
    other = _make_project(tmp_path / "other", pending=False)
    with other:
        for r in other.images():
            other.delete_instances([i.id for i in other.instances(r.id)])
        import_into_project(other, out, "voc")
        got = other.instances(other.image_by_path("a.jpg").id)
        assert [i.mask().sum() for i in got] == [i.mask().sum() for i in insts]
        assert all(mask_iou(g.mask(), e.mask()) == 1.0 for g, e in zip(got, insts, strict=True))


def test_yolo_export(store: ProjectStore, tmp_path: Path) -> None:
    out = tmp_path / "yolo"
    export_project(store, out, "yolo", split={"val": 0.25}, seed=0)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "cat", 1: "dog"} and data["val"] == "images/val"
    label = next((out / "labels").rglob("a.txt")).read_text().splitlines()
    assert len(label) == 3  # ring, blob, two-part mask joined into one polygon (one line per instance)
    cls, *coords = label[1].split()
    xy = np.asarray(coords, float).reshape(-1, 2) * (W, H)
    canvas = np.zeros((H, W), np.uint8)
    cv2.fillPoly(canvas, [np.round(xy - 0.5).astype(np.int32)], 1)
    blob = store.instances(store.images()[0].id, state="accepted")[1].mask()
    assert cls == "1" and mask_iou(canvas.astype(bool), blob) > 0.85
    assert len(list((out / "images").rglob("*.*"))) == 4


def test_labelme_import(store: ProjectStore, tmp_path: Path) -> None:
    folder = store.root
    doc = {"imagePath": "d.jpg", "imageHeight": H, "imageWidth": W, "shapes": [
        {"label": "bird", "shape_type": "polygon", "points": [[10, 10], [30, 10], [30, 30], [10, 30]], "group_id": None},
        {"label": "cat", "shape_type": "rectangle", "points": [[40, 5], [50, 15]], "group_id": 1},
        {"label": "cat", "shape_type": "circle", "points": [[45, 35], [45, 40]], "group_id": 1},
        {"label": "note", "shape_type": "line", "points": [[0, 0], [5, 5]]},
    ]}
    (folder / "d.json").write_text(json.dumps(doc))
    before = store.counts()
    import_into_project(store, folder / "d.json", "labelme")
    after = store.counts()
    assert after["instances"] == before["instances"] + 2 and after["classes"] == before["classes"] + 1
    insts = store.instances(store.image_by_path("d.jpg").id)
    square = np.zeros((H, W), bool)
    square[10:31, 10:31] = True
    assert mask_iou(insts[0].mask(), square) == 1.0
    assert insts[1].mask()[10, 45] and insts[1].mask()[35, 45] and not insts[1].mask()[25, 45]
    doc["shapes"] = [{"label": "x", "shape_type": "polygon", "points": [[1, 1], [2, 2]]}]
    doc["imagePath"] = "../../etc/passwd"
    (folder / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="not inside the project"):
        import_into_project(store, folder / "bad.json", "labelme")
    assert store.counts() == after


def test_build_coco_on_plain_dataclasses() -> None:
    from segtool.core.document import LabelClass

    m = np.zeros((4, 5), bool)
    m[1:3, 2:4] = True
    rec = ImageRecord(7, "x/y.png", 5, 4, "h")
    data, stats = build_coco([LabelClass(3, "k", (1, 2, 3))],
                             [(rec, [Instance.from_mask(m, id=11, image_id=7, class_id=3),
                                     Instance.from_mask(m, id=12, image_id=7, class_id=None)])],
                             segmentation="rle", date="2020-01-01")
    assert data["images"] == [{"id": 7, "file_name": "x/y.png", "width": 5, "height": 4}]
    assert [a["id"] for a in data["annotations"]] == [1] and stats.skipped_unlabelled == 1
    assert data["annotations"][0]["bbox"] == [2.0, 1.0, 2.0, 2.0] and data["annotations"][0]["area"] == 4
