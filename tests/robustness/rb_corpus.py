"""The fixed corpus of hand-made bad inputs, generated from tables (no binary junk in the repository).

Each :class:`Case` writes its bad file(s) into the test's folder and returns the command line that
must refuse it. A format plugs in with one function returning its cases; :data:`CORPUS` collects
them all. ``native=True`` marks cases whose data would reach pycocotools/OpenCV/Pillow with hostile
numbers if a check were missing: they also run in real subprocesses, where a signal would show.
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from segtool.core.atomic import EXPORT_MARKER

from rb_env import Env, H, W, make_project


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(env) -> (argv, name the error must mention)``; ``expect`` is a phrase of the message."""

    group: str
    name: str
    make: Callable[[Env], tuple[list[str], str]]
    expect: str
    native: bool = False

    @property
    def id(self) -> str:
        return f"{self.group}:{self.name}"


def _jpeg_bytes() -> bytes:
    return cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", bytes(3)) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


# -- COCO ------------------------------------------------------------------------------------------
def coco_base() -> dict:
    """A valid COCO file for the robustness project."""
    return {"images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H},
                       {"id": 2, "file_name": "b.png", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "bird"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 2,
                             "segmentation": [[2, 2, 20, 2, 20, 15, 2, 15]], "area": 234, "iscrowd": 0}]}


def _coco_file(content: bytes | str | dict, name: str = "bad.json") -> Callable[[Env], tuple[list[str], str]]:
    def make(env: Env) -> tuple[list[str], str]:
        path = env.work / name
        data = content
        if isinstance(data, dict):
            data = json.dumps(data)  # lone surrogates travel as \\udcff escapes
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return ["import", str(env.project), str(path), "--format", "coco"], name
    return make


def _coco_edit(section: str, field: str, value: Any) -> dict:
    data = coco_base()
    data[section][0][field] = value
    return data


def _coco_raw(section: str, field: str, literal: str) -> str:
    """A COCO file whose field holds a JSON literal Python's json would not write (1e400, -0...)."""
    data = coco_base()
    data[section][0][field] = "@@LITERAL@@"
    return json.dumps(data).replace('"@@LITERAL@@"', literal)


