"""Opening a project for the window: a folder (its project created or updated) or a ``.segtool`` file,
for writing or, when another segtool writes it, read-only (browse and export, no edits). Qt-free."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from segtool.core.errors import SegtoolError

#: Store meta key holding the image id the window showed last.
CURRENT_IMAGE_KEY = "gui.current_image"


def open_project_path(path: str | os.PathLike, *, readonly: bool = False) -> Any:
    """Open ``path``: a ``.segtool`` file, or an image folder (its project is created and the folder
    scanned when it has none; a read-only open scans nothing). Returns the open ``ProjectStore``.

    Raises
    ------
    ProjectLockedError
        ``readonly`` is false and another segtool has the project open for writing.
    SegtoolError
        The path does not exist, or the project cannot be opened (corrupt...).
    """
    from segtool.store.sqlite import ProjectStore, project_path

    p = Path(path).expanduser()
    if not p.exists():
        raise SegtoolError(f"{p} does not exist; give an image folder or a .segtool project file")
    if readonly:
        file = project_path(p)
        if not file.is_file():
            raise SegtoolError(f"{p} has no project to open read-only")
        return ProjectStore.open(file, readonly=True)
    if p.is_dir():  # create the project, or add the images that appeared since it was last opened
        from segtool.services.project_init import init_project

        init_project(p)
    return ProjectStore.open(project_path(p))
