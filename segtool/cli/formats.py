"""``segtool export`` and ``segtool import``: datasets in and out of a project, with progress bars.

``--format datumaro:NAME`` reaches every format of the installed Datumaro; ``segtool export --help``
and ``segtool import --help`` list them (Datumaro is imported only when help is asked for).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_NATIVE_EXPORT = ("coco", "voc", "yolo", "cvat", "label-studio", "labelme", "instance-masks", "semantic-masks")
_NATIVE_IMPORT = ("coco", "voc", "labelme", "yolo", "cvat", "label-studio", "instance-masks", "semantic-masks")


class _HelpWithDatumaro(argparse.Action):
    """``-h/--help`` that appends the formats the installed Datumaro offers (imported only now)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None, kind="export"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.kind = kind

    def __call__(self, parser, namespace, values, option_string=None):
        from segtool.io.datumaro_bridge import available_formats

        names = available_formats(self.kind)
        extra = ("Datumaro formats (--format datumaro:NAME): " + ", ".join(names)) if names else \
            'Datumaro is not installed: pip install "segtool[formats]" adds --format datumaro:NAME'
        parser.epilog = extra
        parser.print_help()
        parser.exit()


def _format(kind: str, native: tuple[str, ...]):
    def check(text: str) -> str:
        if text in native or (text.startswith("datumaro:") and len(text) > 9):
            return text
        raise argparse.ArgumentTypeError(f"unknown format {text!r}; use one of {', '.join(native)} or "
                                         "datumaro:NAME (see --help)")
    return check


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export accepted instances to COCO, VOC, YOLO, CVAT, Label Studio, "
                       "labelme, mask PNGs or any Datumaro format", add_help=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-h", "--help", action=_HelpWithDatumaro, kind="export", help="show this help and exit")
    p.add_argument("project", type=Path, help="the .segtool file or its folder")
    p.add_argument("out", type=Path, help="output folder (COCO: also a .json file)")
    p.add_argument("--format", type=_format("export", _NATIVE_EXPORT), required=True,
                   help=f"{', '.join(_NATIVE_EXPORT)} or datumaro:NAME")
    p.add_argument("--segmentation", choices=["rle", "polygon", "auto"], default="auto",
                   help="COCO masks: RLE (exact), polygons (masks with holes stay RLE) or auto; "
                   "Label Studio: rle = brush labels, polygon/auto = polygon labels where a mask has no hole")
    p.add_argument("--split", default=None, help="e.g. val=0.2: a seeded random 20%% of images go to val")
    p.add_argument("--seed", type=int, default=0, help="seed of --split")
    p.add_argument("--layout", choices=["datumaro", "flat"], default=None,
                   help="COCO folder: datumaro (default) = annotations/instances_<split>.json + images/<split>/, "
                   "what Datumaro and CVAT import as is; flat = annotations.json or <split>.json (images only "
                   "with --copy-images)")
    p.add_argument("--copy-images", action="store_true",
                   help="COCO --layout flat: copy the images to OUT/images/ (the datumaro layout always has them)")
    p.add_argument("--void-border", type=int, default=0, metavar="N",
                   help="VOC: mark N pixels around object boundaries as void (255)")
    p.add_argument("--jpeg", action="store_true",
                   help="VOC: every image as JPEGImages/<id>.jpg, as torchvision's VOCSegmentation needs "
                   "(default: PNG sources stay PNG)")
    p.add_argument("--unlabelled", default=None, metavar="NAME",
                   help="export instances without a class under class NAME (default: skip them, and say how many)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT when it holds an earlier segtool export (the whole folder is replaced)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import annotations (COCO, VOC, labelme, YOLO, CVAT, Label Studio, mask "
                       "PNGs, any Datumaro format); all or nothing", add_help=False)
    p.add_argument("-h", "--help", action=_HelpWithDatumaro, kind="import", help="show this help and exit")
    p.add_argument("project", type=Path, help="the .segtool file or its folder")
    p.add_argument("source", type=Path, help="the dataset: a file or a folder, as the format has it")
    p.add_argument("--format", type=_format("import", _NATIVE_IMPORT), required=True,
                   help=f"{', '.join(_NATIVE_IMPORT)} or datumaro:NAME")
    p.add_argument("--boxes", choices=["skip", "mask"], default="skip",
                   help="annotations that are only a box: skip and count them (default), or import box masks")
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
                                    progress=bar.update, unlabelled=args.unlabelled, overwrite=args.overwrite,
                                    jpeg=args.jpeg, layout=args.layout)
    details = report.details
    extra = ""
    if getattr(details, "holes_kept_as_rle", 0):
        extra = f" ({details.holes_kept_as_rle} masks with holes kept as RLE)"
    for path, reason in report.skipped_images:
        print(f"segtool: skipped {path}: {reason}", file=sys.stderr)
    print(f"{report.summary()} to {', '.join(str(f) for f in report.files)}{extra}")
    for note in getattr(details, "notes", ()):
        print(f"  {note}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from segtool.services.formats import import_into_project, load_dataset
    from segtool.store.sqlite import ProjectStore

    with ProjectStore.open(args.project) as store:
        dataset = load_dataset(store, args.source, args.format, boxes=args.boxes)
        with _bar(len(dataset.images), f"import {args.format}") as bar:
            report = import_into_project(store, args.source, args.format, progress=bar.update, dataset=dataset)
    print(f"imported {report.instances_added} instances ({report.instances_skipped} already present), "
          f"{report.images_added} new images, {report.classes_added} new classes")
    for note in report.notes:
        print(f"  {note}")
    return 0
