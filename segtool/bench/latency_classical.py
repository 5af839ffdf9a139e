"""``segtool bench latency --engine grabcut|wand|watershed|region-grow|superpixel``: classical tools.

On synthetic photos of the requested sizes (textured objects on a textured background, 4:3) it
prints the median time of ``prepare`` and of one interaction; for GrabCut the first interaction is
a box around the main object and the follow-up a corrective click (continuing the model), and
plain full-resolution ``cv2.grabCut`` (rect, 5 iterations) is timed where it is expected to finish
within a minute. Dispatched from :mod:`segtool.bench.latency`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segtool.engines.base import Prompt
from segtool.engines.registry import create_engine

DEFAULT_MEGAPIXELS = (1.0, 12.0, 40.0)
PLAIN_LIMIT_S = 60.0


def synthetic_photo(megapixels: float, seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A textured test photo of about ``megapixels`` (4:3) and the XYXY box of its main object.

    Returns
    -------
    image : RGB uint8 ``(H, W, 3)``: smooth multi-scale background texture, a large textured main
        object (irregular blob) and smaller distractor blobs, with sensor-like noise.
    box : ``(x0, y0, x1, y1)`` of the main object, pixels, exclusive ends.
    """
    width = max(64, int(round((megapixels * 1e6 * 4 / 3) ** 0.5)))
    height = max(48, width * 3 // 4)
    rng = np.random.default_rng(seed)
    small_w, small_h = 256, 192
    background = np.zeros((small_h, small_w, 3), np.float32)
    for cells in (4, 12, 40):  # multi-scale value noise
        noise = rng.uniform(-1, 1, (cells * 3 // 4 + 1, cells + 1, 3)).astype(np.float32)
        background += cv2.resize(noise, (small_w, small_h), interpolation=cv2.INTER_CUBIC) * (60.0 / cells ** 0.3)
    background += np.array([90, 110, 80], np.float32)
    labels = np.zeros((small_h, small_w), np.uint8)
    _blob(labels, rng, (small_w * 0.5, small_h * 0.5), min(small_w, small_h) * 0.28, 1)
    for _ in range(5):
        _blob(labels, rng, (rng.uniform(0, small_w), rng.uniform(0, small_h)), rng.uniform(6, 18), 2)
    big_labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    big_labels = cv2.medianBlur(big_labels, 5)
    image = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    texture = cv2.resize(rng.uniform(-25, 25, (small_h * 2, small_w * 2)).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_LINEAR)
    for value, colour in ((1, (200, 60, 50)), (2, (60, 70, 190))):
        where = big_labels == value
        image[where] = np.array(colour, np.float32) + texture[where][:, None]
    noise = np.empty((height, width, 3), np.float32)
    cv2.randn(noise, 0, 6)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(big_labels == 1)
    return image, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _blob(labels: np.ndarray, rng: np.random.Generator, centre: tuple[float, float], radius: float,
          value: int) -> None:
    """Draw an irregular star-shaped blob of mean ``radius`` into ``labels`` in place."""
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    radii = radius * (1 + 0.25 * np.sin(3 * angles + rng.uniform(0, 6)) + 0.1 * rng.uniform(-1, 1, 48))
    pts = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)
    cv2.fillPoly(labels, [np.round(pts).astype(np.int32)], value)


def _median_s(func: Callable[[], Any], repeats: int) -> float:
    """Median wall-clock seconds of ``func`` over ``repeats`` calls."""
    return _medians(func, repeats)[0]


def _medians(func: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall-clock and process-CPU seconds of ``func`` (CPU time is what an idle machine
    would show as wall time for this single-threaded work when other jobs compete for the cores)."""
    wall, cpu = [], []
    for _ in range(max(1, repeats)):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def _interactions(name: str, box: tuple[int, int, int, int]) -> list[tuple[str, Prompt, bool]]:
    """(label, prompt, continue-from-first) of the timed interactions of engine ``name``."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    click = Prompt(points=[[cx, cy]], labels=[1])
    if name == "grabcut":
        follow = Prompt(points=[[x0 + 0.02 * (x1 - x0), cy]], labels=[0], box=box)
        return [("box", Prompt(box=box), False), ("click after box", follow, True)]
    if name == "watershed":
        two = Prompt(points=[[cx, cy], [x0 - 5, y0 - 5]], labels=[1, 0])
        return [("click", click, False), ("click + negative", two, False)]
    return [("click", click, False)]


def measure_engine(name: str, image: np.ndarray, box: tuple[int, int, int, int], repeats: int) -> dict[str, Any]:
    """Median seconds of ``prepare`` and of each interaction of :func:`_interactions` on ``image``."""
    engine = create_engine(name)
    prepare_s = _median_s(lambda: engine.prepare(image), max(1, repeats // 5))
    context = engine.prepare(image)
    result: dict[str, Any] = {"prepare_s": prepare_s, "interactions": {}, "interactions_cpu": {}}
    first = None
    for label, prompt, follow in _interactions(name, box):
        if follow and first is not None:
            prompt.state, prompt.mask = first.state, first.mask
        first = engine.predict(context, prompt)[0] if first is None else first
        wall, cpu = _medians(lambda p=prompt: engine.predict(context, p), repeats)
        result["interactions"][label] = wall
        result["interactions_cpu"][label] = cpu
    return result


def plain_grabcut_s(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Process-CPU seconds of one full-resolution ``cv2.grabCut`` (rect init, 5 iterations)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    rect = (box[0], box[1], box[2] - box[0], box[3] - box[1])
    start = time.process_time()
    cv2.grabCut(image, mask, rect, bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    return time.process_time() - start


def run(args: argparse.Namespace) -> int:
    """Entry of ``segtool bench latency`` for classical engines; prints a table, optional JSON."""
    sizes = list(args.megapixels or DEFAULT_MEGAPIXELS)
    repeats = max(1, int(getattr(args, "repeats", 10) or 10))
    rows: list[dict[str, Any]] = []
    plain_per_mp: float | None = None
    print(f"engine {args.engine}: median seconds per interaction, wall (process CPU), {repeats} repeats")
    for mp in sizes:
        image, box = synthetic_photo(mp)
        row = {"megapixels": mp, "image_hw": list(image.shape[:2]), "box": list(box)}
        row.update(measure_engine(args.engine, image, box, repeats))
        if args.engine == "grabcut":
            expected = None if plain_per_mp is None else 2.0 * plain_per_mp * mp  # superlinear in practice
            if expected is None or expected <= PLAIN_LIMIT_S:
                row["plain_cv2_grabcut_s"] = plain_grabcut_s(image, box)
                plain_per_mp = row["plain_cv2_grabcut_s"] / mp
            else:
                row["plain_cv2_grabcut_s"] = None
                row["plain_cv2_grabcut_expected_s"] = expected
        rows.append(row)
        print(_format_row(row))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"engine": args.engine, "repeats": repeats, "rows": rows}, indent=1))
    return 0


def _format_row(row: dict[str, Any]) -> str:
    h, w = row["image_hw"]
    parts = [f"{row['megapixels']:6g} MP ({w}x{h})", f"prepare {row['prepare_s']:.3f}"]
    parts += [f"{k} {v:.4f} (cpu {row['interactions_cpu'][k]:.4f})" for k, v in row["interactions"].items()]
    if "plain_cv2_grabcut_s" in row:
        plain = row["plain_cv2_grabcut_s"]
        parts.append(f"plain cv2.grabCut cpu {plain:.2f}" if plain is not None else
                     f"plain cv2.grabCut skipped (~{row['plain_cv2_grabcut_expected_s']:.0f} s expected)")
    return "  ".join(parts)
