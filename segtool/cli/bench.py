"""``segtool bench ...``: benchmark commands. Each prints a table and can write JSON (``--json OUT``).

Handlers import their implementation lazily from :mod:`segtool.bench` (or :mod:`segtool.gui` for
``bench gui``), so ``segtool --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from segtool.engines.registry import ENGINES


def _lazy(target: str):
    """A handler that imports ``module:function`` on first call."""

    def handler(args: argparse.Namespace) -> int:
        module_name, func_name = target.split(":")
        return getattr(importlib.import_module(module_name), func_name)(args)

    return handler


def _megapixels(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks (speed and quality); print a table, optional --json")
    bsub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)

    p = bsub.add_parser("store", help="synthetic project: open, load instances, commit, undo")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--instances", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--workdir", type=Path, default=None, help="where to build the project (temp dir)")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.bench.store_bench:run"))

    p = bsub.add_parser("noc", help="robot-user clicks: NoC@85/90, mIoU after k clicks, harmful clicks")
    p.add_argument("--engine", choices=sorted(ENGINES), default="sam-onnx")
    p.add_argument("--model", type=Path, default=None, help="model directory or checkpoint (SAM engines)")
    p.add_argument("--dataset", type=Path, required=True, help="folder with images/ and masks/")
    p.add_argument("--first", choices=["click", "box", "both"], default="click",
                   help="click: clicks only (the literature's protocol); box: the ground-truth box first; "
                        "both: each reported apart")
    p.add_argument("--max-clicks", type=int, default=20)
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--split", choices=["all", "tune", "heldout"], default="all",
                   help="tune: every 4th image by name (where segtool's constants were chosen); heldout: the rest")
    p.add_argument("--raw", action="store_true",
                   help="the engine's behaviour before issue 15 (SAM output passed straight through)")
    p.add_argument("--before-after", action="store_true", help="raw and default side by side in one run")
    p.add_argument("--variants", default=None,
                   help="comma list run side by side: raw, default, zoom-in, refine-edges, zoom-in+refine-edges")
    p.add_argument("--repeat-clicks", action="store_true",
                   help="the pre-issue-15 robot, which may click a pixel again (RITM never does)")
    p.add_argument("--device", default=None)
    p.add_argument("--encoder", choices=["fp32", "int8"], default=None,
                   help="sam-onnx only: the installed encoder or its int8 variant (default: segtool's choice)")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.bench.noc:run"))

    p = bsub.add_parser("latency", help="median prepare/predict time per interaction")
    p.add_argument("--engine", choices=sorted(ENGINES), default="sam-onnx")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--megapixels", type=_megapixels, default=None,
                   help="image sizes, e.g. 1,12,40 (SAM default 1,12,24,48)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--encoder", default=None,
                   help="sam-onnx only: fp32 (the installed encoder), int8 (its int8 variant) or both, "
                        "comma-separated, timed side by side (default: segtool's choice)")
    p.add_argument("--device", default=None)
    p.add_argument("--random-weights", default=None, choices=["vit_h", "vit_l", "vit_b", "vit_t"],
                   help="sam-torch only: time an untrained model of this type (no checkpoint needed)")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.bench.latency:run"))

    p = bsub.add_parser("export", help="export a synthetic project to COCO (RLE) and VOC")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--instances", type=int, default=50, help="per image")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--repeat", type=int, default=1, help="runs per export; the median is reported")
    p.add_argument("--workers", type=int, default=None, help="VOC export threads (default: segtool's)")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.bench.export_bench:run"))

    p = bsub.add_parser("proposals", help="automatic mask proposals: seconds per image, proposals kept")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--engine", default="sam-onnx")
    p.add_argument("--dataset", type=Path, default=None)
    p.add_argument("--points-per-side", default="16,32")
    p.add_argument("--method", default="fast,legacy",
                   help="comma-separated: fast (default path) and/or legacy (the path before issue 14)")
    p.add_argument("--device", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.bench.proposals_bench:run"))

    p = bsub.add_parser("gui", help="drive the real window offscreen: click-to-mask latency, GUI stalls")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--clicks", type=int, default=30)
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(func=_lazy("segtool.gui.bench_gui:run"))
