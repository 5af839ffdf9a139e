"""``segtool models list|download NAME|add PATH|remove NAME``: the model catalogue and installed models."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="list, download, add or remove SAM models")
    msub = models.add_subparsers(dest="models", metavar="ACTION", required=True)
    p = msub.add_parser("list", help="installed models and the downloadable catalogue")
    p.set_defaults(func=_list)
    p = msub.add_parser("download", help="download a catalogue model (resumable, checksum verified)")
    p.add_argument("name")
    p.add_argument("--url", default=None, help="mirror URL of the same file (checked against the catalogue sha256)")
    p.set_defaults(func=_download)
    p = msub.add_parser("add", help="register a local checkpoint (.pt/.pth) or ONNX folder")
    p.add_argument("path", type=Path)
    p.add_argument("--name", default=None)
    p.add_argument("--model-type", default=None, choices=["vit_h", "vit_l", "vit_b", "vit_t"])
    p.set_defaults(func=_add)
    p = msub.add_parser("remove", help="unregister a model (deletes it if it was downloaded)")
    p.add_argument("name")
    p.set_defaults(func=_remove)


def _list(args: argparse.Namespace) -> int:
    from segtool.engines import models  # noqa: PLC0415

    installed = models.installed_models()
    print(f"Installed ({models.models_dir()}):")
    for m in installed:
        print(f"  {m.name:<14} {m.engine:<10} {m.model_type or '-':<6} {m.path}")
    if not installed:
        print("  (none)")
    names = {m.name for m in installed}
    print("Catalogue (segtool models download NAME):")
    for e in models.CATALOG.values():
        mark = "installed" if e.name in names else f"{e.size / 1e6:,.0f} MB"
        print(f"  {e.name:<14} {e.model_type:<6} {mark:<10} {e.speed}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from segtool.engines import models  # noqa: PLC0415

    path = models.download(args.name, url=args.url)
    print(f"installed {args.name}: {path}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from segtool.engines import models  # noqa: PLC0415

    entry = models.add_model(args.path, args.name, model_type=args.model_type)
    print(f"added {entry.name} ({entry.engine}): {entry.path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from segtool.engines import models  # noqa: PLC0415

    entry = models.remove_model(args.name)
    print(f"removed {entry.name}")
    return 0
