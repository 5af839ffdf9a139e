"""``segtool bench latency``: median encoder / decoder / cached-embedding times of a SAM engine.

Decoder time covers one 1-click ``predict`` including post-processing to a full-resolution bool
mask. Non-SAM engines are delegated to :mod:`segtool.bench.latency_classical`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from segtool.bench.timing import median_ms
from segtool.engines.base import Prompt
from segtool.engines.embeddings import EmbeddingCache
from segtool.engines.registry import SAM_ENGINES, create_engine


def _synthetic_image(megapixels: float | None, seed: int = 0) -> np.ndarray:
    """A smooth RGB uint8 4:3 test image of about ``megapixels`` (1024x768 when None)."""
    width = 1024 if megapixels is None else max(16, int(round((megapixels * 1e6 * 4 / 3) ** 0.5)))
    height = max(16, width * 3 // 4)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], axis=2) * 200
    blob = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) < (min(width, height) / 4) ** 2
    base[blob] = [230, 40, 40]
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(engine: Any, image: np.ndarray, repeats: int, cache_dir: Path) -> dict[str, Any]:
    """Medians (ms) of encoder, 1-click decoder (to a full-resolution mask) and cached-embedding load."""
    engine.cache = None
    encoder_ms = median_ms(lambda: engine.prepare(image), max(1, repeats // 3))
    context = engine.prepare(image)
    h, w = image.shape[:2]
    prompt = Prompt(points=[[w / 2, h / 2]], labels=[1])
    engine.predict(context, prompt)  # warm-up
    decoder_ms = median_ms(lambda: engine.predict(context, prompt), repeats)
    cache = EmbeddingCache(cache_dir)
    engine.cache = cache
    engine.prepare(image)  # fills the cache

    def cached() -> None:
        cache.clear(disk=False)  # force the on-disk path (the slow one)
        ctx = engine.prepare(image)
        assert ctx.cache_hit

    cached_disk_ms = median_ms(cached, repeats)
    cached_ram_ms = median_ms(lambda: engine.prepare(image), repeats)
    return {"image_hw": [h, w], "encoder_ms": encoder_ms, "decoder_ms": decoder_ms,
            "cached_embedding_disk_ms": cached_disk_ms, "cached_embedding_ram_ms": cached_ram_ms}


def _gpu_peak_mb() -> float | None:
    """Peak CUDA memory of this process when the engine loaded torch with a GPU, else None."""
    torch_mod = sys.modules.get("torch")  # never import torch here: only read it if the engine did
    if torch_mod is not None and torch_mod.cuda.is_available():
        return torch_mod.cuda.max_memory_allocated() / 1e6
    return None


def run(args: argparse.Namespace) -> int:
    """Entry of ``segtool bench latency``."""
    if args.engine not in SAM_ENGINES:
        return importlib.import_module("segtool.bench.latency_classical").run(args)
    options: dict[str, Any] = {"model": args.model, "device": args.device}
    if getattr(args, "random_weights", None):
        options.update(model=None, random_weights=True, model_type=args.random_weights)
    engine = create_engine(args.engine, **options)
    rows = []
    with tempfile.TemporaryDirectory(prefix="segtool-latency-") as tmp:
        for mp in args.megapixels or [None]:
            row = measure(engine, _synthetic_image(mp), args.repeats, Path(tmp))
            row["megapixels"] = mp
            rows.append(row)
    report = {"engine": args.engine, "model": str(args.model), "model_id": getattr(engine, "model_id", None),
              "device": str(getattr(engine, "device", getattr(engine, "providers", "?"))), "repeats": args.repeats,
              "peak_rss_mb": _peak_rss_mb(), "peak_gpu_mb": _gpu_peak_mb(), "rows": rows}
    print(f"engine {report['engine']}  model {report['model_id']}  device {report['device']}")
    print(f"{'image':>11} {'encoder ms':>11} {'decoder ms':>11} {'cache disk':>11} {'cache RAM':>10}")
    for r in rows:
        print(f"{r['image_hw'][1]:>5}x{r['image_hw'][0]:<5} {r['encoder_ms']:11.1f} {r['decoder_ms']:11.1f} "
              f"{r['cached_embedding_disk_ms']:11.2f} {r['cached_embedding_ram_ms']:10.3f}")
    print(f"peak RSS {report['peak_rss_mb']:.0f} MB" + (f", peak GPU {report['peak_gpu_mb']:.0f} MB"
                                                         if report["peak_gpu_mb"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0
