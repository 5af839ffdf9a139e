"""labelme JSON both ways, checked with labelme's own code (``LabelFile``, ``shape_to_mask``,
``shapes_to_label``) in its own venv: the export decodes to our masks pixel for pixel (polygons
where exact, mask shapes for holes, parts sharing a group_id), crowd and void (``__ignore__``)
regions keep their meaning, and files labelme wrote with the image embedded (``imageData``) bring
their image into the project."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from format_projects import H, W, make_project
from outside_tools import run_labelme_side
from PIL import Image

from segtool.cli import main
from segtool.core.document import Instance
from segtool.store.sqlite import ProjectStore


def _project(root: Path) -> dict[str, list[tuple[str | None, np.ndarray, bool]]]:
    """The sample project (ring with a hole, blob, two parts) plus, on ``a.jpg``, a crowd region
    and a void region; returns path -> ``[(class or None, mask, crowd)]`` bottom to top."""
    with make_project(root) as store:
        rec = store.image_by_path("a.jpg")
        crowd, void = np.zeros((H, W), bool), np.zeros((H, W), bool)
        crowd[40:46, 30:44] = True
        void[0:3, 0:20] = True
        store.add_instances(rec.id, [
            Instance.from_mask(crowd, id=0, image_id=rec.id, class_id=store.classes()[0].id, z=7, iscrowd=True),
            Instance.from_mask(void, id=0, image_id=rec.id, class_id=None, z=8, iscrowd=True)])
        names = {c.id: c.name for c in store.classes()}
        return {r.path: [(names.get(i.class_id), i.mask(), bool(i.iscrowd))
                         for i in sorted(store.instances(r.id), key=lambda i: (i.z, i.id))] for r in store.images()}


def _read_with_labelme(folder: Path, tmp: Path) -> tuple[dict, dict]:
    run_labelme_side("read", folder, tmp / "read.npz")
    return dict(np.load(tmp / "read.npz")), json.loads((tmp / "read.json").read_text())


def test_export_decodes_in_labelme_to_our_masks(tmp_path: Path, capsys) -> None:
    ours = _project(tmp_path / "p")
    out = tmp_path / "lm"
    assert main(["export", str(tmp_path / "p"), str(out), "--format", "labelme"]) == 0
    assert "instance(s) written as labelme mask shapes" in capsys.readouterr().out
    arrays, meta = _read_with_labelme(out, tmp_path)
    assert sorted(meta) == ["a", "b", "sub__c"]
    stems = {"a.jpg": "a", "b.png": "b", "sub/c.jpg": "sub__c"}
    kinds = set()
    for path, expected in ours.items():
        info = meta[stems[path]]
        assert (out / info["image_path"]).read_bytes() == (tmp_path / "p" / path).read_bytes()
        objects: list[tuple] = []  # shapes merged into objects as labelme's converters do: (label, group_id)
        for k, shape in enumerate(info["shapes"]):
            mask = arrays[f"{stems[path]}/{k}"]
            kinds.add(shape["shape_type"])
            key = (shape["label"], shape["group_id"]) if shape["group_id"] is not None else (shape["label"], -k)
            if objects and objects[-1][0] == key:
                objects[-1] = (key, objects[-1][1] | mask, shape["flags"])
            else:
                objects.append((key, mask, shape["flags"]))
        assert len(objects) == len(expected)
        for (key, mask, flags), (name, m, crowd) in zip(objects, expected, strict=True):
            assert key[0] == (name if name is not None else "__ignore__")
            assert flags.get("iscrowd", False) == (crowd and name is not None)
            np.testing.assert_array_equal(mask, m)  # labelme's own decoding, pixel for pixel
        ins = arrays[f"{stems[path]}/ins"]  # labelme's shapes_to_label paints bottom to top as we do
        visible = np.zeros((H, W), np.int32)
        for k, (_, m, _) in enumerate(expected, 1):
            visible[m] = k
        np.testing.assert_array_equal(ins, visible)
    assert kinds == {"polygon", "mask"}
    two_parts = [s for s in meta["b"]["shapes"] if s["group_id"] is not None]
    assert len(two_parts) == 2 and two_parts[0]["group_id"] == two_parts[1]["group_id"]


def test_export_import_round_trip_and_void_reaches_voc_as_255(tmp_path: Path, capsys) -> None:
    ours = _project(tmp_path / "p")
    out = tmp_path / "lm"
    assert main(["export", str(tmp_path / "p"), str(out), "--format", "labelme"]) == 0
    ProjectStore.create(out).close()  # the labelme folder becomes a project, as labelme users have it
    assert main(["import", str(out), str(out), "--format", "labelme"]) == 0
    with ProjectStore.open(out, readonly=True) as store:
        names = {c.id: c.name for c in store.classes()}
        back = {r.path: [(names.get(i.class_id), i.mask(), bool(i.iscrowd))
                         for i in sorted(store.instances(r.id), key=lambda i: (i.z, i.id))] for r in store.images()}
    assert sorted(names.values()) == ["cat", "dog"]  # __ignore__ is no class
    for path, expected in ours.items():
        got = back[{"a.jpg": "a.jpg", "b.png": "b.png", "sub/c.jpg": "sub__c.jpg"}[path]]
        assert [(n, c) for n, _, c in got] == [(n, c) for n, _, c in expected]
        for (_, a, _), (_, b, _) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert main(["export", str(out), str(tmp_path / "voc"), "--format", "voc"]) == 0
    cls = np.asarray(Image.open(tmp_path / "voc" / "SegmentationClass" / "a.png"))
    assert (cls[0:3, 0:20] == 255).all() and (cls[40:46, 30:44] == 255).all()  # void and crowd
    capsys.readouterr()
    assert main(["export", str(out), str(tmp_path / "c.json"), "--format", "coco"]) == 0  # COCO has no void
    assert "1 void region(s) left out (this format has no void" in capsys.readouterr().out
    coco = json.loads((tmp_path / "c.json").read_text())
    assert len(coco["annotations"]) == sum(len([e for e in v if e[0] is not None]) for v in ours.values())


def _labelme_file_with_image_data(folder: Path, image: Path, image_path: str, shapes: list[dict]) -> Path:
    """A labelme file written by labelme's own ``LabelFile.save`` with the image embedded."""
    (folder / "shapes.json").write_text(json.dumps(shapes))
    target = folder / f"{Path(image_path).stem or 'x'}.json"
    run_labelme_side("write", target, image, image_path, folder / "shapes.json")
    (folder / "shapes.json").unlink()
    return target


