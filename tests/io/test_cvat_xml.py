"""CVAT for images 1.1 XML both ways; the export is read by Datumaro's own ``cvat`` importer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from format_projects import H, W, instance_masks, make_project

from segtool.cli import main
from segtool.core.errors import FormatError
from segtool.io.cvat import cvat_rle_to_mask, mask_to_cvat_rle
from segtool.services.formats import export_project, import_into_project, load_dataset
from segtool.store.sqlite import ProjectStore


def _datumaro_masks(folder: Path) -> dict[str, list[tuple[str, int, np.ndarray]]]:
    """Per image: ``(label, z_order, mask)`` as Datumaro's cvat importer reads the export."""
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    ds = dm.Dataset.import_from(str(folder), "cvat")
    ds.transform("polygons_to_masks")  # Datumaro's own rasteriser for polygons
    labels = ds.categories()[AnnotationType.label]
    out = {}
    for item in ds:
        out[item.id] = [(labels[a.label].name, a.z_order, a.image.astype(bool)) for a in item.annotations]
    return out


@pytest.mark.parametrize("segmentation", ["rle", "auto"])
def test_export_is_read_by_datumaro_pixel_for_pixel(tmp_path: Path, segmentation: str) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "cvat", "cvat", segmentation=segmentation)
        ours = instance_masks(store)
    xml = (tmp_path / "cvat" / "annotations.xml").read_text()
    assert "<color>" in xml and ("<polygon" in xml) == (segmentation == "auto")
    theirs = _datumaro_masks(tmp_path / "cvat")
    assert sorted(theirs) == ["a", "b", "sub/c"]
    for path, expected in ours.items():
        got = theirs[path.rsplit(".", 1)[0]]
        assert [(n, z) for n, z, _ in got] == [(n, z) for z, (n, _) in enumerate(expected)]
        for (_, _, m1), (_, m2) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(m1, m2)


def test_cvat_rle_round_trip_and_import_back(tmp_path: Path) -> None:
    m = np.zeros((H, W), bool)
    m[3, 2] = True  # the box's first pixel is foreground: the runs start with an empty background run
    m[10:20, 2:9] = True
    runs, box = mask_to_cvat_rle(m)
    assert runs[0] == 0 and sum(runs) == box[2] * box[3]
    np.testing.assert_array_equal(cvat_rle_to_mask(runs, *box, (H, W)), m)
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "p" / "cvat", "cvat", segmentation="rle")
        ours = instance_masks(store)
    with ProjectStore.create(tmp_path / "p" / "copy.segtool") as store2:
        report = import_into_project(store2, tmp_path / "p" / "cvat", "cvat")
        assert report.instances_added == 9
        back = instance_masks(store2)
        assert {c.name for c in store2.classes()} == {"cat", "dog"}
    for path, items in ours.items():
        got = back[f"cvat/images/{path}"]
        assert [n for n, _ in got] == [n for n, _ in items]
        for (_, a), (_, b) in zip(got, items, strict=True):
            np.testing.assert_array_equal(a, b)


def _write(folder: Path, body: str) -> Path:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    import cv2

    cv2.imwrite(str(folder / "images" / "x.png"), np.zeros((20, 30, 3), np.uint8))
    xml = ('<?xml version="1.0"?><annotations><version>1.1</version><meta><task><labels>'
           '<label><name>car</name><color>#ff0000</color></label></labels></task></meta>'
           f'<image id="0" name="x.png" width="30" height="20">{body}</image></annotations>')
    (folder / "annotations.xml").write_text(xml)
    return folder


def test_import_boxes_occluded_z_order_and_not_imported_shapes(tmp_path: Path, capsys) -> None:
    root = tmp_path / "ds"
    _write(root, '<mask label="car" occluded="1" rle="0, 6" left="1" top="1" width="3" height="2" z_order="5">'
                 '<attribute name="colour">red</attribute></mask>'
                 '<polygon label="car" occluded="0" points="10,2;20,2;20,12;10,12" z_order="1"/>'
                 '<box label="car" xtl="0" ytl="10" xbr="4" ybr="14" occluded="0"/>'
                 '<polyline label="car" points="0,0;5,5"/><tag label="car"/>')
    with ProjectStore.create(root) as store:
        pass
    assert main(["import", str(root), str(root), "--format", "cvat"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 instances" in out and "1 box(es) skipped" in out and "<polyline>" in out and "<tag>" in out
    with ProjectStore.open(root, readonly=True) as store:
        insts = store.instances(store.image_by_path("images/x.png").id)
        assert [i.area for i in insts] == [100, 6]  # z_order 1 below z_order 5
        assert insts[1].attributes == {"occluded": True, "colour": "red"}
        assert store.classes()[0].color == (255, 0, 0)
    assert main(["import", str(root), str(root), "--format", "cvat", "--boxes", "mask"]) == 0
    assert "imported 1 instances (2 already present)" in capsys.readouterr().out


@pytest.mark.parametrize("body, message", [
    ('<mask label="car" rle="0, 7" left="1" top="1" width="3" height="2"/>', "sum to 3x2"),
    ('<mask label="car" rle="0, 6" left="29" top="1" width="3" height="2"/>', "not inside the 30x20 image"),
    ('<polygon label="bus" points="1,1;2,2;3,1"/>', "label 'bus' is not in the labels"),
    ('<polygon label="car" points="1,1;2,nan;3,1"/>', "non-finite"),
])
def test_bad_shapes_are_reported_and_nothing_is_imported(tmp_path: Path, body: str, message: str) -> None:
    root = _write(tmp_path / "ds", body)
    with ProjectStore.create(root) as store:
        with pytest.raises(FormatError, match=message):
            load_dataset(store, root, "cvat")
        assert store.counts()["instances"] == 0


def test_unsafe_names_and_entities_are_refused(tmp_path: Path) -> None:
    root = _write(tmp_path / "ds", "")
    (root / "annotations.xml").write_text((root / "annotations.xml").read_text().replace('name="x.png"',
                                                                                         'name="../x.png"'))
    with ProjectStore.create(root) as store:
        with pytest.raises(FormatError, match=r"climbs out"):
            load_dataset(store, root, "cvat")
        (root / "annotations.xml").write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><annotations/>')
        with pytest.raises(FormatError, match="DTD or entities"):
            load_dataset(store, root, "cvat")
