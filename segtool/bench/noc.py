"""``segtool bench noc``: robot-user clicks on a benchmark folder; NoC@85/90 and mIoU after k clicks.

Engine-generic: any engine of :mod:`segtool.engines.registry` (SAM engines get ``model=``).
Each image is prepared once; every interaction is one ``predict`` call (see
:func:`segtool.bench.robot.run_robot`).

Variants (``--variants``) run on the same prepared images in one run, so that before/after figures
are measured side by side: ``raw`` is each engine as it was before issue 15 (SAM's output passed
straight through; the classical engines' old follow-up rules), ``default`` is what segtool does
now (it already zooms in on objects started with a box), ``zoom-in`` (on every object) and
``refine-edges`` add those SAM options (see :mod:`segtool.engines.sam_interactive`). Protocols (``--first``) are reported apart: click-first
figures are the ones the literature compares; box-first ones start from the ground-truth box.

Besides NoC and mIoU the report counts harmful clicks (a click that lowers IoU by more than
:data:`HARMFUL_DROP`, among the interactions after the first) and boundary quality (boundary
F-measure at :data:`BOUNDARY_TOLERANCE` pixels, see :mod:`segtool.bench.boundary`).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segtool.bench.robot import Trace, load_dataset, run_robot
from segtool.core.errors import SegtoolError
from segtool.engines.registry import SAM_ENGINES, create_engine

THRESHOLDS = (0.85, 0.90)
#: A click "makes it worse" when IoU falls by more than this.
HARMFUL_DROP = 0.05
#: Boundary F-measure tolerance in pixels.
BOUNDARY_TOLERANCE = 3.0
#: The fixed split used to choose constants (issue 15): every 4th image by sorted name, from the first.
TUNE_EVERY = 4
PROTOCOLS = {
    "click": "click-first: clicks only (comparable with published NoC)",
    "box": "box-first: the ground-truth box is interaction 1, clicks follow (not comparable with click-only figures)",
}


@dataclass(frozen=True)
class Variant:
    """One way of running an engine: ``raw`` (pre-issue-15 behaviour) or segtool's, with SAM options."""

    name: str
    raw: bool = False
    zoom_in: bool = False
    refine_edges: bool = False


VARIANTS = {
    "raw": Variant("raw", raw=True),
    "default": Variant("default"),
    "zoom-in": Variant("zoom-in", zoom_in=True),
    "refine-edges": Variant("refine-edges", refine_edges=True),
    "zoom-in+refine-edges": Variant("zoom-in+refine-edges", zoom_in=True, refine_edges=True),
}


def make_engine(name: str, model: Path | None, device: str | None, encoder: str | None = None) -> Any:
    """The engine ``name``; ``model`` and ``device`` go only to SAM engines, ``encoder`` only to sam-onnx."""
    if name == "sam-onnx" and encoder:
        return create_engine(name, model=model, device=device, encoder=encoder)
    if name in SAM_ENGINES:
        return create_engine(name, model=model, device=device)
    return create_engine(name)


def configure(engine: Any, engine_name: str, variant: Variant) -> Any:
    """A shallow copy of ``engine`` (sharing its sessions and caches) set up as ``variant``."""
    out = copy.copy(engine)
    if engine_name in SAM_ENGINES:
        from segtool.engines.sam_interactive import InteractiveOptions  # noqa: PLC0415

        out.interactive = InteractiveOptions(raw=variant.raw, zoom_in=variant.zoom_in,
                                             refine_edges=variant.refine_edges)
    elif variant.zoom_in or variant.refine_edges:
        raise SegtoolError(f"variant {variant.name!r} is a SAM option; {engine_name} has only raw and default")
    else:
        out.raw = variant.raw
    return out


def select_split(samples: list, split: str) -> list:
    """``all`` samples, the ``tune`` split (every :data:`TUNE_EVERY`-th by name) or the ``heldout`` rest."""
    if split == "tune":
        return samples[::TUNE_EVERY]
    if split == "heldout":
        return [s for i, s in enumerate(samples) if i % TUNE_EVERY]
    return list(samples)


