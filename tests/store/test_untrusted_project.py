"""A project.segtool someone sent is untrusted: crafted rows, damage, newer schemas, read-only files, full disks."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from segtool.core.document import ImageRecord, Instance
from segtool.core.errors import DiskFullError, ProjectError
from segtool.store import checks
from segtool.store.sqlite import ProjectStore


def _project(tmp_path: Path, n_instances: int = 3) -> Path:
    path = tmp_path / "project.segtool"
    with ProjectStore.create(path) as store:
        rec = store.add_images([ImageRecord(0, "a.jpg", 40, 30, "h"), ImageRecord(0, "sub/b.jpg", 40, 30, "h2")])[0]
        cls = store.add_class("cat")
        mask = np.zeros((30, 40), bool)
        mask[3:9, 4:20] = True
        store.add_instances(rec.id, [Instance.from_mask(mask, id=0, image_id=rec.id, class_id=cls.id, z=k)
                                     for k in range(n_instances)])
    return path


def _tamper(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


@pytest.mark.parametrize("bad", ["../../x.jpg", "/etc/passwd", "a/../../x.jpg", "C:\\x.jpg", "a\x00b.jpg",
                                 "a\nb.jpg", "./a.jpg", "a//b.jpg"])
def test_crafted_image_paths_are_refused_on_open(tmp_path: Path, bad: str) -> None:
    path = _project(tmp_path)
    _tamper(path, "UPDATE images SET path = ? WHERE path = 'sub/b.jpg'", bad)
    for readonly in (True, False):
        with pytest.raises(ProjectError, match="image row 2") as err:
            ProjectStore.open(path, readonly=readonly)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("sql, message", [
    ("UPDATE images SET width = 0", "declares the size"),
    ("UPDATE images SET height = 'x'", "declares the size"),
    ("UPDATE images SET path = CAST('../x.jpg' AS BLOB) WHERE id = 1", "type blob"),
    ("UPDATE meta SET value = '\"../..\"' WHERE key = 'root'", "climbs out"),
    ("UPDATE meta SET value = '\"/etc\"' WHERE key = 'root'", "absolute"),
    ("UPDATE schema_version SET version = 'x'", "schema_version"),
    ("INSERT INTO schema_version VALUES (1)", "schema_version"),
    ("UPDATE schema_version SET version = 99", "update segtool"),
])
def test_crafted_rows_are_one_clear_error(tmp_path: Path, sql: str, message: str) -> None:
    path = _project(tmp_path)
    _tamper(path, sql)
    for readonly in (True, False):
        with pytest.raises(ProjectError, match=message):
            ProjectStore.open(path, readonly=readonly)


@pytest.mark.parametrize("sql, message", [
    ("UPDATE instances SET counts = '0`0'", "corrupt RLE"),        # pycocotools would write past its buffer
    ("UPDATE instances SET counts = 'o'", "corrupt RLE"),          # ... or read past the string
    ("UPDATE instances SET counts = 7", "corrupt RLE"),
    ("UPDATE instances SET counts = X'00'", "invalid mask size or encoding"),
    ("UPDATE instances SET h = -1", "invalid mask size"),
    ("UPDATE instances SET attributes = '[1'", "unreadable attributes"),
    ("UPDATE instances SET score = 'nan'", "score"),
])
def test_crafted_instance_rows_are_refused_when_read(tmp_path: Path, sql: str, message: str) -> None:
    path = _project(tmp_path)
    _tamper(path, sql)
    with ProjectStore.open(path, readonly=True) as store:
        image_id = store.images()[0].id
        with pytest.raises(ProjectError, match=message):
            store.instances(image_id)
        with pytest.raises(ProjectError, match="damaged"):
            store.open_image(image_id)


def test_truncated_and_damaged_files_are_noticed(tmp_path: Path) -> None:
    path = _project(tmp_path, n_instances=400)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.segtool"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProjectError, match="truncated"):
        ProjectStore.open(truncated, readonly=True)
    page = int.from_bytes(data[16:18], "big")
    damaged = bytearray(data)
    for k in range(2, len(data) // page):  # scribble over the b-tree page headers, keep the file header
        damaged[k * page: k * page + 12] = b"\xff" * 12
    bad = tmp_path / "damaged.segtool"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(ProjectError, match="damaged|not a readable"):
        ProjectStore.open(bad, readonly=True)


def test_a_verified_file_is_not_checked_again_until_it_changes(tmp_path: Path, monkeypatch) -> None:
    path = _project(tmp_path)
    verified = checks.VerifiedFiles()
    assert verified.is_verified(path)  # the writer that created it remembered its own writes
    calls = []
    original = checks.check_file

    def counting(conn, file, cache):
        calls.append(cache.is_verified(file))
        return original(conn, file, cache)

    monkeypatch.setattr(checks, "check_file", counting)
    ProjectStore.open(path, readonly=True).close()
    assert calls == [True]
    _tamper(path, "UPDATE images SET status = 'done'")  # someone else changed it: checked again
    assert not verified.is_verified(path)
    ProjectStore.open(path, readonly=True).close()
    assert calls == [True, False] and verified.is_verified(path)


def test_read_only_project_file(tmp_path: Path, monkeypatch) -> None:
    path = _project(tmp_path)
    os.chmod(path, 0o444)
    if os.geteuid() == 0:  # root writes anyway; pretend to be a user as CI does
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path and mode & os.W_OK
                            else real(p, mode))
    with pytest.raises(ProjectError, match="project file is read-only"):
        ProjectStore.open(path)
    with ProjectStore.open(path, readonly=True) as store:  # reading still works
        assert len(store.images()) == 2


def test_sqlite_readonly_error_is_named(tmp_path: Path) -> None:
    path = _project(tmp_path)
    error = checks.sqlite_error(sqlite3.OperationalError("attempt to write a readonly database"), path)
    assert "project file is read-only" in str(error)


def test_disk_full_is_reported_as_such_and_the_store_goes_on(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with ProjectStore.open(path) as store:
        pages = store._query("PRAGMA page_count")[0][0]
        store._db().execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is full after 2 more pages
        before = store.counts()
        for _ in range(2):  # nested transactions used to end in "no such savepoint: sp1"
            with pytest.raises(DiskFullError, match="disk full"):
                with store.transaction(), store.transaction():
                    for i in range(100):
                        store.meta_set(f"k{i}", "x" * 5000)
        assert store.counts() == before and store.meta_get("k0") is None
        store._db().execute("PRAGMA max_page_count = 1000000")
        store.meta_set("after", 1)
        assert store.meta_get("after") == 1


def test_create_refuses_an_image_folder_outside_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    with pytest.raises(ProjectError, match="below it"):
        ProjectStore.create(tmp_path / "p" / "x.segtool", root=tmp_path)


def test_verified_cache_is_bounded_and_tolerates_garbage(tmp_path: Path) -> None:
    cache = checks.VerifiedFiles(tmp_path / "v.json")
    (tmp_path / "v.json").write_text("[not json")
    files = []
    for k in range(cache.LIMIT + 5):
        f = tmp_path / f"f{k}"
        f.write_bytes(b"x")
        files.append(f)
        cache.remember(f)
    entries = json.loads((tmp_path / "v.json").read_text())
    assert len(entries) == cache.LIMIT and cache.is_verified(files[-1]) and not cache.is_verified(files[0])
