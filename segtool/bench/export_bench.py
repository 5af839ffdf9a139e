"""``segtool bench export``: a synthetic project (default 1,000 images x 50 instances) exported to
COCO (RLE) and to Pascal VOC; prints the wall time of each (goal: <= 10 s each).

Images are 640x480 JPEGs (VOC copies them); masks are random ellipses, bottom to top by z. Building
the project is not timed. Each export runs ``--repeat`` times (median reported) through the same
code path as ``segtool export``; ``--workers`` sets the VOC export threads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from segtool.core.document import ImageRecord, Instance
from segtool.io import coco, voc
from segtool.store.sqlite import ProjectStore

H, W = 480, 640


def build_project(folder: Path, n_images: int, per_image: int, seed: int = 0) -> ProjectStore:
    """Create ``folder/project.segtool`` with ``n_images`` JPEGs and ``per_image`` ellipse instances each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", base)
    store = ProjectStore.create(folder, synchronous="normal")
    classes = [store.add_class(n) for n in ("person", "car", "tree", "dog", "cat")]
    names = [f"img_{i:05d}.jpg" for i in range(n_images)]
    for name in names:
        (folder / name).write_bytes(jpeg.tobytes())
    records = store.add_images([ImageRecord(0, n, W, H, f"synthetic-{n}") for n in names])
    with store.transaction():
        for rec in records:
            insts = []
            for z in range(per_image):
                m = np.zeros((H, W), np.uint8)
                center = (int(rng.integers(0, W)), int(rng.integers(0, H)))
                axes = (int(rng.integers(5, 80)), int(rng.integers(5, 80)))
                cv2.ellipse(m, center, axes, float(rng.integers(0, 180)), 0, 360, 1, -1)
                insts.append(Instance.from_mask(m.astype(bool), id=0, image_id=rec.id,
                                                class_id=classes[z % len(classes)].id, z=z, source="brush"))
            store.add_instances(rec.id, insts)
    return store


def _items(store: ProjectStore):
    for rec in store.images():
        yield rec, store.instances(rec.id, state="accepted")


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """Run ``fn`` ``repeat`` times: median wall seconds, median process CPU seconds, last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def run(args: argparse.Namespace) -> int:
    """Build the synthetic project, time COCO (RLE) and VOC exports, print a table (and JSON).

    Each export runs ``args.repeat`` times (the median is reported: shared machines are noisy);
    CPU seconds (user + system of this process, all threads) are printed next to the wall time.
    """
    repeat = max(1, getattr(args, "repeat", 1))
    workers = getattr(args, "workers", None)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        store = build_project(tmp_path / "images", args.images, args.instances)
        build_s = time.perf_counter() - t0
        with store:
            def export_coco():
                data, stats = coco.build_coco(store.classes(), _items(store), segmentation="rle")
                coco.save_json(data, tmp_path / "coco" / "annotations.json")
                return stats

            def export_voc():
                target = tmp_path / "voc"
                shutil.rmtree(target, ignore_errors=True)  # every repeat writes a fresh folder
                return voc.export_voc(target, store.classes(), _items(store), image_root=store.root,
                                      workers=workers)

            coco_s, coco_cpu, stats = _timed(export_coco, repeat)
            voc_s, voc_cpu, vstats = _timed(export_voc, repeat)
    result = {"images": args.images, "instances_per_image": args.instances, "annotations": stats.annotations,
              "voc_objects": vstats.objects, "build_s": round(build_s, 2), "repeat": repeat,
              "coco_rle_s": round(coco_s, 2), "coco_rle_cpu_s": round(coco_cpu, 2), "voc_s": round(voc_s, 2),
              "voc_cpu_s": round(voc_cpu, 2), "voc_workers": workers if workers is not None else voc.DEFAULT_WORKERS,
              "loadavg_1min": round(load, 2), "goal_s": 10.0}
    print(f"synthetic project: {args.images} images x {args.instances} instances ({W}x{H}), built in {build_s:.1f} s;"
          f" load average {load:.1f}; median of {repeat}")
    print(f"{'export':<12}{'seconds':>10}{'ms/image':>10}{'cpu s':>8}{'goal':>8}")
    for name, wall, cpu in (("coco (rle)", coco_s, coco_cpu), ("voc", voc_s, voc_cpu)):
        print(f"{name:<12}{wall:>10.2f}{wall / max(1, args.images) * 1000:>10.1f}{cpu:>8.2f}{'<= 10':>8}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0
