"""One SAM decoder call returning all of the decoder's masks, for either backend.

:func:`decode_all` is the primitive the interactive policy (:mod:`segtool.engines.sam_interactive`)
builds on: low-res logits and predicted IoUs of the single-mask token (index 0) and the three
multi-mask tokens (1..3), without any full-resolution upscaling. Both engines expose the low-res
decoder as ``decode_points`` (the ONNX one is cut before the export's single-mask selection, see
:mod:`segtool.engines.onnx_variants`); a decoder that hides its masks gives one (``C = 1``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segtool.engines import sam_common as sc


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
        multi-mask tokens).
    iou : float32 ``(C,)`` predicted IoUs.
    """
    low, iou = engine.decode_points(context, coords, labels, mask_input)
    return np.asarray(low[0], np.float32), np.asarray(iou[0], np.float32).reshape(-1)
