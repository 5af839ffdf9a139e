"""What a project file must pass before segtool reads it: a ``project.segtool`` someone sent is untrusted.

- :func:`check_file` on open: the file is not truncated (its size covers the pages its header
  declares) and ``PRAGMA quick_check`` finds no damage. The check reads every page, so a file
  that passed it once is remembered (:class:`VerifiedFiles`: path, inode, size and modification
  time of the file and its WAL, in the user cache folder) and not checked again until someone
  else changes it; segtool's own writes are remembered as verified when the store closes.
- :func:`check_root` and :func:`check_image_rows` on open: the image folder is the project's
  folder or below it, every ``images.path`` is a :class:`~segtool.core.safe_paths.RelPath` (no
  absolute path, no ``..``, no NUL or control character) and every size is positive and within
  the pixel limit. A crafted row is refused with one line naming it.
- :func:`check_instance_rows` on every read of instances: types, sizes, and the RLE string
  (:mod:`segtool.core.rle`: pycocotools would write past its buffer on runs that do not add up).
- :func:`sqlite_error`: SQLite's errors as messages a user can act on ("disk full", "project file
  is read-only", "damaged").
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segtool.core.atomic import write_text
from segtool.core.errors import DiskFullError, ProjectError, SegtoolError, UnsafePathError
from segtool.core.paths import cache_dir
from segtool.core.rle import RleError, decode_counts
from segtool.core.safe_paths import RelPath, describe

#: Largest image a project row may declare (pixels); larger rows are refused as crafted.
MAX_ROW_PIXELS = 1 << 34
#: Substrings of ``"\n" + "\n".join(paths) + "\n"`` that a clean project never holds (fast screen).
_SUSPECT_PARTS = ("\n/", "/\n", "\n\n", "\n./", "\n../", "/./", "/../", "/.\n", "/..\n", "\n.\n", "\n..\n",
                  "\\", "//")
_SUSPECT_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]|\n[A-Za-z]:|\n\s*\n")
_BAD_SIZE = "typeof(width) != 'integer' OR typeof(height) != 'integer' OR width <= 0 OR height <= 0 OR " \
            "width * height > :max_pixels"
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_CORRUPT, _SQLITE_NOTADB = 13, 8, 11, 26


def damaged(file: Path, detail: str) -> ProjectError:
    """The error for a project file that is damaged or was crafted."""
    return ProjectError(f"{file} is damaged ({detail}); restore it from a backup or ask its sender for a "
                        "good copy (nothing was changed)")


def sqlite_error(exc: sqlite3.Error, file: Path, action: str = "write") -> SegtoolError:
    """A :class:`SegtoolError` for an SQLite error: disk full, read-only, damaged, or the message."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return DiskFullError(f"cannot {action} project {file}: disk full; free some space and try again "
                             "(the last change was not saved)")
    if primary == _SQLITE_READONLY or "readonly database" in text:
        return ProjectError(f"cannot {action} project {file}: the project file is read-only; make it writable, "
                            "or use read-only commands (segtool info, export)")
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text:
        return damaged(file, text)
    return ProjectError(f"cannot {action} project {file}: {text}")


def open_error(exc: sqlite3.DatabaseError, file: Path) -> SegtoolError:
    """The error for a failure while opening: disk full or read-only as such, anything else "not readable"."""
    error = sqlite_error(exc, file, "open")
    if isinstance(error, DiskFullError) or "read-only" in str(error):
        return error
    return ProjectError(f"{file} is not a readable segtool project: {exc}")


def check_writable(file: Path) -> None:
    """Refuse, before SQLite tries, a project file (or folder, which holds its journal) that cannot be written."""
    if file.exists() and not os.access(file, os.W_OK):
        raise ProjectError(f"the project file is read-only: {file}; make it writable, or use read-only commands "
                           "(segtool info, export)")
    if not os.access(file.parent, os.W_OK):
        raise ProjectError(f"the project folder {file.parent} is read-only (the project's journal lives beside "
                           "it); make it writable, or use read-only commands (segtool info, export)")


class VerifiedFiles:
    """Project files that passed the integrity check, keyed by real path, with the state that passed.

    Kept in ``cache_dir()/verified-projects.json`` (at most :attr:`LIMIT` entries; deleting it is
    safe: the next open checks again).
    """

    LIMIT = 500

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "verified-projects.json"

    @staticmethod
    def state(file: Path) -> list[int]:
        """``[device, inode, size, mtime_ns]`` of the file, then ``[size, mtime_ns]`` of its WAL if not empty."""
        info = os.stat(file)
        out = [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns]
        wal = file.with_name(file.name + "-wal")
        winfo = os.stat(wal) if wal.exists() else None
        if winfo is not None and winfo.st_size:
            out += [winfo.st_size, winfo.st_mtime_ns]
        return out

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def is_verified(self, file: Path) -> bool:
        """Whether ``file`` is unchanged since it was last verified."""
        try:
            return self._load().get(os.path.realpath(file)) == self.state(file)
        except OSError:
            return False

    def forget(self, file: Path) -> None:
        """Drop ``file`` from the cache (its next open runs the integrity check)."""
        entries = self._load()
        if entries.pop(os.path.realpath(file), None) is not None:
            write_text(self.path, json.dumps(entries), durable=False)

    def remember(self, file: Path) -> None:
        """Record the current state of ``file`` as verified (best effort: a cache)."""
        try:
            entries = self._load()
            key = os.path.realpath(file)
            entries.pop(key, None)
            entries[key] = self.state(file)
            while len(entries) > self.LIMIT:
                entries.pop(next(iter(entries)))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path, json.dumps(entries), durable=False)
        except (OSError, SegtoolError):
            pass


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_not_truncated(file: Path) -> None:
    """Refuse a project file shorter than the pages its SQLite header declares (an interrupted copy),
    before SQLite reads it. Files that are not SQLite are left to SQLite's own message."""
    try:
        with open(file, "rb") as fh:
            header = fh.read(100)
        size = file.stat().st_size
    except OSError:
        return
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]  # SQLite's rule for trusting the in-header page count
    wal = file.with_name(file.name + "-wal")
    if header_valid and pages and size < page_size * pages and not (wal.exists() and wal.stat().st_size):
        raise damaged(file, f"truncated: {size} bytes, its header declares {pages} pages of {page_size} bytes")


