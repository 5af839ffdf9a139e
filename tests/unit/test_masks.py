"""core/masks.py: RLE and polygon round trips on awkward masks."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from segtool.core import masks


def _ring(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[10:40, 10:40] = True
    m[20:30, 20:30] = False  # a hole
    return m


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    two_parts = np.zeros((50, 60), bool)
    two_parts[5:15, 5:15] = True
    two_parts[30:45, 40:58] = True
    one_pixel = np.zeros((20, 20), bool)
    one_pixel[7, 9] = True
    border = np.zeros((30, 30), bool)
    border[:, :5] = True
    border[0, :] = True
    nested = _ring(60, 60)
    nested[23:27, 23:27] = True  # an island inside the hole
    noisy = rng.random((64, 64)) > 0.6
    return {"hole": _ring(50, 50), "two_parts": two_parts, "one_pixel": one_pixel, "border": border,
            "nested": nested, "noisy": noisy, "full": np.ones((8, 9), bool), "empty": np.zeros((8, 9), bool)}


@pytest.mark.parametrize("name", list(_cases()))
def test_rle_round_trip_is_exact(name: str) -> None:
    m = _cases()[name]
    rle = masks.encode_rle(m)
    assert isinstance(rle["counts"], str) and rle["size"] == list(m.shape)
    np.testing.assert_array_equal(masks.decode_rle(rle), m)
    assert masks.rle_area(rle) == int(m.sum())
    assert masks.rle_bbox(rle) == masks.mask_bbox(m)


@pytest.mark.parametrize("name", list(_cases()))
def test_polygon_round_trip_keeps_holes_and_parts(name: str) -> None:
    m = _cases()[name]
    parts = masks.mask_to_polygons(m)
    np.testing.assert_array_equal(masks.polygons_to_mask(parts, m.shape), m)


def test_polygons_report_holes_and_parts() -> None:
    parts = masks.mask_to_polygons(_cases()["nested"])
    assert len(parts) == 2  # the ring and the island
    assert sorted(len(p.holes) for p in parts) == [0, 1]
    assert len(masks.mask_to_polygons(_cases()["two_parts"])) == 2


def test_uncompressed_rle_is_read() -> None:
    m = _ring(50, 50)
    # COCO's uncompressed RLE: column-major run lengths starting with background.
    flat = m.flatten(order="F").astype(np.uint8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    rle = {"size": [50, 50], "counts": counts}
    np.testing.assert_array_equal(masks.decode_rle(rle), m)
    assert masks.rle_area(rle) == coco_mask.area(coco_mask.frPyObjects(rle, 50, 50))


def test_bbox_iou_and_dice() -> None:
    a = np.zeros((10, 10), bool)
    a[2:6, 3:7] = True
    b = np.zeros((10, 10), bool)
    b[4:8, 3:7] = True
    assert masks.mask_bbox(a) == (3, 2, 7, 6)
    assert masks.bbox_xywh((3, 2, 7, 6)) == [3.0, 2.0, 4.0, 4.0]
    assert masks.mask_iou(a, b) == pytest.approx(8 / 24)
    assert masks.mask_dice(a, b) == pytest.approx(16 / 32)
    ignore = np.zeros((10, 10), bool)
    ignore[6:8] = True
    assert masks.mask_iou(a, b, ignore) == pytest.approx(8 / 16)
    assert masks.mask_bbox(np.zeros((3, 3), bool)) is None
    assert masks.bbox_union((0, 0, 2, 2), (1, 1, 5, 3)) == (0, 0, 5, 3)


def test_crop_rle_equals_the_full_masks_rle() -> None:
    """encode_rle_crop builds the full image's RLE from a crop alone: the same string as encode_rle, read
    back by pycocotools, for crops anywhere (corners, full height, full image, empty, one pixel)."""
    rng = np.random.default_rng(1)
    for _ in range(1500):
        h_img, w_img = (int(v) for v in rng.integers(1, 40, 2))
        h, w = int(rng.integers(0, h_img + 1)), int(rng.integers(0, w_img + 1))
        y0, x0 = int(rng.integers(0, h_img - h + 1)), int(rng.integers(0, w_img - w + 1))
        crop = rng.random((h, w)) < rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])
        full = np.zeros((h_img, w_img), bool)
        full[y0:y0 + h, x0:x0 + w] = crop
        rle = masks.encode_rle_crop(crop, (x0, y0), (h_img, w_img))
        assert rle == masks.encode_rle(full)
        assert np.array_equal(masks.decode_rle(rle), full)
    with pytest.raises(ValueError, match="does not fit"):
        masks.encode_rle_crop(np.ones((3, 3), bool), (8, 0), (10, 10))