def coco_cases() -> list[Case]:
    seg = "segmentation"
    zigzag = [[0, 0, 40, 30] * 300_000]
    table: list[tuple[str, Any, str, bool]] = [
        ("jpeg given as coco", _jpeg_bytes(), "not a COCO JSON file", False),
        ("png given as coco", _png(np.zeros((4, 4), np.uint8)), "not a COCO JSON file", False),
        ("empty file", b"", "not a COCO JSON file", False),
        ("nested 50000 deep", b"[" * 50_000 + b"]" * 50_000, "nested too deeply", True),
        ("nested 100 deep in a field", _coco_raw("annotations", "attributes", "[" * 100 + "]" * 100),
         "nested too deeply", False),
        ("truncated json", json.dumps(coco_base())[:-40], "malformed JSON", False),
        ("NaN", json.dumps(coco_base()).replace('"area": 234', '"area": NaN'), "NaN is not a JSON number", False),
        ("Infinity", json.dumps(coco_base()).replace('"area": 234', '"area": -Infinity'), "is not a JSON number",
         False),
        ("latin-1 text", json.dumps(coco_base()).replace("bird", "caf\u00e9").encode("latin-1"), "not UTF-8", False),
        ("utf-16", json.dumps(coco_base()).encode("utf-16"), "not a COCO JSON file", False),
        ("top-level list", "[1, 2]", "not a COCO JSON file", False),
        ("images not a list", json.dumps({**coco_base(), "images": {}}), "not a COCO JSON file", False),
        ("annotations not a list", json.dumps({**coco_base(), "annotations": {}}), "must be a list", False),
        ("polygon 3e9", _coco_edit("annotations", seg, [[0, 0, 3e9, 0, 3e9, 3e9]]), "far outside", True),
        ("polygon 1e308", _coco_edit("annotations", seg, [[0, 0, 1e308, 0, 1e308, 1e308]]), "far outside", True),
        ("polygon -1e308", _coco_edit("annotations", seg, [[0, 0, -1e308, 0, 5, 5]]), "far outside", True),
        ("polygon 1e400", _coco_raw("annotations", seg, "[[0, 0, 1e400, 0, 5, 5]]"), "NaN or infinity", True),
        ("polygon -2147483649", _coco_edit("annotations", seg, [[0, 0, -2147483649, 0, 5, 5]]), "far outside", True),
        ("polygon zigzag", _coco_edit("annotations", seg, zigzag), "total edge length", True),
        ("polygon strings", _coco_edit("annotations", seg, [["0", "0", "5", "0", "5", "5"]]), "non-numeric", False),
        ("polygon booleans", _coco_edit("annotations", seg, [[True, 0, 5, 0, 5, 5]]), "non-numeric", False),
        ("polygon 2 points", _coco_edit("annotations", seg, [[0, 0, 5, 5]]), "fewer than 3 points", False),
        ("polygon odd values", _coco_edit("annotations", seg, [[0, 0, 5, 5, 3, 3, 1]]), "fewer than 3", False),
        ("polygon nested", _coco_edit("annotations", seg, [[[0, 0], [5, 0], [5, 5]]]), "non-numeric", False),
        ("no polygons", _coco_edit("annotations", seg, []), "no valid bbox", False),  # (a bbox alone is counted)
        ("segmentation text", _coco_edit("annotations", seg, "mask"), "list of polygons or an RLE", False),
        ("rle runs short", _coco_edit("annotations", seg, {"size": [H, W], "counts": "0`0"}), "corrupt RLE", True),
        ("rle cut short", _coco_edit("annotations", seg, {"size": [H, W], "counts": "o"}), "corrupt RLE", True),
        ("rle too long", _coco_edit("annotations", seg, {"size": [H, W], "counts": "0" + "`" * 40 + "0"}),
         "corrupt RLE", True),
        ("rle non-ascii", _coco_edit("annotations", seg, {"size": [H, W], "counts": "é0"}), "corrupt RLE", True),
        ("rle empty", _coco_edit("annotations", seg, {"size": [H, W], "counts": ""}), "corrupt RLE", True),
        ("rle size mismatch", _coco_edit("annotations", seg, {"size": [10, 10], "counts": "0"}), "does not match",
         False),
        ("rle size text", _coco_edit("annotations", seg, {"size": ["30", "40"], "counts": "0"}), "size", False),
        ("rle counts negative", _coco_edit("annotations", seg, {"size": [H, W], "counts": [10, -5, H * W - 5]}),
         "non-negative", True),
        ("rle counts sum", _coco_edit("annotations", seg, {"size": [H, W], "counts": [10, 5]}), "sum to", True),
        ("rle counts floats", _coco_edit("annotations", seg, {"size": [H, W], "counts": [0.5, H * W - 0.5]}),
         "non-negative", True),
        ("rle counts huge", _coco_edit("annotations", seg, {"size": [H, W], "counts": [2 ** 40, 0]}), "sum to", True),
        ("file_name dotdot", _coco_edit("images", "file_name", "../x.jpg"), "climbs out", False),
        ("file_name deep dotdot", _coco_edit("images", "file_name", "sub/../../../etc/passwd"), "climbs out", False),
        ("file_name absolute", _coco_edit("images", "file_name", "/etc/passwd"), "absolute", False),
        ("file_name windows drive", _coco_edit("images", "file_name", "C:\\Windows\\x.jpg"), "absolute", False),
        ("file_name unc", _coco_edit("images", "file_name", "\\\\server\\share\\x.jpg"), "absolute", False),
        ("file_name NUL", _coco_edit("images", "file_name", "a\x00.jpg"), "NUL", False),
        ("file_name newline", _coco_edit("images", "file_name", "a\n.jpg"), "control character", False),
        ("file_name lone surrogate", _coco_edit("images", "file_name", "\udcff.jpg"), "not valid Unicode", False),
        ("file_name number", _coco_edit("images", "file_name", 5), "must be text", False),
        ("file_name empty", _coco_edit("images", "file_name", ""), "is empty", False),
        ("60000 x 60000", {**_coco_edit("images", "width", 60000), "images": [
            {"id": 1, "file_name": "a.jpg", "width": 60000, "height": 60000}]}, "above the limit", True),
        ("width negative", _coco_edit("images", "width", -1), "positive integers", False),
        ("width float", _coco_edit("images", "width", 40.5), "positive integers", False),
        ("width true", _coco_edit("images", "width", True), "positive integers", False),
        ("width 2**70", _coco_edit("images", "width", 2 ** 70), "above the limit", True),
        ("image id text", _coco_edit("images", "id", "1"), "integer id", False),
        ("category name empty", _coco_edit("categories", "name", ""), "class name is empty", False),
        ("category name newline", _coco_edit("categories", "name", "a\nb"), "control character", False),
        ("category name NUL", _coco_edit("categories", "name", "a\x00b"), "control character", False),
        ("category name surrogate", _coco_edit("categories", "name", "x\ud800"), "lone surrogate", False),
        ("category name line separator", _coco_edit("categories", "name", "a\u2028b"), "line separator", False),
        ("category name non-character", _coco_edit("categories", "name", "a\uffffb"), "non-character", False),
        ("category name leading space", _coco_edit("categories", "name", " cat"), "white space", False),
        ("category name 300 characters", _coco_edit("categories", "name", "x" * 300), "longer than", False),
        ("category name number", _coco_edit("categories", "name", 7), "must be text", False),
        ("duplicate category", {**coco_base(), "categories": [{"id": 1, "name": "cat"}, {"id": 1, "name": "x"}]},
         "duplicate", False),
        ("unknown image id", _coco_edit("annotations", "image_id", 99), "missing image id 99", False),
        ("unknown category id", _coco_edit("annotations", "category_id", 77), "unknown category id 77", False),
        ("score text", _coco_edit("annotations", "score", "high"), "finite number", False),
        ("score 1e400", _coco_raw("annotations", "score", "1e400"), "finite number", False),
        ("size unlike the image", _coco_edit("images", "width", W + 1), "but the image is", False),
        ("image not in the project", _coco_edit("images", "file_name", "nowhere.jpg"), "nowhere.jpg", False),
    ]
    return [Case("coco", name, _coco_file(content), expect, native) for name, content, expect, native in table]


