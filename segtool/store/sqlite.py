"""The project file: one SQLite database (WAL mode), by default ``<image folder>/project.segtool``.

Usage
-----
>>> store = ProjectStore.create("photos/project.segtool", root="photos")   # or ProjectStore.open(...)
>>> with store:                                                             # closes (and unlocks) on exit
...     cat = store.add_class("cat")
...     store.add_images([ImageRecord(0, "a.jpg", 640, 480, "sha...")])
...     doc = store.open_image(image_id)          # segtool.core.document.ImageDocument, sink = store
...     history = History(doc)                     # segtool.core.history
...     history.push(AddInstance(mask, class_id=cat.id, source="sam"))   # durable when it returns

Durability
----------
Every write happens inside :meth:`ProjectStore.transaction` (a lone call opens its own), which runs
``BEGIN IMMEDIATE`` ... ``COMMIT``; a command that returned is committed. The journal is WAL with
``synchronous=FULL`` by default: the WAL is fsync'ed at every commit, so a command that returned
survives a killed segtool (SIGKILL, tested) *and* a power loss or OS crash; the file is never
corrupted. That costs one fsync per command (``segtool bench store`` reports it; the median is
within the 5 ms budget of an interactive edit on the reference VM, and the brush commits once per
stroke, not per dab). ``synchronous="normal"`` (constructor option, for bulk jobs) skips the fsync:
still safe against a killed process, but a power loss may drop the commits since the last
:meth:`ProjectStore.checkpoint`.

Locking
-------
One writer per project: the writer holds an OS lock (``fcntl.flock``/``msvcrt.locking``) on
``<project>.lock`` beside the file for as long as it is open; the OS drops it when the process
dies, even by SIGKILL. A second writer gets :class:`ProjectLockedError`. Readers
(``readonly=True``) take no lock and see the last committed state.

Errors
------
Missing files, files that are not SQLite, SQLite files that are not segtool projects, projects
from a newer segtool ("update segtool") and any ``sqlite3.Error`` are raised as :class:`ProjectError`
(one clear line); a full disk as :class:`~segtool.core.errors.DiskFullError` ("disk full"), a
read-only file as "the project file is read-only".

Untrusted files
---------------
A project file someone sent is checked on open (:mod:`segtool.store.checks`): not truncated,
``PRAGMA quick_check`` clean (remembered per file state, so a file is checked once until someone
else changes it), the image folder inside the project's folder, every image path a
:class:`~segtool.core.safe_paths.RelPath` and every size sane. Instance rows are checked as they
are read (types, sizes, RLE strings), so a crafted row is an error, never a crash in pycocotools.

Coordinates: bboxes are XYXY with exclusive ends; RLEs are COCO compressed ``{"size": [H, W],
"counts": str}``; image paths are POSIX, relative to :attr:`ProjectStore.root`.
"""

from __future__ import annotations

import colorsys
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from segtool.core.document import (
    IMAGE_STATUSES,
    INSTANCE_STATES,
    ImageDocument,
    ImageRecord,
    Instance,
    LabelClass,
)
from segtool.core.errors import ProjectError
from segtool.core.names import class_name_problem
from segtool.store import checks, opening
from segtool.store.lock import FileLock

#: File name of a project inside its image folder.
PROJECT_FILENAME = "project.segtool"

_INSTANCE_COLUMNS = ("id, image_id, class_id, h, w, counts, x0, y0, x1, y1, area, score, source, "
                     "attributes, z, state, iscrowd")
_CLASS_SQL = "SELECT id, name, color, source_id FROM classes"


def project_path(path: str | os.PathLike) -> Path:
    """The project file for ``path``: ``path`` itself, or ``path/project.segtool`` for a folder."""
    p = Path(path)
    return p / PROJECT_FILENAME if p.is_dir() else p


