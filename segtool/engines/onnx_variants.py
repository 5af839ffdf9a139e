"""ONNX models derived from an installed SAM pair, built once and cached by the source file's hash.

- :func:`low_res_decoder`: segment-anything's decoder export cut after its low-res masks and scores
  (``onnx.utils.Extractor``), so the full-resolution ``masks`` output (an upsampling to the original
  image size inside the graph) is never computed. The cut is taken *before* the export's single-mask
  selection, so all the mask decoder's outputs come out (4 for SAM: output 0 for several clicks, 1..3
  the multi-mask ones), as from the PyTorch backend; the point-batch dimension is made dynamic, so one
  call can decode many single-point prompts (the export's graph supports it).
- :func:`int8_encoder`: the image encoder with int8 weights (``onnxruntime.quantization.quantize_dynamic``).

Derived files live in ``cache_dir()/onnx/<sha256 prefix of the source>-<variant>.onnx``: a changed
source gets a new file, and a cache entry is written atomically, so a crash never leaves half a model.
Deleting the folder is always safe. ``onnx`` and ``onnxruntime`` are imported lazily.
"""

from __future__ import annotations

import threading
from pathlib import Path

from segtool.core.atomic import write_bytes
from segtool.core.errors import ModelError, SegtoolError
from segtool.core.paths import cache_dir
from segtool.engines.models import sha256_file

#: Outputs kept by the low-res decoder.
LOW_RES_OUTPUTS = ("iou_predictions", "low_res_masks")
#: Inputs whose first (point-batch) dimension is made dynamic in the low-res decoder.
_BATCHED_INPUTS = ("point_coords", "point_labels")
#: Bump when the derivation changes (part of every cache file name).
VARIANT_VERSION = "3"

_lock = threading.Lock()


def variants_dir() -> Path:
    """``cache_dir()/onnx``: where derived models are kept."""
    return cache_dir() / "onnx"


def _cached(source: Path, variant: str, build, source_hash: str | None = None) -> Path | bytes:
    """The cached derived file of ``source`` (``build(source) -> bytes`` runs only on a miss).

    When the cache folder cannot be written, the model's bytes are returned instead (onnxruntime
    loads them from memory; the next start derives them again).
    """
    digest = (source_hash or sha256_file(source))[:20]
    target = variants_dir() / f"{digest}-{variant}-v{VARIANT_VERSION}.onnx"
    with _lock:
        if target.is_file() and target.stat().st_size > 0:
            return target
        data = build(source)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(target, data, durable=False)
        except (OSError, SegtoolError):
            return data
    return target


def _needed_inputs(graph, outputs: tuple[str, ...]) -> list[str]:
    """Graph inputs the given outputs depend on, in graph order."""
    producer = {out: node for node in graph.node for out in node.output}
    seen, stack, needed = set(), list(outputs), set()
    graph_inputs = {i.name for i in graph.input}
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in graph_inputs:
            needed.add(name)
        node = producer.get(name)
        if node is not None:
            stack.extend(n for n in node.input if n)
            for attr in node.attribute:  # subgraphs (If/Loop) read outer names too
                for sub in list(attr.g.node if attr.HasField("g") else []):
                    stack.extend(n for n in sub.input if n)
    return [i.name for i in graph.input if i.name in needed]


def _all_outputs(graph) -> tuple[str, str] | None:
    """The decoder's masks and scores *before* its single-mask selection, if the graph has one.

    segment-anything's ``SamOnnxModel(return_single_mask=True)`` computes all of the mask decoder's
    outputs (output 0 for several clicks, 1..3 the multi-mask ones) and keeps one: ``ArgMax`` over the
    predicted IoUs plus a penalty, then a ``Gather`` of the flattened masks. Returns ``(masks, scores)``
    tensor names of shapes ``(B, C, 256, 256)`` and ``(B, C)``, or None (no selection: keep the outputs).
    """
    producer = {out: node for node in graph.node for out in node.output}
    argmax = [n for n in graph.node if n.op_type == "ArgMax"]
    if len(argmax) != 1:
        return None
    add = producer.get(argmax[0].input[0])
    if add is None or add.op_type != "Add":
        return None
    scores = [i for i in add.input if producer.get(i) is not None and producer[i].op_type in ("Gemm", "MatMul", "Add")]
    for node in graph.node:  # the Gather picking the chosen mask out of the flattened (B * C, ...) masks
        flat = producer.get(node.input[0]) if node.op_type == "Gather" else None
        if flat is not None and flat.op_type == "Flatten" and len(scores) == 1:
            return flat.input[0], scores[0]
    return None


