"""``segtool bench proposals``: automatic mask proposals, seconds per image and proposals kept.

For each grid density (``--points-per-side 16,32``) every image is encoded once (timed apart) and
proposals are generated; the table gives the median seconds per image (proposal generation, and
with the encoder), the mean number of proposals kept and, when ground truth is known, the mean IoU
of the best proposal per object. ``--engine classical`` measures the model-free fallback.

Images: ``--dataset DIR`` (``images/`` + ``masks/``, e.g. ../shared/datasets/grabcut; 128 in a mask
is ignored), else the first ``--limit`` (default 3) synthetic demo samples with exact object masks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.errors import SegtoolError
from segtool.core.masks import mask_iou
from segtool.engines.proposals import ProposalConfig, classical_proposals, sam_proposals
from segtool.engines.registry import SAM_ENGINES, create_engine


def _samples(dataset: Path | None, limit: int | None) -> Iterator[tuple[str, np.ndarray, list[tuple]]]:
    """``(name, RGB image, [(object mask, ignore mask or None), ...])`` per image."""
    if dataset is not None:
        from segtool.bench.robot import load_dataset

        for s in load_dataset(dataset, limit):
            yield s.name, s.image, [(s.gt, s.ignore)]
        return
    from segtool.demo import render_sample

    for index in range(limit or 3):
        image, objects = render_sample(index)
        yield f"demo{index}", image, [(o.mask, None) for o in objects]


def _best_ious(masks: list[np.ndarray], objects: list[tuple]) -> list[float]:
    return [max((mask_iou(m, gt, ignore) for m in masks), default=0.0) for gt, ignore in objects]


def _run_one(engine: Any, image: np.ndarray, cfg: ProposalConfig) -> tuple[list, float, float]:
    """Proposals, seconds to encode, seconds to generate (after encoding)."""
    if engine is None:
        start = time.perf_counter()
        return classical_proposals(image, cfg), 0.0, time.perf_counter() - start
    start = time.perf_counter()
    context = engine.prepare(image)
    encoded = time.perf_counter()
    props = sam_proposals(engine, image, cfg, context=context)
    return props, encoded - start, time.perf_counter() - encoded


def evaluate(engine: Any, points_per_side: int, dataset: Path | None, limit: int | None, *,
             verbose: bool = True) -> dict[str, Any]:
    """One row of the table: timings, proposals kept and best-proposal IoU for one grid density.

    With ``verbose``, one line per image goes to stderr as it finishes.
    """
    cfg = ProposalConfig(points_per_side=points_per_side)
    rows = []
    for name, image, objects in _samples(dataset, limit):
        props, enc, gen = _run_one(engine, image, cfg)
        ious = _best_ious([p.mask for p in props], objects)
        rows.append({"name": name, "encode_s": round(enc, 4), "proposals_s": round(gen, 4), "kept": len(props),
                     "best_iou": [round(v, 4) for v in ious]})
        if verbose:
            print(f"  {name}: {enc + gen:.2f} s, {len(props)} kept, best IoU {np.mean(ious):.3f}",
                  file=sys.stderr, flush=True)
    all_ious = [v for r in rows for v in r["best_iou"]]
    return {
        "points_per_side": points_per_side if engine is not None else None,
        "n_images": len(rows),
        "median_s_per_image": float(np.median([r["encode_s"] + r["proposals_s"] for r in rows])),
        "median_proposals_s": float(np.median([r["proposals_s"] for r in rows])),
        "median_encode_s": float(np.median([r["encode_s"] for r in rows])),
        "mean_kept": float(np.mean([r["kept"] for r in rows])),
        "mean_best_iou": float(np.mean(all_ious)) if all_ious else None,
        "images": rows,
    }


def run(args: argparse.Namespace) -> int:
    """Handler of ``segtool bench proposals``."""
    sides = [int(v) for v in str(args.points_per_side).split(",") if v.strip()]
    if args.engine == "classical":
        engine, sides = None, [0]
    elif args.engine in SAM_ENGINES:
        if args.model is None:
            raise SegtoolError(f"bench proposals with {args.engine} needs --model PATH (or --engine classical)")
        options: dict[str, Any] = {"model": args.model}
        if args.engine == "sam-onnx":
            options["cache"] = False
        engine = create_engine(args.engine, **options)
    else:
        raise SegtoolError(f"bench proposals runs sam-onnx, sam-torch or classical, not {args.engine!r}")
    results = []
    print(f"{'engine':<10} {'grid':>5} {'images':>6} {'s/image':>8} {'encode s':>9} {'kept':>6} {'best IoU':>9}")
    for side in sides:
        row = evaluate(engine, side, args.dataset, args.limit)
        results.append({"engine": args.engine, **row})
        grid = f"{side}x{side}" if side else "-"
        iou = f"{row['mean_best_iou']:.3f}" if row["mean_best_iou"] is not None else "-"
        print(f"{args.engine:<10} {grid:>5} {row['n_images']:>6} {row['median_s_per_image']:>8.2f} "
              f"{row['median_encode_s']:>9.2f} {row['mean_kept']:>6.1f} {iou:>9}", flush=True)
    if args.json is not None:
        Path(args.json).write_text(json.dumps({"results": results}, indent=2))
    return 0
