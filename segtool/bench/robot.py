"""The robot user: RITM's click protocol, shared by the NoC benchmark and GUI tests.

Next click (Xu et al. / RITM ``isegm/inference/clicker.py``, ``Clicker._get_next_click``): take the
false-negative region (missed object) and the false-positive region (false foreground), both without
the ignore band; compute each one's distance transform with the image border counted as border
(RITM pads by one pixel); multiply both by RITM's ``not_clicked_map`` (a pixel already clicked is
never clicked again; the distances themselves are unchanged); click at the pixel farthest from the
border of the region whose maximum is larger (RITM's ``fn_max > fp_max``: ties go negative), positive
for missed object, negative for false foreground. Ties between pixels go to the first in row-major
order (``np.where(...)[0]``, as RITM), so runs are repeatable. One deviation: when no unclicked error
pixel is left, the robot stops (RITM would place a degenerate negative click at pixel (0, 0)).

Interactions: with ``first="box"`` the first interaction is the ground-truth box (drawn from the
ground truth, so those figures are not comparable with click-only ones) and clicks follow; with
``first="click"`` every interaction is a click, as in the literature's NoC tables.

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

from segtool.bench.boundary import boundary_f_measure
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
    #: boundary F-measure after each interaction (see :mod:`segtool.bench.boundary`)
    boundary_f: list[float] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    prepare_seconds: float = 0.0
    #: per interaction: True when it was made (False: nothing left to click, the IoU is repeated)
    made: list[bool] = field(default_factory=list)
    #: seconds spent waiting for an engine's background work (zoom-in crop encodes) per image
    background_seconds: float = 0.0
    #: encoder seconds of the background jobs (zoom-in crop encodes) started on this image, and their count
    background_encode_seconds: float = 0.0
    background_jobs: int = 0

    def follow_up_deltas(self) -> list[float]:
        """IoU change of each interaction made after the first one (``IoU_k - IoU_{k-1}``)."""
        return [self.ious[k] - self.ious[k - 1] for k in range(1, len(self.ious)) if self.made[k]]

    def clicks_to(self, threshold: float, max_clicks: int) -> int:
        """Number of interactions needed to reach ``threshold`` IoU (``max_clicks`` if never)."""
        for i, iou in enumerate(self.ious):
            if iou >= threshold:
                return i + 1
        return max_clicks


def _max_distance(region: np.ndarray, not_clicked: np.ndarray | None = None) -> tuple[float, tuple[int, int]]:
    """Largest distance to the region border (image border included) over the pixels not clicked
    yet (``not_clicked`` bool ``(H, W)``, None: all), and its ``(row, col)``."""
    if not region.any():
        return 0.0, (0, 0)
    padded = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    if not_clicked is not None:
        dist *= not_clicked
    index = int(np.argmax(dist))
    return float(dist.flat[index]), divmod(index, region.shape[1])


def next_click(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None,
               not_clicked: np.ndarray | None = None) -> Click | None:
    """The robot's next click for prediction ``pred`` against ground truth ``gt`` (bool ``(H, W)``).

    ``not_clicked`` (bool ``(H, W)``, RITM's ``not_clicked_map``): False at pixels clicked before,
    which are never clicked again. Returns None when no unclicked error pixel is left outside the
    ignore band.
    """
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    valid = ~np.asarray(ignore, bool) if ignore is not None else np.ones_like(gt)
    fn_dist, fn_at = _max_distance(gt & ~pred & valid, not_clicked)
    fp_dist, fp_at = _max_distance(pred & ~gt & valid, not_clicked)
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


def _settle(best: Candidate) -> float:
    """Wait for background work the candidate's engine started (a zoom-in crop encode: its state
    has a ``wait()`` method) and return the seconds waited. A simulated annotator takes longer to
    click again than an encode takes, so the next click sees it done; engines without background
    work cost nothing."""
    wait = getattr(best.state, "wait", None)
    if wait is None:
        return 0.0
    start = time.perf_counter()
    wait()
    return time.perf_counter() - start


def run_robot(engine: Any, context: Any, sample: Sample, *, max_clicks: int = 20,
              first: str = "click", repeat_clicks: bool = False, boundary_tolerance: float = 3.0) -> Trace:
    """Simulate one annotator on one prepared image.

    Each interaction sends a :class:`Prompt` holding every click so far (plus the ground-truth box
    when ``first == "box"``; then the box is the first interaction and clicks follow), the previous
    candidate's low-res logits, state and mask. The trace holds ``max_clicks`` IoUs.
    ``repeat_clicks=True`` drops RITM's ``not_clicked_map`` (segtool's robot before issue 15, which
    could click the same pixel again), only to compare with figures measured that way.
    ``boundary_tolerance``: pixels of the boundary F-measure recorded after each interaction.
    """
    trace = Trace(sample.name)
    prompt = Prompt()
    pred = np.zeros_like(sample.gt)
    not_clicked = None if repeat_clicks else np.ones(sample.gt.shape, bool)
    jobs: dict[int, Any] = {}  # background jobs seen (zoom-in encodes), kept alive until counted
    for step in range(max_clicks):
        if step == 0 and first == "box":
            prompt.box = gt_box(sample.gt)
        else:
            click = next_click(pred, sample.gt, sample.ignore, not_clicked)
            if click is None:  # nothing left to click: later interactions change nothing
                trace.ious.append(trace.ious[-1] if trace.ious else 0.0)
                trace.dices.append(trace.dices[-1] if trace.dices else 0.0)
                trace.boundary_f.append(trace.boundary_f[-1] if trace.boundary_f else 0.0)
                trace.made.append(False)
                continue
            trace.clicks.append(click)
            if not_clicked is not None:
                not_clicked[click.y, click.x] = False
            prompt = prompt.with_click(click.x, click.y, 1 if click.positive else 0)
        start = time.perf_counter()
        best = engine.predict(context, prompt)[0]
        trace.seconds.append(time.perf_counter() - start)
        pred = np.asarray(best.mask, bool)
        prompt = _follow_up(prompt, best)
        trace.ious.append(mask_iou(pred, sample.gt, sample.ignore))
        trace.dices.append(mask_dice(pred, sample.gt, sample.ignore))
        trace.boundary_f.append(boundary_f_measure(pred, sample.gt, sample.ignore, boundary_tolerance))
        trace.made.append(True)
        trace.background_seconds += _settle(best)
        job = getattr(best.state, "zoom", None)
        if job is not None and id(job) not in jobs:
            jobs[id(job)] = job
    trace.background_jobs = len(jobs)
    trace.background_encode_seconds = float(sum(getattr(j, "seconds", 0.0) for j in jobs.values()))
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