def _build_low_res(source: Path) -> bytes:
    import onnx  # noqa: PLC0415
    import onnx.utils  # noqa: PLC0415
    from onnx import helper  # noqa: PLC0415

    try:
        model = onnx.load(str(source))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for bad files
        raise ModelError(f"cannot read {source} as an ONNX model ({type(exc).__name__}); download it again") from None
    outputs = {o.name for o in model.graph.output}
    if not set(LOW_RES_OUTPUTS) <= outputs:
        raise ModelError(f"{source} has no {' and '.join(LOW_RES_OUTPUTS)} outputs (outputs: {sorted(outputs)}); "
                         "it is not segment-anything's decoder export")
    raw = _all_outputs(model.graph)
    cut = list(LOW_RES_OUTPUTS) if raw is None else [raw[1], raw[0]]
    known = {v.name for v in list(model.graph.value_info) + list(model.graph.output)}
    for name, rank in zip(cut, (2, 4), strict=True):  # the Extractor wants a value_info for an output
        if name not in known:
            model.graph.value_info.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [None] * rank))
    sub = onnx.utils.Extractor(model).extract_model(_needed_inputs(model.graph, tuple(cut)), cut)
    if raw is not None:  # name the pre-selection tensors as the outputs they replace
        del sub.graph.output[:]
        for name, source_name, rank in (("iou_predictions", raw[1], 2), ("low_res_masks", raw[0], 4)):
            sub.graph.node.append(helper.make_node("Identity", [source_name], [name]))
            sub.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [None] * rank))
    for value in list(sub.graph.input) + list(sub.graph.output):
        if value.name in _BATCHED_INPUTS or value.name in LOW_RES_OUTPUTS:
            value.type.tensor_type.shape.dim[0].dim_param = "point_batch"
    del sub.graph.value_info[:]  # stale fixed shapes; onnxruntime infers them again
    onnx.checker.check_model(sub)
    return sub.SerializeToString()


def low_res_decoder(decoder: Path, source_hash: str | None = None) -> Path | bytes:
    """The cached low-res-only, point-batched variant of a SAM ``decoder.onnx`` (its path, or its bytes).

    Inputs: ``image_embeddings`` ``(1, 256, 64, 64)``, ``point_coords`` ``(B, N, 2)``, ``point_labels``
    ``(B, N)``, ``mask_input`` ``(1, 1, 256, 256)``, ``has_mask_input`` ``(1,)`` (no ``orig_im_size``).
    Outputs: ``iou_predictions`` ``(B, C)``, ``low_res_masks`` ``(B, C, 256, 256)``; ``C`` is 4 for a
    standard single-mask export (all outputs before its selection), else the export's own count.

    Raises
    ------
    ModelError
        The file is not ONNX or lacks the two outputs.
    """
    return _cached(Path(decoder), "lowres", _build_low_res, source_hash)


def _build_int8(source: Path) -> bytes:
    """Dynamic int8 quantization of the MatMul weights (per output channel), after onnxruntime's
    pre-processing (shape inference and graph optimisation) on the model converted to opset 17
    (per-channel quantization needs opset >= 13; segment-anything's exports are often opset 12)."""
    import tempfile  # noqa: PLC0415

    import onnx  # noqa: PLC0415
    from onnx import version_converter  # noqa: PLC0415
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="segtool-quant-") as tmp:
        converted, prepared, out = (Path(tmp) / n for n in ("opset17.onnx", "prepared.onnx", "int8.onnx"))
        try:
            model = onnx.load(str(source))
            if max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0) < 17:
                model = version_converter.convert_version(model, 17)
            onnx.save(model, str(converted))
            quant_pre_process(str(converted), str(prepared), skip_symbolic_shape=True)
            quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"])
        except Exception as exc:  # noqa: BLE001 - onnx and the quantizer raise many types
            raise ModelError(f"cannot quantize {source} to int8 ({type(exc).__name__}: {str(exc)[:160]})") from None
        return out.read_bytes()


def int8_encoder(encoder: Path, source_hash: str | None = None) -> Path | bytes:
    """The cached int8 variant of a SAM ``encoder.onnx`` (its path, or its bytes): MatMul weights int8 per
    channel, activations quantized on the fly (no calibration images needed)."""
    return _cached(Path(encoder), "int8", _build_int8, source_hash)
