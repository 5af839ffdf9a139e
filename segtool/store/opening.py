"""Opening a project file: the SQLite connection, the schema check, the checks of :mod:`segtool.store.checks`
and the migrations, each failure one clear error (used by :class:`segtool.store.sqlite.ProjectStore`)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from segtool.core.errors import ProjectError
from segtool.store import checks
from segtool.store.schema import SCHEMA_VERSION, migrate


def connect(file: Path, readonly: bool) -> sqlite3.Connection:
    """Open the SQLite connection. A reader of a project in a read-only folder (no room for the WAL
    index) falls back to SQLite's ``immutable`` mode when the file has no WAL to replay."""
    def connect(query: str) -> sqlite3.Connection:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?{query}", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=10)
        if readonly:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # fail here, not on first use
        return conn

    try:
        return connect(f"mode={'ro' if readonly else 'rwc'}")
    except sqlite3.OperationalError:
        wal = file.with_name(file.name + "-wal")
        if not readonly or os.access(file.parent, os.W_OK) or (wal.exists() and wal.stat().st_size):
            raise
        return connect("mode=ro&immutable=1")


def schema_version(conn: sqlite3.Connection, file: Path) -> int | None:
    """The file's schema version (``None`` for a file being created); :class:`ProjectError` when the
    table is missing or holds something segtool never writes."""
    has_version = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not has_version:
        return None
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1 or not isinstance(rows[0][0], int) or rows[0][0] < 0:
        raise checks.damaged(file, "its schema_version table does not hold one version number")
    version = int(rows[0][0])
    if version > SCHEMA_VERSION:
        raise ProjectError(f"{file} was written by a newer segtool (schema {version} > {SCHEMA_VERSION}); "
                           "update segtool to open it")
    return version


def configure(conn: sqlite3.Connection, file: Path, *, readonly: bool, synchronous: str, create: bool) -> None:
    """Pragmas, schema check, integrity and row checks, migrations; every failure becomes one clear error."""
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        version = schema_version(conn, file)
        if version is None and not create:
            raise ProjectError(f"{file} is not a segtool project (no schema_version table)")
        if not create:
            checks.check_file(conn, file, checks.VerifiedFiles())
        if readonly and version != SCHEMA_VERSION:
            raise ProjectError(f"{file} has schema version {version}, this segtool reads {SCHEMA_VERSION}; "
                               "open it once for writing (e.g. segtool info is read-only; segtool import or the "
                               "window migrate it)")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ProjectError(f"cannot use write-ahead logging for {file} (journal mode {mode})")
            conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            migrate(conn, file)
        if not create:
            checks.check_image_rows(conn, file)
    except sqlite3.DatabaseError as exc:
        raise checks.open_error(exc, file) from None