# -- labelme -----------------------------------------------------------------------------------------
_SQUARE = [[2, 2], [20, 2], [20, 15], [2, 15]]


def labelme_base() -> dict:
    return {"version": "5.4.1", "imagePath": "a.jpg", "imageHeight": H, "imageWidth": W, "imageData": None,
            "shapes": [{"label": "cat", "points": _SQUARE, "group_id": None, "shape_type": "polygon", "flags": {}}]}


def _labelme(edit: Callable[[dict], Any] | bytes, name: str = "bad.json") -> Callable[[Env], tuple[list[str], str]]:
    def make(env: Env) -> tuple[list[str], str]:
        path = env.folder / name  # labelme files sit beside the images
        if isinstance(edit, bytes):
            path.write_bytes(edit)
        else:
            data = labelme_base()
            replaced = edit(data)
            path.write_text(replaced if isinstance(replaced, str) else json.dumps(data), encoding="utf-8")
        return ["import", str(env.project), str(path), "--format", "labelme"], name
    return make


def _shape(**changes: Any) -> Callable[[dict], None]:
    return lambda d: d["shapes"][0].update(changes)


def _top(**changes: Any) -> Callable[[dict], None]:
    return lambda d: d.update(changes)


def _mask_png(width: int, height: int) -> str:
    return base64.b64encode(_png(np.full((height, width), 255, np.uint8))).decode()


