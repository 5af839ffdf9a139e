"""SAM on onnxruntime: any encoder/decoder ONNX pair in segment-anything's export format.

A model directory holds ``encoder.onnx`` (``(1, 3, 1024, 1024)`` float32 -> ``(1, 256, 64, 64)``)
and ``decoder.onnx`` (segment-anything's ``SamOnnxModel``: inputs ``image_embeddings``,
``point_coords``, ``point_labels``, ``mask_input``, ``has_mask_input``, ``orig_im_size``; outputs
``masks`` full-resolution logits, ``iou_predictions``, ``low_res_masks``). Decoders exported with
one output mask and with several (3 or 4) are both supported.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.errors import ModelError
from segtool.engines import sam_common as sc
from segtool.engines import sam_interactive
from segtool.engines.base import Candidate, Prompt
from segtool.engines.devices import onnx_providers
from segtool.engines.embeddings import EmbeddingCache, default_cache, embedding_key

_ENCODER_INPUTS = {"input"}
_DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input",
                   "orig_im_size"}


def _file_id(path: Path) -> str:
    """sha256 prefix of a file (content identity for cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _open_session(path: Path, providers: list[str], threads: int | None, role: str):
    import onnxruntime as ort  # noqa: PLC0415

    if not path.is_file():
        raise ModelError(f"SAM {role} not found: {path}. A SAM ONNX model folder must hold encoder.onnx and "
                         "decoder.onnx (see `segtool models list`)")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
        raise ModelError(f"cannot load {path} as an ONNX model ({type(exc).__name__}: {str(exc)[:200]}); "
                         "the file is corrupt, truncated or not ONNX: download it again") from None


class SamOnnxEngine:
    """Segment Anything on onnxruntime.

    Parameters
    ----------
    model : folder with ``encoder.onnx`` and ``decoder.onnx``.
    device : None (CUDA provider when available, else CPU), ``"cpu"`` or ``"cuda"``.
    threads : intra-op threads of each session (None: onnxruntime's default).
    cache : an :class:`EmbeddingCache`, True for the process-wide one, False/None for no cache.
    """

    name = "sam-onnx"

    def __init__(self, model: str | Path | None = None, device: str | None = None, threads: int | None = None,
                 cache: EmbeddingCache | bool | None = True) -> None:
        if model is None:
            raise ModelError("sam-onnx needs a model folder (encoder.onnx + decoder.onnx): pass --model DIR or "
                             "install one with `segtool models add DIR`")
        self.model_dir = Path(model)
        if not self.model_dir.is_dir():
            raise ModelError(f"{self.model_dir} is not a folder; sam-onnx needs a folder holding encoder.onnx "
                             "and decoder.onnx")
        providers = onnx_providers(device)
        self.encoder = _open_session(self.model_dir / "encoder.onnx", providers, threads, "encoder")
        self.decoder = _open_session(self.model_dir / "decoder.onnx", providers, threads, "decoder")
        self._check_signatures()
        self.providers = self.encoder.get_providers()
        self.model_id = "onnx-" + _file_id(self.model_dir / "encoder.onnx")
        self.cache = default_cache() if cache is True else (cache or None)
        #: how a click is answered (:class:`segtool.engines.sam_interactive.InteractiveOptions`)
        self.interactive = sam_interactive.InteractiveOptions()

    def _check_signatures(self) -> None:
        enc = {i.name for i in self.encoder.get_inputs()}
        dec = {i.name for i in self.decoder.get_inputs()}
        if enc != _ENCODER_INPUTS or not _DECODER_INPUTS <= dec:
            raise ModelError(
                f"{self.model_dir} does not hold a SAM encoder/decoder pair: encoder inputs {sorted(enc)}, decoder "
                f"inputs {sorted(dec)}; expected encoder input 'input' and decoder inputs {sorted(_DECODER_INPUTS)} "
                "(segment-anything's ONNX export); are encoder.onnx and decoder.onnx swapped?")
        self._encoder_input = self.encoder.get_inputs()[0].name

    # -- prepare --------------------------------------------------------------------------------
    def encode(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int], float]:
        """Run the encoder: ``(embedding float32 (1, 256, 64, 64), input_size (h, w), scale)``."""
        tensor, input_size, scale = sc.preprocess(image)
        embedding = self.encoder.run(None, {self._encoder_input: tensor})[0]
        return np.asarray(embedding, np.float32), input_size, scale

    def prepare(self, image: np.ndarray, *, content_hash: str | None = None) -> sc.SamContext:
        """Embed an RGB uint8 ``(H, W, 3)`` image (through the embedding cache).

        ``content_hash`` (e.g. :attr:`ImageRecord.content_hash`) saves hashing the pixels.
        """
        image = sc.as_rgb(image)
        orig = image.shape[:2]
        input_size = sc.resized_shape(*orig)
        scale = sc.INPUT_SIZE / max(orig)
        if self.cache is None:
            embedding, hit = self.encode(image)[0], False
        else:
            key = embedding_key(content_hash or sc.image_hash(image), self.model_id, sc.PREPROCESS_VERSION)
            embedding, hit = self.cache.get_or_compute(key, lambda: self.encode(image)[0])
        return sc.SamContext(embedding, orig, input_size, scale, self.model_id, hit, image=image)

    # -- predict --------------------------------------------------------------------------------
    def _run_decoder(self, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
                     mask_logits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        has_mask = mask_logits is not None
        mask_input = (np.asarray(mask_logits, np.float32).reshape(1, 1, sc.LOW_RES, sc.LOW_RES) if has_mask
                      else np.zeros((1, 1, sc.LOW_RES, sc.LOW_RES), np.float32))
        feeds = {"image_embeddings": context.embedding, "point_coords": coords.astype(np.float32),
                 "point_labels": labels.astype(np.float32), "mask_input": mask_input,
                 "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32),
                 "orig_im_size": np.array(context.orig_size, np.float32)}
        masks, scores, low_res = self.decoder.run(["masks", "iou_predictions", "low_res_masks"], feeds)
        return masks[0], scores[0], low_res[0]

    def predict(self, context: sc.SamContext, prompt: Prompt, *, multimask: bool = False) -> list[Candidate]:
        """Masks for ``prompt``: bool ``(H, W)`` masks with their ``(256, 256)`` logits, best first.

        Raises
        ------
        PromptError
            Empty prompt, a click or box outside the image, logits of the wrong shape.
        """
        sc.validate_prompt(prompt, context.orig_size)
        if not self.interactive.raw:  # segtool's click policy (issue 15); raw = SAM's output as is
            return sam_interactive.predict(self, context, prompt, multimask=multimask, options=self.interactive)
        coords, labels = sc.encode_prompt_points(prompt, context.orig_size)
        masks, scores, low_res = self._run_decoder(context, coords, labels, prompt.mask_logits)
        keep = sc.select_outputs(scores, coords.shape[1], multimask)
        return [Candidate(mask=masks[i] > 0.0, score=float(scores[i]),
                          low_res_logits=np.array(low_res[i], np.float32)) for i in keep]

    def predict_points_batch(self, context: sc.SamContext, points_xy: np.ndarray,
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode many single positive clicks against one prepared image (automatic proposals).

        This decoder export has a fixed batch of 1, so the clicks run one after another; only the
        low-res logits are upscaled by the caller when needed.

        Parameters
        ----------
        points_xy : float ``(N, 2)`` ``(x, y)`` pixels of the original image.

        Returns
        -------
        masks_logits : float32 ``(N, C, H, W)`` full-resolution logits (object where > 0).
        iou_scores : float32 ``(N, C)`` predicted IoU.
        low_res : float32 ``(N, C, 256, 256)`` low-res logits.
        """
        points_xy = np.asarray(points_xy, np.float32).reshape(-1, 2)
        outs = []
        for x, y in points_xy:
            coords, labels = sc.encode_prompt_points(Prompt(points=[[x, y]], labels=[1]), context.orig_size)
            masks, scores, low_res = self._run_decoder(context, coords, labels, None)
            outs.append((masks, scores, low_res))
        if not outs:
            h, w = context.orig_size
            return (np.zeros((0, 1, h, w), np.float32), np.zeros((0, 1), np.float32),
                    np.zeros((0, 1, sc.LOW_RES, sc.LOW_RES), np.float32))
        return tuple(np.stack([o[k] for o in outs]).astype(np.float32) for k in range(3))  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """Model folder, id and execution providers (for benchmarks and ``doctor``)."""
        return {"engine": self.name, "model": str(self.model_dir), "model_id": self.model_id,
                "providers": list(self.providers), "time": time.time()}