def harmful_clicks(traces: list[Trace], drop: float = HARMFUL_DROP) -> tuple[int, int]:
    """``(harmful, follow_ups)``: interactions after the first that lowered IoU by more than ``drop``."""
    deltas = [d for t in traces for d in t.follow_up_deltas()]
    return sum(1 for d in deltas if d < -drop), len(deltas)


def summarize(engine: str, traces: list[Trace], max_clicks: int, first: str,
              variant: str = "default") -> dict[str, Any]:
    """The JSON report of one run: NoC@85/90, mean IoU/Dice/boundary F after each interaction,
    harmful clicks, seconds per click, and per image."""
    ious = np.array([t.ious for t in traces], np.float64)
    dices = np.array([t.dices for t in traces], np.float64)
    bfs = np.array([t.boundary_f for t in traces], np.float64)
    per_click = [s for t in traces for s in t.seconds]
    harmful, follow_ups = harmful_clicks(traces)
    return {
        "engine": engine,
        "variant": variant,
        "first": first,
        "protocol": PROTOCOLS[first],
        "n_images": len(traces),
        "max_clicks": max_clicks,
        "noc85": float(np.mean([t.clicks_to(0.85, max_clicks) for t in traces])),
        "noc90": float(np.mean([t.clicks_to(0.90, max_clicks) for t in traces])),
        "miou_at_click": [round(float(v), 5) for v in ious.mean(axis=0)],
        "mdice_at_click": [round(float(v), 5) for v in dices.mean(axis=0)],
        "boundary_f_at_click": [round(float(v), 5) for v in bfs.mean(axis=0)],
        "boundary_tolerance_px": BOUNDARY_TOLERANCE,
        "harmful_drop": HARMFUL_DROP,
        "harmful_clicks": harmful,
        "follow_up_clicks": follow_ups,
        "harmful_share": harmful / follow_ups if follow_ups else 0.0,
        "seconds_per_click": float(np.mean(per_click)) if per_click else 0.0,
        "median_seconds_per_click": float(np.median(per_click)) if per_click else 0.0,
        "seconds_prepare_mean": float(np.mean([t.prepare_seconds for t in traces])),
        "background_seconds_per_image": float(np.mean([t.background_seconds for t in traces])),
        "background_encodes_per_image": float(np.mean([t.background_jobs for t in traces])),
        "background_encode_seconds_per_image": float(np.mean([t.background_encode_seconds for t in traces])),
        "images": [{"name": t.name, "ious": [round(v, 5) for v in t.ious],
                    "noc85": t.clicks_to(0.85, max_clicks), "noc90": t.clicks_to(0.90, max_clicks),
                    "clicks": [[c.x, c.y, int(c.positive)] for c in t.clicks],
                    "made": list(t.made), "harmful_clicks": harmful_clicks([t])[0],
                    "prepare_seconds": round(t.prepare_seconds, 4),
                    "background_seconds": round(t.background_seconds, 4)} for t in traces],
    }


def evaluate(engine: Any, engine_name: str, dataset: Path, *, max_clicks: int = 20, first: str = "click",
             limit: int | None = None, split: str = "all", variants: list[Variant] | None = None,
             repeat_clicks: bool = False) -> list[dict[str, Any]]:
    """Run the robot over ``dataset`` (``images/`` + ``masks/``) for each protocol of ``first``
    (``click``, ``box`` or ``both``) and each variant; one :func:`summarize` dict per run.

    Each image is prepared once and shared by every variant and protocol.
    """
    variants = variants or [VARIANTS["default"]]
    protocols = ["click", "box"] if first == "both" else [first]
    engines = [configure(engine, engine_name, v) for v in variants]
    traces: dict[tuple[str, str], list[Trace]] = {(p, v.name): [] for p in protocols for v in variants}
    for sample in select_split(load_dataset(dataset, limit), split):
        start = time.perf_counter()
        context = engine.prepare(sample.image)
        prepare_seconds = time.perf_counter() - start
        for protocol in protocols:
            for variant, variant_engine in zip(variants, engines, strict=True):
                trace = run_robot(variant_engine, context, sample, max_clicks=max_clicks, first=protocol,
                                  repeat_clicks=repeat_clicks)
                trace.prepare_seconds = prepare_seconds
                traces[(protocol, variant.name)].append(trace)
    return [summarize(engine_name, traces[(p, v.name)], max_clicks, p, v.name) for p in protocols for v in variants]


