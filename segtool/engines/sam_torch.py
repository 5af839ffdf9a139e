"""SAM on PyTorch: segment-anything checkpoints (vit_h, vit_l, vit_b) and MobileSAM's vit_t.

The device is chosen automatically (cuda, then mps, then cpu; see :mod:`segtool.engines.devices`)
and can be overridden. On CUDA the encoder and decoder run under autocast (bfloat16 where the GPU
supports it, else float16); outputs are always float32. Checkpoints are data, not code: they are
read with ``torch.load(..., weights_only=True)``.

Pre/post-processing and the sparse prompt embedding are the ones of segment-anything's ONNX export
(:mod:`segtool.engines.sam_common`), so this backend and :mod:`segtool.engines.sam_onnx` agree. As
there, the decoder stops at its low-res logits (``postprocess_masks`` is never called on the click
path) and masks are upscaled only around the object: :meth:`SamTorchEngine.decode_low_res`, then
:func:`segtool.engines.sam_common.candidate_from_low_res`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.errors import ModelError
from segtool.engines import sam_common as sc
from segtool.engines import sam_interactive, sam_upscale
from segtool.engines.base import Candidate, Prompt
from segtool.engines.devices import torch_device
from segtool.engines.embeddings import EmbeddingCache, default_cache, embedding_key

MODEL_TYPES = ("vit_h", "vit_l", "vit_b", "vit_t")
_VIT_WIDTH = {1280: "vit_h", 1024: "vit_l", 768: "vit_b"}
#: Keys a checkpoint may lack (TinyViT's unused classification head).
_OPTIONAL_PREFIXES = ("image_encoder.head.", "image_encoder.norm_head.")


def guess_model_type(state: dict[str, Any]) -> str:
    """``vit_h``/``vit_l``/``vit_b``/``vit_t`` from a state_dict's keys and shapes; ModelError if not SAM."""
    if any(k.startswith("image_encoder.patch_embed.seq.") for k in state):
        return "vit_t"
    weight = state.get("image_encoder.patch_embed.proj.weight")
    if weight is not None and int(weight.shape[0]) in _VIT_WIDTH:
        return _VIT_WIDTH[int(weight.shape[0])]
    raise ModelError("this checkpoint is not a Segment Anything model (no SAM image encoder weights found); "
                     "use an official sam_vit_*.pth or mobile_sam.pt (see `segtool models list`)")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state_dict of a ``.pt``/``.pth`` file, read with ``weights_only=True``."""
    import torch  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint not found: {path}; download one with `segtool models download vit_b` "
                         "or pass the path of a sam_vit_*.pth / mobile_sam.pt file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many unrelated types for bad files
        detail = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
        if "Weights only load failed" in detail:
            raise ModelError(f"cannot read {path} as a PyTorch checkpoint: it holds code or objects, not only "
                             "weights, and segtool loads weights only (torch.load(weights_only=True))") from None
        raise ModelError(f"cannot read {path} as a PyTorch checkpoint ({type(exc).__name__}: {detail[:160]}); "
                         "the file is truncated, corrupt or of another kind: download it again") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise ModelError(f"{path} holds no state_dict of tensors; expected a SAM checkpoint")
    return state


def build_model(model_type: str):
    """An untrained (random weights) SAM network of ``model_type``."""
    if model_type not in MODEL_TYPES:
        raise ModelError(f"unknown SAM model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}")
    if model_type == "vit_t":
        try:
            from mobile_sam import sam_model_registry  # noqa: PLC0415
        except ImportError as exc:
            raise ModelError("vit_t (MobileSAM) needs the mobile_sam package: pip install mobilesam-mirror timm "
                             f"({exc})") from None
    else:
        from segment_anything import sam_model_registry  # noqa: PLC0415
    return sam_model_registry[model_type](checkpoint=None)


def verify_checkpoint(path: Path, model_type: str | None = None) -> str:
    """The SAM type of checkpoint ``path`` after checking every weight against that network (built on
    the ``meta`` device: no memory, no random init); :class:`ModelError` otherwise."""
    import torch  # noqa: PLC0415

    state = load_checkpoint(Path(path))
    kind = model_type or guess_model_type(state)
    try:
        with torch.device("meta"):
            net = build_model(kind)
    except RuntimeError:  # TinyViT (vit_t) reads tensor values while it is built; it is small
        net = build_model(kind)
    _shapes_match(net, state, Path(path))
    missing = [k for k in net.state_dict() if k not in state and not k.startswith(_OPTIONAL_PREFIXES)]
    if missing:
        raise ModelError(f"{path} lacks {len(missing)} weights of a SAM {kind} model (e.g. {missing[0]}); the "
                         "checkpoint is incomplete or of another model type (--model-type)")
    return kind


class SamTorchEngine:
    """Segment Anything on PyTorch.

    Parameters
    ----------
    model : checkpoint path (``.pt``/``.pth`` state_dict); None only with ``random_weights``.
    model_type : ``vit_h``/``vit_l``/``vit_b``/``vit_t``; guessed from the checkpoint when None.
    device : ``cuda``/``cuda:N``/``mps``/``cpu``; automatic when None.
    cache : an :class:`EmbeddingCache`, True for the process-wide one, False/None for none.
    random_weights : build ``model_type`` untrained (for timing on a GPU without downloads).
    precision : ``"auto"`` (autocast bf16/fp16 on CUDA, fp32 elsewhere) or ``"fp32"``.
    """

    name = "sam-torch"

    def __init__(self, model: str | Path | None = None, model_type: str | None = None, device: str | None = None,
                 cache: EmbeddingCache | bool | None = True, random_weights: bool = False,
                 precision: str = "auto") -> None:
        import torch  # noqa: PLC0415

        choice = torch_device(device)
        self.device = torch.device(choice.device)
        self.device_reason = choice.reason
        if model is None and not random_weights:
            raise ModelError("sam-torch needs a checkpoint: pass --model PATH (e.g. sam_vit_b_01ec64.pth) or "
                             "download one with `segtool models download vit_b`")
        if random_weights:
            self.model_type = model_type or "vit_b"
            net = build_model(self.model_type)
            self.model_id = f"torch-{self.model_type}-random"
        else:
            state = load_checkpoint(Path(model))
            self.model_type = model_type or guess_model_type(state)
            net = build_model(self.model_type)
            self._load_state(net, state, Path(model))
            self.model_id = f"torch-{self.model_type}-{_state_id(state)}"
        self.net = net.eval().to(self.device)
        self.autocast_dtype = None
        if precision == "auto" and self.device.type == "cuda":
            self.autocast_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.cache = default_cache() if cache is True else (cache or None)
        #: how a click is answered (:class:`segtool.engines.sam_interactive.InteractiveOptions`)
        self.interactive = sam_interactive.InteractiveOptions()
        sam_upscale.start_warm_up()  # the compiled crop writer, before the first click needs it

    @staticmethod
    def _load_state(net, state: dict[str, Any], path: Path) -> None:
        result = net.load_state_dict(state, strict=False) if _shapes_match(net, state, path) else None
        missing = [k for k in result.missing_keys if not k.startswith(_OPTIONAL_PREFIXES)] if result else []
        if missing:
            raise ModelError(f"{path} lacks {len(missing)} weights of this SAM model (e.g. {missing[0]}); "
                             "the checkpoint is incomplete or of another model type (--model-type)")

    # -- helpers ------------------------------------------------------------------------------
    def _autocast(self):
        import contextlib  # noqa: PLC0415

        import torch  # noqa: PLC0415

        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def encode(self, image: np.ndarray) -> np.ndarray:
        """Run the image encoder: float32 ``(1, 256, 64, 64)``."""
        import torch  # noqa: PLC0415

        tensor, _, _ = sc.preprocess(image)
        with torch.inference_mode(), self._autocast():
            out = self.net.image_encoder(torch.from_numpy(tensor).to(self.device))
        return out.float().cpu().numpy()

    def prepare(self, image: np.ndarray, *, content_hash: str | None = None) -> sc.SamContext:
        """Embed an RGB uint8 ``(H, W, 3)`` image (through the embedding cache).

        ``content_hash`` (e.g. :attr:`ImageRecord.content_hash`) saves hashing the pixels.
        """
        rgb = sc.as_rgb(image)
        orig = rgb.shape[:2]
        if self.cache is None:
            embedding, hit = self.encode(rgb), False
        else:
            key = embedding_key(sc.content_key(image, content_hash), self.model_id, sc.PREPROCESS_VERSION)
            embedding, hit = self.cache.get_or_compute(key, lambda: self.encode(rgb))
        return sc.SamContext(embedding, orig, sc.resized_shape(*orig), sc.INPUT_SIZE / max(orig), self.model_id, hit,
                             image=image)

    def _decode(self, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
                mask_logits: np.ndarray | None):
        """Raw decoder: coords ``(B, N, 2)`` model-input pixels -> (low-res ``(B, 4, 256, 256)``, iou ``(B, 4)``) tensors."""
        import torch  # noqa: PLC0415

        pe = self.net.prompt_encoder
        dev = self.device
        with torch.inference_mode(), self._autocast():
            pts = (torch.from_numpy(np.asarray(coords, np.float32)).to(dev) + 0.5) / sc.INPUT_SIZE
            lab = torch.from_numpy(np.asarray(labels, np.float32)).to(dev).unsqueeze(-1)
            sparse = pe.pe_layer._pe_encoding(pts) * (lab != -1) + pe.not_a_point_embed.weight * (lab == -1)
            for i in range(pe.num_point_embeddings):
                sparse = sparse + pe.point_embeddings[i].weight * (lab == i)
            if mask_logits is not None:
                m = torch.from_numpy(np.asarray(mask_logits, np.float32).reshape(1, 1, sc.LOW_RES, sc.LOW_RES))
                dense = pe.mask_downscaling(m.to(dev))
            else:
                dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, *pe.image_embedding_size)
            emb = torch.from_numpy(context.embedding).to(dev)
            low, iou = self.net.mask_decoder.predict_masks(emb, pe.get_dense_pe(), sparse, dense)
        return low.float(), iou.float()

    def decode_points(self, context: sc.SamContext, coords: np.ndarray, labels: np.ndarray,
                      mask_logits: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The decoder on ``B`` sparse prompts in one batched call, stopping at the low-res logits.

        Parameters
        ----------
        coords : float32 ``(B, N, 2)`` model-input coordinates; labels : float32 ``(B, N)``.
        mask_logits : optional float32 ``(256, 256)`` previous logits, shared by all ``B`` prompts.

        Returns
        -------
        low_res : float32 ``(B, 4, 256, 256)`` (output 0 single-mask, 1..3 multi-mask); iou : ``(B, 4)``.
        """
        if len(coords) == 0:
            return np.zeros((0, 4, sc.LOW_RES, sc.LOW_RES), np.float32), np.zeros((0, 4), np.float32)
        low, iou = self._decode(context, coords, labels, mask_logits)
        return low.cpu().numpy(), iou.cpu().numpy()

    def decode_low_res(self, context: sc.SamContext, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
        """Low-res logits float32 ``(4, 256, 256)`` and predicted IoUs ``(4,)`` for one prompt."""
        sc.validate_prompt(prompt, context.orig_size)
        coords, labels = sc.encode_prompt_points(prompt, context.orig_size)
        low, iou = self.decode_points(context, coords, labels, prompt.mask_logits)
        return low[0], iou[0]

    # -- predict ------------------------------------------------------------------------------
    def predict(self, context: sc.SamContext, prompt: Prompt, *, multimask: bool = False) -> list[Candidate]:
        """Crop candidates for ``prompt`` with their ``(256, 256)`` logits, best first.

        ``multimask=True`` returns SAM's 3 candidates sorted by predicted IoU.
        """
        sc.validate_prompt(prompt, context.orig_size)
        if not self.interactive.raw:  # segtool's click policy (issue 15); raw = SAM's output as is
            return sam_interactive.predict(self, context, prompt, multimask=multimask, options=self.interactive)
        low, iou = self.decode_low_res(context, prompt)
        return sc.candidates_from_decoder(low, iou, context, sc.sparse_count(prompt), multimask)

    def decoder_call(self, context: sc.SamContext, prompt: Prompt) -> Callable[[], object]:
        """The bare decoder call to the low-res logits on the host (benchmarks time it against predict)."""
        coords, labels = sc.encode_prompt_points(prompt, context.orig_size)

        def call() -> object:
            low, iou = self._decode(context, coords, labels, prompt.mask_logits)
            return low.cpu(), iou.cpu()
        return call

    def predict_points_batch(self, context: sc.SamContext, points_xy: np.ndarray, *, upscale: bool = True,
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode N single positive clicks against one prepared image in one batched call.

        Parameters
        ----------
        points_xy : float ``(N, 2)`` ``(x, y)`` pixels of the original image.
        upscale : also return full-resolution logits (else ``masks_logits`` is empty ``(N, 3, 0, 0)``).

        Returns
        -------
        masks_logits : float32 ``(N, 3, H, W)`` full-resolution logits of SAM's 3 multi-mask outputs.
        iou_scores : float32 ``(N, 3)`` predicted IoU.
        low_res : float32 ``(N, 3, 256, 256)``.
        """
        coords, labels = sc.single_point_prompts(points_xy, context.orig_size)
        low, iou = self.decode_points(context, coords, labels)
        low, iou = low[:, 1:], iou[:, 1:]
        n = len(low)
        if not (upscale and n):
            return np.zeros((n, 3, 0, 0), np.float32), iou, low
        full = np.array([[sc.upscale_logits(m, context.input_size, context.orig_size) for m in per] for per in low],
                        np.float32)
        return full, iou, low


def _shapes_match(net, state: dict[str, Any], path: Path) -> bool:
    own = net.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise ModelError(f"{path}: weight {key} has shape {tuple(value.shape)}, the model expects "
                             f"{tuple(own[key].shape)}; wrong --model-type for this checkpoint?")
    return True


def _state_id(state: dict[str, Any]) -> str:
    """A short content id of a state_dict (hash of a few tensors' bytes and all key names)."""
    digest = hashlib.sha256(",".join(sorted(state)).encode())
    for key in sorted(state)[:8]:
        digest.update(np.ascontiguousarray(state[key].float().numpy()).tobytes()[:65536])
    return digest.hexdigest()[:16]
