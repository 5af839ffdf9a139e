"""ONNX models derived from an installed SAM pair, built once and cached by the source file's hash.

- :func:`low_res_decoder`: segment-anything's decoder export cut after ``iou_predictions`` and
  ``low_res_masks`` (``onnx.utils.Extractor``), so the full-resolution ``masks`` output (an upsampling to
  the original image size inside the graph) is never computed; the point-batch dimension is made
  dynamic, so one call can decode many single-point prompts (the export's graph supports it).
- :func:`int8_encoder`: the image encoder with int8 weights (``onnxruntime.quantization.quantize_dynamic``).

Derived files live in ``cache_dir()/onnx/<sha256 prefix of the source>-<variant>.onnx``: a changed
source gets a new file, and a cache entry is written atomically, so a crash never leaves half a model.
Deleting the folder is always safe. ``onnx`` and ``onnxruntime`` are imported lazily.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from segtool.core.atomic import write_bytes
from segtool.core.errors import ModelError, SegtoolError
from segtool.core.paths import cache_dir

#: Outputs kept by the low-res decoder.
LOW_RES_OUTPUTS = ("iou_predictions", "low_res_masks")
#: Inputs whose first (point-batch) dimension is made dynamic in the low-res decoder.
_BATCHED_INPUTS = ("point_coords", "point_labels")
#: Bump when the derivation changes (part of every cache file name).
VARIANT_VERSION = "2"

_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def variants_dir() -> Path:
    """``cache_dir()/onnx``: where derived models are kept."""
    return cache_dir() / "onnx"


def _cached(source: Path, variant: str, build, source_hash: str | None = None) -> Path | bytes:
    """The cached derived file of ``source`` (``build(source) -> bytes`` runs only on a miss).

    When the cache folder cannot be written, the model's bytes are returned instead (onnxruntime
    loads them from memory; the next start derives them again).
    """
    digest = (source_hash or file_sha256(source))[:20]
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


def _build_low_res(source: Path) -> bytes:
    import onnx  # noqa: PLC0415
    import onnx.utils  # noqa: PLC0415

    try:
        model = onnx.load(str(source))
    except Exception as exc:  # noqa: BLE001 - protobuf raises several types for bad files
        raise ModelError(f"cannot read {source} as an ONNX model ({type(exc).__name__}); download it again") from None
    outputs = {o.name for o in model.graph.output}
    if not set(LOW_RES_OUTPUTS) <= outputs:
        raise ModelError(f"{source} has no {' and '.join(LOW_RES_OUTPUTS)} outputs (outputs: {sorted(outputs)}); "
                         "it is not segment-anything's decoder export")
    sub = onnx.utils.Extractor(model).extract_model(_needed_inputs(model.graph, LOW_RES_OUTPUTS),
                                                    list(LOW_RES_OUTPUTS))
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
    Outputs: ``iou_predictions`` ``(B, C)``, ``low_res_masks`` ``(B, C, 256, 256)``.

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