SHAPES = [{"label": "cat", "points": [[4, 4], [20, 4], [20, 16], [4, 16]], "group_id": None, "shape_type": "polygon",
           "flags": {}, "description": ""},
          {"label": "__ignore__", "points": [[30, 30], [40, 40]], "group_id": None, "shape_type": "rectangle",
           "flags": {}, "description": ""},
          {"label": "_background_", "points": [[50, 2], [60, 2], [60, 10]], "group_id": None,
           "shape_type": "polygon", "flags": {}, "description": ""},
          {"label": "dog", "points": [[2, 40], [10, 44]], "group_id": None, "shape_type": "line", "flags": {},
           "description": ""}]


def test_image_data_only_files_bring_their_image(tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    cv2.imwrite(str(outside / "pic.png"), np.dstack([xx * 3, yy * 4, xx + yy]).astype(np.uint8))
    cv2.imwrite(str(outside / "scan.bmp"), np.full((H, W, 3), 90, np.uint8))
    root = tmp_path / "proj"
    (root / "ann").mkdir(parents=True)
    ProjectStore.create(root).close()
    _labelme_file_with_image_data(root / "ann", outside / "pic.png", "pic.png", SHAPES)
    _labelme_file_with_image_data(root / "ann", outside / "scan.bmp", "scan.bmp", SHAPES[:1])  # labelme: JPEG data
    (root / "ann" / "other.png").write_bytes(b"")  # placeholders that must not be touched
    existing = root / "ann" / "pic.png"
    existing.write_bytes(b"a different file of that name")
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))

    assert main(["import", str(root), str(root / "ann"), "--format", "labelme"]) == 0
    out = capsys.readouterr().out
    assert "2 image(s) written into the project folder from imageData" in out
    assert "1 _background_ shape(s) not imported" in out and "1 line shape(s) not imported" in out
    assert existing.read_bytes() == b"a different file of that name"  # never replaced
    assert (root / "ann" / "pic-1.png").read_bytes() == (outside / "pic.png").read_bytes()
    assert Image.open(root / "ann" / "scan.jpg").format == "JPEG"  # named as the bytes really are
    with ProjectStore.open(root, readonly=True) as store:
        assert sorted(r.path for r in store.images()) == ["ann/pic-1.png", "ann/scan.jpg"]
        insts = store.instances(store.image_by_path("ann/pic-1.png").id)
        classes = {c.id: c.name for c in store.classes()}
    assert sorted(classes.values()) == ["cat"]  # no _background_, no __ignore__ class
    cat = next(i for i in insts if i.class_id is not None)
    void = next(i for i in insts if i.class_id is None)
    assert void.iscrowd and void.mask()[30:41, 30:41].all() and void.area == 121  # labelme's rectangle: inclusive
    assert cat.mask()[4:17, 4:21].all() and cat.area == 13 * 17

    assert main(["import", str(root), str(root / "ann"), "--format", "labelme"]) == 0  # again: nothing new
    assert "imported 0 instances" in capsys.readouterr().out
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == sorted(
        [*before, "ann/pic-1.png", "ann/scan.jpg"])