def labelme_cases() -> list[Case]:
    table: list[tuple[str, Any, str, bool]] = [
        ("jpeg given as labelme", _jpeg_bytes(), "not a labelme JSON file", False),
        ("no shapes", _top(shapes=None), "not a labelme file", False),
        ("shapes object", _top(shapes={"a": 1}), "not a labelme file", False),
        ("imagePath missing", _top(imagePath=None), "must name the image file", False),
        ("imagePath absolute", _top(imagePath="/etc/passwd"), "absolute", False),
        ("imagePath windows", _top(imagePath="C:\\x.jpg"), "absolute", False),
        ("imagePath outside", _top(imagePath="../../etc/passwd"), "not inside the project folder", False),
        ("imagePath NUL", _top(imagePath="a\x00.jpg"), "NUL", False),
        ("imagePath number", _top(imagePath=3), "must name the image file", False),
        ("imagePath surrogate", _top(imagePath="\udcff.jpg"), "invalid Unicode", False),
        ("60000 x 60000", _top(imageHeight=60000, imageWidth=60000), "above the limit", True),
        ("height text", _top(imageHeight="30"), "positive integers", False),
        ("height zero", _top(imageHeight=0), "positive integers", False),
        ("group_id list", _shape(group_id=[1, 2]), "group_id", False),
        ("group_id object", _shape(group_id={"g": 1}), "group_id", False),
        ("group_id float", _shape(group_id=1.5), "group_id", False),
        ("points 1e308", _shape(points=[[0, 0], [1e308, 0], [1e308, 1e308]]), "far outside", True),
        ("points 1e400", lambda d: json.dumps(d).replace("[20, 15]", "[1e400, 15]"), "finite numbers", True),
        ("points text", _shape(points=[["a", "b"], [1, 2], [3, 4]]), "finite numbers", False),
        ("points flat", _shape(points=[1, 2, 3, 4, 5, 6]), "finite numbers", False),
        ("polygon 2 points", _shape(points=[[0, 0], [5, 5]]), "at least 3", False),
        ("circle huge", _shape(shape_type="circle", points=[[5, 5], [5, 3e9]]), "far outside", True),
        ("circle radius", _shape(shape_type="circle", points=[[0, 0], [W, -H]]), "far larger", True),
        ("mask not base64", _shape(shape_type="mask", points=[[0, 0], [5, 5]], mask="%%%"),
         "readable base64 PNG", False),
        ("mask larger than image", _shape(shape_type="mask", points=[[0, 0], [W, H]], mask=_mask_png(W + 9, H)),
         "larger than", True),
        ("mask bomb header", _shape(shape_type="mask", points=[[0, 0], [W, H]],
                                    mask=base64.b64encode(_png_declaring(50000, 50000)).decode()), "larger than",
         True),
        ("label empty", _shape(label=""), "class name is empty", False),
        ("label newline", _shape(label="ca\nt"), "control character", False),
        ("label number", _shape(label=4), "must be text", False),
        ("shape not an object", _top(shapes=[5]), "is not an object", False),
        ("unknown shape type", _shape(shape_type="spline"), "unsupported shape_type", False),
        ("rectangle of 3 points", _shape(shape_type="rectangle"), "unsupported shape_type", False),
        ("size unlike the image", _top(imageWidth=W + 1), "but the image is", False),
        ("nested 50000 deep", b"[" * 50_000 + b"]" * 50_000, "nested too deeply", True),
    ]
    return [Case("labelme", name, _labelme(edit), expect, native) for name, edit, expect, native in table]


# -- Pascal VOC --------------------------------------------------------------------------------------------
def _voc(files: dict[str, bytes], name: str = "vocset") -> Callable[[Env], tuple[list[str], str]]:
    """A VOC folder holding ``files`` (``SegmentationClass/a.png`` ...); ``a``, ``b`` and ``sub__c`` are the
    ids of the project's images."""
    def make(env: Env) -> tuple[list[str], str]:
        root = env.work / name
        root.mkdir()
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return ["import", str(env.project), str(root), "--format", "voc"], name
    return make


def _index(box: tuple[int, int, int, int] | None = None, value: int = 1,
           shape: tuple[int, int] = (H, W)) -> np.ndarray:
    """An index map of ``shape`` with ``value`` in ``box`` (y0, y1, x0, x1)."""
    out = np.zeros(shape, np.uint8)
    if box is not None:
        out[box[0]:box[1], box[2]:box[3]] = value
    return out


_ONE_OBJECT = _index((2, 10, 3, 20))
_GOOD_MAP = b"background:0,0,0::\ncat:128,0,0::\n"


