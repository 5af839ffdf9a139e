"""The fast Pascal VOC export path: vectorised painting against a naive reference, threaded writing.

The reference paints every instance's pycocotools-decoded mask bottom to top (what a VOC map
means); the fast path must agree pixel for pixel on overlapping masks with holes, border pixels,
empty masks, huge run values and every RLE counts flavour, and the threaded export must write
the same files as the single-threaded one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from segtool.core.document import ImageRecord, Instance, LabelClass
from segtool.core.errors import FormatError
from segtool.io import voc

H, W = 37, 53  # odd sizes: row/column-major mix-ups cannot cancel out


def _random_masks(rng: np.random.Generator, n: int, h: int = H, w: int = W) -> list[np.ndarray]:
    out = []
    for k in range(n):
        m = np.zeros((h, w), np.uint8)
        kind = k % 4
        if kind == 0:  # ellipse, possibly cut by the border
            cv2.ellipse(m, (int(rng.integers(-5, w + 5)), int(rng.integers(-5, h + 5))),
                        (int(rng.integers(2, w // 2)), int(rng.integers(2, h // 2))), float(rng.integers(0, 180)),
                        0, 360, 1, -1)
        elif kind == 1:  # rectangle with a hole
            y0, x0 = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
            m[y0:y0 + 8, x0:x0 + 8] = 1
            m[y0 + 3:y0 + 5, x0 + 3:x0 + 5] = 0
        elif kind == 2:  # salt noise: many one-pixel runs
            m[rng.random((h, w)) < 0.1] = 1
        # kind 3: empty mask
        out.append(m.astype(bool))
    return out


def _reference(masks: list[np.ndarray]) -> np.ndarray:
    ref = np.zeros(masks[0].shape if masks else (H, W), np.uint8)
    for k, m in enumerate(masks, start=1):
        ref[m] = k
    return ref


def _uncompressed(mask: np.ndarray) -> dict:
    col = mask.T.ravel().astype(np.int8)
    change = np.flatnonzero(np.diff(col)) + 1
    runs = np.diff(np.concatenate(([0], change, [col.size]))).tolist()
    if col[0]:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": runs}


@pytest.mark.parametrize("seed", range(6))
def test_paint_objects_equals_painting_masks_in_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    masks = _random_masks(rng, int(rng.integers(1, 40)))
    rles = []
    for k, m in enumerate(masks):
        enc = coco_mask.encode(np.asfortranarray(m, dtype=np.uint8))
        # every counts flavour: str, bytes, uncompressed list
        rles.append([{"size": [H, W], "counts": enc["counts"].decode("ascii")}, enc, _uncompressed(m)][k % 3])
    got = voc.paint_objects(rles, (H, W))
    assert got.dtype == np.uint8 and got.shape == (H, W) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, _reference(masks))


def test_paint_objects_chunked_and_full_image(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    masks = [np.ones((H, W), bool), *_random_masks(rng, 30), np.ones((H, W), bool), *_random_masks(rng, 12)]
    rles = [coco_mask.encode(np.asfortranarray(m, dtype=np.uint8)) for m in masks]
    whole = voc.paint_objects(rles, (H, W))
    monkeypatch.setattr(voc, "_PAINT_CHUNK", 5)  # many tiny chunks
    np.testing.assert_array_equal(voc.paint_objects(rles, (H, W)), whole)
    np.testing.assert_array_equal(whole, _reference(masks))
    assert (whole >= 32).all()  # the second full-image mask (index 32) covers everything below it
    assert voc.paint_objects([], (H, W)).shape == (H, W)


def test_paint_objects_large_image_with_long_runs() -> None:
    h, w = 1500, 2100  # run lengths above 2**20 need 5+ characters per value
    masks = [np.zeros((h, w), bool) for _ in range(3)]
    masks[0][:, :1800] = True
    masks[1][100:1400, 50:2000] = True
    masks[2][700:702, :] = True
    rles = [coco_mask.encode(np.asfortranarray(m, dtype=np.uint8)) for m in masks]
    np.testing.assert_array_equal(voc.paint_objects(rles, (h, w)), _reference(masks))


@pytest.mark.parametrize("counts, message", [
    ("", "corrupt"),
    ("0" * 5 + "\x7f", "corrupt"),        # character out of range
    ("o", "corrupt"),                      # continuation bit on the last character
    (None, "do not cover"),                # valid string for a different image size
])
def test_corrupt_rle_is_a_format_error(counts: str | None, message: str) -> None:
    good = coco_mask.encode(np.asfortranarray(np.ones((H, W + 1), np.uint8)))["counts"].decode("ascii")
    rle = {"size": [H, W], "counts": good if counts is None else counts}
    with pytest.raises(FormatError, match=message):
        voc.paint_objects([rle], (H, W))


def _items(folder: Path, n_images: int, seed: int) -> tuple[list[LabelClass], list[tuple[ImageRecord, list]]]:
    rng = np.random.default_rng(seed)
    classes = [LabelClass(3, "cat", (1, 2, 3)), LabelClass(9, "dog", (4, 5, 6))]
    items = []
    for i in range(n_images):
        name = f"img{i}.png" if i % 2 else f"img{i}.jpg"
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
        masks = _random_masks(rng, 9)
        z = rng.permutation(len(masks))  # z order differs from list order
        insts = [Instance.from_mask(m, id=100 * i + k, image_id=i, class_id=classes[k % 2].id, z=int(z[k]))
                 for k, m in enumerate(masks)]
        insts[0].state = "pending"  # never painted
        items.append((ImageRecord(i, name, W, H, f"h{i}"), insts))
    return classes, items


def test_threaded_export_writes_the_same_files_as_serial(tmp_path: Path) -> None:
    classes, items = _items(tmp_path, 12, seed=3)
    serial, threaded = tmp_path / "serial", tmp_path / "threaded"
    seen: list[int] = []
    a = voc.export_voc(serial, classes, items, image_root=tmp_path, void_border=1, workers=0)
    b = voc.export_voc(threaded, classes, items, image_root=tmp_path, void_border=1, workers=3,
                       progress=seen.append)
    assert (a.images, a.objects) == (b.images, b.objects) == (12, 12 * 8)
    assert seen == [1] * 12
    files = sorted(p.relative_to(serial) for p in serial.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(threaded) for p in threaded.rglob("*") if p.is_file())
    assert len(files) == 12 * 4 + 4  # 3 PNG/XML/JPEG per image + objects PNG, 3 lists, labelmap
    for rel in files:
        if rel.suffix == ".png" and rel.parts[0] != "JPEGImages":  # (PNG sources are copied as they are)
            x, y = Image.open(serial / rel), Image.open(threaded / rel)
            assert x.mode == y.mode == "P" and x.getpalette() == y.getpalette()
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert (serial / rel).read_bytes() == (threaded / rel).read_bytes(), rel
    # and the object map is the reference painting of the accepted instances by (z, id)
    rec, insts = items[5]
    painted = sorted((i for i in insts if i.state == "accepted"), key=lambda i: (i.z, i.id))
    obj = np.asarray(Image.open(threaded / "SegmentationObject" / "img5.png"))
    cls = np.asarray(Image.open(threaded / "SegmentationClass" / "img5.png"))
    ref = _reference([i.mask() for i in painted])
    interior = obj != voc.VOID
    np.testing.assert_array_equal(obj[interior], ref[interior])
    lut = np.array([0] + [{3: 1, 9: 2}[i.class_id] for i in painted], np.uint8)
    np.testing.assert_array_equal(cls[interior], lut[ref[interior]])


def test_unreadable_image_is_skipped_and_worker_errors_reach_the_caller(tmp_path: Path) -> None:
    classes, items = _items(tmp_path, 20, seed=4)
    (tmp_path / items[6][0].path).unlink()  # a project image went missing: skipped, reported
    stats = voc.export_voc(tmp_path / "out", classes, items, image_root=tmp_path, workers=2)
    assert stats.images == 19 and [p for p, _ in stats.skipped] == [items[6][0].path]
    assert "not found" in stats.skipped[0][1]
    listed = (tmp_path / "out" / "ImageSets" / "Segmentation" / "trainval.txt").read_text().split()
    assert len(listed) == 19 and "img6" not in listed
    assert not (tmp_path / "out" / "SegmentationClass" / "img6.png").exists()
    items[9][1][1].rle = {"size": [H, W], "counts": "0`0"}  # a corrupt project mask stops the export
    with pytest.raises(FormatError, match="corrupt RLE"):
        voc.export_voc(tmp_path / "out2", classes, items, image_root=tmp_path, workers=2)


def test_bench_export_reports_medians(tmp_path: Path) -> None:
    from segtool.bench import export_bench

    out = tmp_path / "bench.json"
    args = argparse.Namespace(images=4, instances=6, workdir=tmp_path, json=out, repeat=2, workers=2)
    assert export_bench.run(args) == 0
    result = json.loads(out.read_text())
    assert result["annotations"] == 24 and result["voc_objects"] == 24 and result["repeat"] == 2
    assert result["voc_s"] > 0 and result["voc_cpu_s"] >= 0 and result["voc_workers"] == 2
