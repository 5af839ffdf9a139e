"""VOC export keeps PNG sources as PNG (``JPEGImages/<id>.png``, the bytes copied; other non-JPEG
files converted losslessly to PNG) and Datumaro's VOC importer reads it; ``--jpeg`` writes every
image as ``<id>.jpg``, which torchvision's ``VOCSegmentation`` (it opens ``<id>.jpg`` only) reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
from format_projects import H, W, make_project
from PIL import Image

from segtool.cli import main
from segtool.io.voc import voc_ids
from segtool.store.sqlite import ProjectStore

NAMES = ("a.jpg", "b.png", "sub/c.bmp")


def _visible(store: ProjectStore, path: str) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """``[(class name, visible pixels)]`` per object bottom to top, and the class index map."""
    classes = {c.id: (k + 1, c.name) for k, c in enumerate(sorted(store.classes(), key=lambda c: c.id))}
    insts = sorted(store.instances(store.image_by_path(path).id, state="accepted"), key=lambda i: (i.z, i.id))
    obj = np.zeros((H, W), np.uint8)
    for k, inst in enumerate(insts, 1):
        obj[inst.mask()] = k
    cls = np.zeros((H, W), np.uint8)
    for k, inst in enumerate(insts, 1):
        cls[obj == k] = classes[inst.class_id][0]
    return [(classes[i.class_id][1], obj == k) for k, i in enumerate(insts, 1)], cls


def test_png_sources_stay_png_and_datumaro_reads_the_export(tmp_path: Path, capsys) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    make_project(tmp_path / "p", names=NAMES).close()
    out = tmp_path / "voc"
    assert main(["export", str(tmp_path / "p"), str(out), "--format", "voc"]) == 0
    assert "2 image(s) written as JPEGImages/<id>.png" in capsys.readouterr().out
    ids = voc_ids(NAMES)
    files = {ids[n]: out / "JPEGImages" / f"{ids[n]}{'.jpg' if n.endswith('.jpg') else '.png'}" for n in NAMES}
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == sorted(f.name for f in files.values())
    for n in ("a.jpg", "b.png"):  # copied byte for byte
        assert files[ids[n]].read_bytes() == (tmp_path / "p" / n).read_bytes()
    np.testing.assert_array_equal(cv2.imread(str(files[ids["sub/c.bmp"]])), cv2.imread(str(tmp_path / "p/sub/c.bmp")))
    assert ET.parse(out / "Annotations" / f"{ids['b.png']}.xml").findtext("filename") == "b.png"

    ds = dm.Dataset.import_from(str(out), "voc_instance_segmentation")
    labels = ds.categories()[AnnotationType.label]
    with ProjectStore.open(tmp_path / "p", readonly=True) as store:
        for item in ds.get_subset("train"):
            path = next(n for n in NAMES if ids[n] == item.id)
            assert Path(item.media.path) == files[item.id]
            np.testing.assert_array_equal(item.media.data, cv2.imread(str(tmp_path / "p" / path)).astype(np.float32))
            objects, _ = _visible(store, path)
            got = sorted((a.group, labels[a.label].name, np.asarray(a.image).astype(bool))
                         for a in item.annotations if a.type == AnnotationType.mask)
            assert [(g, n) for g, n, _ in got] == [(k, n) for k, (n, _) in enumerate(objects, 1)]
            for (_, _, a), (_, b) in zip(got, objects, strict=True):
                np.testing.assert_array_equal(a, b)


def test_jpeg_option_gives_what_torchvision_reads(tmp_path: Path, capsys) -> None:
    from torchvision.datasets import VOCSegmentation

    make_project(tmp_path / "p", names=NAMES).close()
    yy, xx = np.mgrid[0:H, 0:W]
    smooth = np.dstack([xx * 4, yy * 5, (xx + yy) * 2]).astype(np.uint8)  # JPEG keeps a smooth image close
    for n in NAMES[1:]:
        cv2.imwrite(str(tmp_path / "p" / n), smooth)
    out = tmp_path / "root" / "VOCdevkit" / "VOC2012"
    assert main(["export", str(tmp_path / "p"), str(out), "--format", "voc", "--jpeg"]) == 0
    assert "JPEGImages/<id>.png" not in capsys.readouterr().out
    ids = voc_ids(NAMES)
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == sorted(f"{ids[n]}.jpg" for n in NAMES)
    assert (out / "JPEGImages" / "a.jpg").read_bytes() == (tmp_path / "p" / "a.jpg").read_bytes()
    ds = VOCSegmentation(str(tmp_path / "root"), year="2012", image_set="train")
    order = (out / "ImageSets" / "Segmentation" / "train.txt").read_text().split()
    assert len(ds) == len(NAMES)
    with ProjectStore.open(tmp_path / "p", readonly=True) as store:
        for k, vid in enumerate(order):
            image, target = ds[k]
            path = next(n for n in NAMES if ids[n] == vid)
            source = np.asarray(Image.open(tmp_path / "p" / path).convert("RGB"), np.int16)
            assert image.size == (W, H)
            assert np.abs(np.asarray(image, np.int16) - source).mean() < (0.01 if path == "a.jpg" else 2)
            np.testing.assert_array_equal(np.asarray(target), _visible(store, path)[1])
