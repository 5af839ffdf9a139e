"""Small synthetic projects shared by the format tests (images written to disk, masks with holes,
several parts and touching the border)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segtool.core.document import ImageRecord, Instance
from segtool.store.sqlite import ProjectStore

H, W = 48, 64


def sample_masks(seed: int) -> dict[str, np.ndarray]:
    """Three masks on an ``(H, W)`` image: ``ring`` (a hole), ``blob`` (an ellipse) and ``two``
    (two parts, one touching the border)."""
    rng = np.random.default_rng(seed)
    ring = np.zeros((H, W), bool)
    ring[5:30, 5:35] = True
    ring[12:20, 12:22] = False
    blob = np.zeros((H, W), np.uint8)
    cv2.ellipse(blob, (int(rng.integers(36, 50)), 30), (12, 9), int(rng.integers(0, 180)), 0, 360, 1, -1)
    two = np.zeros((H, W), bool)
    two[38:47, 0:8] = True
    two[2:6, 50:64] = True
    return {"ring": ring, "blob": blob.astype(bool), "two": two}


def make_project(folder: Path, names: tuple[str, ...] = ("a.jpg", "b.png", "sub/c.jpg"),
                 classes: tuple[str, ...] = ("cat", "dog"), holes: bool = True) -> ProjectStore:
    """A project at ``folder`` with ``names`` as images; every image gets the three sample masks
    (classes alternate), bottom to top ring, blob, two. ``holes=False`` fills the ring's hole."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    store = ProjectStore.create(folder)
    recs = store.add_images([ImageRecord(0, n, W, H, f"hash-{n}") for n in names])
    cls = [store.add_class(c) for c in classes]
    for k, rec in enumerate(recs):
        ms = sample_masks(k)
        if not holes:
            ms["ring"][12:20, 12:22] = True
        insts = [Instance.from_mask(m, id=0, image_id=rec.id, class_id=cls[z % len(cls)].id if cls else None, z=z)
                 for z, m in enumerate(ms.values())]
        store.add_instances(rec.id, insts)
    return store


def instance_masks(store: ProjectStore) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Image path -> ``[(class name, mask), ...]`` of the accepted instances, bottom to top."""
    names = {c.id: c.name for c in store.classes()}
    return {rec.path: [(names.get(i.class_id, ""), i.mask()) for i in store.instances(rec.id, state="accepted")]
            for rec in store.images()}
