"""One SAM decoder call returning all four masks, for either backend.

:func:`decode_all` is the primitive the interactive policy (:mod:`segtool.engines.sam_interactive`)
builds on: low-res logits and predicted IoUs of the single-mask token (index 0) and the three
multi-mask tokens (1..3), without any full-resolution upscaling.

- ``sam-torch``: the mask decoder returns the four tokens anyway (``SamTorchEngine._decode``).
- ``sam-onnx``: a single-mask export is re-opened once with the four masks exposed as extra graph
  outputs (:mod:`segtool.engines.sam_onnx_outputs`); a decoder that already returns several masks is
  used as it is; one whose graph has another structure gives its one mask (``C = 1``).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from segtool.engines import sam_common as sc

_sessions: dict[tuple[str, tuple[str, ...]], Any] = {}
_lock = threading.Lock()


def _all_masks_session(engine: Any) -> Any | None:
    """The engine's decoder re-opened with all masks exposed (cached per decoder file), or None."""
    import onnxruntime as ort  # noqa: PLC0415

    from segtool.engines.sam_onnx_outputs import all_masks_model  # noqa: PLC0415

    path = engine.model_dir / "decoder.onnx"
    key = (str(path.resolve()), tuple(engine.decoder.get_providers()))
    with _lock:
        if key not in _sessions:
            model = all_masks_model(path)
            session = None
            if model is not None:
                options = ort.SessionOptions()
                options.log_severity_level = 3
                session = ort.InferenceSession(model, sess_options=options, providers=list(key[1]))
            _sessions[key] = session
        return _sessions[key]


def _decode_onnx(engine: Any, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
                 mask_input: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    from segtool.engines.sam_onnx_outputs import ALL_IOU, ALL_LOW_RES  # noqa: PLC0415

    has_mask = mask_input is not None
    feeds = {"image_embeddings": context.embedding, "point_coords": coords.astype(np.float32),
             "point_labels": labels.astype(np.float32),
             "mask_input": (np.asarray(mask_input, np.float32).reshape(1, 1, sc.LOW_RES, sc.LOW_RES) if has_mask
                            else np.zeros((1, 1, sc.LOW_RES, sc.LOW_RES), np.float32)),
             "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32),
             "orig_im_size": np.array(context.orig_size, np.float32)}
    session = _all_masks_session(engine)
    if session is not None:
        low, iou = session.run([ALL_LOW_RES, ALL_IOU], feeds)
    else:
        iou, low = engine.decoder.run(["iou_predictions", "low_res_masks"], feeds)
    return np.asarray(low[0], np.float32), np.asarray(iou, np.float32).reshape(-1)


def decode_all(engine: Any, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
               mask_input: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """All of the decoder's masks for one prompt.

    Parameters
    ----------
    coords : float32 ``(1, N, 2)`` model-input coordinates; labels float32 ``(1, N)``
        (:func:`segtool.engines.sam_common.encode_prompt_points`).
    mask_input : optional float32 ``(256, 256)`` previous low-res logits.

    Returns
    -------
    low_res : float32 ``(C, 256, 256)`` logits (``C = 4``: single-mask token, then the three
        multi-mask tokens; ``C = 1`` for a decoder that hides them).
    iou : float32 ``(C,)`` predicted IoUs.
    """
    if callable(getattr(engine, "_decode", None)):  # sam-torch
        low, iou = engine._decode(context, coords, labels, mask_input)
        return low[0].cpu().numpy().astype(np.float32), iou[0].cpu().numpy().astype(np.float32).reshape(-1)
    return _decode_onnx(engine, context, coords, labels, mask_input)
