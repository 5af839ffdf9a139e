"""``segtool init`` on a folder someone sent: odd names, truncated files, links out, segtool's own exports."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from segtool.cli import main
from segtool.core.atomic import EXPORT_MARKER


def _photo(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def test_init_skips_what_it_cannot_use_and_says_why(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "good.jpg"), _photo())
    data = (folder / "good.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    (folder / "padded.jpg").write_bytes(data + bytes(70_000))  # data after the end marker: still fine
    Image.fromarray(_photo(1)).save(folder / "page.tif")
    tif = (folder / "page.tif").read_bytes()
    (folder / "cut.tif").write_bytes(tif[: len(tif) * 2 // 3])
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb") as fh:  # Latin-1 name
        fh.write(data)
    (folder / "new\nline.jpg").write_bytes(data)
    (tmp_path / "secret.jpg").write_bytes(data)
    (folder / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    export = folder / "export"
    export.mkdir()
    (export / EXPORT_MARKER).write_text("segtool export\n")
    cv2.imwrite(str(export / "copy.jpg"), _photo())

    assert main(["init", str(folder), "-q"]) == 0
    out = capsys.readouterr().out
    db = sqlite3.connect(folder / "project.segtool")
    paths = sorted(r[0] for r in db.execute("SELECT path FROM images"))
    db.close()
    assert paths == ["good.jpg", "padded.jpg", "page.tif"]
    assert "5 skipped" in out
    for line in ("skipped caf\\xe9.jpg: the file name is not valid UTF-8",
                 "skipped new\\nline.jpg: the file name holds a newline",
                 "skipped cut.jpg: is truncated (the JPEG end marker is missing",
                 "skipped cut.tif: is truncated (its image data ends at byte",
                 "skipped link.jpg: 'link.jpg' leads outside"):
        assert line in out, (line, out)
    assert "copy.jpg" not in out
    assert main(["init", str(folder), "-q"]) == 0  # a rerun adds nothing and still reports them
    assert "added 0 image(s), 3 already present, 5 skipped" in capsys.readouterr().out


def test_init_refuses_a_segtool_export_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / EXPORT_MARKER).write_text("segtool export\n")
    cv2.imwrite(str(tmp_path / "a.jpg"), _photo())
    assert main(["init", str(tmp_path), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert "is a segtool export" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "project.segtool").exists()
