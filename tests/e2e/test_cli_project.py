"""``segtool init`` and ``segtool info`` as a user runs them: real files, real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from segtool.store.sqlite import ProjectStore

from conftest import ROOT


def _segtool(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "segtool", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "day1" / "deep").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 255, (50, 20, 3), dtype=np.uint8)).save(root / "day1" / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (10, 10), dtype=np.uint8)).save(root / "day1" / "deep" / "c.tif")
    (root / "notes.txt").write_text("shopping list")
    (root / "day1" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "empty.png").write_bytes(b"")
    return root


def test_init_adds_images_recursively_and_lists_skipped_files(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    out = _segtool("init", str(root))
    assert out.returncode == 0, out.stderr
    assert "added 3 image(s)" in out.stdout
    for name in ("notes.txt", "day1/broken.jpg", "empty.png"):
        assert f"skipped {name}:" in out.stdout
    with ProjectStore.open(root / "project.segtool", readonly=True) as store:
        images = {i.path: i for i in store.images()}
    assert set(images) == {"a.png", "day1/b.jpg", "day1/deep/c.tif"}
    assert (images["day1/b.jpg"].width, images["day1/b.jpg"].height) == (20, 50)
    assert len({i.content_hash for i in images.values()}) == 3

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "day1" / "new.png")
    again = _segtool("init", str(root))
    assert again.returncode == 0 and "added 1 image(s), 3 already present" in again.stdout
    with ProjectStore.open(root, readonly=True) as store:
        assert [i.path for i in store.images()][-1] == "day1/new.png" and len(store.images()) == 4


def test_info_json_and_text(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    assert _segtool("init", str(root)).returncode == 0
    with ProjectStore.open(root) as store:
        cat = store.add_class("cat")
        from segtool.core.document import Instance

        mask = np.zeros((30, 40), bool)
        mask[2:9, 3:7] = True
        store.add_instances(1, [Instance.from_mask(mask, id=0, image_id=0, class_id=cat.id)] * 2)
        store.add_instances(2, [Instance.from_mask(np.ones((50, 20), bool), id=0, image_id=0, class_id=None,
                                                   state="pending")])
    for target in (root, root / "project.segtool"):
        out = _segtool("info", str(target), "--json")
        assert out.returncode == 0, out.stderr
        info = json.loads(out.stdout)
        assert {k: info[k] for k in ("images", "annotated_images", "instances", "classes")} == \
            {"images": 3, "annotated_images": 1, "instances": 2, "classes": 1}
        assert info["pending_proposals"] == 1
    text = _segtool("info", str(root))
    assert text.returncode == 0 and "annotated images 1" in text.stdout and "cat" in text.stdout


def test_errors_are_one_line_exit_1(tmp_path: Path) -> None:
    (tmp_path / "x.segtool").write_text("hello")
    cases = [("info", str(tmp_path / "missing")), ("info", str(tmp_path / "x.segtool")),
             ("init", str(tmp_path / "nope"))]
    for args in cases:
        out = _segtool(*args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("segtool: error:"), out.stderr
        assert "Traceback" not in out.stderr
