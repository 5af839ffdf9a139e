"""Plain mask folders: instance-index PNGs (Penn-Fudan layout) and semantic PNGs with a class file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from format_projects import H, W, instance_masks, make_project
from PIL import Image

from segtool.cli import main
from segtool.core.document import ImageRecord
from segtool.services.formats import export_project, import_into_project
from segtool.store.sqlite import ProjectStore


def test_penn_fudan_layout_imports_when_the_dataset_is_the_project_root(tmp_path: Path, capsys) -> None:
    root = tmp_path / "PennFudanPed"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    truth = {}
    for k in range(2):
        name = f"FudanPed0000{k + 1}"
        cv2.imwrite(str(root / "PNGImages" / f"{name}.png"), np.full((H, W, 3), 100, np.uint8))
        idx = np.zeros((H, W), np.uint8)
        idx[5:30, 3:15] = 1
        idx[10:40, 30 + k:50] = 2
        Image.fromarray(idx).save(root / "PedMasks" / f"{name}_mask.png")
        truth[f"PNGImages/{name}.png"] = idx
    with ProjectStore.create(root) as store:  # as an old `init` did: the mask PNGs registered as images too
        store.add_images([ImageRecord(0, p.relative_to(root).as_posix(), W, H, p.name) for p in sorted(root.rglob("*.png"))])
    assert main(["import", str(root), str(root / "PedMasks"), "--format", "instance-masks"]) == 0
    assert "imported 4 instances" in capsys.readouterr().out
    with ProjectStore.open(root, readonly=True) as store:
        got = instance_masks(store)
    for path, idx in truth.items():
        assert [n for n, _ in got[path]] == ["object", "object"]
        for k, (_, m) in enumerate(got[path], 1):
            np.testing.assert_array_equal(m, idx == k)
    assert all(not v for p, v in got.items() if p.startswith("PedMasks/"))


def test_instance_masks_round_trip_with_classes(tmp_path: Path) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "p" / "out", "instance-masks")
        ours = instance_masks(store)
    idx = np.array(Image.open(tmp_path / "p" / "out" / "masks" / "a.png"))
    assert idx.dtype == np.uint8 and set(np.unique(idx)) == {0, 1, 2, 3}
    with ProjectStore.create(tmp_path / "p" / "copy.segtool") as store2:
        store2.add_images([ImageRecord(0, p, W, H, p) for p in ours])
        import_into_project(store2, tmp_path / "p" / "out", "instance-masks")
        back = instance_masks(store2)
    for path, items in ours.items():
        painted = np.zeros((H, W), int)
        for k, (_, m) in enumerate(items, 1):
            painted[m] = k
        assert [n for n, _ in back[path]] == [n for n, _ in items]
        for k, (_, m) in enumerate(back[path], 1):
            np.testing.assert_array_equal(m, painted == k)  # what is visible of each instance


def test_semantic_masks_round_trip_and_labelme2voc_conventions(tmp_path: Path) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "p" / "sem", "semantic-masks")
        ours = instance_masks(store)
    assert (tmp_path / "p" / "sem" / "class_names.txt").read_text() == "_background_\ncat\ndog\n"
    with ProjectStore.create(tmp_path / "p" / "copy.segtool") as store2:
        store2.add_images([ImageRecord(0, p, W, H, p) for p in ours])
        import_into_project(store2, tmp_path / "p" / "sem", "semantic-masks")
        back = instance_masks(store2)
        assert [(c.name, c.source_id) for c in store2.classes()] == [("cat", 1), ("dog", 2)]
    for path, items in ours.items():
        label = np.zeros((H, W), object)
        for name, m in items:
            label[m] = name
        for name, m in back[path]:
            np.testing.assert_array_equal(m, label == name)
    # labelme2voc: SegmentationClassPNG/ + class_names.txt; 255 (__ignore__) is void, _background_ no class
    root = tmp_path / "voc_like"
    (root / "SegmentationClassPNG").mkdir(parents=True)
    cv2.imwrite(str(root / "x.jpg"), np.zeros((H, W, 3), np.uint8))
    lbl = np.zeros((H, W), np.uint8)
    lbl[0:10, 0:10] = 1
    lbl[20:30, 20:30] = 255
    Image.fromarray(lbl, mode="L").convert("P").save(root / "SegmentationClassPNG" / "x.png")
    (root / "class_names.txt").write_text("_background_\nperson\n")
    with ProjectStore.create(root) as store3:
        store3.add_images([ImageRecord(0, "x.jpg", W, H, "x")])
        report = import_into_project(store3, root, "semantic-masks")
        assert report.instances_added == 2 and [c.name for c in store3.classes()] == ["person"]
        person, void = sorted(store3.instances(1), key=lambda i: i.class_id is None)
        assert person.area == 100 and not person.iscrowd
        assert void.class_id is None and void.iscrowd and void.area == 100  # 255: a void region, not a class
        assert void.mask()[20:30, 20:30].all()


def test_a_voc_folder_that_is_the_project_root_imports(tmp_path: Path) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "voc", "voc")
        ours = instance_masks(store)
    root = tmp_path / "voc"
    with ProjectStore.create(root) as store2:  # as an old `init` did: the PNGs registered as images too
        store2.add_images([ImageRecord(0, p.relative_to(root).as_posix(), W, H, p.name)
                           for p in sorted(root.rglob("*")) if p.suffix in (".jpg", ".png")])
        report = import_into_project(store2, root, "voc")
        assert report.instances_added == 9
        back = instance_masks(store2)
    for path, items in ours.items():
        stem = path.replace("/", "__").rsplit(".", 1)[0]
        suffix = ".jpg" if path.endswith(".jpg") else ".png"  # PNG sources stay PNG in JPEGImages/
        assert [n for n, _ in back[f"JPEGImages/{stem}{suffix}"]] == [n for n, _ in items]
