"""The project the robustness suite attacks (import the ``env`` fixture from here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from segtool.core.document import ImageRecord, Instance
from segtool.store.sqlite import ProjectStore

W, H = 40, 30
IMAGES = ("a.jpg", "b.png", "sub/c.jpg")


@dataclass
class Env:
    """A project to attack: ``folder`` holds the images and ``project``; ``work`` is the test's folder."""

    work: Path
    folder: Path
    project: Path


def make_project(folder: Path, class_names: tuple[str, ...] = ("cat", "dog")) -> Path:
    """A project with :data:`IMAGES` (``W x H``), the given classes and one instance per image."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in IMAGES:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    with ProjectStore.create(folder) as store:
        classes = [store.add_class(n) for n in class_names]
        for k, rec in enumerate(store.add_images([ImageRecord(0, n, W, H, f"h{n}") for n in IMAGES])):
            mask = np.zeros((H, W), bool)
            mask[3 + k:15 + k, 4:25] = True
            store.add_instances(rec.id, [Instance.from_mask(mask, id=0, image_id=rec.id,
                                                            class_id=classes[k % len(classes)].id)])
    return folder / "project.segtool"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    folder = tmp_path / "photos"
    return Env(tmp_path, folder, make_project(folder))
