"""The project file's schema and its migrations.

``MIGRATIONS[i]`` upgrades a file from schema version ``i`` to ``i + 1`` (version 0 is an empty
file). A new schema change appends one function here; :func:`migrate` runs the missing ones in one
transaction when a project is opened for writing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from segtool.core.errors import ProjectError


def _v1(db: sqlite3.Connection) -> None:
    """The first schema: meta, classes, images, instances."""
    _run_script(db, """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE classes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            color TEXT NOT NULL
        );
        CREATE TABLE images (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL UNIQUE,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'in-progress', 'done'))
        );
        CREATE TABLE instances (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            class_id INTEGER REFERENCES classes(id) ON DELETE SET NULL,
            h INTEGER NOT NULL, w INTEGER NOT NULL, counts TEXT NOT NULL,
            x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
            area INTEGER NOT NULL,
            score REAL,
            source TEXT NOT NULL,
            attributes TEXT NOT NULL DEFAULT '{}',
            z INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'accepted' CHECK (state IN ('accepted', 'pending'))
        );
        CREATE INDEX instances_by_image ON instances(image_id, z);
        CREATE INDEX instances_by_state ON instances(state, image_id);
    """)


def _v2(db: sqlite3.Connection) -> None:
    """Dataset meanings kept through imports: ``instances.iscrowd`` (COCO crowd regions) and
    ``classes.source_id`` (the category id of the dataset a class came from)."""
    _run_script(db, """
        ALTER TABLE instances ADD COLUMN iscrowd INTEGER NOT NULL DEFAULT 0 CHECK (iscrowd IN (0, 1));
        ALTER TABLE classes ADD COLUMN source_id INTEGER
    """)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the current transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


#: ``MIGRATIONS[i]`` takes a file from version ``i`` to ``i + 1``.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2]
#: The version this segtool writes.
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, file: Path) -> int:
    """Bring ``db`` (autocommit connection) to :data:`SCHEMA_VERSION` atomically; returns the old version.

    Raises
    ------
    ProjectError
        The file was written by a newer segtool.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            db.execute("INSERT INTO schema_version(version) VALUES (0)")
        if version > SCHEMA_VERSION:
            raise ProjectError(f"{file} was written by a newer segtool (schema {version} > {SCHEMA_VERSION}); "
                               "update segtool to open it")
        for step in MIGRATIONS[version:]:
            step(db)
        if version != SCHEMA_VERSION:  # an up-to-date file is not written to (it stays byte-identical)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
    return version
