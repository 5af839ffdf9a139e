"""Formats Datumaro reads but cannot write (ADE20K 2020, Mapillary Vistas): samples made by hand,
following Datumaro's own importers (``plugins/data_formats/ade20k2020.py``,
``mapillary_vistas/base.py``), imported through ``--format datumaro:NAME``; plus what the bridge
says about what it leaves out (background of index maps, objects given twice, merged instances)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_datumaro_bridge import H, W, _masks, _project

from segtool.cli import main
from segtool.store.sqlite import ProjectStore


def _image(path: Path, k: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 40 * (k + 1), np.uint8))


def _ade20k(ds: Path) -> None:
    """ADE20K 2020: ``<subset>/<id>.png`` + ``<id>.json`` (objects with ``name_ndx``, ``raw_name``,
    ``instance_mask``, polygon) + ``<id>_seg.png`` (class index = R / 10 * 256 + G) + one
    ``instance_*.png`` per object (the object is the brighter value)."""
    sub = ds / "train"
    for k, (name, anns) in enumerate(_masks().items()):
        _image(sub / f"{name}.png", k)
        seg = np.zeros((H, W, 3), np.uint8)  # B, G, R as cv2 writes it
        objects = []
        for j, (lab, m, _crowd) in enumerate(anns):
            seg[m, 1] = lab + 1
            inst = f"instance_{j:03d}_{name}.png"
            cv2.imwrite(str(sub / inst), m.astype(np.uint8) * 255)
            ys, xs = np.nonzero(m)
            x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
            objects.append({"id": j, "name_ndx": lab + 1, "parts": {"part_level": 0}, "occluded": "no", "crop": "0",
                            "raw_name": ["cat", "dog"][lab], "attributes": [], "instance_mask": inst,
                            "polygon": {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}})
        cv2.imwrite(str(sub / f"{name}_seg.png"), seg)
        (sub / f"{name}.json").write_text(json.dumps({"annotation": {"object": objects}}), encoding="latin-1")


def _mapillary(ds: Path) -> None:
    """Mapillary Vistas v2.0 instances: ``config_v2.0.json`` (labels, ``unlabeled`` last as in the
    real config) + ``<subset>/images/<id>.png`` + ``<subset>/v2.0/instances/<id>.png`` (16-bit,
    label << 8 | instance; unlabeled pixels are the ``unlabeled`` label)."""
    labels = [{"name": "cat", "color": [0, 0, 200]}, {"name": "dog", "color": [0, 200, 0]},
              {"name": "unlabeled", "color": [0, 0, 0]}]
    ds.mkdir(parents=True)
    (ds / "config_v2.0.json").write_text(json.dumps({"labels": labels}))
    (ds / "train" / "v2.0" / "instances").mkdir(parents=True)
    for k, (name, anns) in enumerate(_masks().items()):
        _image(ds / "train" / "images" / f"{name}.png", k)
        index = np.full((H, W), 2 << 8, np.uint16)
        for j, (lab, m, _crowd) in enumerate(anns):
            index[m] = (lab << 8) | (j + 1)
        cv2.imwrite(str(ds / "train" / "v2.0" / "instances" / f"{name}.png"), index)


@pytest.mark.parametrize("make, fmt, notes", [
    (_ade20k, "ade20k2020", ["3 polygon(s) outlining an object already read as a mask",
                             "3 class-level mask(s) repeating the instances"]),
    (_mapillary, "mapillary_vistas_instances", ["2 background region(s) of the index maps not imported"])])
def test_hand_made_samples_import_exactly_once(tmp_path: Path, capsys, make, fmt: str, notes: list[str]) -> None:
    root = tmp_path / "proj"
    make(root / "ds")
    ProjectStore.create(root).close()
    assert main(["import", str(root), str(root / "ds"), "--format", f"datumaro:{fmt}"]) == 0
    out = capsys.readouterr().out
    for line in notes:
        assert line in out, out
    with ProjectStore.open(root, readonly=True) as store:
        names = {c.id: c.name for c in store.classes()}
        assert sorted(names.values()) == ["cat", "dog"]
        got = {Path(rec.path).stem: store.instances(rec.id) for rec in store.images()}
    assert sorted(got) == ["a", "b"]
    for name, expected in _masks().items():
        assert len(got[name]) == len(expected), (fmt, name)
        by_mask = {inst.rle["counts"]: inst for inst in got[name]}
        for lab, m, _ in expected:
            inst = next(i for i in by_mask.values() if np.array_equal(i.mask(), m))
            assert names[inst.class_id] == ["cat", "dog"][lab]


def test_semantic_only_writer_says_instances_merge(tmp_path: Path, capsys) -> None:
    from segtool.core.document import Instance

    _project(tmp_path / "p")
    with ProjectStore.open(tmp_path / "p") as store:  # a second dog on image b
        rec = store.image_by_path("b.png")
        extra = np.zeros((H, W), bool)
        extra[10:14, 2:6] = True
        store.add_instances(rec.id, [Instance.from_mask(extra, id=0, image_id=rec.id, class_id=store.class_by_name("dog").id,
                                                        z=5)])
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "out"), "--format", "datumaro:cityscapes"]) == 0
    assert "1 image(s) have several instances of one class: Datumaro's cityscapes writer keeps one region per " \
           "class" in capsys.readouterr().out