def voc_cases() -> list[Case]:
    cls, obj, lab = "SegmentationClass/a.png", "SegmentationObject/a.png", "labelmap.txt"
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[2:10, 3:20] = (1, 2, 3)  # not a VOC palette colour
    table: list[tuple[str, dict[str, bytes], str, bool]] = [
        ("png declaring 40000 x 40000", {cls: _png_declaring(40000, 40000)}, "above the limit", True),
        ("png declaring 2**31 wide", {cls: _png_declaring(2 ** 31 - 1, 1)}, "above the limit", True),
        ("text as png", {cls: b"hello"}, "not a readable PNG", False),
        ("truncated png", {cls: _png(_ONE_OBJECT, "L")[:60]}, "not a readable PNG", True),
        ("rgb colours outside the palette", {cls: _png(rgb)}, "not in the VOC palette", False),
        ("latin-1 labelmap", {cls: _png(_ONE_OBJECT, "L"), lab: "background:0,0,0::\ncaf\xe9:1,1,1::\n".encode(
            "latin-1")}, "not UTF-8", False),
        ("duplicate labelmap name", {cls: _png(_ONE_OBJECT, "L"), lab: _GOOD_MAP + b"cat:1,2,3::\n"}, "listed twice",
         False),
        ("empty labelmap name", {cls: _png(_ONE_OBJECT, "L"), lab: b"background:0,0,0::\n:1,2,3::\n"},
         "class name is empty", False),
        ("tab in labelmap name", {cls: _png(_ONE_OBJECT, "L"), lab: b"background:0,0,0::\nc\tat:1,2,3::\n"},
         "control character", False),
        ("NUL in labelmap", {cls: _png(_ONE_OBJECT, "L"), lab: b"background:0,0,0::\nc\x00t:1,2,3::\n"},
         "control character", False),
        ("class index beyond labelmap", {cls: _png(_index((2, 10, 3, 20), 7), "L"), lab: _GOOD_MAP},
         "not in the label map", False),
        ("object map of another size", {cls: _png(_ONE_OBJECT, "L"), obj: _png(_index(shape=(H, W + 2)), "L")},
         "differs from", False),
        ("object without class", {cls: _png(_index(), "L"), obj: _png(_ONE_OBJECT, "L")}, "has no class", False),
        ("unknown voc id", {"SegmentationClass/zzz.png": _png(_ONE_OBJECT, "L")}, "no image of the project", False),
        ("no SegmentationClass", {"Annotations/a.xml": b"<annotation/>"}, "not a Pascal VOC folder", False),
        ("size unlike the image", {cls: _png(_index((1, 3, 1, 3), 1, (H + 1, W)), "L")},
         "but the image is", False),
    ]
    return [Case("voc", name, _voc(files), expect, native) for name, files, expect, native in table]


# -- the formats of issue 13 (YOLO, CVAT, Label Studio, mask folders, labelme imageData, Datumaro) --------
def _dataset(fmt: str, files: dict[str, bytes | str], source: str, names: str | None = None,
             inside: bool = False) -> Callable[[Env], tuple[list[str], str]]:
    """A dataset of ``files`` under ``work/ds`` (``inside``: under the project folder, as datasets
    whose images must lie in the project are), imported from ``ds/<source>`` with ``--format fmt``."""
    def make(env: Env) -> tuple[list[str], str]:
        root = (env.folder if inside else env.work) / "ds"
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return ["import", str(env.project), str(root / source), "--format", fmt], names or source or "ds"
    return make


def _yolo(label: str, yaml_text: str = "names: [cat, dog]\n") -> dict[str, bytes | str]:
    return {"data.yaml": yaml_text, "images/a.jpg": _jpeg_bytes(), "labels/a.txt": label}


def _cvat(body: str) -> dict[str, bytes | str]:
    meta = "<meta><task><labels><label><name>cat</name><color>#ff0000</color></label></labels></task></meta>"
    return {"annotations.xml": f"<annotations><version>1.1</version>{meta}{body}</annotations>"}


def _ls_task(result: dict) -> str:
    return json.dumps([{"id": 1, "data": {"image": "/data/local-files/?d=a.jpg"},
                        "annotations": [{"result": [{"original_width": W, "original_height": H, **result}]}]}])


def _labelme_embedded(data: bytes | str, image_path: str = "new.png") -> Callable[[dict], None]:
    text = data if isinstance(data, str) else base64.b64encode(data).decode()
    return _top(imagePath=image_path, imageData=text)


