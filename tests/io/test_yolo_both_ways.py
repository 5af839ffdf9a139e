"""YOLO segmentation both ways, checked with Ultralytics' own ``YOLODataset`` and ``merge_multi_segment``.

Ultralytics runs in a subprocess (``ultralytics_side.py``): importing it patches ``PIL.Image.open`` and
``cv2.imread`` for the whole process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from format_projects import H, W, instance_masks, make_project, sample_masks

from segtool.cli import main
from segtool.core.masks import mask_iou
from segtool.io.common import mask_to_coco_polygons
from segtool.io.yolo import join_parts
from segtool.services.formats import export_project, import_into_project, load_dataset
from segtool.store.sqlite import ProjectStore


def _ultralytics(tmp: Path, *args: str | os.PathLike) -> str:
    """Run ``ultralytics_side.py`` with ``args``; its stdout. Fails the test with Ultralytics' error."""
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp / "ultralytics-config"), "YOLO_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("ultralytics_side.py")), *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        pytest.fail(f"ultralytics could not: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def test_parts_are_joined_exactly_as_ultralytics_merge_multi_segment(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    cases = [[(rng.random(2 * int(rng.integers(3, 9))) * 60).tolist() for _ in range(n)] for n in (2, 3, 4)]
    polys, _ = mask_to_coco_polygons(sample_masks(0)["two"])
    assert len(polys) == 2
    cases.append(polys)
    (tmp_path / "in.json").write_text(json.dumps(cases))
    _ultralytics(tmp_path, "merge", tmp_path / "in.json", tmp_path / "out.json")
    theirs = json.loads((tmp_path / "out.json").read_text())
    for polys, joined in zip(cases, theirs, strict=True):
        np.testing.assert_array_equal(np.asarray(join_parts(polys)), np.asarray(joined))


def _ultralytics_masks(tmp: Path, out: Path, split: str = "train") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per image stem: (class indices, masks (N, H, W) bool) as Ultralytics' YOLODataset builds them."""
    _ultralytics(tmp, "dataset", out, split, W, H, tmp / "theirs.npz")
    with np.load(tmp / "theirs.npz") as data:
        stems = {key.split(":")[0] for key in data.files}
        return {stem: (data[f"{stem}:cls"], data[f"{stem}:masks"]) for stem in stems}


def test_export_one_line_per_instance_read_by_ultralytics(tmp_path: Path) -> None:
    with make_project(tmp_path / "p") as store:
        out = tmp_path / "yolo"
        report = export_project(store, out, "yolo")
        ours = instance_masks(store)
    assert report.details.holes_dropped == 3 and report.details.parts_joined == 3
    for label in (out / "labels" / "train").glob("*.txt"):
        assert len(label.read_text().splitlines()) == 3  # one line per instance, parts joined
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert "val" not in data and data["path"] == str(out.resolve()) and data["names"] == {0: "cat", 1: "dog"} and data["nc"] == 2
    theirs = _ultralytics_masks(tmp_path, out)
    stems = {"a": "a.jpg", "b": "b.png", "sub__c": "sub/c.jpg"}
    single, joined = [], []
    for stem, (cls, masks) in theirs.items():
        expected = ours[stems[stem]]
        assert cls.tolist() == [0, 1, 0]
        for (name, mask), got in zip(expected, masks, strict=True):
            filled = mask.copy()
            if name == "cat" and mask[7, 7] and not mask[15, 15]:
                filled[12:20, 12:22] = True  # YOLO cannot hold the hole: reported, compared without it
            polys, _ = mask_to_coco_polygons(mask)
            if len(polys) == 1:
                single.append(mask_iou(got, filled))
                continue
            # Ultralytics rasterises its own joined polygon with cv2.fillPoly, which also draws the
            # zero-width link between the parts: every pixel of ours is there, plus that line.
            joined.append(mask_iou(got, filled))
            assert (got & filled).sum() == filled.sum()
            (x0, y0), (x1, y1) = _link(polys)
            assert (got & ~filled).sum() <= 2 * (max(abs(x1 - x0), abs(y1 - y0)) + 2)
    print(f"Ultralytics YOLODataset vs segtool: single-part masks IoU min {min(single):.4f} "
          f"mean {np.mean(single):.4f}; joined multi-part masks IoU mean {np.mean(joined):.4f} (the link line)")
    assert min(single) >= 0.97


def _link(polys: list[list[float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    a, b = (np.asarray(p).reshape(-1, 2) for p in polys)
    d = ((a[:, None] - b[None]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    return tuple(a[i]), tuple(b[j])


def test_split_writes_val_and_empty_class_list_gives_valid_names(tmp_path: Path) -> None:
    with make_project(tmp_path / "p", names=("a.jpg", "b.jpg", "c.jpg", "d.jpg")) as store:
        export_project(store, tmp_path / "split", "yolo", split={"val": 0.5})
    data = yaml.safe_load((tmp_path / "split" / "data.yaml").read_text())
    assert data["val"] == "images/val" and len(list((tmp_path / "split" / "labels" / "val").glob("*.txt"))) == 2
    with make_project(tmp_path / "q", classes=()) as store:
        export_project(store, tmp_path / "empty", "yolo")
    text = (tmp_path / "empty" / "data.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["names"] == {0: "object"} and data["nc"] == 1
    assert json.loads(_ultralytics(tmp_path, "names", tmp_path / "empty" / "data.yaml").strip().splitlines()[-1]) == {"0": "object"}


def test_export_import_export_is_stable(tmp_path: Path) -> None:
    with make_project(tmp_path / "p", holes=False) as store:
        export_project(store, tmp_path / "y1", "yolo")
        ours = instance_masks(store)
    root = tmp_path / "y1"
    with ProjectStore.create(root) as store2:
        report = import_into_project(store2, root, "yolo")
        assert report.instances_added == 9 and report.images_added == 3
        assert [(c.name, c.source_id) for c in store2.classes()] == [("cat", 0), ("dog", 1)]
        back = instance_masks(store2)
        export_project(store2, tmp_path / "y2", "yolo")
    for path, items in back.items():
        stem = Path(path).stem
        src = ours[{"a": "a.jpg", "b": "b.png", "sub__c": "sub/c.jpg"}[stem]]
        for (n1, m1), (n2, m2) in zip(src, items, strict=True):
            assert n1 == n2 and mask_iou(m1, m2) == 1.0  # edge-traced polygons rasterise back exactly
    for label in (root / "labels" / "train").glob("*.txt"):
        again = tmp_path / "y2" / "labels" / "train" / f"images__train__{label.name}"  # now under images/train/
        assert again.read_text() == label.read_text()


def test_detection_boxes_are_counted_and_skipped_or_imported_as_masks(tmp_path: Path, capsys) -> None:
    root = tmp_path / "det"
    with make_project(root, names=("images/train/x.jpg",), classes=()) as store:
        pass
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "x.txt").write_text("0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.3 0.1 0.2 0.3\n")
    (root / "data.yaml").write_text("names: [car, bike]\n")
    assert main(["import", str(root), str(root), "--format", "yolo"]) == 0
    out = capsys.readouterr().out
    assert "imported 1 instances" in out and "1 detection box(es) without a polygon skipped" in out
    assert main(["import", str(root), str(root), "--format", "yolo", "--boxes", "mask"]) == 0
    with ProjectStore.open(root, readonly=True) as store:
        masks = instance_masks(store)["images/train/x.jpg"]
        car = [m for n, m in masks if n == "car"]
        assert len(car) == 1 and car[0].sum() == 16 * 24 and car[0][12:36, 24:40].all()
    (root / "labels" / "train" / "x.txt").write_text("0 0.5 0.5 0.25\n")
    assert main(["import", str(root), str(root), "--format", "yolo"]) == 1
    assert "x.txt line 1" in capsys.readouterr().err


def test_images_outside_the_project_are_refused(tmp_path: Path) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "y", "yolo")
    with ProjectStore.create(tmp_path / "p" / "other.segtool") as store:
        with pytest.raises(Exception, match="not inside the project folder"):
            load_dataset(store, tmp_path / "y", "yolo")
