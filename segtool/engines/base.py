"""The engine protocol shared by SAM and every classical tool.

Two steps, as SAM splits them:

- ``prepare(image) -> context``: slow, pure, cacheable (an image embedding, a pyramid, superpixels).
  It holds no hidden "current image": the returned context is passed back explicitly, so a worker
  can prepare the next image while the user clicks on this one.
- ``predict(context, prompt) -> list[Candidate]``: fast; candidates are sorted best first.

Coordinates: points are ``(x, y)`` pixels of the original image, boxes XYXY, arrays ``(H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from segtool.core.errors import PromptError


@dataclass
class Scribble:
    """A brush stroke used as seeds: ``points`` float ``(K, 2)`` ``(x, y)`` polyline, ``label`` 1 fg / 0 bg."""

    points: np.ndarray
    label: int
    radius: float = 3.0


def binary_labels(labels: np.ndarray) -> bool:
    """True when every click label is exactly 0 or 1 (NaN and 0.5 are not); two comparisons, cheaper than ``np.isin`` on a click path."""
    labels = np.asarray(labels)
    return bool(((labels == 0) | (labels == 1)).all())


@dataclass
class Prompt:
    """What the user said about the object.

    Attributes
    ----------
    points : float32 ``(N, 2)``, ``(x, y)`` pixels. ``labels`` : int ``(N,)``, 1 positive / 0 negative.
    box : optional ``(x0, y0, x1, y1)`` pixels.
    scribbles : brush strokes used as seeds (GrabCut, watershed).
    mask_logits : optional float32 ``(256, 256)`` low-res logits of the previous SAM candidate, fed
        back on follow-up clicks.
    mask : optional bool ``(H, W)`` existing mask to refine (GrabCut refinement).
    state : optional engine-specific continuation of the previous candidate (e.g. GrabCut's colour
        models), taken from ``Candidate.state``.
    """

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    box: tuple[float, float, float, float] | None = None
    scribbles: list[Scribble] = field(default_factory=list)
    mask_logits: np.ndarray | None = None
    mask: np.ndarray | None = None
    state: Any = None

    def __post_init__(self) -> None:
        try:
            points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
            labels = np.asarray(self.labels, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise PromptError(f"clicks must be (x, y) numbers with one label each ({exc})") from None
        if len(points) != len(labels):
            raise PromptError(f"{len(points)} points but {len(labels)} labels")
        if not binary_labels(labels):  # checked before the cast, which would turn 0.5 or NaN into 0
            raise PromptError("click labels must be 1 (object) or 0 (background)")
        with np.errstate(over="ignore"):
            self.points = points.astype(np.float32)  # beyond float32 becomes inf: refused by check_prompt_inside
        self.labels = labels.astype(np.int32)

    def is_empty(self) -> bool:
        """True when there is nothing to segment from (no points, box, scribbles or mask)."""
        return len(self.points) == 0 and self.box is None and not self.scribbles and self.mask is None

    def with_click(self, x: float, y: float, label: int) -> Prompt:
        """A copy with one more click appended (other fields kept)."""
        return Prompt(points=np.vstack([self.points, [[x, y]]]), labels=np.append(self.labels, label),
                      box=self.box, scribbles=list(self.scribbles), mask_logits=self.mask_logits,
                      mask=self.mask, state=self.state)


class Candidate:
    """One proposed mask, kept as a crop plus its offset so that large images cost nothing extra.

    Parameters
    ----------
    mask : optional bool ``(H, W)`` full-image mask (classical engines); it is cropped to its bbox.
    score : higher is better (SAM: predicted IoU).
    low_res_logits : optional SAM float32 ``(256, 256)`` logits, fed back on the next click.
    state : optional engine continuation (e.g. GrabCut's colour models), passed back in ``Prompt.state``.
    crop : bool ``(h, w)`` crop of the mask (instead of ``mask``), whose top-left pixel is ``offset``.
    offset : ``(x0, y0)`` of ``crop`` in image pixels.
    image_size : ``(H, W)`` of the image (required with ``crop``).

    Attributes
    ----------
    crop, offset, image_size : as above; ``crop`` is the tight crop, or an empty ``(0, 0)`` array.
    """

    __slots__ = ("crop", "offset", "image_size", "score", "low_res_logits", "state", "_full")

    def __init__(self, mask: np.ndarray | None = None, score: float = 1.0,
                 low_res_logits: np.ndarray | None = None, state: Any = None, *,
                 crop: np.ndarray | None = None, offset: tuple[int, int] = (0, 0),
                 image_size: tuple[int, int] | None = None) -> None:
        self.score = float(score)
        self.low_res_logits = low_res_logits
        self.state = state
        self._full: np.ndarray | None = None
        if mask is not None:
            self._set_full(np.asarray(mask, bool))
        else:
            if crop is None or image_size is None:
                raise ValueError("Candidate needs either mask=(H, W) or crop= with offset= and image_size=")
            self.crop = np.asarray(crop, bool)
            self.offset = (int(offset[0]), int(offset[1]))
            self.image_size = (int(image_size[0]), int(image_size[1]))
            x0, y0 = self.offset
            h, w = self.crop.shape
            if x0 < 0 or y0 < 0 or y0 + h > self.image_size[0] or x0 + w > self.image_size[1]:
                raise ValueError(f"crop {w}x{h} at {self.offset} does not fit a {self.image_size} image")

    def _set_full(self, mask: np.ndarray) -> None:
        if mask.ndim != 2:
            raise ValueError(f"a candidate mask must be 2-D (H, W), got shape {mask.shape}")
        self.image_size = (int(mask.shape[0]), int(mask.shape[1]))
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            self.crop, self.offset = np.zeros((0, 0), bool), (0, 0)
        else:
            cols = np.flatnonzero(mask.any(axis=0))
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            self.crop, self.offset = mask[y0:y1, x0:x1], (x0, y0)
        self._full = mask

    @property
    def bbox(self) -> tuple[int, int, int, int] | None:
        """XYXY (exclusive) box of the crop in image pixels, or ``None`` for an empty candidate."""
        if self.crop.size == 0:
            return None
        x0, y0 = self.offset
        return (x0, y0, x0 + self.crop.shape[1], y0 + self.crop.shape[0])

    @property
    def mask(self) -> np.ndarray:
        """The full bool ``(H, W)`` mask (allocated on first use; avoid it on the click path)."""
        if self._full is None:
            full = np.zeros(self.image_size, bool)
            if self.crop.size:
                x0, y0 = self.offset
                full[y0:y0 + self.crop.shape[0], x0:x0 + self.crop.shape[1]] = self.crop
            self._full = full
        return self._full

    @mask.setter
    def mask(self, value: np.ndarray) -> None:
        self._set_full(np.asarray(value, bool))

    def is_empty(self) -> bool:
        """True when the candidate has no foreground pixel."""
        return self.crop.size == 0 or not self.crop.any()

    def __repr__(self) -> str:
        return (f"Candidate(score={self.score:.3f}, bbox={self.bbox}, image_size={self.image_size}, "
                f"low_res={'yes' if self.low_res_logits is not None else 'no'})")


@runtime_checkable
class Engine(Protocol):
    """An interactive segmentation engine (SAM, GrabCut, wand, ...)."""

    #: Short id used by the CLI, the cache and the GUI (``"sam-onnx"``, ``"grabcut"``...).
    name: str

    def prepare(self, image: np.ndarray) -> Any:
        """Slow, pure step on an RGB uint8 ``(H, W, 3)`` image; returns an opaque context."""
        ...

    def predict(self, context: Any, prompt: Prompt, *, multimask: bool = False) -> list[Candidate]:
        """Fast step: candidates for ``prompt`` on the prepared image, best first."""
        ...


def check_prompt_inside(prompt: Prompt, height: int, width: int) -> None:
    """Refuse, with :class:`PromptError`, any prompt an engine cannot use on an ``(H, W)`` image.

    Every engine calls this first (SAM through :func:`segtool.engines.sam_common.validate_prompt`):
    an empty prompt; click coordinates that are NaN, infinite or outside the image; labels other
    than 0/1; a box that is not four finite numbers, inverted or empty, or outside the image;
    scribbles with NaN/infinite points, points far outside the image (more than one image size;
    strokes may run a little past the edge), a label other than 0/1 or a radius that is not a
    positive number below the image size; a mask of another shape than the image.
    """
    if prompt.is_empty():
        raise PromptError("empty prompt: click on the object or drag a box first")
    points, labels = np.asarray(prompt.points, np.float64), np.asarray(prompt.labels)
    if points.ndim != 2 or points.shape[-1] != 2 or len(points) != len(labels):
        raise PromptError(f"clicks must be an (N, 2) array with N labels, got {points.shape} and {labels.shape}")
    if len(points):
        if not np.isfinite(points).all():
            raise PromptError("a click has a NaN or infinite coordinate")
        xs, ys = points[:, 0], points[:, 1]
        if (xs < 0).any() or (ys < 0).any() or (xs >= width).any() or (ys >= height).any():
            raise PromptError(f"a click lies outside the {width}x{height} image")
        if not binary_labels(labels):
            raise PromptError("click labels must be 1 (object) or 0 (background)")
    if prompt.box is not None:
        _check_box(prompt.box, height, width)
    for scribble in prompt.scribbles:
        _check_scribble(scribble, height, width)
    if prompt.mask is not None and np.shape(prompt.mask) != (height, width):
        raise PromptError(f"mask shape {np.shape(prompt.mask)} differs from the image ({height}, {width})")


def _check_box(box: Any, height: int, width: int) -> None:
    try:
        values = np.asarray(box, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise PromptError(f"a box must be four numbers (x0, y0, x1, y1), got {box!r}"[:200]) from None
    if values.size != 4 or not np.isfinite(values).all():
        raise PromptError(f"a box must be four finite numbers (x0, y0, x1, y1), got {box!r}"[:200])
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise PromptError(f"empty box {tuple(box)}: drag a box with positive width and height")
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise PromptError(f"box {tuple(box)} lies outside the {width}x{height} image")


def _check_scribble(scribble: Scribble, height: int, width: int) -> None:
    try:
        pts = np.asarray(scribble.points, np.float64).reshape(-1, 2)
        radius = float(scribble.radius)
    except (TypeError, ValueError):
        raise PromptError("a scribble must be (x, y) points with a numeric radius") from None
    if not np.isfinite(pts).all() or not np.isfinite(radius):
        raise PromptError("a scribble has a NaN or infinite coordinate or radius")
    if scribble.label not in (0, 1):
        raise PromptError(f"scribble labels must be 1 (object) or 0 (background), got {scribble.label!r}")
    if not 0 < radius <= max(height, width):
        raise PromptError(f"scribble radius {radius:g} must be positive and smaller than the image")
    if len(pts) and ((pts[:, 0] < -width).any() or (pts[:, 0] > 2 * width).any()
                     or (pts[:, 1] < -height).any() or (pts[:, 1] > 2 * height).any()):
        raise PromptError(f"a scribble lies far outside the {width}x{height} image")
