"""``segtool bench latency``: what a SAM click costs, and whether it depends on the image size.

For each image size (``--megapixels``, default 1,12,24,48) a synthetic 4:3 photo with one large object
is encoded once, then the same one-click prompt is timed two ways, interleaved so that both see the
same machine load:

- **click**: segtool's ``engine.predict`` (prompt checks, the low-res decoder, the mask upscaled around
  the object into a crop candidate): everything between the click and a mask ready to draw;
- **bare decoder**: the network call alone to its low-res logits (:meth:`decoder_call`), the floor.

``click / bare`` is the cost segtool adds; the goal is <= 1.15 at every size (a click costs the same on
any image). Also: the encoder, and the embedding lookup from the disk cache and from RAM when the
caller knows the image's content hash (as the window does: ``ImageRecord.content_hash``), and the
one-off pixel hash when it does not. Non-SAM engines are delegated to
:mod:`segtool.bench.latency_classical`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from segtool.bench.latency_policy import measure_policy, print_policy
from segtool.bench.timing import median_ms
from segtool.engines.base import Prompt
from segtool.engines.embeddings import EmbeddingCache
from segtool.engines.registry import SAM_ENGINES, create_engine

DEFAULT_MEGAPIXELS = (1.0, 12.0, 24.0, 48.0)
#: The issue's goal for click / bare decoder at every size.
RATIO_GOAL = 1.15


def synthetic_image(megapixels: float | None, seed: int = 0) -> np.ndarray:
    """A smooth RGB uint8 4:3 photo of about ``megapixels`` (1024x768 when None) with a red disc in the
    middle (radius a quarter of the short side), built without full-size float temporaries."""
    import cv2

    width = 1024 if megapixels is None else max(16, int(round((megapixels * 1e6 * 4 / 3) ** 0.5)))
    height = max(16, width * 3 // 4)
    sw, sh = max(4, width // 8), max(3, height // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    small = np.stack([xx / sw, yy / sh, (xx + yy) / (sw + sh)], axis=2) * 200
    small += np.random.default_rng(seed).normal(0, 8, small.shape)
    image = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 4, (230, 40, 40), -1)
    return image


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def interleaved_ms(funcs: dict[str, Any], repeats: int) -> dict[str, list[float]]:
    """Wall times (ms) of each function, called in turn ``repeats`` times (after one warm-up round)."""
    for func in funcs.values():
        func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def measure_click(engine: Any, context: Any, prompt: Prompt, repeats: int) -> dict[str, Any]:
    """Median click time, bare decoder time, their ratio, and the candidate's crop size."""
    bare = engine.decoder_call(context, prompt)
    times = interleaved_ms({"click": lambda: engine.predict(context, prompt), "bare": bare}, repeats)
    click, decoder = statistics.median(times["click"]), statistics.median(times["bare"])
    pairs = [c / b for c, b in zip(times["click"], times["bare"], strict=True)]
    cand = engine.predict(context, prompt)[0]
    return {"click_ms": click, "bare_decoder_ms": decoder, "ratio": click / decoder,
            "ratio_median_of_pairs": statistics.median(pairs), "candidate_crop_hw": list(cand.crop.shape),
            "click_ms_all": [round(t, 3) for t in times["click"]],
            "bare_decoder_ms_all": [round(t, 3) for t in times["bare"]]}