def format_table(reports: list[dict[str, Any]]) -> str:
    """A short human-readable table: one block per protocol, one row per variant."""
    lines: list[str] = []
    for protocol in dict.fromkeys(r["first"] for r in reports):
        block = [r for r in reports if r["first"] == protocol]
        miou = block[0]["miou_at_click"]
        cols = [k for k in (1, 2, 3, 5, 10, 20) if k <= len(miou)]
        lines += [f"engine {block[0]['engine']}  images={block[0]['n_images']}  {block[0]['protocol']}",
                  f"{'variant':<21}{'NoC@85':>7}{'NoC@90':>7}" + "".join(f"{'mIoU@' + str(k):>9}" for k in cols)
                  + f"{'BF@' + str(cols[-1]):>7}{'harmful':>14}{'s/click':>9}{'bg s/img':>9}{'enc s/img':>10}"]
        for r in block:
            m, bf = r["miou_at_click"], r["boundary_f_at_click"]
            harm = f"{r['harmful_clicks']}/{r['follow_up_clicks']} {100 * r['harmful_share']:.1f}%"
            lines.append(f"{r['variant']:<21}{r['noc85']:7.2f}{r['noc90']:7.2f}"
                         + "".join(f"{m[k - 1]:9.3f}" for k in cols)
                         + f"{bf[cols[-1] - 1]:7.3f}{harm:>14}{r['seconds_per_click']:9.4f}"
                         + f"{r['background_seconds_per_image']:9.3f}"
                         + f"{r.get('background_encode_seconds_per_image', 0.0):10.3f}")
        lines.append("")
    lines.append(f"harmful = follow-up clicks lowering IoU by > {HARMFUL_DROP}; BF = boundary F-measure at "
                 f"{BOUNDARY_TOLERANCE:g} px; bg s/img = waiting for background work (zoom-in encodes) per image; "
                 "enc s/img = encoder seconds of those background encodes per image (one object each)")
    return "\n".join(lines)


def variants_from_args(args: argparse.Namespace) -> list[Variant]:
    """The variants asked for by ``--variants``, ``--raw`` and ``--before-after``."""
    if getattr(args, "variants", None):
        names = [v.strip() for v in args.variants.split(",") if v.strip()]
    elif getattr(args, "before_after", False):
        names = ["raw", "default"]
    elif getattr(args, "raw", False):
        names = ["raw"]
    else:
        names = ["default"]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SegtoolError(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    return [VARIANTS[n] for n in names]


def run(args: argparse.Namespace) -> int:
    """Entry of ``segtool bench noc``."""
    variants = variants_from_args(args)
    engine = make_engine(args.engine, args.model, getattr(args, "device", None), getattr(args, "encoder", None))
    reports = evaluate(engine, args.engine, args.dataset, max_clicks=args.max_clicks, first=args.first,
                       limit=args.limit, split=getattr(args, "split", "all"), variants=variants,
                       repeat_clicks=getattr(args, "repeat_clicks", False))
    print(format_table(reports))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        out = {"dataset": str(args.dataset), "split": getattr(args, "split", "all"),
               "robot": "legacy (repeats clicks)" if getattr(args, "repeat_clicks", False) else "RITM",
               "runs": reports}
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0
