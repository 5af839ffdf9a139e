"""The robot user: RITM's click protocol, shared by the NoC benchmark and GUI tests.

Next click (Xu et al. / RITM ``isegm/inference/clicker.py``): take the false-negative region
(missed object) and the false-positive region (false foreground), both without the ignore band;
compute each one's distance transform with the image border counted as border; click at the pixel
farthest from the border of the region whose maximum distance is larger, positive for missed
object, negative for false foreground. Ties are broken deterministically (first pixel in
row-major order), so runs are repeatable.

Coordinates: clicks are ``(x, y)`` pixels (column, row); masks are bool ``(H, W)``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segtool.core.errors import SegtoolError
from segtool.core.masks import mask_dice, mask_iou
from segtool.engines.base import Candidate, Prompt

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass
class Click:
    """One robot click: ``(x, y)`` pixel and whether it marks the object (True) or background."""

    x: int
    y: int
    positive: bool


@dataclass
class Sample:
    """One benchmark image: RGB uint8 ``(H, W, 3)``, bool object mask and bool ignore mask ``(H, W)``."""

    name: str
    image: np.ndarray
    gt: np.ndarray
    ignore: np.ndarray


@dataclass
class Trace:
    """What happened on one image: IoU/Dice after each interaction and the clicks made."""

    name: str
    ious: list[float] = field(default_factory=list)
    dices: list[float] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    prepare_seconds: float = 0.0

    def clicks_to(self, threshold: float, max_clicks: int) -> int:
        """Number of interactions needed to reach ``threshold`` IoU (``max_clicks`` if never)."""
        for i, iou in enumerate(self.ious):
            if iou >= threshold:
                return i + 1
        return max_clicks


def _max_distance(region: np.ndarray) -> tuple[float, tuple[int, int]]:
    """Largest distance to the region border (image border included) and its ``(row, col)``."""
    if not region.any():
        return 0.0, (0, 0)
    padded = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    index = int(np.argmax(dist))
    return float(dist.flat[index]), divmod(index, region.shape[1])


def next_click(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> Click | None:
    """The robot's next click for prediction ``pred`` against ground truth ``gt`` (bool ``(H, W)``).

    Returns None when there is no error left outside the ignore band.
    """
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    valid = ~np.asarray(ignore, bool) if ignore is not None else np.ones_like(gt)
    fn_dist, fn_at = _max_distance(gt & ~pred & valid)
    fp_dist, fp_at = _max_distance(pred & ~gt & valid)
    if fn_dist == 0.0 and fp_dist == 0.0:
        return None
    positive = fn_dist > fp_dist
    row, col = fn_at if positive else fp_at
    return Click(x=int(col), y=int(row), positive=positive)


def gt_box(gt: np.ndarray) -> tuple[float, float, float, float]:
    """The ground truth's tight XYXY box (exclusive ends, clipped to the image)."""
    rows = np.flatnonzero(gt.any(axis=1))
    cols = np.flatnonzero(gt.any(axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def _follow_up(prompt: Prompt, best: Candidate) -> Prompt:
    """A new prompt carrying the previous logits, state and mask (the sent prompt is never mutated)."""
    return dataclasses.replace(prompt, mask_logits=best.low_res_logits, state=best.state, mask=best.mask)


def run_robot(engine: Any, context: Any, sample: Sample, *, max_clicks: int = 20,
              first: str = "click") -> Trace:
    """Simulate one annotator on one prepared image.

    Each interaction sends a :class:`Prompt` holding every click so far (plus the ground-truth box
    when ``first == "box"``; then the box is the first interaction and clicks follow), the previous
    candidate's low-res logits, state and mask. The trace holds ``max_clicks`` IoUs.
    """
    trace = Trace(sample.name)
    prompt = Prompt()
    pred = np.zeros_like(sample.gt)
    for step in range(max_clicks):
        if step == 0 and first == "box":
            prompt.box = gt_box(sample.gt)
        else:
            click = next_click(pred, sample.gt, sample.ignore)
            if click is None:  # perfect already: later clicks change nothing
                trace.ious.append(trace.ious[-1])
                trace.dices.append(trace.dices[-1])
                continue
            trace.clicks.append(click)
            prompt = prompt.with_click(click.x, click.y, 1 if click.positive else 0)
        start = time.perf_counter()
        best = engine.predict(context, prompt)[0]
        trace.seconds.append(time.perf_counter() - start)
        pred = np.asarray(best.mask, bool)
        prompt = _follow_up(prompt, best)
        trace.ious.append(mask_iou(pred, sample.gt, sample.ignore))
        trace.dices.append(mask_dice(pred, sample.gt, sample.ignore))
    return trace


def load_sample(image_path: Path, mask_path: Path) -> Sample:
    """One image + mask pair; mask 0 = background, 255 (>128) = object, 128 = ignore band."""
    from PIL import Image  # noqa: PLC0415

    try:
        with Image.open(image_path) as im:
            image = np.array(im.convert("RGB"))
        with Image.open(mask_path) as im:
            raw = np.array(im.convert("L"))
    except OSError as exc:
        raise SegtoolError(f"cannot read benchmark pair {image_path} / {mask_path}: {exc}") from None
    if raw.shape != image.shape[:2]:
        raise SegtoolError(f"{mask_path} is {raw.shape[::-1]} but {image_path} is {image.shape[1::-1]}")
    return Sample(image_path.stem, image, raw > 128, raw == 128)


def load_dataset(folder: Path, limit: int | None = None) -> list[Sample]:
    """Samples of a folder with ``images/NAME.*`` and ``masks/NAME.png``, sorted by name."""
    folder = Path(folder)
    images = sorted(p for p in (folder / "images").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise SegtoolError(f"no images under {folder / 'images'}; a benchmark folder holds images/ and masks/")
    samples = []
    for path in images[:limit]:
        mask = folder / "masks" / f"{path.stem}.png"
        if not mask.is_file():
            raise SegtoolError(f"missing ground truth {mask} for {path}")
        samples.append(load_sample(path, mask))
    return samples
