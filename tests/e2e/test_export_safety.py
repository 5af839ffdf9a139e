"""Exports are atomic, confined, never lose annotations in silence, and work on an empty project."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO

from segtool.cli import main
from segtool.core.atomic import EXPORT_MARKER
from segtool.core.document import ImageRecord, Instance
from segtool.store.sqlite import ProjectStore

from conftest import ROOT

H, W = 24, 32


def _project(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with ProjectStore.create(folder) as store:
        cls = store.add_class("thing")
        for k, name in enumerate(names):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / name), np.full((H, W, 3), (10 * k) % 256, np.uint8))
            rec = store.add_images([ImageRecord(0, name, W, H, f"h{k}")])[0]
            mask = np.zeros((H, W), bool)
            mask[2:10, 3 + k % 10:15] = True
            store.add_instances(rec.id, [Instance.from_mask(mask, id=0, image_id=rec.id, class_id=cls.id)])
    return folder / "project.segtool"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _export(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_reexport_replaces_the_old_export_only_with_overwrite(tmp_path: Path, fmt: str) -> None:
    project = _project(tmp_path / "p", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    assert _export(str(project), str(out), "--format", fmt, "--copy-images")[0] == 0
    first = _files(out)
    assert EXPORT_MARKER in first and any("c" in name for name in first)
    with ProjectStore.open(project) as store:  # image c is deleted from the project
        store._write("DELETE FROM images WHERE path = 'c.jpg'")
    code, _, err = _export(str(project), str(out), "--format", fmt, "--copy-images")
    assert code == 1 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert _files(out) == first  # refused: OUT as it was
    assert _export(str(project), str(out), "--format", fmt, "--copy-images", "--overwrite")[0] == 0
    second = _files(out)
    assert not any(Path(name).stem in ("c", "c_jpg") for name in second), second.keys()  # no stale files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p"]  # no temporary folders left


def test_a_folder_of_the_users_own_files_is_never_replaced(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", ["a.jpg"])
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("keep me")
    code, _, err = _export(str(project), str(mine), "--format", "voc", "--overwrite")
    assert code == 1 and "not written by segtool" in err
    assert _files(mine) == {"chapter1.tex": b"keep me"}


def test_a_killed_export_leaves_out_as_it_was(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [f"img{k:03d}.jpg" for k in range(200)])
    out = tmp_path / "out"
    assert _export(str(project), str(out), "--format", "voc")[0] == 0
    before = _files(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "segtool", "export", str(project), str(out), "--format", "voc",
                             "--overwrite", "--void-border", "3"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once its temporary folder holds some files
        tmp = [p for p in tmp_path.iterdir() if p.name.startswith(".out.segtool-tmp-")]
        if tmp and len(list((tmp[0] / "SegmentationClass").glob("*.png"))) >= 5:
            break
        if proc.poll() is not None:
            pytest.fail("the export finished before it could be killed; make the project bigger")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _files(out) == before
    assert _export(str(project), str(out), "--format", "coco", "--overwrite")[0] == 0  # the next export cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p"]


def test_empty_project_exports_an_empty_valid_dataset_in_every_format(tmp_path: Path) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    with ProjectStore.create(project) as store:
        store.add_class("cat")
    assert _export(str(project), str(tmp_path / "c.json"), "--format", "coco")[0] == 0
    coco = _coco(tmp_path / "c.json")
    assert coco.getImgIds() == [] and coco.getAnnIds() == [] and len(coco.getCatIds()) == 1
    assert _export(str(project), str(tmp_path / "cs"), "--format", "coco", "--split", "val=0.2")[0] == 0
    assert sorted(p.name for p in (tmp_path / "cs" / "annotations").glob("*.json")) == ["instances_train.json",
                                                                                        "instances_val.json"]
    assert _coco(tmp_path / "cs" / "annotations" / "instances_val.json").getImgIds() == []
    assert _export(str(project), str(tmp_path / "voc"), "--format", "voc")[0] == 0
    from torchvision.datasets import VOCSegmentation

    voc_root = tmp_path / "vocroot" / "VOCdevkit"
    voc_root.mkdir(parents=True)
    (voc_root / "VOC2012").symlink_to(tmp_path / "voc")
    assert len(VOCSegmentation(str(tmp_path / "vocroot"), year="2012", image_set="train")) == 0
    assert _export(str(project), str(tmp_path / "yolo"), "--format", "yolo")[0] == 0
    data = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert data["names"] == {0: "cat"} and (tmp_path / "yolo" / data["train"]).is_dir()
    assert data["path"] == str((tmp_path / "yolo").resolve())


def test_copy_images_never_reads_outside_the_image_folder(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", ["a.jpg", "b.jpg"])
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private data")
    (tmp_path / "p" / "b.jpg").unlink()
    (tmp_path / "p" / "b.jpg").symlink_to(secret)  # a link planted in the image folder
    for fmt in ("coco", "voc", "yolo"):
        out = tmp_path / f"out-{fmt}"
        code, stdout, err = _export(str(project), str(out), "--format", fmt, "--copy-images")
        assert code == 0 and "1 unreadable image(s) skipped" in stdout, (fmt, stdout)
        assert "b.jpg" in err and "outside" in err
        assert all(b"private data" not in data for data in _files(out).values()), fmt
    coco = json.loads((tmp_path / "out-coco" / "annotations" / "instances_default.json").read_text())
    assert [im["file_name"] for im in coco["images"]] == ["a.jpg"]  # its annotations left with it, and said so


def test_split_names_must_be_plain_words(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", ["a.jpg"])
    for bad in ("../../evil=0.5", "a/b=0.5", "x y=0.1", "é=0.1", "val=0.1,val=0.2", "train=0.5"):
        code, _, err = _export(str(project), str(tmp_path / "o"), "--format", "yolo", "--split", bad)
        assert code == 1 and "bad --split" in err and len(err.strip().splitlines()) == 1, (bad, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_a_full_disk_mid_export_is_named_and_leaves_out_as_it_was(tmp_path: Path, monkeypatch) -> None:
    import errno

    from segtool.io import voc

    project = _project(tmp_path / "p", [f"i{k}.jpg" for k in range(6)])
    out = tmp_path / "out"
    assert _export(str(project), str(out), "--format", "voc")[0] == 0
    before = _files(out)
    real, calls = voc.save_palette_png, []

    def filling_up(index_map, path) -> None:
        calls.append(path)
        if len(calls) > 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(index_map, path)

    monkeypatch.setattr(voc, "save_palette_png", filling_up)
    code, _, err = _export(str(project), str(out), "--format", "voc", "--overwrite")
    assert code == 1 and "disk full" in err and len(err.strip().splitlines()) == 1, err
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p"]
