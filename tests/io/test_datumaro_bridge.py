"""``--format datumaro:NAME``: samples written by Datumaro's own exporters are imported, and
segtool's exports are read by Datumaro's own importers, mask for mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segtool.cli import main
from segtool.core.document import ImageRecord, Instance
from segtool.store.sqlite import ProjectStore

H, W = 24, 32


def _masks() -> dict[str, list[tuple[int, np.ndarray, bool]]]:
    """Image name -> ``[(label index, mask, is_crowd)]``: non-overlapping, one per class per image
    (so that semantic formats such as CamVid keep them apart too)."""
    def box(y0, y1, x0, x1):
        m = np.zeros((H, W), bool)
        m[y0:y1, x0:x1] = True
        return m
    ring = box(2, 12, 2, 14)
    ring[5:8, 5:9] = False
    return {"a": [(0, ring, False), (1, box(14, 22, 16, 30), True)], "b": [(1, box(0, 5, 0, 32), False)]}


def _write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(_masks()):
        cv2.imwrite(str(folder / f"{name}.png"), np.full((H, W, 3), 40 * (k + 1), np.uint8))


#: Formats whose label 0 is the background and whose crowd regions have instance id 0 (KITTI): the
#: sample is written the way such datasets come, with ``unlabeled`` first.
BACKGROUND_FIRST = {"kitti_segmentation"}


def _datumaro_sample(folder: Path, exporter: str) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType, LabelCategories, Mask
    from datumaro.components.media import Image

    _write_images(folder / "src")
    shift = int(exporter in BACKGROUND_FIRST)
    items = []
    for name, anns in _masks().items():
        items.append(dm.DatasetItem(id=name, subset="train", media=Image.from_file(path=str(folder / "src" / f"{name}.png")),
                                    annotations=[Mask(image=m.astype(np.uint8), label=lab + shift,
                                                      id=0 if shift and crowd else k + 1, group=k + 1, z_order=k,
                                                      attributes={"is_crowd": crowd, "track_id": k + 1})
                                                 for k, (lab, m, crowd) in enumerate(anns)]))
    labels = LabelCategories.from_iterable(["unlabeled"] * shift + ["cat", "dog"])
    dm.Dataset.from_iterable(items, categories={AnnotationType.label: labels}).export(
        str(folder / "ds"), exporter, save_media=True)


# (Datumaro exporter that writes the sample, Datumaro importer segtool reads it with, instance ids
# kept, is_crowd kept, classes kept)
FORMATS = [("coco_panoptic", "coco_panoptic", True, True, True),
           ("datumaro", "datumaro", True, True, True),
           ("label_me", "label_me", True, True, True),
           ("camvid", "camvid", False, False, True),
           ("mots_png", "mots", True, False, True),
           ("segment_anything", "segment_anything", True, False, False),
           ("cityscapes", "cityscapes", False, False, True),
           ("kitti_segmentation", "kitti_segmentation", True, True, True)]


@pytest.mark.parametrize("exporter, importer, _ids, crowd, classes", FORMATS)
def test_import_samples_written_by_datumaro(tmp_path: Path, capsys, exporter: str, importer: str, _ids: bool,
                                            crowd: bool, classes: bool) -> None:
    root = tmp_path / "proj"
    _datumaro_sample(root, exporter)
    ProjectStore.create(root).close()
    assert main(["import", str(root), str(root / "ds"), "--format", f"datumaro:{importer}"]) == 0, capsys.readouterr()
    with ProjectStore.open(root, readonly=True) as store:
        names = {c.id: c.name for c in store.classes()}
        got = {}
        for rec in store.images():
            got[Path(rec.path).stem.split("_")[0]] = store.instances(rec.id)  # a_leftImg8bit, a_000001 -> a
    for name, expected in _masks().items():
        insts = sorted(got[name], key=lambda i: i.bbox)
        expected = sorted(expected, key=lambda e: tuple(Instance.from_mask(e[1], id=0, image_id=0, class_id=None).bbox))
        assert len(insts) == len(expected), (name, exporter)
        for inst, (lab, m, is_crowd) in zip(insts, expected, strict=True):
            np.testing.assert_array_equal(inst.mask(), m)
            assert names.get(inst.class_id) == (["cat", "dog"][lab] if classes else None)
            assert inst.iscrowd == (is_crowd and crowd)


def _project(root: Path) -> None:
    _write_images(root)
    with ProjectStore.create(root) as store:
        cls = [store.add_class("cat"), store.add_class("dog")]
        for name, anns in _masks().items():
            (rec,) = store.add_images([ImageRecord(0, f"{name}.png", W, H, name)])
            store.add_instances(rec.id, [Instance.from_mask(m, id=0, image_id=rec.id, class_id=cls[lab].id, z=k,
                                                            iscrowd=crowd) for k, (lab, m, crowd) in enumerate(anns)])


@pytest.mark.parametrize("fmt", ["coco_panoptic", "datumaro", "label_me", "camvid", "cityscapes", "kitti_segmentation"])
def test_exports_are_read_by_datumaro_importers(tmp_path: Path, fmt: str) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    _project(tmp_path / "p")
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "out"), "--format", f"datumaro:{fmt}"]) == 0
    ds = dm.Dataset.import_from(str(tmp_path / "out"), fmt)
    labels = ds.categories()[AnnotationType.label]
    if fmt in BACKGROUND_FIRST:  # KITTI's label 0 is the background, as in the KITTI datasets
        assert labels[0].name == "unlabeled"
    for item in ds:
        got = sorted(((labels[a.label].name, np.asarray(a.image).astype(bool), a.attributes.get("is_crowd"))
                      for a in item.annotations
                      if a.type == AnnotationType.mask and (a.label != 0 or fmt not in BACKGROUND_FIRST)),
                     key=lambda t: t[0])
        expected = sorted(((["cat", "dog"][lab], m, crowd) for lab, m, crowd in _masks()[item.id]), key=lambda t: t[0])
        assert [n for n, _, _ in got] == [n for n, _, _ in expected]
        for (_, a, crowd), (_, b, is_crowd) in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
            if fmt in BACKGROUND_FIRST:  # crowd regions are instance id 0 there
                assert crowd == is_crowd


def test_help_lists_datumaro_formats_and_unknown_names_are_refused(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    assert "datumaro:NAME" in out and "cityscapes" in out and "coco_panoptic" in out
    _project(tmp_path / "p")
    assert main(["export", str(tmp_path / "p"), str(tmp_path / "o"), "--format", "datumaro:nope"]) == 1
    assert "Datumaro has no exporter 'nope'" in capsys.readouterr().err
