"""The boundary mechanisms: one path type, one name policy, one atomic writer, one untrusted-JSON loader."""

from __future__ import annotations

import os

import pytest

from segtool.core import atomic
from segtool.core.errors import FormatError, SegtoolError, UnsafePathError
from segtool.core.names import check_class_name, check_names_for_format, unique_stems
from segtool.core.safe_paths import RelPath, plain_word
from segtool.core.untrusted_json import load_json, parse_json


@pytest.mark.parametrize("bad", ["", " ", "/etc/passwd", "C:/x.jpg", "c:x.jpg", "\\\\server\\x.jpg", "../x.jpg",
                                 "a/../../x.jpg", "a/\x00.jpg", "a\nb.jpg", "\udcff.jpg", ".", "a/..", 5, None])
def test_relpath_refuses_escapes(bad):
    with pytest.raises(UnsafePathError):
        RelPath(bad)


def test_relpath_normalises():
    assert RelPath("a\\b/./c.jpg") == "a/b/c.jpg"
    assert RelPath("a//b/") == "a/b"
    assert RelPath("émoji 🐱/x.jpg").parts == ("émoji 🐱", "x.jpg")


def test_relpath_inside_refuses_links_out(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", root / "link.jpg")
    (root / "ok.jpg").write_bytes(b"x")
    assert RelPath("ok.jpg").inside(root) == (root / "ok.jpg").resolve()
    with pytest.raises(UnsafePathError):
        RelPath("link.jpg").inside(root)


def test_plain_word():
    assert plain_word("val-2") == "val-2"
    for bad in ["", "../x", "a/b", "a b", "x\n", "-x", "é"]:
        with pytest.raises(UnsafePathError):
            plain_word(bad)


def test_class_names():
    for ok in ["person", "a:b", "#1", "it's \"q\"", "🐱 cat", "über"]:
        assert check_class_name(ok) == ok
    for bad in ["", "a\nb", "tab\t", "nul\x00", " lead", "\udcff", "x" * 300]:
        with pytest.raises(FormatError):
            check_class_name(bad)
    check_names_for_format(["a:b", "#x"], "coco")
    with pytest.raises(FormatError, match="a:b.*#x|labelmap"):
        check_names_for_format(["ok", "a:b", "#x"], "voc")


def test_unique_stems_never_collide():
    paths = ["sub/x.jpg", "sub__x.jpg", "x.png", "x_png.jpg", "X.jpg", "x.jpg", "a/b.c/d", "con.jpg"]
    stems = unique_stems(paths)
    assert len({s.lower() for s in stems.values()}) == len(paths)
    assert all("/" not in s and s for s in stems.values())
    assert stems["a/b.c/d"] == "a__b.c__d"
    assert unique_stems(reversed(paths)) == stems


def test_write_bytes_atomic(tmp_path):
    target = tmp_path / "a.json"
    atomic.write_text(target, "one")
    atomic.write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    with pytest.raises(SegtoolError, match="does not exist"):
        atomic.write_text(tmp_path / "missing" / "a.json", "x")


def test_atomic_folder(tmp_path):
    out = tmp_path / "out"
    with atomic.AtomicFolder(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert atomic.is_segtool_export(out) and (out / "a.txt").read_text() == "1"
    with pytest.raises(SegtoolError, match="--overwrite"):
        atomic.AtomicFolder(out).__enter__()
    with pytest.raises(RuntimeError), atomic.AtomicFolder(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("killed")
    assert sorted(p.name for p in out.iterdir()) == [atomic.EXPORT_MARKER, "a.txt"]
    with atomic.AtomicFolder(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [atomic.EXPORT_MARKER, "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("keep")
    with pytest.raises(SegtoolError, match="not written by segtool"):
        atomic.AtomicFolder(mine, overwrite=True).__enter__()
    assert (mine / "thesis.txt").read_text() == "keep"


def test_untrusted_json(tmp_path):
    assert parse_json(b'{"a": [1, 2]}', "x") == {"a": [1, 2]}
    with pytest.raises(FormatError, match="nested too deeply"):
        parse_json(b"[" * 50000 + b"]" * 50000, "x")
    with pytest.raises(FormatError, match="nested too deeply"):
        parse_json(b"[" * 100 + b"]" * 100, "x")
    with pytest.raises(FormatError, match="not a COCO JSON file"):
        parse_json(b"\xff\xd8\xff\xe0JFIF", "x.jpg", what="COCO JSON file")
    with pytest.raises(FormatError, match="line 1, column"):
        parse_json(b'{"a": }', "x")
    with pytest.raises(FormatError, match="not UTF-8"):
        parse_json(b'{"a": "\xe9"}', "x")
    big = tmp_path / "big.json"
    big.write_bytes(b"[" + b"1," * 100 + b"1]")
    with pytest.raises(FormatError, match="limit"):
        load_json(big, max_bytes=50)
    with pytest.raises(FormatError, match="cannot read"):
        load_json(tmp_path / "none.json")
