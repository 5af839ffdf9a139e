"""``segtool export`` and ``segtool import``: datasets in and out of a project, with progress bars."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export accepted instances to COCO, Pascal VOC or YOLO")
    p.add_argument("project", type=Path, help="the .segtool file or its folder")
    p.add_argument("out", type=Path, help="output folder (COCO: also a .json file)")
    p.add_argument("--format", choices=["coco", "voc", "yolo"], required=True)
    p.add_argument("--segmentation", choices=["rle", "polygon", "auto"], default="auto",
                   help="COCO masks: RLE (exact), polygons (masks with holes stay RLE) or auto")
    p.add_argument("--split", default=None, help="e.g. val=0.2: a seeded random 20%% of images go to val")
    p.add_argument("--seed", type=int, default=0, help="seed of --split")
    p.add_argument("--copy-images", action="store_true", help="COCO: copy the images to OUT/images/")
    p.add_argument("--void-border", type=int, default=0, metavar="N",
                   help="VOC: mark N pixels around object boundaries as void (255)")
    p.add_argument("--unlabelled", default=None, metavar="NAME",
                   help="export instances without a class under class NAME (default: skip them, and say how many)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT when it holds an earlier segtool export (the whole folder is replaced)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import COCO, Pascal VOC or labelme annotations (all or nothing)")
    p.add_argument("project", type=Path, help="the .segtool file or its folder")
    p.add_argument("source", type=Path, help="COCO .json, VOC folder, labelme .json or folder of them")
    p.add_argument("--format", choices=["coco", "voc", "labelme"], required=True)
    p.set_defaults(func=cmd_import)


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, disable=None)


def cmd_export(args: argparse.Namespace) -> int:
    from segtool.io.common import parse_split
    from segtool.services.formats import export_project
    from segtool.store.sqlite import ProjectStore

    split = parse_split(args.split)
    with ProjectStore.open(args.project, readonly=True) as store:
        with _bar(len(store.images()), f"export {args.format}") as bar:
            report = export_project(store, args.out, args.format, segmentation=args.segmentation, split=split,
                                    seed=args.seed, copy_images=args.copy_images, void_border=args.void_border,
                                    progress=bar.update, unlabelled=args.unlabelled, overwrite=args.overwrite)
    details = report.details
    extra = ""
    if getattr(details, "holes_kept_as_rle", 0):
        extra = f" ({details.holes_kept_as_rle} masks with holes kept as RLE)"
    if getattr(details, "holes_dropped", 0):
        extra = f" ({details.holes_dropped} masks had holes, which YOLO polygons cannot hold)"
    for path, reason in report.skipped_images:
        print(f"segtool: skipped {path}: {reason}", file=sys.stderr)
    print(f"{report.summary()} to {', '.join(str(f) for f in report.files)}{extra}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from segtool.services.formats import import_into_project, load_dataset
    from segtool.store.sqlite import ProjectStore

    with ProjectStore.open(args.project) as store:
        dataset = load_dataset(store, args.source, args.format)
        with _bar(len(dataset.images), f"import {args.format}") as bar:
            report = import_into_project(store, args.source, args.format, progress=bar.update, dataset=dataset)
    print(f"imported {report.instances_added} instances ({report.instances_skipped} already present), "
          f"{report.images_added} new images, {report.classes_added} new classes")
    return 0
