"""The one atomic writer: every file and every export folder segtool writes appears whole or not at all.

- :func:`write_bytes` / :func:`write_text`: a temporary file beside the target, flushed and fsync'ed,
  then renamed over it (``os.replace``), so readers see the old file or the new one, never half.
- :class:`AtomicFolder`: an export is written into a temporary folder beside ``OUT`` and moved into
  place when it is complete. A kill mid-export leaves ``OUT`` as it was (the temporary folder is
  named ``.OUT.segtool-tmp-<pid>-*`` and removed by the next export, unless its process still runs). An existing ``OUT`` is replaced
  only with ``overwrite=True`` and only when it is empty or was written by segtool (it holds the
  :data:`EXPORT_MARKER` file), so stale files of deleted images never survive and a folder of the
  user's own files is never deleted.

Files and folders get the permissions of a plain ``open()``/``mkdir()`` (``0o666``/``0o777`` less the
umask), not the private ``0o600``/``0o700`` of :mod:`tempfile`; a replaced file keeps its mode.

OS errors become :class:`~segtool.core.errors.SegtoolError` messages a user can act on
(:func:`os_error_message`): "disk full", "permission denied", "read-only file system".
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
import stat
import tempfile
from pathlib import Path
from types import TracebackType

from segtool.core.errors import DiskFullError, SegtoolError

#: File at the root of every export folder; ``segtool init`` does not scan folders holding it.
EXPORT_MARKER = ".segtool-export"
_TMP_TAG = ".segtool-tmp-"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The process umask, read once (``os.umask`` can only be read by setting it).
_UMASK = _read_umask()


def os_error_message(exc: OSError, path: str | os.PathLike, action: str = "write") -> str:
    """One line for a failed file operation, naming the file and what to do."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot {action} {path}: disk full; free some space and try again"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot {action} {path}: permission denied"
    if code == errno.EROFS:
        return f"cannot {action} {path}: read-only file system"
    if code == errno.ENOENT:
        return f"cannot {action} {path}: the folder does not exist"
    return f"cannot {action} {path}: {exc.strerror or exc}"


def as_segtool_error(exc: OSError, path: str | os.PathLike, action: str = "write") -> SegtoolError:
    """The :class:`SegtoolError` (``DiskFullError`` for a full disk) for an ``OSError``."""
    cls = DiskFullError if exc.errno in (errno.ENOSPC, errno.EDQUOT) else SegtoolError
    return cls(os_error_message(exc, path, action))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temporary file beside it, then rename).

    ``durable=False`` skips the fsync (files inside an :class:`AtomicFolder`, which is made durable
    as a whole).

    Raises
    ------
    SegtoolError
        The folder is missing or unwritable, or the disk is full; ``path`` is then unchanged.
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_TAG}", dir=path.parent)
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        if durable:
            _fsync_dir(path.parent)
    except OSError as exc:
        raise as_segtool_error(exc, path) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _mode_for(path: Path) -> int:
    """The mode a new ``path`` gets: that of the file it replaces, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", durable: bool = True) -> None:
    """:func:`write_bytes` of ``text`` encoded (UTF-8 by default, ``\\n`` line ends kept as written)."""
    write_bytes(path, text.encode(encoding), durable=durable)


def is_segtool_export(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds the :data:`EXPORT_MARKER` (it was written by a segtool export)."""
    return (Path(folder) / EXPORT_MARKER).is_file()


class AtomicFolder:
    """Build a folder in a temporary sibling and move it into place on success.

    Use as ``with AtomicFolder(out, overwrite=...) as tmp: ...write into tmp...``. On a clean exit
    ``tmp`` (which then holds :data:`EXPORT_MARKER`) becomes ``out``; on an exception it is deleted
    and ``out`` is untouched.

    Parameters
    ----------
    target : the final folder (``OUT``).
    overwrite : replace an existing non-empty ``target`` that segtool wrote (it holds the marker).

    Raises
    ------
    SegtoolError
        On entry, before anything is written: ``target`` is a file, or a non-empty folder and
        ``overwrite`` is false, or a non-empty folder segtool did not write; the parent is not
        writable. On exit: the move failed (``target`` is then as it was).
    """

    def __init__(self, target: str | os.PathLike, *, overwrite: bool = False, marker: str = "segtool export\n") -> None:
        self.target = Path(os.path.abspath(target))
        self.overwrite = overwrite
        self.marker = marker
        self.tmp: Path | None = None

    def check_target(self) -> None:
        """Raise the entry errors listed in the class docstring (nothing is written)."""
        target = self.target
        if target.exists() and not target.is_dir():
            raise SegtoolError(f"{target} exists and is not a folder; choose a folder for the export")
        if target.is_dir() and any(target.iterdir()):
            if not is_segtool_export(target):
                raise SegtoolError(f"{target} is not empty and was not written by segtool; choose an empty or "
                                   "new folder (nothing was written)")
            if not self.overwrite:
                raise SegtoolError(f"{target} holds an earlier export; pass --overwrite to replace it "
                                   "(nothing was written)")

    def __enter__(self) -> Path:
        self.check_target()
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._remove_leftovers(parent)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}{_TMP_TAG}{os.getpid()}-", dir=parent))
            os.chmod(self.tmp, 0o777 & ~_UMASK)
        except OSError as exc:
            raise as_segtool_error(exc, parent, "create a folder in") from None
        return self.tmp

    def _remove_leftovers(self, parent: Path) -> None:
        """Delete temporary folders of this target left by a killed export (restoring the previous
        export first if the kill came between the two renames of :meth:`_swap_in`). Folders of an
        export still running in another process are left alone."""
        prefix = glob.escape(f".{self.target.name}{_TMP_TAG}")
        if not self.target.exists():
            for old in sorted(parent.glob(f"{prefix}old-*")):
                if old.is_dir() and not old.is_symlink() and not _owner_alive(old):
                    os.replace(old, self.target)
                    break
        for old in parent.glob(f"{prefix}*"):
            if old.is_dir() and not old.is_symlink() and not _owner_alive(old):
                shutil.rmtree(old, ignore_errors=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        tmp, self.tmp = self.tmp, None
        if tmp is None:
            return
        if exc_type is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        try:
            (tmp / EXPORT_MARKER).write_text(self.marker, encoding="utf-8")
            self._swap_in(tmp)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise as_segtool_error(err, self.target) from None

    def _swap_in(self, tmp: Path) -> None:
        target = self.target
        old = None
        if target.exists():
            self.check_target()
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_TAG}old-{os.getpid()}-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:
                os.replace(old, target)
            raise
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _owner_alive(folder: Path) -> bool:
    """Whether the process that made temporary ``folder`` (its pid is in the name) is another live one."""
    tail = folder.name.rsplit(_TMP_TAG, 1)[-1].removeprefix("old-")
    pid_text = tail.split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid() or os.name == "nt":  # signal 0 is Ctrl+C there
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
