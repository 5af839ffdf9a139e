"""``segtool bench proposals``: automatic mask proposals, old and new path side by side.

Every image is encoded once (timed apart); then each method (``--method fast,legacy``: the default
path and the one before issue 14) generates proposals from the same embedding, image after image, so
both see the same machine load. Per method and grid density the table gives the median seconds per
image (encoder + proposals), the decoder calls per image, the mean number of proposals kept, the mean
number of *distinct objects* among them (proposals counted greedily in score order, each one that
overlaps every one counted before with mask IoU < 0.5), and, when ground truth is known, the mean IoU of
the best proposal per object. ``--engine classical`` measures the model-free fallback.

Images: ``--dataset DIR`` (``images/`` + ``masks/``, e.g. ../shared/datasets/grabcut; 128 in a mask
is ignored), else the first ``--limit`` (default 3) synthetic demo samples with exact object masks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from segtool.core.errors import SegtoolError
from segtool.engines.proposals import (
    METHODS,
    Proposal,
    ProposalConfig,
    classical_proposals,
    crop_iou,
    pair_iou,
)
from segtool.engines.registry import SAM_ENGINES, create_engine

#: Proposals overlapping every earlier-counted one below this mask IoU count as a new object.
DISTINCT_IOU = 0.5


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


def best_ious(props: list[Proposal], objects: list[tuple]) -> list[float]:
    """Per ground-truth object, the IoU of the proposal that matches it best (ignore pixels excluded)."""
    out = []
    for gt, ignore in objects:
        keep = gt if ignore is None else gt & ~ignore
        out.append(max((crop_iou(_without(p, ignore), keep) for p in props), default=0.0))
    return out


def _without(prop: Proposal, ignore: np.ndarray | None) -> Proposal:
    """The proposal with ``ignore`` pixels removed (for IoU against ground truth with a void band)."""
    if ignore is None or prop.bbox is None:
        return prop
    x0, y0, x1, y1 = prop.bbox
    return Proposal(crop=prop.crop & ~ignore[y0:y1, x0:x1], offset=(x0, y0), image_size=prop.image_size,
                    score=prop.score)


def distinct_objects(props: list[Proposal], threshold: float = DISTINCT_IOU) -> int:
    """How many proposals (in score order) overlap every one counted before with mask IoU < ``threshold``."""
    counted: list[Proposal] = []
    for p in sorted(props, key=lambda q: -q.score):
        if all(pair_iou(p, q) < threshold for q in counted):
            counted.append(p)
    return len(counted)


def _generate(engine: Any, image: np.ndarray, context: Any, cfg: ProposalConfig) -> tuple[list, float, int]:
    """Proposals, seconds, decoder calls (points decoded) for one method."""
    from segtool.engines.proposals import sam_proposals
    from segtool.engines.proposals_sam import fast_sam_proposals

    start = time.perf_counter()
    if cfg.method == "fast":
        stats: dict[str, int] = {}
        props = fast_sam_proposals(engine, image, cfg, context=context, stats=stats)
        return props, time.perf_counter() - start, stats["decoded"]
    props = sam_proposals(engine, image, cfg, context=context)
    return props, time.perf_counter() - start, cfg.points_per_side ** 2


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ious = [v for r in rows for v in r["best_iou"]]
    return {"n_images": len(rows),
            "median_s_per_image": float(np.median([r["encode_s"] + r["proposals_s"] for r in rows])),
            "median_proposals_s": float(np.median([r["proposals_s"] for r in rows])),
            "median_encode_s": float(np.median([r["encode_s"] for r in rows])),
            "mean_decoded_points": float(np.mean([r["decoded"] for r in rows])),
            "mean_kept": float(np.mean([r["kept"] for r in rows])),
            "mean_distinct": float(np.mean([r["distinct"] for r in rows])),
            "mean_best_iou": float(np.mean(ious)) if ious else None, "images": rows}


def evaluate(engine: Any, points_per_side: int, methods: list[str], dataset: Path | None, limit: int | None, *,
             verbose: bool = True) -> dict[str, dict[str, Any]]:
    """Per method, the summary row for one grid density (every image encoded once, methods interleaved)."""
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for name, image, objects in _samples(dataset, limit):
        start = time.perf_counter()
        context = engine.prepare(image)
        encode_s = time.perf_counter() - start
        for method in methods:
            cfg = ProposalConfig(points_per_side=points_per_side, method=method)
            props, seconds, decoded = _generate(engine, image, context, cfg)
            ious = best_ious(props, objects)
            rows[method].append({"name": name, "encode_s": round(encode_s, 4), "proposals_s": round(seconds, 4),
                                 "decoded": decoded, "kept": len(props), "distinct": distinct_objects(props),
                                 "best_iou": [round(v, 4) for v in ious]})
            if verbose:
                print(f"  {name} {method} {points_per_side}x{points_per_side}: {encode_s + seconds:.2f} s, "
                      f"{decoded} decoded, {len(props)} kept, best IoU {np.mean(ious):.3f}", file=sys.stderr, flush=True)
    return {m: _summary(r) for m, r in rows.items()}


def _classical(dataset: Path | None, limit: int | None) -> dict[str, Any]:
    rows = []
    for name, image, objects in _samples(dataset, limit):
        start = time.perf_counter()
        props = classical_proposals(image, ProposalConfig())
        seconds = time.perf_counter() - start
        rows.append({"name": name, "encode_s": 0.0, "proposals_s": round(seconds, 4), "decoded": 0,
                     "kept": len(props), "distinct": distinct_objects(props),
                     "best_iou": [round(v, 4) for v in best_ious(props, objects)]})
    return _summary(rows)


HEADER = (f"{'engine':<10} {'method':<7} {'grid':>5} {'images':>6} {'s/image':>8} {'encode s':>9} {'decoded':>8} "
          f"{'kept':>6} {'distinct':>8} {'best IoU':>9}")


def _line(engine: str, method: str, side: int, row: dict[str, Any]) -> str:
    grid = f"{side}x{side}" if side else "-"
    iou = f"{row['mean_best_iou']:.3f}" if row["mean_best_iou"] is not None else "-"
    return (f"{engine:<10} {method:<7} {grid:>5} {row['n_images']:>6} {row['median_s_per_image']:>8.2f} "
            f"{row['median_encode_s']:>9.2f} {row['mean_decoded_points']:>8.1f} {row['mean_kept']:>6.1f} "
            f"{row['mean_distinct']:>8.1f} {iou:>9}")


def run(args: argparse.Namespace) -> int:
    """Handler of ``segtool bench proposals``."""
    sides = [int(v) for v in str(args.points_per_side).split(",") if v.strip()]
    methods = [m.strip() for m in str(getattr(args, "method", "fast,legacy")).split(",") if m.strip()]
    if unknown := [m for m in methods if m not in METHODS]:
        raise SegtoolError(f"unknown --method {unknown[0]!r}; use {', '.join(METHODS)} (comma separated)")
    results: list[dict[str, Any]] = []
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(HEADER)
    if args.engine == "classical":
        row = _classical(args.dataset, args.limit)
        results.append({"engine": "classical", "method": "-", "points_per_side": None, **row})
        print(_line("classical", "-", 0, row), flush=True)
    elif args.engine in SAM_ENGINES:
        if args.model is None:
            raise SegtoolError(f"bench proposals with {args.engine} needs --model PATH (or --engine classical)")
        options: dict[str, Any] = {"model": args.model, "cache": False}
        if getattr(args, "device", None):
            options["device"] = args.device
        engine = create_engine(args.engine, **options)
        for side in sides:
            for method, row in evaluate(engine, side, methods, args.dataset, args.limit).items():
                results.append({"engine": args.engine, "method": method, "points_per_side": side, **row})
                print(_line(args.engine, method, side, row), flush=True)
        _print_ratios(results)
    else:
        raise SegtoolError(f"bench proposals runs sam-onnx, sam-torch or classical, not {args.engine!r}")
    if args.json is not None:
        Path(args.json).write_text(json.dumps({"load_average": list(os.getloadavg()), "results": results}, indent=2))
    return 0


def _print_ratios(results: list[dict[str, Any]]) -> None:
    """fast vs legacy at the same grid: time ratio, IoU and distinct-object differences."""
    by = {(r["method"], r["points_per_side"]): r for r in results}
    for (method, side), fast in by.items():
        old = by.get(("legacy", side))
        if method != "fast" or old is None:
            continue
        ratio = fast["median_s_per_image"] / old["median_s_per_image"]
        d_iou = (fast["mean_best_iou"] - old["mean_best_iou"]) if fast["mean_best_iou"] is not None else float("nan")
        print(f"{side}x{side}: fast/legacy time per image {ratio:.3f}, best IoU {d_iou:+.4f}, "
              f"distinct objects {fast['mean_distinct'] - old['mean_distinct']:+.2f}, kept "
              f"{fast['mean_kept'] - old['mean_kept']:+.2f}")
