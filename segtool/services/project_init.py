"""Create or update a project from a folder of images (``segtool init FOLDER``, the GUI's "Open folder").

>>> report = init_project("photos", progress=lambda done, total, rel: ...)
>>> report.project, len(report.added), report.skipped      # skipped: [(rel_path, reason), ...]

The folder is scanned recursively (hidden files and folders, the project's own files and segtool's
own exports -- folders holding :data:`~segtool.core.atomic.EXPORT_MARKER` -- are ignored). Every
other file is probed with :func:`segtool.io.images.probe_image`; files that are not readable images
(truncated PNG, JPEG and TIFF files included) are reported as skipped with the reason, and so are
file names that cannot be a project path (not valid UTF-8, control characters: see
:class:`~segtool.core.safe_paths.RelPath`) and links that lead outside the folder; the rest are
added with their upright size and content hash. Paths already in the project are not probed again,
so re-running adds only new files. The project is ``FOLDER/project.segtool`` (created on first use).
All additions are one transaction.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from segtool.core.atomic import EXPORT_MARKER
from segtool.core.document import ImageRecord
from segtool.core.errors import ImageReadError, ProjectError, UnsafePathError
from segtool.core.safe_paths import RelPath
from segtool.io.images import file_hash, probe_image
from segtool.store.sqlite import PROJECT_FILENAME, ProjectStore

#: ``progress(done, total, rel_path)`` after each file.
Progress = Callable[[int, int, str], None]


@dataclass
class InitReport:
    """What :func:`init_project` did. Paths are POSIX, relative to the folder."""

    project: Path
    created: bool
    added: list[ImageRecord] = field(default_factory=list)
    already_present: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _is_project_file(name: str) -> bool:
    return name.startswith(PROJECT_FILENAME) or name.endswith((".segtool", ".segtool-wal", ".segtool-shm",
                                                                 ".segtool.lock"))


def scan_folder(folder: Path) -> list[str]:
    """Every candidate file under ``folder`` (recursive, sorted), as POSIX paths relative to it.

    Folders holding :data:`EXPORT_MARKER` (segtool's own exports) are not entered. Names that are
    not valid UTF-8 come back with surrogate escapes (``os.fsdecode``); :func:`init_project` skips them.
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not os.path.isfile(os.path.join(dirpath, d, EXPORT_MARKER)))
        base = Path(dirpath).relative_to(folder)
        for name in filenames:
            if name.startswith(".") or _is_project_file(name):
                continue
            found.append((base / name).as_posix())
    return sorted(found)


def printable(rel: str) -> str:
    """``rel`` as one line that can always be printed: bytes that are not UTF-8 and control characters
    become escapes (``\\xff``, ``\\n``)."""
    text = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch
                   for ch in text)


def _candidate(root: Path, rel: str) -> Path:
    """The file to probe for ``rel``; :class:`UnsafePathError` for a name that cannot be a project path."""
    try:
        return RelPath(rel, "file name").inside(root)
    except UnsafePathError as exc:
        text = str(exc)
        if "not valid Unicode" in text:
            text = "the file name is not valid UTF-8; rename the file"
        elif "control character" in text:
            text = "the file name holds a newline or other control character; rename the file"
        raise UnsafePathError(text) from None


def init_project(folder: str | os.PathLike, progress: Progress | None = None) -> InitReport:
    """Create ``folder/project.segtool`` if needed and add the folder's new images.

    Raises
    ------
    ProjectError
        ``folder`` is not a folder, or the project cannot be created/written.
    ProjectLockedError
        The project is open in another segtool.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ProjectError(f"{root} is not a folder of images")
    if (root / EXPORT_MARKER).is_file():
        raise ProjectError(f"{root} is a segtool export (it holds {EXPORT_MARKER}) and is replaced by the next "
                           "export; run segtool init on the original images instead")
    file = root / PROJECT_FILENAME
    created = not file.exists()
    store = ProjectStore.create(file, root=root) if created else ProjectStore.open(file)
    with store:
        report = InitReport(project=file, created=created)
        candidates = scan_folder(root)
        records: list[ImageRecord] = []
        for done, rel in enumerate(candidates, 1):
            try:
                source = _candidate(root, rel)
            except UnsafePathError as exc:
                report.skipped.append((printable(rel), str(exc)))
            else:
                if store.image_by_path(rel) is not None:
                    report.already_present += 1
                else:
                    try:
                        info = probe_image(source)
                        records.append(ImageRecord(0, rel, info.width, info.height, file_hash(source)))
                    except ImageReadError as exc:
                        report.skipped.append((rel, _reason(exc, source, root / rel)))
            if progress is not None:
                progress(done, len(candidates), printable(rel))
        report.added = store.add_images(records)
    return report


def _reason(exc: ImageReadError, *paths: Path) -> str:
    """The error message without the leading file name (the report names the file already)."""
    text = str(exc)
    for prefix in [p for path in paths for p in (str(path), path.name)]:
        if text.startswith(prefix):
            return text[len(prefix):].lstrip(" :") or text
    return text