def format_cases() -> list[Case]:
    image = f'<image id="0" name="a.jpg" width="{W}" height="{H}">'
    poly = '<polygon label="cat" points="{}" occluded="0" z_order="0"/>'
    table: list[tuple[str, Callable[[Env], tuple[list[str], str]], str, bool]] = [
        ("yolo not yaml", _dataset("yolo", _yolo("", "names: [cat\n"), "", "data.yaml"), "not valid YAML", False),
        ("yolo names a number", _dataset("yolo", _yolo("", "names: 5\n"), "", "data.yaml"), "must be a list or a mapping",
         False),
        ("yolo class beyond names", _dataset("yolo", _yolo("7 0.1 0.1 0.5 0.1 0.5 0.5\n"), "", "a.txt", True),
         "not in data.yaml's names", False),
        ("yolo coordinates 1e308", _dataset("yolo", _yolo("0 0.1 0.1 1e308 0.1 0.5 1e308\n"), "", "a.txt", True),
         "a.txt line 1", True),
        ("yolo odd coordinates", _dataset("yolo", _yolo("0 0.1 0.1 0.5\n"), "", "a.txt", True), "a.txt line 1",
         False),
        ("cvat entity", _dataset("cvat", {"annotations.xml": '<!DOCTYPE a [<!ENTITY x "y">]><annotations/>'},
                                 "annotations.xml"), "DTD or entities", False),
        ("cvat not xml", _dataset("cvat", {"annotations.xml": "<annotations"}, "annotations.xml"), "not valid XML",
         False),
        ("cvat polygon 1e308", _dataset("cvat", _cvat(image + poly.format("0,0;1e308,0;5,5") + "</image>"),
                                        "annotations.xml", "a.jpg", True), "far outside", True),
        ("cvat unknown label", _dataset("cvat", _cvat(image + poly.format("0,0;9,0;5,5").replace('"cat"', '"owl"')
                                                      + "</image>"), "annotations.xml", "owl", True),
         "not in the labels", False),
        ("label studio tasks not objects", _dataset("label-studio", {"t.json": "[1, 2]"}, "t.json"),
         "is not an object", False),
        ("label studio polygon NaN", _dataset("label-studio", {"t.json": _ls_task(
            {"type": "polygonlabels", "value": {"points": [[1, 1], [50, 1], [1e308, 50]], "polygonlabels": ["cat"]}})},
            "t.json", "task 1"), "task 1", True),
        ("instance mask bomb", _dataset("instance-masks", {"masks/a.png": _png_declaring(40000, 40000)}, "",
                                        "a.png"), "above the limit", True),
        ("instance mask rgb", _dataset("instance-masks", {"masks/a.png": _png(np.zeros((H, W, 3), np.uint8))}, "",
                                       "a.png"), "one index per pixel", False),
        ("semantic masks without names", _dataset("semantic-masks", {"masks/a.png": _png(_ONE_OBJECT, "L")}, ""),
         "need class_names.txt", False),
        ("semantic id beyond names", _dataset("semantic-masks", {"masks/a.png": _png(_index((2, 10, 3, 20), 9), "L"),
                                                                  "class_names.txt": "_background_\ncat\n"}, "",
                                              "a.png"), "not in the class file", False),
        ("labelme imageData not base64", _labelme(_labelme_embedded("%%%")), "not valid base64", False),
        ("labelme imageData not an image", _labelme(_labelme_embedded(b"hello")), "not an image file", False),
        ("labelme imageData bomb header", _labelme(_labelme_embedded(_png_declaring(60000, 60000))),
         "above the limit", True),
        ("labelme imageData other size", _labelme(_labelme_embedded(_png(np.zeros((H + 3, W, 3), np.uint8)))),
         "but the image is", False),
        ("datumaro unknown format", _dataset("datumaro:nope", {"x.txt": "x"}, "", "nope"), "has no importer",
         False),
    ]
    return [Case("formats", name, make, expect, native) for name, make, expect, native in table]


def format_export_cases() -> list[Case]:
    table: list[tuple[str, Callable[[Env], tuple[list[str], str]], str]] = [
        ("labelme background class", _export("--format", "labelme", classes=("_background_",),
                                             names="'_background_'"), "labelme's converters"),
        ("labelme ignore class", _export("--format", "labelme", classes=("__ignore__",), names="'__ignore__'"),
         "labelme's converters"),
        ("json with layout", _export("--format", "coco", "--layout", "datumaro", out="out.json"), "must be a folder"),
        ("json with split", _export("--format", "coco", "--split", "val=0.5", out="out.json"), "must be a folder"),
    ]
    return [Case("export", name, make, expect) for name, make, expect in table]


# -- crafted project files ----------------------------------------------------------------------------------
def _crafted(sql: str | None = None, *, raw: Callable[[bytes], bytes] | None = None,
             command: tuple[str, ...] = ("info",)) -> Callable[[Env], tuple[list[str], str]]:
    """A copy of the robustness project changed by ``sql`` (or its bytes by ``raw``), given to ``command``."""
    def make(env: Env) -> tuple[list[str], str]:
        folder = env.work / "sent"
        project = make_project(folder)
        if sql is not None:
            db = sqlite3.connect(project)
            db.executescript(sql)
            db.close()
        if raw is not None:
            project.write_bytes(raw(project.read_bytes()))
        args = [part.format(project=project, out=env.work / "out") for part in command]
        return [args[0], str(project), *args[1:]], "sent/project.segtool"
    return make


