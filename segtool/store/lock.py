"""The single-writer lock of a project: an OS lock on ``<project>.lock``.

The lock is an advisory ``flock`` (POSIX) or ``msvcrt.locking`` (Windows) on an open file
descriptor, so the OS drops it when the holding process exits or is killed (SIGKILL included): a
stale ``.lock`` file never blocks anyone.
"""

from __future__ import annotations

import os
from pathlib import Path

from segtool.core.errors import ProjectError, ProjectLockedError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class FileLock:
    """An exclusive, non-blocking lock held through an open file descriptor."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, lock_path: Path, project: Path) -> FileLock:
        """Take the lock or raise :class:`ProjectLockedError` naming ``project``."""
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ProjectError(f"cannot open {project} for writing: {exc.strerror} ({lock_path})") from exc
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            os.close(fd)
            raise ProjectLockedError(
                f"project is open in another segtool: {project} (close it there, or open it read-only)"
            ) from exc
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        return cls(lock_path, fd)

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays; it is harmless."""
        if self._fd is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                os.lseek(self._fd, 0, os.SEEK_SET)
                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(self._fd)
            self._fd = None
