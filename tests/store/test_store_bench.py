"""``segtool bench store`` runs end to end and writes its figures (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from segtool.bench.store_bench import build_project
from segtool.store.sqlite import ProjectStore

from conftest import ROOT


def test_synthetic_project_has_the_requested_size(tmp_path: Path) -> None:
    path = build_project(tmp_path / "p.segtool", n_images=120, n_instances=6000)
    with ProjectStore.open(path, readonly=True) as store:
        counts = store.counts()
        assert counts["images"] == 120 and counts["instances"] == 6000 and counts["classes"] == 10
        heavy = store.meta_get("bench_heavy_images")
        assert heavy == 30 and len(store.instances(1)) == 100 and len(store.instances(heavy)) == 100
        assert len(store.instances(120)) == (6000 - 100 * heavy) // (120 - heavy)
        assert store.integrity_check() == "ok"


def test_bench_store_command_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "store.json"
    result = subprocess.run(
        [sys.executable, "-m", "segtool", "bench", "store", "--images", "60", "--instances", "3000",
         "--repeats", "3", "--workdir", str(tmp_path), "--json", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "commit_edit" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["images"] == 60 and figures["instances"] == 3000
    for mode in ("normal", "full"):
        for key in ("open", "load_image", "load_100", "commit_edit", "undo"):
            assert figures["median_ms"][mode][key] > 0
    assert list(tmp_path.iterdir()) == [out]  # the synthetic project is cleaned up
