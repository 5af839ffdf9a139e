"""``segtool propose`` end to end: pending proposals in SQLite, resume after SIGKILL, Ray, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.core.masks import decode_rle, mask_iou
from segtool.services.propose_job import DONE_KEY, ProposeSpec, run_propose_job
from segtool.store.sqlite import ProjectStore

ROOT = Path(__file__).resolve().parents[2]


def _write_images(folder: Path, n: int, size: tuple[int, int] = (96, 128)) -> list[np.ndarray]:
    """``n`` scenes (a coloured square per image, at different places); returns their object masks."""
    h, w = size
    rng = np.random.default_rng(1)
    truths = []
    for i in range(n):
        img = np.clip(rng.normal(120, 5, (h, w, 3)), 0, 255).astype(np.uint8)
        y0, x0 = 10 + (i * 7) % 40, 10 + (i * 13) % 60
        truth = np.zeros((h, w), bool)
        truth[y0:y0 + 40, x0:x0 + 45] = True
        img[truth] = (30 + 20 * (i % 5), 200, 60)
        Image.fromarray(img).save(folder / f"img{i:02d}.png")
        truths.append(truth)
    return truths


def _segtool(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "segtool", *args], env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def _rows(project: Path) -> dict[int, list[tuple]]:
    """Per image id: (source, state, score, area) of every instance, read back from SQLite."""
    with ProjectStore.open(project, readonly=True) as store:
        return {r.id: [(i.source, i.state, i.score, i.area) for i in store.instances(r.id)]
                for r in store.images()}


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path / "photos"
    folder.mkdir()
    truths = _write_images(folder, 8)
    assert _segtool("init", str(folder)).returncode == 0
    return folder, truths


def test_propose_stores_pending_proposals_counted_and_not_exported(project, tmp_path: Path) -> None:
    folder, truths = project
    done = _segtool("propose", str(folder), "--engine", "classical", "--images", "img0[0-2].png")
    assert done.returncode == 0, done.stderr
    assert "3 image(s) processed" in done.stdout
    assert "3/3" in done.stderr  # tqdm progress bar with ETA
    rows = _rows(folder)
    with ProjectStore.open(folder, readonly=True) as store:
        records = {r.path: r for r in store.images()}
        for name in ("img00.png", "img01.png", "img02.png"):
            insts = store.instances(records[name].id)
            assert insts and all(i.source == "proposal" and i.state == "pending" and i.score is not None
                                 for i in insts)
            truth = truths[int(name[3:5])]
            assert max(mask_iou(decode_rle(i.rle), truth) for i in insts) >= 0.85
        assert all(not store.instances(records[f"img0{k}.png"].id) for k in range(3, 8))
    total = sum(len(v) for v in rows.values())
    info = json.loads(_segtool("info", str(folder), "--json").stdout)
    assert info["pending_proposals"] == total and info["instances"] == 0
    out = tmp_path / "coco.json"
    assert _segtool("export", str(folder), str(out), "--format", "coco").returncode == 0
    assert json.loads(out.read_text())["annotations"] == []


def test_resume_after_sigkill_without_duplicates(project, tmp_path: Path) -> None:
    folder, _ = project
    reference = tmp_path / "reference"
    reference.mkdir()
    _write_images(reference, 8)
    assert _segtool("init", str(reference)).returncode == 0
    assert _segtool("propose", str(reference), "--engine", "classical", "--no-progress").returncode == 0
    expected = sorted(len(v) for v in _rows(reference).values())

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "segtool", "propose", str(folder), "--engine", "classical",
                             "--no-progress"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    done_before_kill = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with ProjectStore.open(folder, readonly=True) as store:
            done_before_kill = sum(store.meta_get(DONE_KEY + str(r.id)) is not None for r in store.images())
        if done_before_kill >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    partial = _rows(folder)
    assert 2 <= sum(bool(v) for v in partial.values()) < 8

    resumed = _segtool("propose", str(folder), "--engine", "classical", "--no-progress", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    processed = int(resumed.stdout.split(" image(s) processed")[0].split()[-1])
    assert processed == 8 - sum(bool(v) for v in partial.values())
    rows = _rows(folder)
    assert sorted(len(v) for v in rows.values()) == expected  # every image once, no duplicates
    for image_id, before in partial.items():
        if before:
            assert rows[image_id] == before  # images done before the kill were not redone
    with ProjectStore.open(folder, readonly=True) as store:
        assert all(store.meta_get(DONE_KEY + str(r.id))["count"] == len(rows[r.id]) for r in store.images())
        assert store.integrity_check() == "ok"


def test_propose_on_a_local_ray_instance(project) -> None:
    import ray

    folder, truths = project
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        summary = run_propose_job(folder, ProposeSpec(engine="classical"), pattern="img0[0-3].png",
                                  ray_address="local")
    finally:
        ray.shutdown()
    assert summary.images == 4 and summary.proposals > 0
    with ProjectStore.open(folder, readonly=True) as store:
        records = {r.path: r for r in store.images()}
        for k in range(4):
            insts = store.instances(records[f"img0{k}.png"].id, state="pending")
            assert max(mask_iou(i.mask(), truths[k]) for i in insts) >= 0.85
        assert sum(len(store.instances(r.id)) for r in store.images()) == summary.proposals
