"""``segtool init FOLDER`` and ``segtool info PROJECT [--json]``."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create or update FOLDER/project.segtool from the images in FOLDER")
    p.add_argument("folder", help="folder of images (scanned recursively)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("info", help="images, annotated images, instances and classes of a project")
    p.add_argument("project", help="the .segtool file or its folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_info)


def cmd_init(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from segtool.services.project_init import init_project

    bars: list[tqdm] = []

    def progress(done: int, total: int, rel: str) -> None:
        if args.quiet:
            return
        if not bars:  # created on the first file, so errors before the scan print no bar
            bars.append(tqdm(total=total, desc="scanning", unit="file", file=sys.stderr, leave=False))
        bars[0].update(done - bars[0].n)

    try:
        report = init_project(args.folder, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    verb = "created" if report.created else "updated"
    print(f"{verb} {report.project}: added {len(report.added)} image(s), "
          f"{report.already_present} already present, {len(report.skipped)} skipped")
    for rel, reason in report.skipped:
        print(f"  skipped {rel}: {reason}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from segtool.store.sqlite import ProjectStore

    with ProjectStore.open(args.project, readonly=True) as store:
        counts = store.counts()
        statuses = {s: len(store.images(status=s)) for s in ("todo", "in-progress", "done")}
        classes = [{"id": c.id, "name": c.name, "color": list(c.color)} for c in store.classes()]
        info = {"project": str(store.path), "root": str(store.root), "schema_version": store.schema_version,
                **counts, "status": statuses, "class_names": classes}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"project          {info['project']}")
    print(f"images folder    {info['root']}")
    print(f"images           {counts['images']} ({statuses['todo']} todo, {statuses['in-progress']} in progress, "
          f"{statuses['done']} done)")
    print(f"annotated images {counts['annotated_images']}")
    print(f"instances        {counts['instances']} accepted, {counts['pending_proposals']} pending proposals")
    print(f"classes          {counts['classes']}" + (": " + ", ".join(c["name"] for c in classes) if classes else ""))
    return 0