def auto_color(index: int) -> tuple[int, int, int]:
    """A distinct, saturated ``(r, g, b)`` colour for the ``index``-th class (golden-ratio hues)."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return (round(r * 255), round(g * 255), round(b * 255))


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in color))


def _rgb(text: str) -> tuple[int, int, int]:
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def _row_to_instance(row: Sequence[Any], file: Path) -> Instance:
    (iid, image_id, class_id, h, w, counts, x0, y0, x1, y1, area, score, source, attrs, z, state, crowd) = row
    return Instance(id=iid, image_id=image_id, class_id=class_id, rle={"size": [h, w], "counts": counts},
                    bbox=(x0, y0, x1, y1), area=area, score=score, source=source,
                    attributes=checks.parse_attributes(attrs, iid, file), z=z, state=state,
                    iscrowd=bool(crowd))


def _row_to_class(row: Sequence[Any]) -> LabelClass:
    return LabelClass(int(row[0]), row[1], _rgb(row[2]), None if row[3] is None else int(row[3]))


def _instance_to_row(inst: Instance) -> tuple:
    h, w = (int(v) for v in inst.rle["size"])
    counts = inst.rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if not isinstance(counts, str):
        raise ProjectError(f"instance {inst.id}: RLE counts must be compressed (str), got {type(counts).__name__}")
    if inst.state not in INSTANCE_STATES:
        raise ProjectError(f"instance {inst.id}: unknown state {inst.state!r}; use one of {INSTANCE_STATES}")
    x0, y0, x1, y1 = (int(v) for v in inst.bbox)
    attrs = json.dumps(inst.attributes, sort_keys=True) if inst.attributes else "{}"
    return (inst.id, inst.image_id, inst.class_id, h, w, counts, x0, y0, x1, y1, int(inst.area),
            None if inst.score is None else float(inst.score), inst.source, attrs, int(inst.z), inst.state,
            int(bool(inst.iscrowd)))


class ProjectStore:
    """An open segtool project. Create with :meth:`create` or :meth:`open`, not the constructor.

    It is the :class:`~segtool.core.document.DocumentSink` of the documents it opens. Use it from
    one thread at a time. It is a context manager: ``with ProjectStore.open(p) as store: ...``.

    Attributes
    ----------
    path : Path
        The project file.
    root : Path
        The image folder; :attr:`ImageRecord.path` is relative to it.
    readonly : bool
        Opened for reading only (no lock, writes raise :class:`ProjectError`).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: FileLock | None, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = conn
        self._lock = lock
        self._depth = 0
        self._next_instance_id: int | None = None
        self.root = checks.check_root(self.meta_get("root", "."), path)

    # -- opening and closing ----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, root: str | os.PathLike | None = None, *,
               synchronous: str = "full") -> ProjectStore:
        """Create a new project file and open it for writing.

        Parameters
        ----------
        path : path-like
            The project file, or an existing folder (the file is then ``folder/project.segtool``).
        root : path-like, optional
            The image folder (default: the project file's folder). Stored relative to the file.
        synchronous : {"full", "normal"}
            SQLite ``synchronous`` level, see the module docstring.

        Raises
        ------
        ProjectError
            The file exists already or cannot be created.
        """
        file = project_path(path)
        if file.exists():
            raise ProjectError(f"{file} already exists; open it instead (segtool info {file})")
        if not file.parent.is_dir():
            raise ProjectError(f"cannot create {file}: folder {file.parent} does not exist")
        root_dir = Path(root) if root is not None else file.parent
        rel_root = Path(os.path.relpath(root_dir.resolve(), file.parent.resolve())).as_posix()
        if rel_root == ".." or rel_root.startswith("../"):
            raise ProjectError(f"cannot create {file}: the image folder {root_dir} must be the project file's "
                               "folder or below it")
        store = cls._connect(file, readonly=False, synchronous=synchronous, create=True)
        with store.transaction():
            store.meta_set("root", rel_root)
        store.root = (file.parent / rel_root).resolve()
        return store

    @classmethod
    def open(cls, path: str | os.PathLike, *, readonly: bool = False, synchronous: str = "full") -> ProjectStore:
        """Open an existing project (the ``.segtool`` file or its folder).

        Raises
        ------
        ProjectLockedError
            ``readonly=False`` and another segtool process has the project open for writing.
        ProjectError
            The file is missing, not a segtool project, from a newer segtool, or unreadable.
        """
        file = project_path(path)
        if not file.is_file():
            hint = "run 'segtool init FOLDER' first" if file.name == PROJECT_FILENAME else "check the path"
            raise ProjectError(f"no segtool project at {file}; {hint}")
        return cls._connect(file, readonly=readonly, synchronous=synchronous, create=False)

    @classmethod
    def _connect(cls, file: Path, *, readonly: bool, synchronous: str, create: bool) -> ProjectStore:
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        if not create:
            checks.check_not_truncated(file)
        if not readonly:
            checks.check_writable(file)
        lock = None if readonly else FileLock.acquire(file.with_name(file.name + ".lock"), file)
        try:
            try:
                conn = opening.connect(file, readonly)
            except sqlite3.DatabaseError as exc:
                raise checks.open_error(exc, file) from None
            try:
                opening.configure(conn, file, readonly=readonly, synchronous=synchronous, create=create)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(file, conn, lock, readonly)

    def close(self) -> None:
        """Close the database and release the writer lock (idempotent). A writer's file, checked on
        open and since changed only by SQLite, is remembered as verified."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]
            if not self.readonly and self.path.exists():
                checks.VerifiedFiles().remember(self.path)
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._conn is None

    # -- low level ----------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"project {self.path} is closed")
        return self._conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise checks.sqlite_error(exc, self.path, "read") from None

    def _write(self, sql: str, params: Sequence[Any] = (), *, many: bool = False) -> sqlite3.Cursor:
        if self.readonly:
            raise ProjectError(f"project {self.path} is open read-only")
        with self.transaction():
            try:
                db = self._db()
                return db.executemany(sql, params) if many else db.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise ProjectError(f"invalid change to project {self.path}: {exc}") from exc
            except sqlite3.Error as exc:
                raise checks.sqlite_error(exc, self.path) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits atomically (and durably) or not at all. Nesting-safe.

        The outermost level runs ``BEGIN IMMEDIATE`` ... ``COMMIT``; inner levels are savepoints,
        so an exception caught inside an inner level undoes only that level.
        """
        if self.readonly:
            raise ProjectError(f"project {self.path} is open read-only")
        db = self._db()
        level = self._depth
        try:
            db.execute("BEGIN IMMEDIATE" if level == 0 else f"SAVEPOINT sp{level}")
        except sqlite3.Error as exc:
            raise checks.sqlite_error(exc, self.path) from None
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._undo(db, level)
            raise
        self._depth -= 1
        try:
            db.execute("COMMIT" if level == 0 else f"RELEASE sp{level}")
        except sqlite3.Error as exc:
            self._undo(db, level)
            raise checks.sqlite_error(exc, self.path, "save") from None

    def _undo(self, db: sqlite3.Connection, level: int) -> None:
        """Roll back one level after an error. SQLite may already have rolled back the whole
        transaction (a full disk does), so a missing savepoint is not a second error: the first one
        is the one reported."""
        if level == 0 or not db.in_transaction:
            self._next_instance_id = None
            try:
                db.rollback()
            except sqlite3.Error:
                pass
            return
        try:
            db.execute(f"ROLLBACK TO sp{level}")
            db.execute(f"RELEASE sp{level}")
        except sqlite3.Error:
            self._next_instance_id = None

    def checkpoint(self) -> None:
        """Copy the WAL into the database file with fsyncs: everything committed so far survives power loss."""
        if not self.readonly:
            self._query("PRAGMA wal_checkpoint(PASSIVE)")

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or the problems found, one per line."""
        return "\n".join(str(r[0]) for r in self._query("PRAGMA integrity_check"))

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self._query("SELECT version FROM schema_version")[0][0])

    # -- key/value -------------------------------------------------------------------------------
    def meta_get(self, key: str, default: Any = None) -> Any:
        """A JSON value stored with :meth:`meta_set`, or ``default``."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def meta_set(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key`` (e.g. the GUI's current image id)."""
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # -- classes ---------------------------------------------------------------------------------
    def classes(self) -> list[LabelClass]:
        """All label classes, by id."""
        return [_row_to_class(r) for r in self._query(f"{_CLASS_SQL} ORDER BY id")]

    def class_by_name(self, name: str) -> LabelClass | None:
        """The class called ``name`` (exact match), or ``None``."""
        rows = self._query(f"{_CLASS_SQL} WHERE name = ?", (name,))
        return _row_to_class(rows[0]) if rows else None

    def add_class(self, name: str, color: tuple[int, int, int] | None = None, *,
                  source_id: int | None = None) -> LabelClass:
        """Add a class; ``color`` ``(r, g, b)`` defaults to a distinct automatic one; ``source_id``
        is the category id it had in an imported dataset (see :class:`LabelClass`).

        Raises
        ------
        ProjectError
            The name is empty, already used, or refused by the name policy
            (:func:`segtool.core.names.class_name_problem`: control characters, line separators...).
        """
        name = name.strip() if isinstance(name, str) else name
        if not name:
            raise ProjectError("a label class needs a non-empty name")
        problem = class_name_problem(name)
        if problem:
            raise ProjectError(problem)
        if self.class_by_name(name) is not None:
            raise ProjectError(f"label class {name!r} already exists")
        if color is None:
            color = auto_color(int(self._query("SELECT COALESCE(MAX(id), 0) FROM classes")[0][0]))
        cur = self._write("INSERT INTO classes(name, color, source_id) VALUES (?, ?, ?)",
                          (name, _hex(color), None if source_id is None else int(source_id)))
        return LabelClass(int(cur.lastrowid), name, tuple(int(c) for c in color),  # type: ignore[arg-type]
                          None if source_id is None else int(source_id))

    def set_class_source_id(self, class_id: int, source_id: int | None) -> None:
        """Record (or clear) the dataset category id of a class (see :class:`LabelClass`)."""
        cur = self._write("UPDATE classes SET source_id = ? WHERE id = ?",
                          (None if source_id is None else int(source_id), class_id))
        if cur.rowcount != 1:
            raise ProjectError(f"no label class with id {class_id}")

    def update_class(self, class_id: int, *, name: str | None = None,
                     color: tuple[int, int, int] | None = None) -> LabelClass:
        """Rename and/or recolour a class; returns the updated class."""
        with self.transaction():
            rows = self._query(f"{_CLASS_SQL} WHERE id = ?", (class_id,))
            if not rows:
                raise ProjectError(f"no label class with id {class_id}")
            new_name = rows[0][1] if name is None else name.strip()
            other = self.class_by_name(new_name)
            if not new_name or (other is not None and other.id != class_id):
                raise ProjectError(f"cannot rename class to {new_name!r}: empty or already used")
            problem = class_name_problem(new_name) if name is not None else None
            if problem:
                raise ProjectError(f"cannot rename class: {problem}")
            new_color = _rgb(rows[0][2]) if color is None else tuple(int(c) for c in color)
            self._write("UPDATE classes SET name = ?, color = ? WHERE id = ?", (new_name, _hex(new_color), class_id))
        return LabelClass(class_id, new_name, new_color, rows[0][3])  # type: ignore[arg-type]

    # -- images ----------------------------------------------------------------------------------
    _IMAGE_SQL = "SELECT id, path, width, height, content_hash, status FROM images"

    def images(self, status: str | None = None) -> list[ImageRecord]:
        """All images (by id), optionally only those with ``status``."""
        if status is None:
            rows = self._query(f"{self._IMAGE_SQL} ORDER BY id")
        else:
            rows = self._query(f"{self._IMAGE_SQL} WHERE status = ? ORDER BY id", (status,))
        return [ImageRecord(*r) for r in rows]

    def image(self, image_id: int) -> ImageRecord:
        """The image with this id (:class:`ProjectError` if there is none)."""
        rows = self._query(f"{self._IMAGE_SQL} WHERE id = ?", (image_id,))
        if not rows:
            raise ProjectError(f"no image with id {image_id} in {self.path}")
        return ImageRecord(*rows[0])

    def image_by_path(self, rel: str) -> ImageRecord | None:
        """The image with this POSIX path relative to :attr:`root`, or ``None``."""
        rows = self._query(f"{self._IMAGE_SQL} WHERE path = ?", (rel,))
        return ImageRecord(*rows[0]) if rows else None

    def add_images(self, records: Iterable[ImageRecord]) -> list[ImageRecord]:
        """Add images (their ``id`` is ignored); paths already present are skipped.

        Returns the newly added records, with their ids, in input order. One transaction.
        """
        added: list[ImageRecord] = []
        with self.transaction():
            db = self._db()
            for rec in records:
                if rec.status not in IMAGE_STATUSES:
                    raise ProjectError(f"{rec.path}: unknown image status {rec.status!r}")
                cur = db.execute("INSERT OR IGNORE INTO images(path, width, height, content_hash, status) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 (rec.path, rec.width, rec.height, rec.content_hash, rec.status))
                if cur.rowcount == 1:
                    added.append(ImageRecord(int(cur.lastrowid), rec.path, rec.width, rec.height,
                                             rec.content_hash, rec.status))
        return added

    def set_image_status(self, image_id: int, status: str) -> None:
        """Set an image's status (``todo``, ``in-progress`` or ``done``)."""
        if status not in IMAGE_STATUSES:
            raise ProjectError(f"unknown image status {status!r}; use one of {IMAGE_STATUSES}")
        cur = self._write("UPDATE images SET status = ? WHERE id = ?", (status, image_id))
        if cur.rowcount != 1:
            raise ProjectError(f"no image with id {image_id} in {self.path}")

    # -- instances -------------------------------------------------------------------------------
    def instances(self, image_id: int, *, state: str | None = None) -> list[Instance]:
        """The instances of one image, bottom to top (ascending ``z``, then id)."""
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE image_id = ?"
        params: tuple = (image_id,)
        if state is not None:
            sql += " AND state = ?"
            params += (state,)
        rows = self._query(sql + " ORDER BY z, id", params)
        checks.check_instance_rows(rows, self.path)
        return [_row_to_instance(r, self.path) for r in rows]

    def instance(self, instance_id: int) -> Instance | None:
        """One instance by id, or ``None``."""
        rows = self._query(f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE id = ?", (instance_id,))
        checks.check_instance_rows(rows, self.path)
        return _row_to_instance(rows[0], self.path) if rows else None

    def allocate_instance_ids(self, n: int) -> list[int]:
        """``n`` fresh instance ids, never handed out before in this project (single writer)."""
        if self._next_instance_id is None:
            seq = self._query("SELECT seq FROM sqlite_sequence WHERE name = 'instances'")
            top = self._query("SELECT COALESCE(MAX(id), 0) FROM instances")[0][0]
            self._next_instance_id = max(int(seq[0][0]) if seq else 0, int(top)) + 1
        start = self._next_instance_id
        self._next_instance_id += n
        return list(range(start, start + n))

    def add_instances(self, image_id: int, instances: Sequence[Instance]) -> list[Instance]:
        """Bulk-add instances to one image in one transaction (imports, proposals).

        The given ``id`` and ``image_id`` are replaced; ``z`` values are kept. Returns the stored
        instances with their new ids. Not undoable: for edits use commands on :meth:`open_image`.
        """
        ids = self.allocate_instance_ids(len(instances))
        stored = [replace(inst, id=i, image_id=image_id) for inst, i in zip(instances, ids, strict=True)]
        self.save_instances(stored)
        return stored

    def save_instances(self, instances: Sequence[Instance]) -> None:
        """Insert or replace instances by id (the document's persistence hook)."""
        rows = [_instance_to_row(i) for i in instances]
        self._write(f"INSERT OR REPLACE INTO instances({_INSTANCE_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows, many=True)

    def set_instance_state(self, ids: Sequence[int], state: str) -> None:
        """Set ``state`` (``accepted``/``pending``) of instances (not undoable; see commands)."""
        if state not in INSTANCE_STATES:
            raise ProjectError(f"unknown instance state {state!r}; use one of {INSTANCE_STATES}")
        self._write("UPDATE instances SET state = ? WHERE id = ?", [(state, int(i)) for i in ids], many=True)

    def delete_instances(self, ids: Sequence[int]) -> None:
        """Delete instances by id (unknown ids are ignored)."""
        self._write("DELETE FROM instances WHERE id = ?", [(int(i),) for i in ids], many=True)

    # -- documents and counts ----------------------------------------------------------------
    def open_image(self, image_id: int) -> ImageDocument:
        """The editable in-memory document of one image, persisting every change to this store."""
        return ImageDocument(self.image(image_id), self.instances(image_id), sink=self)

    def counts(self) -> dict[str, int]:
        """Integer keys ``images``, ``annotated_images`` (with an accepted instance), ``instances``
        (accepted), ``classes``, ``pending_proposals`` (instances in state ``pending``)."""
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM images), "
            "(SELECT COUNT(DISTINCT image_id) FROM instances WHERE state = 'accepted'), "
            "(SELECT COUNT(*) FROM instances WHERE state = 'accepted'), "
            "(SELECT COUNT(*) FROM classes), "
            "(SELECT COUNT(*) FROM instances WHERE state = 'pending')")[0]
        keys = ("images", "annotated_images", "instances", "classes", "pending_proposals")
        return {k: int(v) for k, v in zip(keys, row, strict=True)}
