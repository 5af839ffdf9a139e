"""Issue 2, point 5: SIGKILL at random moments loses no returned edit; one writer, many readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from segtool.core import masks
from segtool.core.document import ImageRecord
from segtool.core.errors import ProjectLockedError
from segtool.store.sqlite import ProjectStore

from conftest import ROOT

WORKER = Path(__file__).with_name("crash_worker.py")
REPEATS = 20


def _start(project: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(project), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + proc.stderr.read()
    return proc


def _new_project(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "project.segtool") as store:
        store.add_class("thing")
        store.add_images([ImageRecord(0, "a.png", 160, 120, "h")])
    return tmp_path / "project.segtool"


def _check(store: ProjectStore, lines: list[str], expected: dict[int, int]) -> None:
    """Apply the worker's finished commands to ``expected`` (id -> area) and compare with the file."""
    in_flight = None
    for line in lines:
        word, k, *rest = line.split()
        if word == "begin":
            in_flight = (k, rest[0], rest[1], int(rest[2]))
        elif word == "done" and in_flight is not None:
            assert in_flight[0] == k
            expected[int(rest[0])] = in_flight[3]
            in_flight = None
    stored = {i.id: i for i in store.instances(1)}
    for inst in stored.values():  # nothing half-written: RLE, bbox and area agree
        assert masks.rle_area(inst.rle) == inst.area
        assert (masks.rle_bbox(inst.rle) or (0, 0, 0, 0)) == tuple(inst.bbox)
    for iid, area in expected.items():
        assert iid in stored, f"returned instance {iid} is missing"
        if area != stored[iid].area:
            assert in_flight is not None and in_flight[2] == str(iid) and in_flight[3] == stored[iid].area, \
                f"instance {iid}: area {stored[iid].area}, returned edit left {area}"
            expected[iid] = stored[iid].area
    extra = set(stored) - set(expected)
    if extra:  # only the add that was under way may have committed
        assert in_flight is not None and in_flight[1] == "add" and len(extra) == 1
        iid = extra.pop()
        assert stored[iid].area == in_flight[3]
        expected[iid] = stored[iid].area


def test_sigkill_at_random_moments_loses_no_returned_edit(tmp_path: Path) -> None:
    project = _new_project(tmp_path)
    rng = np.random.default_rng(2)
    expected: dict[int, int] = {}
    total_done = 0
    for repeat in range(REPEATS):
        proc = _start(project, "edit", str(repeat))
        time.sleep(float(rng.uniform(0.05, 0.8)))
        proc.send_signal(signal.SIGKILL)
        # read from the same buffered reader that read "ready": communicate() reads the raw pipe, and
        # would lose the lines that readline() had already buffered (then "done" lines went missing)
        out = proc.stdout.read()
        proc.stderr.read()
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        lines = out.splitlines()
        total_done += sum(1 for line in lines if line.startswith("done"))
        with ProjectStore.open(project) as store:  # the writer lock died with the process
            assert store.integrity_check() == "ok"
            _check(store, lines, expected)
    assert total_done >= 5 * REPEATS, f"the worker hardly ran ({total_done} commands); the test proved little"
    print(f"{total_done} returned commands over {REPEATS} kills")


def test_second_writer_is_refused_and_readers_still_work(tmp_path: Path) -> None:
    project = _new_project(tmp_path)
    holder = _start(project, "hold")
    try:
        with pytest.raises(ProjectLockedError, match="project is open in another segtool"):
            ProjectStore.open(project)
        with ProjectStore.open(project, readonly=True) as reader:
            assert reader.counts()["images"] == 1
            assert reader.classes()[0].name == "thing"
        cli = subprocess.run([sys.executable, "-m", "segtool", "info", str(project), "--json"], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
        assert cli.returncode == 0 and '"images": 1' in cli.stdout, cli.stderr
        cli = subprocess.run([sys.executable, "-m", "segtool", "init", str(tmp_path)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
        assert cli.returncode == 1 and "project is open in another segtool" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)
    with ProjectStore.open(project) as store:
        assert store.counts()["images"] == 1
