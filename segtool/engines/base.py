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
        self.points = np.asarray(self.points, dtype=np.float32).reshape(-1, 2)
        self.labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
        if len(self.points) != len(self.labels):
            raise PromptError(f"{len(self.points)} points but {len(self.labels)} labels")

    def is_empty(self) -> bool:
        """True when there is nothing to segment from (no points, box, scribbles or mask)."""
        return len(self.points) == 0 and self.box is None and not self.scribbles and self.mask is None

    def with_click(self, x: float, y: float, label: int) -> Prompt:
        """A copy with one more click appended (other fields kept)."""
        return Prompt(points=np.vstack([self.points, [[x, y]]]), labels=np.append(self.labels, label),
                      box=self.box, scribbles=list(self.scribbles), mask_logits=self.mask_logits,
                      mask=self.mask, state=self.state)


@dataclass
class Candidate:
    """One proposed mask: bool ``mask`` ``(H, W)``, ``score`` (higher is better), optional SAM
    ``low_res_logits`` float32 ``(256, 256)`` and engine ``state`` to continue from."""

    mask: np.ndarray
    score: float = 1.0
    low_res_logits: np.ndarray | None = None
    state: Any = None


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
    """Raise :class:`PromptError` if the prompt is empty or a point/box lies outside ``(H, W)``."""
    if prompt.is_empty():
        raise PromptError("empty prompt: click on the object or drag a box first")
    if len(prompt.points):
        xs, ys = prompt.points[:, 0], prompt.points[:, 1]
        if (xs < 0).any() or (ys < 0).any() or (xs >= width).any() or (ys >= height).any():
            raise PromptError(f"a click lies outside the {width}x{height} image")
    if prompt.box is not None:
        x0, y0, x1, y1 = prompt.box
        if x1 <= x0 or y1 <= y0:
            raise PromptError(f"empty box {prompt.box}: drag a box with positive width and height")
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise PromptError(f"box {prompt.box} lies outside the {width}x{height} image")
