"""COCO folder exports in Datumaro's layout (the default): ``annotations/instances_<split>.json`` +
``images/<split>/``, imported as is by Datumaro's COCO importer (what CVAT uses) mask for mask and
read by pycocotools; ``--layout flat`` keeps segtool's first layout; segtool imports the layout back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from format_projects import H, W, instance_masks, make_project
from pycocotools.coco import COCO

from segtool.cli import main
from segtool.core.document import Instance
from segtool.store.sqlite import ProjectStore

NAMES = ("a.jpg", "b.png", "sub/c.jpg", "d.jpg")


def _project(root: Path) -> dict[str, list[tuple[str, np.ndarray, bool]]]:
    """The sample project plus a crowd region on ``d.jpg``; returns path -> ``[(class, mask, crowd)]``."""
    with make_project(root, names=NAMES) as store:
        rec = store.image_by_path("d.jpg")
        crowd = np.zeros((H, W), bool)
        crowd[30:44, 20:60] = True
        store.add_instances(rec.id, [Instance.from_mask(crowd, id=0, image_id=rec.id, class_id=store.classes()[1].id,
                                                        z=9, iscrowd=True)])
        names = {c.id: c.name for c in store.classes()}
        return {r.path: [(names[i.class_id], i.mask(), bool(i.iscrowd))
                         for i in store.instances(r.id, state="accepted")] for r in store.images()}


def _export(project: Path, out: Path, *args: str) -> None:
    assert main(["export", str(project), str(out), "--format", "coco", "--split", "val=0.25", *args]) == 0


def test_default_folder_layout_is_read_by_pycocotools_and_datumaro(tmp_path: Path) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    ours = _project(tmp_path / "p")
    out = tmp_path / "out"
    _export(tmp_path / "p", out)
    assert sorted(p.name for p in (out / "annotations").iterdir()) == ["instances_train.json", "instances_val.json"]
    seen = {}
    for split in ("train", "val"):
        coco = COCO(str(out / "annotations" / f"instances_{split}.json"))
        cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        for img in coco.loadImgs(coco.getImgIds()):
            file = out / "images" / split / img["file_name"]
            assert file.read_bytes() == (tmp_path / "p" / img["file_name"]).read_bytes()
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            got = [(cats[a["category_id"]], coco.annToMask(a).astype(bool), a["iscrowd"] == 1) for a in anns]
            assert len(got) == len(ours[img["file_name"]])
            for (n, m, c), (n2, m2, c2) in zip(got, ours[img["file_name"]], strict=True):
                assert (n, c) == (n2, c2)
                np.testing.assert_array_equal(m, m2)
            seen[img["file_name"]] = split
    assert sorted(seen) == sorted(NAMES) and sorted(set(seen.values())) == ["train", "val"]

    for importer in ("coco", "coco_instances"):  # the folder as it is, found by Datumaro itself
        ds = dm.Dataset.import_from(str(out), importer)
        ds.transform("polygons_to_masks")
        labels = ds.categories()[AnnotationType.label]
        assert sorted(ds.subsets()) == ["train", "val"]
        for item in ds:
            path = next(n for n in NAMES if n.rsplit(".", 1)[0] == item.id)
            assert item.subset == seen[path] and Path(item.media.path) == out / "images" / item.subset / path
            by_id: dict[int, list] = {}
            for a in item.annotations:
                if a.type == AnnotationType.mask:
                    by_id.setdefault(a.id, []).append(a)
            got = [(labels[parts[0].label].name, np.any([np.asarray(p.image).astype(bool) for p in parts], axis=0),
                    bool(parts[0].attributes.get("is_crowd"))) for _, parts in sorted(by_id.items())]
            assert [(n, c) for n, _, c in got] == [(n, c) for n, _, c in ours[path]]
            for (_, m, _), (_, m2, _) in zip(got, ours[path], strict=True):
                np.testing.assert_array_equal(m, m2)


def test_flat_layout_stays_reachable(tmp_path: Path) -> None:
    _project(tmp_path / "p")
    _export(tmp_path / "p", tmp_path / "flat", "--layout", "flat")
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [".segtool-export", "train.json", "val.json"]
    _export(tmp_path / "p", tmp_path / "flat2", "--layout", "flat", "--copy-images")
    assert (tmp_path / "flat2" / "images" / "sub" / "c.jpg").is_file()
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "x.json"), "--format", "coco", "--layout",
                 "datumaro"]) == 1  # a .json OUT has no layout


def test_segtool_imports_the_layout_where_it_lies(tmp_path: Path) -> None:
    ours = _project(tmp_path / "p")
    out = tmp_path / "out"
    _export(tmp_path / "p", out)
    ProjectStore.create(out).close()  # the unpacked dataset is the new project (as from CVAT)
    for split in ("train", "val"):
        assert main(["import", str(out), str(out / "annotations" / f"instances_{split}.json"), "--format", "coco"]) == 0
    with ProjectStore.open(out, readonly=True) as store:
        back = instance_masks(store)
        crowd = {r.path: [bool(i.iscrowd) for i in store.instances(r.id)] for r in store.images()}
    assert len(back) == len(NAMES)
    for path, items in ours.items():
        split = next(s for s in ("train", "val") if (out / "images" / s / path).is_file())
        got = back[f"images/{split}/{path}"]
        assert [n for n, _ in got] == [n for n, _, _ in items]
        assert crowd[f"images/{split}/{path}"] == [c for _, _, c in items]
        for (_, m), (_, m2, _) in zip(got, items, strict=True):
            np.testing.assert_array_equal(m, m2)


def test_without_split_the_subset_is_default(tmp_path: Path) -> None:
    split = "default"  # Datumaro's and CVAT's name for a dataset without subsets
    _project(tmp_path / "p")
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "o"), "--format", "coco"]) == 0
    data = json.loads((tmp_path / "o" / "annotations" / f"instances_{split}.json").read_text())
    assert sorted(im["file_name"] for im in data["images"]) == sorted(NAMES)
    assert all((tmp_path / "o" / "images" / split / n).is_file() for n in NAMES)
