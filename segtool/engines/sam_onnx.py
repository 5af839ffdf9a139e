"""SAM on onnxruntime: any encoder/decoder ONNX pair in segment-anything's export format.

A model directory holds ``encoder.onnx`` (``(1, 3, 1024, 1024)`` float32 -> ``(1, 256, 64, 64)``)
and ``decoder.onnx`` (segment-anything's ``SamOnnxModel``: inputs ``image_embeddings``,
``point_coords``, ``point_labels``, ``mask_input``, ``has_mask_input``, ``orig_im_size``; outputs
``masks`` full-resolution logits, ``iou_predictions``, ``low_res_masks``). Decoders exported with
one output mask and with several (3 or 4) are both supported; from a one-mask export all of the mask
decoder's 4 outputs are taken (before the export's selection), so ``multimask=True`` offers SAM's 3
alternatives on this backend too, and ``multimask=False`` picks what the export would have picked.

The decoder runs as its low-res variant (:func:`segtool.engines.onnx_variants.low_res_decoder`: the
graph cut before its full-resolution upsampling, built once and cached), and masks are upscaled only
around the object (:mod:`segtool.engines.sam_upscale`), so a click costs the same on a 1 MP and a
48 MP image. The steps are public so that mask post-processing can sit between them:
:meth:`SamOnnxEngine.decode_low_res` -> low-res logits + scores, then
:func:`segtool.engines.sam_common.candidate_from_low_res` -> a crop candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.errors import ModelError
from segtool.engines import onnx_variants, sam_interactive, sam_upscale
from segtool.engines import sam_common as sc
from segtool.engines.base import Candidate, Prompt
from segtool.engines.devices import onnx_providers
from segtool.engines.embeddings import EmbeddingCache, default_cache, embedding_key
from segtool.engines.models import sha256_file

_ENCODER_INPUTS = {"input"}
_DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input",
                   "orig_im_size"}
_DECODER_OUTPUTS = {"masks", "iou_predictions", "low_res_masks"}
#: The decoder's ``mask_input`` when there is no previous mask (read only: onnxruntime does not write inputs).
_NO_MASK_INPUT = np.zeros((1, 1, sc.LOW_RES, sc.LOW_RES), np.float32)
_NO_MASK_INPUT.setflags(write=False)
#: Point prompts per decoder call in :meth:`SamOnnxEngine.decode_points` (a CPU gains nothing from more).
CPU_POINT_BATCH, CUDA_POINT_BATCH = 1, 64


def _open_session(path: Path | bytes, providers: list[str], threads: int | None, role: str):
    """An onnxruntime session of a model file (or of a derived model's bytes)."""
    import onnxruntime as ort  # noqa: PLC0415

    if isinstance(path, Path) and not path.is_file():
        raise ModelError(f"SAM {role} not found: {path}. A SAM ONNX model folder must hold encoder.onnx and "
                         "decoder.onnx (see `segtool models list`)")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        model = path if isinstance(path, bytes) else str(path)
        return ort.InferenceSession(model, sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several unrelated types
        where = f"the {role}" if isinstance(path, bytes) else str(path)
        raise ModelError(f"cannot load {where} as an ONNX model ({type(exc).__name__}: {str(exc)[:200]}); "
                         "the file is corrupt, truncated or not ONNX: download it again") from None


def default_encoder(providers: list[str]) -> str:
    """The encoder precision used when none is asked for: int8 on the CPU, the installed fp32 on CUDA.

    Measured on the GrabCut set with the shared MobileSAM pair (2-core CPU): the int8 encoder takes
    0.74x the fp32 time, NoC@85 and NoC@90 unchanged (2.09 / 2.36), mIoU after 5 clicks 0.944 against
    0.955 (the issue's rule: default only if NoC@90 gets worse by less than 0.1).
    """
    return "fp32" if "CUDAExecutionProvider" in providers else "int8"


#: The encoder of proposal jobs: fp32. There the decoder takes ~95 % of the time, so int8 saves little,
#: and on the GrabCut set its embeddings cost 0.016 best-proposal IoU (0.815 against 0.831, 16x16).
PROPOSALS_ENCODER = "fp32"


class SamOnnxEngine:
    """Segment Anything on onnxruntime.

    Parameters
    ----------
    model : folder with ``encoder.onnx`` and ``decoder.onnx``.
    device : None (CUDA provider when available, else CPU), ``"cpu"`` or ``"cuda"``.
    threads : intra-op threads of each session (None: onnxruntime's default).
    cache : an :class:`EmbeddingCache`, True for the process-wide one, False/None for no cache.
    encoder : ``"fp32"`` (the model as installed), ``"int8"`` (its int8 variant, built once with
        onnxruntime's quantizer and cached), or None for :func:`default_encoder` (int8 on the CPU; the
        first start quantizes, some seconds).
    """

    name = "sam-onnx"

    def __init__(self, model: str | Path | None = None, device: str | None = None, threads: int | None = None,
                 cache: EmbeddingCache | bool | None = True, encoder: str | None = None) -> None:
        if model is None:
            raise ModelError("sam-onnx needs a model folder (encoder.onnx + decoder.onnx): pass --model DIR or "
                             "install one with `segtool models add DIR`")
        self.model_dir = Path(model)
        if not self.model_dir.is_dir():
            raise ModelError(f"{self.model_dir} is not a folder; sam-onnx needs a folder holding encoder.onnx "
                             "and decoder.onnx")
        self._providers_wanted, self._threads = onnx_providers(device), threads
        asked, encoder = encoder, encoder or default_encoder(self._providers_wanted)
        if encoder not in ("fp32", "int8"):
            raise ModelError(f"unknown encoder precision {encoder!r}; use fp32 or int8")
        enc_path, dec_path = self.model_dir / "encoder.onnx", self.model_dir / "decoder.onnx"
        self.encoder = _open_session(enc_path, self._providers_wanted, threads, "encoder")
        self._full_decoder = _open_session(dec_path, self._providers_wanted, threads, "decoder")
        self._check_signatures()
        enc_hash = sha256_file(enc_path)
        self.encoder_precision = encoder
        if encoder == "int8":
            try:
                self.encoder = _open_session(onnx_variants.int8_encoder(enc_path, enc_hash), self._providers_wanted,
                                             threads, "int8 encoder")
            except ModelError:
                if asked:  # asked for by name: say why not
                    raise
                self.encoder_precision = "fp32"  # the default only: this model does not quantize, keep fp32
        self.decoder = _open_session(onnx_variants.low_res_decoder(dec_path, sha256_file(dec_path)),
                                     self._providers_wanted, threads, "low-res decoder")
        self.providers = self.encoder.get_providers()
        self.point_batch = CUDA_POINT_BATCH if "CUDAExecutionProvider" in self.providers else CPU_POINT_BATCH
        self.model_id = "onnx-" + enc_hash[:16] + ("-int8" if self.encoder_precision == "int8" else "")
        self.cache = default_cache() if cache is True else (cache or None)
        #: how a click is answered (:class:`segtool.engines.sam_interactive.InteractiveOptions`)
        self.interactive = sam_interactive.InteractiveOptions()
        sam_upscale.start_warm_up()  # the compiled crop writer, before the first click needs it

    @property
    def full_decoder(self):
        """The decoder session as exported (full-resolution ``masks`` output); the legacy proposal path."""
        return self._full_decoder

    def _check_signatures(self) -> None:
        enc = {i.name for i in self.encoder.get_inputs()}
        dec = {i.name for i in self._full_decoder.get_inputs()}
        outputs = {o.name for o in self._full_decoder.get_outputs()}
        if enc == _ENCODER_INPUTS and _DECODER_INPUTS <= dec and not _DECODER_OUTPUTS <= outputs:
            raise ModelError(f"{self.model_dir / 'decoder.onnx'} lacks the outputs {sorted(_DECODER_OUTPUTS - outputs)} "
                             "of segment-anything's ONNX export")
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

        ``content_hash`` (e.g. :attr:`ImageRecord.content_hash`) saves hashing the pixels; without it
        the pixels are hashed once per array (:func:`sam_common.content_key`).
        """
        rgb = sc.as_rgb(image)
        orig = rgb.shape[:2]
        if self.cache is None:
            embedding, hit = self.encode(rgb)[0], False
        else:
            key = embedding_key(sc.content_key(image, content_hash), self.model_id, sc.PREPROCESS_VERSION)
            embedding, hit = self.cache.get_or_compute(key, lambda: self.encode(rgb)[0])
        return sc.SamContext(embedding, orig, sc.resized_shape(*orig), sc.INPUT_SIZE / max(orig), self.model_id, hit,
                             image=image)

    # -- predict --------------------------------------------------------------------------------
    def _feeds(self, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
               mask_logits: np.ndarray | None) -> dict[str, np.ndarray]:
        has_mask = mask_logits is not None
        mask_input = (np.asarray(mask_logits, np.float32).reshape(1, 1, sc.LOW_RES, sc.LOW_RES) if has_mask
                      else _NO_MASK_INPUT)
        return {"image_embeddings": context.embedding, "point_coords": np.asarray(coords, np.float32),
                "point_labels": np.asarray(labels, np.float32), "mask_input": mask_input,
                "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32)}

    def decode_points(self, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
                      mask_logits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The low-res decoder on ``B`` sparse prompts (``point_batch`` per call).

        Parameters
        ----------
        coords : float32 ``(B, N, 2)`` model-input coordinates (:func:`sam_common.encode_prompt_points`).
        labels : float32 ``(B, N)``.
        mask_logits : optional float32 ``(256, 256)`` previous logits, shared by all ``B`` prompts.

        Returns
        -------
        low_res : float32 ``(B, C, 256, 256)`` logits; iou : float32 ``(B, C)`` predicted IoUs.
        """
        lows, ious = [], []
        for start in range(0, len(coords), self.point_batch):
            feeds = self._feeds(context, coords[start:start + self.point_batch],
                                labels[start:start + self.point_batch], mask_logits)
            iou, low = self.decoder.run(list(onnx_variants.LOW_RES_OUTPUTS), feeds)
            lows.append(low)
            ious.append(iou)
        if not lows:
            return np.zeros((0, 1, sc.LOW_RES, sc.LOW_RES), np.float32), np.zeros((0, 1), np.float32)
        if len(lows) == 1:  # one call (a click): no 1 MB copy of the logits
            return lows[0].astype(np.float32, copy=False), ious[0].astype(np.float32, copy=False)
        return np.concatenate(lows).astype(np.float32, copy=False), np.concatenate(ious).astype(np.float32, copy=False)

    def decode_low_res(self, context: sc.SamContext, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
        """Low-res logits float32 ``(C, 256, 256)`` and predicted IoUs ``(C,)`` for one prompt.

        Raises
        ------
        PromptError
            Empty prompt, a click or box outside the image, logits of the wrong shape.
        """
        sc.validate_prompt(prompt, context.orig_size)
        coords, labels = sc.encode_prompt_points(prompt, context.orig_size)
        low, iou = self.decode_points(context, coords, labels, prompt.mask_logits)
        return low[0], iou[0]

    def predict(self, context: sc.SamContext, prompt: Prompt, *, multimask: bool = False) -> list[Candidate]:
        """Crop candidates for ``prompt`` with their ``(256, 256)`` logits, best first.

        Raises
        ------
        PromptError
            Empty prompt, a click or box outside the image, logits of the wrong shape.
        """
        if not self.interactive.raw:  # segtool's click policy (issue 15); raw = SAM's output as is
            sc.validate_prompt(prompt, context.orig_size)
            return sam_interactive.predict(self, context, prompt, multimask=multimask, options=self.interactive)
        low, iou = self.decode_low_res(context, prompt)
        return sc.candidates_from_decoder(low, iou, context, sc.sparse_count(prompt), multimask)

    def decoder_call(self, context: sc.SamContext, prompt: Prompt) -> Callable[[], object]:
        """The bare low-res decoder call for ``prompt``, inputs built once (benchmarks time it against predict)."""
        coords, labels = sc.encode_prompt_points(prompt, context.orig_size)
        feeds = self._feeds(context, coords, labels, prompt.mask_logits)
        outputs = list(onnx_variants.LOW_RES_OUTPUTS)
        return lambda: self.decoder.run(outputs, feeds)

    def predict_points_batch(self, context: sc.SamContext, points_xy: np.ndarray, *, upscale: bool = True,
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode many single positive clicks against one prepared image.

        Parameters
        ----------
        points_xy : float ``(N, 2)`` ``(x, y)`` pixels of the original image.
        upscale : also return full-resolution logits (else ``masks_logits`` is ``(N, C, 0, 0)``).

        Returns
        -------
        masks_logits : float32 ``(N, C, H, W)`` full-resolution logits (object where > 0): SAM's 3
            multi-mask outputs (``C = 3``) for a standard export, else all of the decoder's outputs.
        iou_scores : float32 ``(N, C)`` predicted IoU.
        low_res : float32 ``(N, C, 256, 256)`` low-res logits.
        """
        points_xy = np.asarray(points_xy, np.float32).reshape(-1, 2)
        coords, labels = sc.single_point_prompts(points_xy, context.orig_size)
        low, iou = self.decode_points(context, coords, labels)
        if low.shape[1] == 4:  # output 0 is for several clicks; one click takes the multi-mask ones
            low, iou = low[:, 1:], iou[:, 1:]
        if not upscale:
            return np.zeros((*iou.shape, 0, 0), np.float32), iou, low
        full = np.array([[sc.upscale_logits(m, context.input_size, context.orig_size) for m in per] for per in low],
                        np.float32).reshape(*iou.shape, *context.orig_size)
        return full, iou, low

    def describe(self) -> dict[str, Any]:
        """Model folder, id and execution providers (for benchmarks and ``doctor``)."""
        return {"engine": self.name, "model": str(self.model_dir), "model_id": self.model_id,
                "providers": list(self.providers), "encoder": self.encoder_precision, "time": time.time()}