def measure_lookup(engine: Any, image: np.ndarray, embedding: np.ndarray, repeats: int,
                   cache_dir: Path) -> dict[str, float]:
    """Embedding lookup (ms) from disk and RAM keyed by a known content hash; one pixel hash."""
    from segtool.engines.embeddings import embedding_key
    from segtool.engines.sam_common import PREPROCESS_VERSION, content_key, image_hash

    cache = EmbeddingCache(cache_dir)
    engine.cache = cache
    known = f"bench-{image.shape}"
    cache.put(embedding_key(content_key(image, known), engine.model_id, PREPROCESS_VERSION), embedding)

    def from_disk() -> None:
        cache.clear(disk=False)  # force the on-disk path (the slow one)
        assert engine.prepare(image, content_hash=known).cache_hit

    disk = median_ms(from_disk, repeats)
    ram = median_ms(lambda: engine.prepare(image, content_hash=known), repeats)
    hashing = median_ms(lambda: image_hash(image), max(1, repeats // 3))
    engine.cache = None
    return {"cached_embedding_disk_ms": disk, "cached_embedding_ram_ms": ram, "pixel_hash_ms": hashing}


def measure(engine: Any, image: np.ndarray, repeats: int, cache_dir: Path) -> dict[str, Any]:
    """One row: encoder, click vs bare decoder, embedding lookups, for one image."""
    engine.cache = None
    encoder_times, context = [], None
    for _ in range(max(1, repeats // 3)):
        start = time.perf_counter()
        context = engine.prepare(image)
        encoder_times.append((time.perf_counter() - start) * 1000.0)
    h, w = image.shape[:2]
    row = {"image_hw": [h, w], "megapixels_exact": round(h * w / 1e6, 3),
           "encoder_ms": statistics.median(encoder_times)}
    row.update(measure_click(engine, context, Prompt(points=[[w / 2, h / 2]], labels=[1]), repeats))
    row.update(measure_policy(engine, context, (h, w), repeats, interleaved_ms))  # issue 15: vs raw SAM
    row.update(measure_lookup(engine, image, context.embedding, repeats, cache_dir))
    return row


def _gpu_peak_mb() -> float | None:
    """Peak CUDA memory of this process when the engine loaded torch with a GPU, else None."""
    torch_mod = sys.modules.get("torch")  # never import torch here: only read it if the engine did
    if torch_mod is not None and torch_mod.cuda.is_available():
        return torch_mod.cuda.max_memory_allocated() / 1e6
    return None


def _make_engines(args: argparse.Namespace) -> dict[str, Any]:
    """The engines to time, by label: one, or one per ``--encoder`` precision (sam-onnx: ``fp32,int8``)."""
    from segtool.core.errors import SegtoolError

    options: dict[str, Any] = {"model": args.model, "device": args.device}
    if getattr(args, "random_weights", None):
        if args.engine != "sam-torch":
            raise SegtoolError("--random-weights needs --engine sam-torch")
        options.update(model=None, random_weights=True, model_type=args.random_weights)
    encoders = [e.strip() for e in str(getattr(args, "encoder", None) or "").split(",") if e.strip()]
    if encoders and args.engine != "sam-onnx":
        raise SegtoolError("--encoder is for --engine sam-onnx")
    if not encoders:
        return {args.engine: create_engine(args.engine, **options)}
    return {f"{args.engine}/{enc}": create_engine(args.engine, **options, encoder=enc) for enc in encoders}


def run(args: argparse.Namespace) -> int:
    """Entry of ``segtool bench latency``."""
    if args.engine not in SAM_ENGINES:
        return importlib.import_module("segtool.bench.latency_classical").run(args)
    engines = _make_engines(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="segtool-latency-") as tmp:
        for mp in args.megapixels or DEFAULT_MEGAPIXELS:
            image = synthetic_image(mp)
            for label, engine in engines.items():  # side by side, size by size
                row = measure(engine, image, args.repeats, Path(tmp))
                row.update(megapixels=mp, engine=label, model_id=getattr(engine, "model_id", None))
                rows.append(row)
    first = next(iter(engines.values()))
    report = {"engine": args.engine, "model": str(args.model), "model_id": getattr(first, "model_id", None),
              "device": str(getattr(first, "device", getattr(first, "providers", "?"))), "repeats": args.repeats,
              "load_average": list(os.getloadavg()), "peak_rss_mb": _peak_rss_mb(), "peak_gpu_mb": _gpu_peak_mb(),
              "ratio_goal": RATIO_GOAL, "rows": rows}
    _print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def _print_table(report: dict[str, Any]) -> None:
    print(f"engine {report['engine']}  model {report['model_id']}  device {report['device']}  "
          f"repeats {report['repeats']}  load {' '.join(f'{v:.2f}' for v in report['load_average'])}")
    print(f"{'engine':<14} {'image':>11} {'MP':>6} {'encoder ms':>11} {'click ms':>9} {'bare dec ms':>11} "
          f"{'ratio':>6} {'crop':>11} {'cache disk':>11} {'cache RAM':>10} {'pixel hash':>11}")
    for r in report["rows"]:
        crop = f"{r['candidate_crop_hw'][1]}x{r['candidate_crop_hw'][0]}"
        print(f"{r['engine']:<14} {r['image_hw'][1]:>5}x{r['image_hw'][0]:<5} {r['megapixels_exact']:6.1f} "
              f"{r['encoder_ms']:11.1f} "
              f"{r['click_ms']:9.2f} {r['bare_decoder_ms']:11.2f} {r['ratio']:6.3f} {crop:>11} "
              f"{r['cached_embedding_disk_ms']:11.2f} {r['cached_embedding_ram_ms']:10.3f} {r['pixel_hash_ms']:11.1f}")
    _print_encoder_ratios(report["rows"])
    print_policy(report["rows"])
    worst = max(r["ratio"] for r in report["rows"])
    verdict = "meets" if worst <= report["ratio_goal"] else "MISSES"
    print(f"worst click/bare ratio {worst:.3f} ({verdict} the goal <= {report['ratio_goal']})")
    print(f"peak RSS {report['peak_rss_mb']:.0f} MB" + (f", peak GPU {report['peak_gpu_mb']:.0f} MB"
                                                         if report["peak_gpu_mb"] else ""))


def _print_encoder_ratios(rows: list[dict[str, Any]]) -> None:
    """With several encoders: each one's encoder time over the first one's, per image size."""
    labels = list(dict.fromkeys(r["engine"] for r in rows))
    for label in labels[1:]:
        ratios = [b["encoder_ms"] / a["encoder_ms"] for a, b in zip(
            [r for r in rows if r["engine"] == labels[0]], [r for r in rows if r["engine"] == label], strict=True)]
        print(f"encoder time {label} / {labels[0]}: " + ", ".join(f"{v:.3f}" for v in ratios))
