"""``segtool bench noc``: robot-user clicks on a benchmark folder; NoC@85/90 and mIoU after k clicks.

Engine-generic: any engine of :mod:`segtool.engines.registry` (SAM engines get ``model=``).
Each image is prepared once; every interaction is one ``predict`` call (see
:func:`segtool.bench.robot.run_robot`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from segtool.bench.robot import Trace, load_dataset, run_robot
from segtool.engines.registry import SAM_ENGINES, create_engine

THRESHOLDS = (0.85, 0.90)


def make_engine(name: str, model: Path | None, device: str | None, encoder: str | None = None) -> Any:
    """The engine ``name``; ``model`` and ``device`` go only to SAM engines, ``encoder`` only to sam-onnx."""
    if name == "sam-onnx" and encoder:
        return create_engine(name, model=model, device=device, encoder=encoder)
    if name in SAM_ENGINES:
        return create_engine(name, model=model, device=device)
    return create_engine(name)


def summarize(engine: str, traces: list[Trace], max_clicks: int, first: str) -> dict[str, Any]:
    """The JSON report: NoC@85/90, mean IoU/Dice after each click, seconds per click, per image."""
    ious = np.array([t.ious for t in traces], np.float64)
    dices = np.array([t.dices for t in traces], np.float64)
    per_click = [s for t in traces for s in t.seconds]
    return {
        "engine": engine,
        "first": first,
        "n_images": len(traces),
        "max_clicks": max_clicks,
        "noc85": float(np.mean([t.clicks_to(0.85, max_clicks) for t in traces])),
        "noc90": float(np.mean([t.clicks_to(0.90, max_clicks) for t in traces])),
        "miou_at_click": [round(float(v), 5) for v in ious.mean(axis=0)],
        "mdice_at_click": [round(float(v), 5) for v in dices.mean(axis=0)],
        "seconds_per_click": float(np.mean(per_click)) if per_click else 0.0,
        "median_seconds_per_click": float(np.median(per_click)) if per_click else 0.0,
        "seconds_prepare_mean": float(np.mean([t.prepare_seconds for t in traces])),
        "images": [{"name": t.name, "ious": [round(v, 5) for v in t.ious],
                    "noc85": t.clicks_to(0.85, max_clicks), "noc90": t.clicks_to(0.90, max_clicks),
                    "clicks": [[c.x, c.y, int(c.positive)] for c in t.clicks],
                    "prepare_seconds": round(t.prepare_seconds, 4)} for t in traces],
    }


def evaluate(engine: Any, engine_name: str, dataset: Path, *, max_clicks: int = 20, first: str = "click",
             limit: int | None = None) -> dict[str, Any]:
    """Run the robot over ``dataset`` (``images/`` + ``masks/``) and return :func:`summarize`'s dict."""
    traces = []
    for sample in load_dataset(dataset, limit):
        start = time.perf_counter()
        context = engine.prepare(sample.image)
        prepare_seconds = time.perf_counter() - start
        trace = run_robot(engine, context, sample, max_clicks=max_clicks, first=first)
        trace.prepare_seconds = prepare_seconds
        traces.append(trace)
    return summarize(engine_name, traces, max_clicks, first)


def format_table(report: dict[str, Any]) -> str:
    """A short human-readable table of a report."""
    miou = report["miou_at_click"]
    cols = [k for k in (1, 2, 3, 5, 10, 20) if k <= len(miou)]
    lines = [f"engine {report['engine']}  first={report['first']}  images={report['n_images']}",
             f"{'NoC@85':>8} {'NoC@90':>8} " + " ".join(f"{'mIoU@' + str(k):>8}" for k in cols) + f" {'s/click':>8}",
             f"{report['noc85']:8.2f} {report['noc90']:8.2f} " + " ".join(f"{miou[k - 1]:8.3f}" for k in cols)
             + f" {report['seconds_per_click']:8.4f}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Entry of ``segtool bench noc``."""
    engine = make_engine(args.engine, args.model, getattr(args, "device", None), getattr(args, "encoder", None))
    report = evaluate(engine, args.engine, args.dataset, max_clicks=args.max_clicks, first=args.first,
                      limit=args.limit)
    print(format_table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0
