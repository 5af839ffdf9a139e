"""Hostile dataset files: validated before pycocotools/OpenCV/Pillow see them; names round-trip exactly or are refused.

Each case below once crashed segtool (segfault, traceback, memory blow-up) or lost data silently.
Validation runs before the C libraries, so these tests run in-process (a missing check would
crash this test process, which fails the run as loudly as an assertion).
"""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.core.masks import encode_rle
from segtool.io import coco, labelme, voc, yolo

H, W = 20, 30


def _coco(tmp_path: Path, **changes) -> Path:
    seg = [[2, 2, 20, 2, 20, 15, 2, 15]]
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": seg}]}
    for key, value in changes.items():
        section, field = key.split("__")
        data[section][0][field] = value
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), encoding="ascii")  # lone surrogates as \\udcff escapes
    return path


@pytest.mark.parametrize("changes, message", [
    ({"annotations__segmentation": [[0, 0, 3e9, 0, 3e9, 3e9]]}, "far outside"),
    ({"annotations__segmentation": [[0, 0, 1e308, 0, 1e308, 1e308]]}, "far outside"),
    ({"annotations__segmentation": [[0, 0, 5, 0, 5, -1e9]]}, "far outside"),
    ({"annotations__segmentation": [[0, 0, 30, 0] * 400_000]}, "total edge length"),
    ({"annotations__segmentation": {"size": [H, W], "counts": "0`0"}}, "corrupt RLE"),
    ({"annotations__segmentation": {"size": [H, W], "counts": "o"}}, "corrupt RLE"),
    ({"annotations__segmentation": {"size": [H, W], "counts": [10, -5, H * W - 5]}}, "non-negative"),
    ({"images__width": 60000, "images__height": 60000}, "above the limit"),
    ({"images__width": True}, "positive integers"),
    ({"images__file_name": "a\x00.jpg"}, "NUL"),
    ({"images__file_name": "\udcff.jpg"}, "not valid Unicode"),
    ({"images__file_name": "C:\\x.jpg"}, "absolute"),
    ({"categories__name": "ca\x00t"}, "control character"),
    ({"categories__name": "ca\ud800t"}, "lone surrogate"),
    ({"categories__name": "cat\u2028dog"}, "line separator"),
    ({"categories__name": " cat"}, "white space"),
    ({"annotations__score": 1e400}, "Infinity is not a JSON number"),
    ({"annotations__score": "high"}, "finite number"),
])
def test_hostile_coco_values_are_refused_before_pycocotools(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        coco.load_coco(_coco(tmp_path, **changes))


@pytest.mark.parametrize("content, message", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200), "not a COCO JSON file"),
    (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    (b'{"images": [], "categories": [], "x": NaN}', "NaN is not a JSON number"),
    (b'{"images": [], "categories": {}}', "not a COCO JSON file"),
    (b'{"images": [], "categories": [], "annotations": {}}', "must be a list"),
])
def test_files_that_are_not_coco(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        coco.load_coco(path)


def _labelme(tmp_path: Path, shapes: list, **top) -> Path:
    (tmp_path / "a.jpg").write_bytes(b"")
    data = {"imagePath": "a.jpg", "imageHeight": H, "imageWidth": W, "shapes": shapes, **top}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    return path


_SQUARE = [[2, 2], [10, 2], [10, 10], [2, 10]]


@pytest.mark.parametrize("shapes, top, message", [
    ([{"label": "x", "points": _SQUARE, "group_id": [1, 2]}], {}, "group_id"),
    ([{"label": "x", "points": _SQUARE, "group_id": {"a": 1}}], {}, "group_id"),
    ([{"label": "x", "points": _SQUARE}], {"imageHeight": 60000, "imageWidth": 60000}, "above the limit"),
    ([{"label": "x", "points": [[0, 0], [1e308, 0], [1e308, 1e308]]}], {}, "far outside"),
    ([{"label": "x", "shape_type": "circle", "points": [[5, 5], [5, 1e12]]}], {}, "far outside"),
    ([{"label": "x", "shape_type": "circle", "points": [[0, 0], [W, -H]], "group_id": None}], {}, "far larger"),
    ([{"label": "x\ny", "points": _SQUARE}], {}, "control character"),
    ([{"label": 7, "points": _SQUARE}], {}, "must be text"),
    ([{"label": "x", "points": _SQUARE}], {"imagePath": "a\x00.jpg"}, "NUL"),
    ([{"label": "x", "points": _SQUARE}], {"imagePath": "/etc/passwd"}, "absolute"),
    ([{"label": "x", "points": _SQUARE}], {"imagePath": "../../outside.jpg"}, "not inside the project"),
])
def test_hostile_labelme_values(tmp_path: Path, shapes: list, top: dict, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        labelme.load_labelme(_labelme(tmp_path, shapes, **top), tmp_path)


def test_labelme_mask_larger_than_the_image_is_refused_from_its_header(tmp_path: Path) -> None:
    import base64
    import io

    buf = io.BytesIO()
    Image.new("L", (W + 5, H), 255).save(buf, format="PNG")
    shape = {"label": "x", "shape_type": "mask", "points": [[0, 0], [W, H]],
             "mask": base64.b64encode(buf.getvalue()).decode()}
    with pytest.raises(FormatError, match="larger than"):
        labelme.load_labelme(_labelme(tmp_path, [shape]), tmp_path)


def test_labelme_link_out_of_the_project_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (root / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    path = _labelme(root, [{"label": "x", "points": _SQUARE}], imagePath="link.jpg")
    with pytest.raises(FormatError, match="outside"):
        labelme.load_labelme(path, root)


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` (its data is one tiny row: decoding would fail)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"PLTE", bytes(3))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _voc_dir(tmp_path: Path) -> Path:
    root = tmp_path / "voc"
    (root / "SegmentationClass").mkdir(parents=True)
    return root


def test_voc_png_declaring_40000_squared_is_refused_from_its_header(tmp_path: Path) -> None:
    root = _voc_dir(tmp_path)
    (root / "SegmentationClass" / "a.png").write_bytes(_png_declaring(40000, 40000))
    with pytest.raises(FormatError, match="above the limit"):
        voc.load_voc(root)


@pytest.mark.parametrize("labelmap, message", [
    ("background:0,0,0::\ncaf\xe9:1,2,3::\n".encode("latin-1"), "not UTF-8"),
    (b"background:0,0,0::\ncat:1,2,3::\ncat:4,5,6::\n", "listed twice"),
    (b"background:0,0,0::\n:1,2,3::\n", "empty"),
])
def test_voc_bad_labelmap(tmp_path: Path, labelmap: bytes, message: str) -> None:
    root = _voc_dir(tmp_path)
    Image.fromarray(np.ones((4, 4), np.uint8), "L").save(root / "SegmentationClass" / "a.png")
    (root / "labelmap.txt").write_bytes(labelmap)
    with pytest.raises(FormatError, match=message):
        voc.load_voc(root)


#: Class names that must survive every exporter exactly (VOC refuses ':' and a leading '#').
TRICKY = ["it's \"quoted\"", "a&b<c>d", "emoji 🐱‍👤", "hash # inside", "über/slash", "null", "true", "1",
          "- dash", "{brace}", "ﬁ ligature", "x\u200by", "]]>", "yes", "~"]


def _scene(tmp_path: Path, names: list[str]) -> tuple[list[LabelClass], list]:
    root = tmp_path / "img"
    (root / "sub").mkdir(parents=True)
    paths = ["sub/x.jpg", "sub__x.jpg", "x.png", "x_png.jpg", "X.jpg"]
    classes = [LabelClass(i + 1, n, (i, 2 * i, 3 * i)) for i, n in enumerate(names)]
    items = []
    for k, rel in enumerate(paths):
        cv2.imwrite(str(root / rel), np.full((H, W, 3), 40 * k, np.uint8))
        mask = np.zeros((H, W), bool)
        mask[2 + k:8 + k, 3:12] = True
        inst = Instance.from_mask(mask, id=k + 1, image_id=k + 1, class_id=classes[k % len(classes)].id)
        items.append((ImageRecord(k + 1, rel, W, H, f"h{k}"), [inst]))
    return classes, items


def test_voc_export_names_round_trip_and_files_never_collide(tmp_path: Path) -> None:
    classes, items = _scene(tmp_path, TRICKY)
    out = tmp_path / "voc"
    stats = voc.export_voc(out, classes, items, image_root=tmp_path / "img", workers=0)
    assert stats.images == 5 and not stats.skipped
    for sub, suffix in (("JPEGImages", ""), ("SegmentationClass", ".png"), ("Annotations", ".xml")):
        assert len(list((out / sub).glob(f"*{suffix}"))) == 5, sub
    names_in_xml = [ET.parse(p).getroot().find("object/name").text for p in sorted((out / "Annotations").iterdir())]
    assert sorted(names_in_xml) == sorted(c.name for c in classes[:5])
    assert voc.read_labelmap(out / "labelmap.txt") == ["background", *TRICKY]
    ids = voc.voc_ids(rec.path for rec, _ in items)
    back = voc.load_voc(out, names={v: k for k, v in ids.items()})
    got = {im.file_name: [a.category for a in im.annotations] for im in back.images}
    assert got == {rec.path: [classes[k % len(classes)].name] for k, (rec, _) in enumerate(items)}


@pytest.mark.parametrize("bad", ["a:b", "#first", "new\nline", "tab\tx", "\ufffe"])
def test_voc_refuses_names_it_cannot_hold_before_writing(tmp_path: Path, bad: str) -> None:
    classes, items = _scene(tmp_path, ["ok", bad])
    with pytest.raises(FormatError, match="nothing was written"):
        voc.export_voc(tmp_path / "voc", classes, items, image_root=tmp_path / "img", workers=0)
    assert not (tmp_path / "voc").exists()


def test_yolo_names_round_trip_through_safe_load_and_files_never_collide(tmp_path: Path) -> None:
    classes, items = _scene(tmp_path, TRICKY)
    out = tmp_path / "yolo"
    stats = yolo.export_yolo(out, classes, items, image_root=tmp_path / "img", dataset_path="/final/place")
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert data["names"] == {i: n for i, n in enumerate(TRICKY)} and data["path"] == "/final/place"
    assert stats.images == 5
    assert len(list((out / "images" / "train").iterdir())) == 5
    assert len(list((out / "labels" / "train").iterdir())) == 5


def test_coco_json_keeps_names_exactly_and_refuses_nan(tmp_path: Path) -> None:
    classes, items = _scene(tmp_path, TRICKY)
    data, _ = coco.build_coco(classes, items)
    coco.save_json(data, tmp_path / "c.json")
    back = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in back["categories"]] == TRICKY
    data["annotations"][0]["score"] = float("nan")
    with pytest.raises(FormatError, match="nothing was written"):
        coco.save_json(data, tmp_path / "d.json")
    assert not (tmp_path / "d.json").exists()


def test_coco_import_of_a_valid_rle_still_works(tmp_path: Path) -> None:
    mask = np.zeros((H, W), bool)
    mask[3:9, 4:20] = True
    path = _coco(tmp_path, annotations__segmentation=encode_rle(mask))
    image = coco.load_coco(path).images[0]
    assert image.annotations[0].rle["counts"] == encode_rle(mask)["counts"]
