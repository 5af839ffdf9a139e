"""Zoom-in for SAM clicks (as RITM's and FocalClick's ``ZoomIn``): decode later clicks on a crop.

SAM sees every image at 1024 pixels on its long side, through a 64x64 grid of 16-pixel patches, so
a small object (or any object of a large photo) gets few patches and coarse edges. After the first
interaction on such an object, :func:`maybe_start` encodes a crop around it (the mask's box grown
by :data:`EXPANSION`, at the encoder's full 1024-pixel input) **in the background**, on a small
executor of its own; the crop's embedding goes through the engine's embedding cache like any image.
Nothing waits for it: until the job is done, clicks are decoded on the whole image as before;
afterwards clicks inside the crop are decoded on the crop embedding.

Frames: logits live in a *frame*, the image region ``(x0, y0, x1, y1)`` that was encoded (the whole
image or a crop). :func:`warp_logits` maps low-res logits from one frame to another, so the
previous mask can be fed back whichever frame the next click is decoded in.

Constants: :data:`EXPANSION` is RITM's ``expansion_ratio`` (1.4, also FocalClick's); a crop is only
worth encoding when it is seen at least :data:`MIN_GAIN` times finer than in the whole-image
encoding; :data:`MIN_SIDE` keeps a crop from shrinking below a few patches of the image.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from segtool.engines import sam_common as sc

#: Box growth around the object (RITM / FocalClick ``expansion_ratio``).
EXPANSION = 1.4
#: Zoom in only if the crop's long side is at most 1 / MIN_GAIN of the image's long side.
MIN_GAIN = 1.25
#: Smallest crop side in image pixels.
MIN_SIDE = 64

Frame = tuple[int, int, int, int]

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The zoom-in encodes' own executor (one thread: crops are encoded one after another)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segtool-zoom")
        return _executor


@dataclass
class ZoomJob:
    """A crop being (or having been) encoded in the background.

    Attributes
    ----------
    box : ``(x0, y0, x1, y1)`` crop in image pixels (exclusive ends).
    future : resolves to the crop's :class:`~segtool.engines.sam_common.SamContext`.
    seconds : encoder wall time once done (0.0 before).
    """

    box: Frame
    future: Future = field(repr=False)
    seconds: float = 0.0

    def ready(self) -> bool:
        """True when the crop embedding is there (a failed encode counts as not ready, ever)."""
        return self.future.done() and self.future.exception() is None

    def context(self) -> sc.SamContext | None:
        """The crop's context when ready, else None (never blocks)."""
        return self.future.result() if self.ready() else None

    def wait(self) -> None:
        """Block until the encode has finished (errors are swallowed: the whole image is used)."""
        try:
            self.future.result()
        except Exception:  # noqa: BLE001 - a failed crop only means no zoom-in
            pass


def whole_frame(context: sc.SamContext) -> Frame:
    """The frame of a whole-image context."""
    h, w = context.orig_size
    return (0, 0, w, h)


def crop_box(bbox: tuple[int, int, int, int], points: np.ndarray, image_hw: tuple[int, int]) -> Frame:
    """The zoom crop for an object: the box of ``bbox`` (XYXY) and ``points`` ``(N, 2)``, grown by
    :data:`EXPANSION` about its centre (at least :data:`MIN_SIDE`), shifted to lie inside the image."""
    h, w = image_hw
    xs = [bbox[0], bbox[2]] + [float(p[0]) for p in points] + [float(p[0]) + 1 for p in points]
    ys = [bbox[1], bbox[3]] + [float(p[1]) for p in points] + [float(p[1]) + 1 for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    bw = min(w, max(MIN_SIDE, (max(xs) - min(xs)) * EXPANSION))
    bh = min(h, max(MIN_SIDE, (max(ys) - min(ys)) * EXPANSION))
    x0 = int(round(min(max(cx - bw / 2, 0), w - bw)))
    y0 = int(round(min(max(cy - bh / 2, 0), h - bh)))
    return (x0, y0, min(w, x0 + int(round(bw))), min(h, y0 + int(round(bh))))


def worth_zooming(box: Frame, image_hw: tuple[int, int]) -> bool:
    """True when ``box`` is seen at least :data:`MIN_GAIN` times finer in its own encoding."""
    side = max(box[2] - box[0], box[3] - box[1])
    return side > 0 and max(image_hw) / side >= MIN_GAIN


def contains(frame: Frame, bbox: tuple[int, int, int, int] | None, points: np.ndarray) -> bool:
    """True when every point ``(N, 2)`` and the XYXY ``bbox`` (None: none) lie inside ``frame``."""
    x0, y0, x1, y1 = frame
    if bbox is not None and (bbox[0] < x0 or bbox[1] < y0 or bbox[2] > x1 or bbox[3] > y1):
        return False
    return all(x0 <= p[0] < x1 and y0 <= p[1] < y1 for p in np.asarray(points).reshape(-1, 2))


def start(engine: Any, image: np.ndarray, box: Frame) -> ZoomJob:
    """Encode ``image[box]`` with ``engine.prepare`` (embedding cache included) in the background."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]

    def encode() -> sc.SamContext:
        begin = time.perf_counter()
        ctx = engine.prepare(crop)
        job.seconds = time.perf_counter() - begin
        return ctx

    job = ZoomJob(box, Future())
    job.future = _pool().submit(encode)
    return job


def _scale(frame: Frame) -> float:
    return sc.INPUT_SIZE / max(frame[2] - frame[0], frame[3] - frame[1])


def warp_logits(logits: np.ndarray, source: Frame, target: Frame) -> np.ndarray:
    """float32 ``(256, 256)`` low-res logits of frame ``source`` resampled into frame ``target``.

    A low-res pixel ``u`` of a frame with offset ``x0`` and scale ``s`` (1024 / long side) covers
    image pixels around ``x0 + 4 (u + 0.5) / s``; outside ``source`` the result is the source's
    lowest logit (background).
    """
    if source == target:
        return np.asarray(logits, np.float32)
    ss, st = _scale(source), _scale(target)
    stride = sc.INPUT_SIZE / sc.LOW_RES
    ratio = ss / st
    matrix = np.array([[ratio, 0.0, (target[0] - source[0]) * ss / stride + 0.5 * ratio - 0.5],
                       [0.0, ratio, (target[1] - source[1]) * ss / stride + 0.5 * ratio - 0.5]], np.float64)
    logits = np.asarray(logits, np.float32)
    return cv2.warpAffine(logits, matrix, (sc.LOW_RES, sc.LOW_RES), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=float(logits.min()))
