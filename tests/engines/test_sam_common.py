"""sam_common: embedding-cache identity without hashing pixels per call; crop candidates."""

from __future__ import annotations

import numpy as np

from segtool.engines import sam_common as sc


def test_content_key_hashes_an_array_once(monkeypatch):
    calls = []
    real = sc.image_hash
    monkeypatch.setattr(sc, "image_hash", lambda image: calls.append(1) or real(image))
    image = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    first = sc.content_key(image)
    assert sc.content_key(image) == first and len(calls) == 1  # the same array again: no second hash
    assert sc.content_key(image.copy()) == first and len(calls) == 2  # same pixels, another array: same key
    image[::7, ::7] = 0  # edited in place (across the sampled pixels): hashed again, a new key
    assert sc.content_key(image) != first and len(calls) == 3
    assert sc.content_key(image, "abc") == "file:abc" and len(calls) == 3  # a known file hash: no hashing


def test_candidate_from_low_res_is_a_crop():
    ctx = sc.SamContext(np.zeros((1, 256, 64, 64), np.float32), (3000, 4000), sc.resized_shape(3000, 4000),
                        1024 / 4000, "x")
    yy, xx = np.mgrid[0:256, 0:256]
    low = (20.0 - np.hypot(yy - 100, xx - 120)).astype(np.float32)  # a disc of radius 20 cells
    cand = sc.candidate_from_low_res(low, ctx, score=0.9)
    assert cand.image_size == (3000, 4000) and cand.score == 0.9
    assert 600 < cand.crop.shape[0] < 650 and 600 < cand.crop.shape[1] < 650  # 2 * 20 cells of 4000/256 px
    assert np.array_equal(cand.mask, sc.upscale_logits(low, ctx.input_size, ctx.orig_size) > 0)
    np.testing.assert_array_equal(cand.low_res_logits, low)