def check_file(conn: sqlite3.Connection, file: Path, verified: VerifiedFiles) -> None:
    """Refuse a damaged project file (see the module docstring); cheap when already verified."""
    if verified.is_verified(file):
        return
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        raise damaged(file, "; ".join(rows)[:300])
    verified.remember(file)


def check_root(text: object, file: Path) -> Path:
    """The image folder stored in a project: ``.`` or a relative path below the project's folder."""
    if text in (".", ""):
        return file.parent.resolve()
    try:
        rel = RelPath(text, "the project's image folder")
        return rel.inside(file.parent)
    except UnsafePathError as exc:
        raise ProjectError(f"{file}: {exc}; a project's images must lie in its folder or below it "
                           "(the file may have been crafted); refused") from None


def path_problem(path: object) -> str | None:
    """Why a project image path is not a normalised :class:`RelPath`, or ``None``."""
    try:
        norm = RelPath(path, "image path")
    except UnsafePathError as exc:
        return str(exc)
    return None if norm == path else f"image path {describe(path)} is not normalised (it should read {norm!r})"


def check_image_rows(conn: sqlite3.Connection, file: Path) -> None:
    """Refuse a project whose ``images`` rows hold an unsafe path or an impossible size (see module docstring).

    One aggregate query screens all rows (10,000 paths in a few ms); only a project that fails the
    screen is checked row by row, to name the first bad row exactly.
    """
    params = {"max_pixels": MAX_ROW_PIXELS}
    joined, count, flagged = conn.execute(
        f"SELECT group_concat(path, char(10)), count(*), total(typeof(path) != 'text' OR {_BAD_SIZE}) FROM images",
        params).fetchone()
    if not count:
        return
    text = f"\n{joined}\n"
    if not flagged and text.count("\n") == count + 1 and not any(p in text for p in _SUSPECT_PARTS) \
            and not _SUSPECT_CHARS.search(text):
        return
    for image_id, kind, raw, width, height in conn.execute(
            "SELECT id, typeof(path), CAST(path AS BLOB), width, height FROM images"):
        if kind != "text":
            raise damaged(file, f"image row {image_id} has a path of type {kind}")
        if not (isinstance(width, int) and isinstance(height, int) and 0 < width and 0 < height
                and width * height <= MAX_ROW_PIXELS):
            raise damaged(file, f"image row {image_id} declares the size {describe(width)} x {describe(height)}")
        try:
            problem = path_problem(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except UnicodeDecodeError:
            problem = f"image path {describe(raw)} is not valid UTF-8"
        if problem:
            raise ProjectError(f"{file}: image row {image_id}: {problem}; the file may have been crafted, "
                               "refused (nothing was read or changed)")


def check_instance_rows(rows: Sequence[Sequence[Any]], file: Path) -> None:
    """Refuse instance rows (``id, image_id, class_id, h, w, counts, x0, y0, x1, y1, area, score, ...``)
    whose types, sizes or RLE strings are not what segtool writes."""
    if not rows:
        return
    for row in rows:
        iid, h, w, counts, score = row[0], row[3], row[4], row[5], row[11]
        ints = (h, w, *row[6:11])
        if not all(isinstance(v, int) for v in ints) or h <= 0 or w <= 0 or h * w > MAX_ROW_PIXELS \
                or not isinstance(counts, str):
            raise damaged(file, f"instance {iid} has an invalid mask size or encoding")
        if score is not None and not (isinstance(score, (int, float)) and math.isfinite(score)):
            raise damaged(file, f"instance {iid} has the score {describe(score)}")
    try:
        decode_counts([r[5] for r in rows], [r[3] * r[4] for r in rows])
    except RleError as exc:
        iid = rows[exc.index][0] if exc.index is not None else "?"
        raise damaged(file, f"instance {iid}: {exc}") from None


def parse_attributes(text: object, iid: object, file: Path) -> dict:
    """An instance's ``attributes`` column (JSON object text) as a dict."""
    if not text or text == "{}":
        return {}
    try:
        value = json.loads(text) if isinstance(text, str) and len(text) < (1 << 20) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise damaged(file, f"instance {iid} has unreadable attributes")
    return value