def test_a_bad_file_in_the_batch_writes_no_image(tmp_path: Path, capsys) -> None:
    root = tmp_path / "proj"
    (root / "ann").mkdir(parents=True)
    ProjectStore.create(root).close()
    cv2.imwrite(str(tmp_path / "pic.png"), np.full((H, W, 3), 7, np.uint8))
    _labelme_file_with_image_data(root / "ann", tmp_path / "pic.png", "sub/pic.png", SHAPES[:1])
    bad = json.loads((root / "ann" / "pic.json").read_text())
    bad["imagePath"], bad["imageData"] = "broken.png", "bm90IGFuIGltYWdl"  # base64 of "not an image"
    (root / "ann" / "zz.json").write_text(json.dumps(bad))
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert main(["import", str(root), str(root / "ann"), "--format", "labelme"]) == 1
    err = capsys.readouterr().err
    assert "zz.json: imageData is not an image file" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before
    (root / "ann" / "zz.json").unlink()
    assert main(["import", str(root), str(root / "ann"), "--format", "labelme"]) == 0
    assert (root / "ann" / "sub" / "pic.png").read_bytes() == (tmp_path / "pic.png").read_bytes()  # where imagePath says


def test_a_file_outside_the_project_puts_its_image_in_the_project_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "proj", tmp_path / "elsewhere"
    outside.mkdir()
    root.mkdir()
    ProjectStore.create(root).close()
    cv2.imwrite(str(outside / "pic.png"), np.full((H, W, 3), 7, np.uint8))
    json_file = _labelme_file_with_image_data(outside, outside / "pic.png", "../../../etc/pic.png", SHAPES[:1])
    (outside / "pic.png").unlink()
    assert main(["import", str(root), str(json_file), "--format", "labelme"]) == 0
    with ProjectStore.open(root, readonly=True) as store:
        assert [r.path for r in store.images()] == ["pic.png"]  # the name kept, the folder not followed
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("name", ["_background_", "__ignore__"])
def test_reserved_labelme_names_are_refused_as_classes(tmp_path: Path, capsys, name: str) -> None:
    make_project(tmp_path / "p", classes=("cat", name)).close()
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "lm"), "--format", "labelme"]) == 1
    assert "labelme's converters read" in capsys.readouterr().err and not (tmp_path / "lm").exists()
