"""``segtool bench store``: how fast the project file is at the size of a big annotation job.

Builds a synthetic project (default 10,000 images of 1024x768 and 200,000 instances, 100 of them on
each of the first 50 images -- fewer such images for small runs -- the rest spread evenly) and prints the median of:

- ``first_open``: the first (read-only) open of a file someone sent: ``PRAGMA quick_check`` of every
  page plus the row checks of :mod:`segtool.store.checks`;
- ``open``: :meth:`ProjectStore.open` of the file (lock, pragmas, schema check, image-row checks;
  the integrity check is skipped for a file already verified and unchanged since);
- ``load_image``: :meth:`ProjectStore.open_image` of a typical image (its ~20 instances);
- ``load_100``: :meth:`ProjectStore.instances` of an image with 100 instances;
- ``commit_edit``: ``history.push(EditMask(...))`` of a 32x32 brush dab, durable on return
  (decode + XOR + encode + one SQLite commit);
- ``undo``: ``history.undo()`` of such an edit, durable on return;

each for ``synchronous=normal`` (the default: survives a killed process) and ``full`` (also survives
a power loss, one fsync per command). Goals on the 2-core reference machine: open <= 1 s, commit <= 5 ms, load 100 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from segtool.bench.timing import median_ms
from segtool.core import masks
from segtool.core.commands import EditMask
from segtool.core.document import ImageRecord, Instance
from segtool.core.history import History
from segtool.store.checks import VerifiedFiles
from segtool.store.sqlite import ProjectStore

IMAGE_W, IMAGE_H = 1024, 768
HEAVY_IMAGES, HEAVY_COUNT = 50, 100
GOALS_MS = {"first_open": 1000.0, "open": 1000.0, "commit_edit": 5.0, "load_100": 20.0}


def _templates(rng: np.random.Generator, n: int = 64) -> list[tuple[dict, tuple[int, int, int, int], int]]:
    """``n`` random ellipse masks as (RLE, bbox, area), reused across the synthetic instances."""
    yy, xx = np.mgrid[0:IMAGE_H, 0:IMAGE_W]
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(100, IMAGE_W - 100), rng.uniform(100, IMAGE_H - 100)
        rx, ry = rng.uniform(10, 90), rng.uniform(10, 90)
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
        out.append((masks.encode_rle(mask), masks.mask_bbox(mask), int(mask.sum())))
    return out


def build_project(path: Path, n_images: int, n_instances: int, seed: int = 0) -> Path:
    """Write the synthetic project to ``path`` (bulk inserts, one transaction per 10,000 instances)."""
    rng = np.random.default_rng(seed)
    templates = _templates(rng)
    with ProjectStore.create(path, synchronous="normal") as store:
        classes = [store.add_class(f"class{k}").id for k in range(10)]
        store.add_images(ImageRecord(0, f"images/{k:06d}.jpg", IMAGE_W, IMAGE_H, f"{k:032x}")
                         for k in range(n_images))
        heavy = max(1, min(HEAVY_IMAGES, n_images // 2, n_instances // (2 * HEAVY_COUNT)))
        store.meta_set("bench_heavy_images", heavy)
        per_image = [HEAVY_COUNT if k < heavy else 0 for k in range(n_images)]
        rest = max(n_instances - sum(per_image), 0)
        light = max(n_images - heavy, 1)
        for k in range(heavy, n_images):
            per_image[k] = rest // light + (1 if (k - heavy) < rest % light else 0)
        batch: list[Instance] = []
        next_id = 1
        for image_index, count in enumerate(per_image):
            for z in range(count):
                rle, bbox, area = templates[int(rng.integers(len(templates)))]
                batch.append(Instance(next_id, image_index + 1, classes[z % len(classes)], rle, bbox, area,
                                      score=float(rng.random()), source="proposal", z=z))
                next_id += 1
            if len(batch) >= 10_000:
                store.save_instances(batch)
                batch = []
        store.save_instances(batch)
    return path


def measure(path: Path, repeats: int, synchronous: str, seed: int = 1) -> dict[str, float]:
    """Median milliseconds of each operation on the project at ``path``."""
    rng = np.random.default_rng(seed)
    figures = {"open": median_ms(lambda: ProjectStore.open(path, synchronous=synchronous).close(), repeats)}

    def first_open() -> None:  # a file someone sent: the integrity check runs (then it is remembered)
        VerifiedFiles().forget(path)
        ProjectStore.open(path, readonly=True).close()

    figures["first_open"] = median_ms(first_open, max(3, repeats // 10))
    with ProjectStore.open(path, synchronous=synchronous) as store:
        n_images = store.counts()["images"]
        n_heavy = int(store.meta_get("bench_heavy_images", 1))
        typical = [int(i) for i in rng.integers(n_heavy + 1, n_images + 1, repeats)]
        it = iter(typical)
        figures["load_image"] = median_ms(lambda: store.open_image(next(it)), repeats)
        figures["instances_per_image"] = float(len(store.instances(typical[0])))
        heavy = iter(int(i) for i in rng.integers(1, n_heavy + 1, repeats))
        figures["load_100"] = median_ms(lambda: store.instances(next(heavy)), repeats)
        doc = store.open_image(typical[0])
        history = History(doc)
        target = doc.instances()[-1].id
        dab = np.ones((32, 32), bool)

        def edit() -> None:
            x, y = int(rng.integers(0, IMAGE_W - 32)), int(rng.integers(0, IMAGE_H - 32))
            history.push(EditMask(target, dab, (x, y, x + 32, y + 32), mode="add"))

        figures["commit_edit"] = median_ms(edit, repeats)
        figures["undo"] = median_ms(history.undo, repeats)
    return figures


def run(args: argparse.Namespace) -> int:
    """Entry point of ``segtool bench store`` (see :mod:`segtool.cli.bench` for the arguments)."""
    with tempfile.TemporaryDirectory(prefix="segtool-bench-", dir=args.workdir) as tmp:
        path = Path(tmp) / "project.segtool"
        start = time.perf_counter()
        build_project(path, args.images, args.instances)
        build_s = time.perf_counter() - start
        results = {mode: measure(path, args.repeats, mode) for mode in ("normal", "full")}
        size_mb = path.stat().st_size / 2**20
    print(f"synthetic project: {args.images} images, {args.instances} instances, {size_mb:.1f} MiB, "
          f"built in {build_s:.1f} s; medians of {args.repeats} runs (ms)")
    print(f"{'operation':<14}{'sync=normal':>14}{'sync=full':>12}{'goal':>10}")
    for key in ("first_open", "open", "load_image", "load_100", "commit_edit", "undo"):
        goal = f"<= {GOALS_MS[key]:g}" if key in GOALS_MS else ""
        print(f"{key:<14}{results['normal'][key]:>14.2f}{results['full'][key]:>12.2f}{goal:>10}")
    if args.json is not None:
        payload = {"images": args.images, "instances": args.instances, "repeats": args.repeats,
                   "build_s": build_s, "file_mib": size_mb, "median_ms": results, "goals_ms": GOALS_MS}
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0
