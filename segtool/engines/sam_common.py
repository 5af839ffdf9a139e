"""SAM pre- and post-processing shared by the ONNX and PyTorch backends (numpy + OpenCV only).

Both backends go through exactly these functions, so that they see the same input tensor and the
same prompt coordinates; only the network runtime differs.

Conventions: images are RGB uint8 ``(H, W, 3)``; points ``(x, y)`` pixels of the original image;
boxes XYXY; the model input is float32 NCHW ``(1, 3, 1024, 1024)``; low-res logits ``(256, 256)``.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from segtool.core.errors import PromptError
from segtool.engines.base import Candidate, Prompt, check_prompt_inside
from segtool.engines.sam_upscale import mask_crop

#: Side of the square model input.
INPUT_SIZE = 1024
#: Side of the low-resolution mask logits.
LOW_RES = 256
PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
#: Bump when :func:`preprocess` changes: it is part of every embedding cache key.
PREPROCESS_VERSION = "sam-pre-1"


@dataclass
class SamContext:
    """A prepared image: what ``predict`` needs, and nothing of the image itself.

    Attributes
    ----------
    embedding : float32 ``(1, 256, 64, 64)`` image embedding.
    orig_size : ``(H, W)`` of the original image.
    input_size : ``(h, w)`` of the resized image inside the 1024x1024 input (before padding).
    scale : ``1024 / max(H, W)``.
    model_id : id of the model that computed the embedding.
    cache_hit : True when the embedding came from the embedding cache.
    image : the RGB uint8 ``(H, W, 3)`` image itself (a reference, not a copy), for work that needs
        pixels after ``prepare``: zoom-in crops and edge refinement
        (:mod:`segtool.engines.sam_interactive`). None where the caller did not keep it.
    """

    embedding: np.ndarray
    orig_size: tuple[int, int]
    input_size: tuple[int, int]
    scale: float
    model_id: str
    cache_hit: bool = False
    image: np.ndarray | None = field(default=None, repr=False, compare=False)


def resized_shape(height: int, width: int, long_side: int = INPUT_SIZE) -> tuple[int, int]:
    """``(h, w)`` after resizing so that the longest side is ``long_side`` (SAM's rounding, but never 0:
    a 1x5000 image becomes 1x1024, where segment-anything would ask OpenCV for a 0-pixel side)."""
    scale = long_side / max(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def preprocess(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int], float]:
    """SAM input for an RGB image.

    Parameters
    ----------
    image : uint8 ``(H, W, 3)`` RGB (gray ``(H, W)`` and RGBA are converted).

    Returns
    -------
    tensor : float32 ``(1, 3, 1024, 1024)``: resized (longest side 1024, bilinear), normalised
        with SAM's mean/std, zero-padded bottom/right.
    input_size : ``(h, w)`` of the resized image.
    scale : ``1024 / max(H, W)``.
    """
    image = as_rgb(image)
    height, width = image.shape[:2]
    h, w = resized_shape(height, width)
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR) if (h, w) != (height, width) else image
    norm = (resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    tensor = np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    tensor[0, :, :h, :w] = norm.transpose(2, 0, 1)
    return tensor, (h, w), INPUT_SIZE / max(height, width)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` from gray ``(H, W)``, RGB or RGBA input; :class:`PromptError` otherwise."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise PromptError(f"expected an RGB image (H, W, 3), got an array of shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, :3])


def image_hash(image: np.ndarray) -> str:
    """Content hash of a pixel array (blake2b of shape + bytes), for embedding cache keys."""
    image = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((image.shape, image.dtype.str)).encode())
    digest.update(memoryview(image).cast("B"))
    return digest.hexdigest()


_hash_memo: dict[int, tuple[weakref.ref, tuple, str]] = {}
_hash_lock = threading.Lock()


def _fingerprint(image: np.ndarray) -> tuple:
    """Cheap identity of an array's buffer: address, shape, strides and ~4096 sampled values."""
    flat = image.reshape(-1) if image.flags.c_contiguous else np.ascontiguousarray(image[::64, ::64]).reshape(-1)
    step = max(1, flat.size // 4096)
    return (image.__array_interface__["data"][0], image.shape, image.strides, flat[::step].tobytes())


def content_key(image: np.ndarray, content_hash: str | None = None) -> str:
    """The embedding-cache identity of ``image``: ``content_hash`` when the caller knows it (e.g.
    ``ImageRecord.content_hash``, the file's hash), else the pixels' :func:`image_hash`, computed once
    per array object (preparing the same array again costs a fingerprint, not a hash of every pixel).
    """
    if content_hash:
        return f"file:{content_hash}"
    fingerprint = _fingerprint(image)
    with _hash_lock:
        entry = _hash_memo.get(id(image))
        if entry is not None and entry[0]() is image and entry[1] == fingerprint:
            return entry[2]
    digest = image_hash(image)

    def forget(_ref: weakref.ref, key: int = id(image)) -> None:
        with _hash_lock:
            _hash_memo.pop(key, None)

    try:
        ref = weakref.ref(image, forget)
    except TypeError:  # not weak-referenceable: no memo
        return digest
    with _hash_lock:
        _hash_memo[id(image)] = (ref, fingerprint, digest)
    return digest


def transform_points(points_xy: np.ndarray, orig_size: tuple[int, int]) -> np.ndarray:
    """Original-image ``(x, y)`` pixels ``(..., 2)`` -> model-input coordinates (SAM's ``apply_coords``)."""
    height, width = orig_size
    h, w = resized_shape(height, width)
    out = np.asarray(points_xy, np.float32).copy()
    out[..., 0] *= w / width
    out[..., 1] *= h / height
    return out


def encode_prompt_points(prompt: Prompt, orig_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's sparse input, as in segment-anything's ONNX example.

    Returns
    -------
    coords : float32 ``(1, N, 2)`` in model-input coordinates: clicks, then the box corners
        (labels 2 and 3) when there is a box, else one padding point ``(0, 0)`` with label -1.
    labels : float32 ``(1, N)``.
    """
    coords = [prompt.points.astype(np.float32)]
    labels = [prompt.labels.astype(np.float32)]
    if prompt.box is not None:
        coords.append(np.asarray(prompt.box, np.float32).reshape(2, 2))
        labels.append(np.array([2, 3], np.float32))
    xy = transform_points(np.concatenate(coords), orig_size)
    if prompt.box is None:
        xy = np.concatenate([xy, np.zeros((1, 2), np.float32)])
        labels.append(np.array([-1], np.float32))
    return xy[None], np.concatenate(labels)[None]


def single_point_prompts(points_xy: np.ndarray, orig_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One positive click per prompt, as a batch: the decoder input of automatic proposals.

    Parameters
    ----------
    points_xy : float ``(B, 2)`` ``(x, y)`` pixels of the original image.

    Returns
    -------
    coords : float32 ``(B, 2, 2)`` model-input coordinates (the click, then the padding point ``(0, 0)``).
    labels : float32 ``(B, 2)``: ``[1, -1]`` per prompt.
    """
    pts = transform_points(np.asarray(points_xy, np.float32).reshape(-1, 1, 2), orig_size)
    coords = np.concatenate([pts, np.zeros((len(pts), 1, 2), np.float32)], axis=1)
    return coords, np.tile(np.array([[1, -1]], np.float32), (len(pts), 1))


def validate_prompt(prompt: Prompt, orig_size: tuple[int, int]) -> None:
    """:class:`PromptError` for an empty prompt, an out-of-image click/box or bad mask logits."""
    if len(prompt.points) == 0 and prompt.box is None:
        raise PromptError("empty prompt: click on the object or drag a box around it first")
    check_prompt_inside(prompt, *orig_size)
    if prompt.mask_logits is not None and np.shape(prompt.mask_logits)[-2:] != (LOW_RES, LOW_RES):
        raise PromptError(f"previous mask logits must be {LOW_RES}x{LOW_RES}, got {np.shape(prompt.mask_logits)}")


def sparse_count(prompt: Prompt) -> int:
    """Number of sparse decoder points of ``prompt``: clicks, plus 2 box corners or 1 padding point."""
    return len(prompt.points) + (2 if prompt.box is not None else 1)


def select_outputs(scores: np.ndarray, n_sparse: int, multimask: bool) -> list[int]:
    """Which of a decoder's outputs to return, best first.

    With 4 outputs (SAM's raw decoder), index 0 is the single-mask output and 1..3 the
    multi-mask ones. ``multimask=True`` returns 1..3 sorted by score. ``multimask=False`` follows
    segment-anything's ONNX ``select_masks``: with at most 2 sparse points (one click + padding,
    or a box alone) the ambiguous prompt takes the best of 1..3, otherwise output 0.
    With 1 or 3 outputs, all are returned sorted by score (only the best when not multimask).

    Parameters
    ----------
    scores : float ``(C,)`` predicted IoUs.
    n_sparse : number of sparse points including padding / box corners.
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) == 4:
        multi = [1 + int(i) for i in np.argsort(-scores[1:], kind="stable")]
        if multimask:
            return multi
        return [multi[0]] if n_sparse <= 2 else [0]
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    return order if multimask else order[:1]


def upscale_logits(low_res: np.ndarray, input_size: tuple[int, int], orig_size: tuple[int, int]) -> np.ndarray:
    """Low-res logits float32 ``(256, 256)`` -> full-resolution float32 ``(H, W)`` logits.

    As segment-anything's ``postprocess_masks``: bilinear to 1024x1024, crop the padding, bilinear to
    the original size.
    """
    up = cv2.resize(np.asarray(low_res, np.float32), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    h, w = input_size
    return cv2.resize(up[:h, :w], (orig_size[1], orig_size[0]), interpolation=cv2.INTER_LINEAR)


def candidate_from_low_res(low_res: np.ndarray, context: SamContext, *, score: float,
                           threshold: float = 0.0) -> Candidate:
    """A crop :class:`Candidate` from one output's low-res logits, without any full-size array.

    The mask is ``upscale_logits(low_res) > threshold`` exactly (see :mod:`segtool.engines.sam_upscale`),
    computed only around the object.

    Parameters
    ----------
    low_res : float32 ``(256, 256)`` logits (kept on the candidate for the next click's ``mask_input``).
    context : the prepared image (its ``input_size`` and ``orig_size``).
    score : predicted IoU.
    threshold : logit threshold (SAM's ``mask_threshold`` is 0.0).
    """
    low_res = np.array(low_res, np.float32).reshape(LOW_RES, LOW_RES)
    crop, offset = mask_crop(low_res, context.input_size, context.orig_size, threshold)
    return Candidate(crop=crop, offset=offset, image_size=context.orig_size, score=float(score),
                     low_res_logits=low_res)


_CROP_SLOT, _OFFSET_SLOT = Candidate.__dict__["crop"], Candidate.__dict__["offset"]


class LazyCandidate(Candidate):
    """A crop candidate whose crop is upscaled from its low-res logits on first use.

    SAM's alternatives (``multimask=True``: the ones behind Tab) cost nothing until someone looks at
    them: on a 24 MP photo the third alternative is often most of the image, and upscaling it on every
    click would triple the click's cost. Everything else behaves as :class:`Candidate`.
    """

    __slots__ = ("_sizes", "_threshold", "_make")

    def __init__(self, low_res: np.ndarray, context: SamContext, *, score: float, threshold: float = 0.0,
                 make: Callable[[], Candidate] | None = None) -> None:
        """``make`` (optional) builds the candidate whose crop and offset are taken on first use, instead
        of the plain upscale of ``low_res`` (the click policy's cleaned, possibly zoomed candidate)."""
        self._make = make
        self.score = float(score)
        self.low_res_logits = np.array(low_res, np.float32).reshape(LOW_RES, LOW_RES)
        self.state = None
        self._full = None
        self.image_size = tuple(context.orig_size)
        self._sizes = (tuple(context.input_size), tuple(context.orig_size))
        self._threshold = float(threshold)

    def _upscaled(self) -> None:
        try:
            _CROP_SLOT.__get__(self)
        except AttributeError:
            if self._make is not None:
                made = self._make()
                crop, offset = made.crop, made.offset
            else:
                crop, offset = mask_crop(self.low_res_logits, self._sizes[0], self._sizes[1], self._threshold)
            _CROP_SLOT.__set__(self, crop)
            _OFFSET_SLOT.__set__(self, offset)

    @property
    def crop(self) -> np.ndarray:  # type: ignore[override]
        """bool ``(h, w)`` tight crop (upscaled now if it was not yet)."""
        self._upscaled()
        return _CROP_SLOT.__get__(self)

    @crop.setter
    def crop(self, value: np.ndarray) -> None:
        _CROP_SLOT.__set__(self, value)

    @property
    def offset(self) -> tuple[int, int]:  # type: ignore[override]
        """``(x0, y0)`` of the crop."""
        self._upscaled()
        return _OFFSET_SLOT.__get__(self)

    @offset.setter
    def offset(self, value: tuple[int, int]) -> None:
        _OFFSET_SLOT.__set__(self, value)


def candidates_from_decoder(low_res: np.ndarray, iou: np.ndarray, context: SamContext, n_sparse: int,
                            multimask: bool) -> list[Candidate]:
    """The candidates to return for one prompt's decoder outputs, best first.

    The best one is upscaled at once; with ``multimask`` the alternatives are :class:`LazyCandidate`.

    Parameters
    ----------
    low_res : float32 ``(C, 256, 256)`` logits; ``iou`` : float32 ``(C,)`` predicted IoUs.
    n_sparse : :func:`sparse_count` of the prompt (SAM's single/multi-mask rule, :func:`select_outputs`).
    """
    keep = select_outputs(iou, n_sparse, multimask)
    first = candidate_from_low_res(low_res[keep[0]], context, score=float(iou[keep[0]]))
    return [first] + [LazyCandidate(low_res[i], context, score=float(iou[i])) for i in keep[1:]]