def _scribble(data: bytes) -> bytes:
    page = int.from_bytes(data[16:18], "big")
    out = bytearray(data)
    for k in range(1, len(data) // page):
        out[k * page: k * page + 12] = b"\xff" * 12
    return bytes(out)


def project_cases() -> list[Case]:
    export = ("export", "{out}", "--format", "coco")
    table: list[tuple[str, Callable[[Env], tuple[list[str], str]], str, bool]] = [
        ("path dotdot", _crafted("UPDATE images SET path = '../../x.jpg' WHERE id = 2;"), "image row 2", False),
        ("path absolute", _crafted("UPDATE images SET path = '/etc/passwd' WHERE id = 2;", command=export),
         "absolute", False),
        ("path NUL", _crafted("UPDATE images SET path = 'a' || char(0) || 'b' WHERE id = 2;"), "image row 2", False),
        ("path newline", _crafted("UPDATE images SET path = 'a' || char(10) || 'b' WHERE id = 2;"), "image row 2",
         False),
        ("path not normalised", _crafted("UPDATE images SET path = 'sub//c.jpg' WHERE id = 3;"), "not normalised",
         False),
        ("path blob", _crafted("UPDATE images SET path = CAST('x.jpg' AS BLOB) WHERE id = 2;"), "type blob", False),
        ("root outside", _crafted("UPDATE meta SET value = '\"../../..\"' WHERE key = 'root';", command=export),
         "climbs out", False),
        ("root absolute", _crafted("UPDATE meta SET value = '\"/\"' WHERE key = 'root';"), "absolute", False),
        ("width zero", _crafted("UPDATE images SET width = 0;"), "declares the size", False),
        ("width huge", _crafted("UPDATE images SET width = 1000000000000;"), "declares the size", False),
        ("newer schema", _crafted("UPDATE schema_version SET version = 99;"), "update segtool", False),
        ("schema garbage", _crafted("UPDATE schema_version SET version = 'two';"), "schema_version", False),
        ("no schema table", _crafted("DROP TABLE schema_version;"), "not a segtool project", False),
        ("mask runs short", _crafted("UPDATE instances SET counts = '0`0';", command=export), "corrupt RLE", True),
        ("mask cut short", _crafted("UPDATE instances SET counts = 'o';", command=export), "corrupt RLE", True),
        ("mask negative size", _crafted("UPDATE instances SET h = -5;", command=export), "invalid mask size", True),
        ("attributes garbage", _crafted("UPDATE instances SET attributes = '{{';", command=export),
         "unreadable attributes", False),
        ("score text", _crafted("UPDATE instances SET score = 'x';", command=export), "score", False),
        ("truncated file", _crafted(raw=lambda b: b[: len(b) // 2]), "truncated", False),
        ("scribbled pages", _crafted(raw=_scribble), "project", False),
        ("text file", _crafted(raw=lambda b: b"just some text " * 300), "not a readable segtool project", False),
        ("jpeg file", _crafted(raw=lambda b: _jpeg_bytes()), "not a readable segtool project", False),
        ("empty file", _crafted(raw=lambda b: b""), "not a segtool project", False),
    ]
    return [Case("project", name, make, expect, native) for name, make, expect, native in table]


# -- exports with hostile names and targets --------------------------------------------------------------------
def _export(*options: str, classes: tuple[str, ...] | None = None, prepare: Callable[[Env], None] | None = None,
            names: str | None = None, out: str = "out") -> Callable[[Env], tuple[list[str], str]]:
    def make(env: Env) -> tuple[list[str], str]:
        project = env.project
        if classes is not None:  # written with SQL: the store itself refuses names outside the policy
            project = make_project(env.work / "named", ("c1", "c2"))
            db = sqlite3.connect(project)
            for k, name in enumerate(classes, 1):
                db.execute("UPDATE classes SET name = ? WHERE id = ?", (name, k))
            db.commit()
            db.close()
        if prepare is not None:
            prepare(env)
        target = env.work / out
        return ["export", str(project), str(target), *options], names or out
    return make


def _file_at(rel: str) -> Callable[[Env], None]:
    return lambda env: (env.work / rel).write_text("already here")


def _foreign_folder(env: Env) -> None:
    (env.work / "out").mkdir()
    (env.work / "out" / "thesis.tex").write_text("mine")


def _old_export(env: Env) -> None:
    (env.work / "out").mkdir()
    (env.work / "out" / EXPORT_MARKER).write_text("segtool export\n")
    (env.work / "out" / "annotations.json").write_text("{}")


def export_cases() -> list[Case]:
    coco, voc, yolo = ("--format", "coco"), ("--format", "voc"), ("--format", "yolo")
    table: list[tuple[str, Callable[[Env], tuple[list[str], str]], str]] = [
        ("split climbs out", _export(*yolo, "--split", "../../evil=0.5", names="../../evil"), "plain word"),
        ("split with slash", _export(*coco, "--split", "a/b=0.5", names="a/b"), "plain word"),
        ("split with space", _export(*voc, "--split", "my val=0.5", names="my val"), "plain word"),
        ("split non-ascii", _export(*yolo, "--split", "välid=0.5", names="välid"), "plain word"),
        ("split twice", _export(*coco, "--split", "val=0.1,val=0.2", names="val=0.1,val=0.2"), "bad --split"),
        ("split train", _export(*coco, "--split", "train=0.5", names="train=0.5"), "bad --split"),
        ("split over one", _export(*coco, "--split", "val=1.5", names="val=1.5"), "bad --split"),
        ("split not a number", _export(*coco, "--split", "val=nan", names="val=nan"), "bad --split"),
        ("unlabelled newline", _export(*coco, "--unlabelled", "a\nb", names="a\\nb"), "control character"),
        ("voc colon class", _export(*voc, classes=("cat", "a:b"), names="'a:b'"), "labelmap.txt"),
        ("voc hash class", _export(*voc, classes=("#first",), names="'#first'"), "comment"),
        ("voc class line separator", _export(*voc, classes=("a\u2028b",), names="a\\u2028b"), "line separator"),
        ("yolo class non-character", _export(*yolo, classes=("a\ufffe",), names="a\\ufffe"), "non-character"),
        ("coco class tab", _export(*coco, classes=("a\tb",), names="a\\tb"), "control character"),
        ("out is a file", _export(*voc, prepare=_file_at("out")), "is not a folder"),
        ("out holds the user's files", _export(*yolo, "--overwrite", prepare=_foreign_folder), "not written by segtool"),
        ("out holds an export", _export(*coco, prepare=_old_export), "--overwrite"),
        ("json file exists", _export(*coco, prepare=_file_at("out.json"), out="out.json"), "--overwrite"),
        ("json with copy-images", _export(*coco, "--copy-images", out="out.json"), "must be a folder"),
        ("parent is a file", _export(*voc, prepare=_file_at("file"), out="file/out", names="file"), "file"),
    ]
    return [Case("export", name, make, expect) for name, make, expect in table]


def misuse_cases() -> list[Case]:
    def missing(env: Env) -> tuple[list[str], str]:
        return ["import", str(env.project), str(env.work / "none.json"), "--format", "coco"], "none.json"

    def voc_file(env: Env) -> tuple[list[str], str]:
        (env.work / "x.json").write_text("{}")
        return ["import", str(env.project), str(env.work / "x.json"), "--format", "voc"], "x.json"

    def empty_labelme(env: Env) -> tuple[list[str], str]:
        (env.work / "empty").mkdir()
        return ["import", str(env.project), str(env.work / "empty"), "--format", "labelme"], "empty"

    def coco_folder(env: Env) -> tuple[list[str], str]:
        (env.work / "dir.json").mkdir()
        return ["import", str(env.project), str(env.work / "dir.json"), "--format", "coco"], "dir.json"

    def no_project(env: Env) -> tuple[list[str], str]:
        return ["info", str(env.work / "nothing")], "nothing"

    return [Case("misuse", "missing file", missing, "does not exist"),
            Case("misuse", "voc given a file", voc_file, "not a Pascal VOC folder"),
            Case("misuse", "labelme folder without json", empty_labelme, "no labelme .json files"),
            Case("misuse", "coco given a folder", coco_folder, "is a folder"),
            Case("misuse", "no project", no_project, "no segtool project")]


#: Every hand-made case; a new format adds ``*its_cases()`` here.
CORPUS: list[Case] = [*coco_cases(), *labelme_cases(), *voc_cases(), *project_cases(), *export_cases(),
                      *misuse_cases(), *format_cases(), *format_export_cases()]

