"""The one error family of segtool.

Every error a user can cause (a bad file, a missing model, a project open elsewhere) is a
:class:`SegtoolError` whose message says what happened and what to do. The CLI prints it as one
line on stderr and exits 1; the GUI shows it in a message box. Nothing else should reach the user
as a traceback.
"""

from __future__ import annotations


class SegtoolError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is the user-facing message."""


class ImageReadError(SegtoolError):
    """An image file cannot be read (missing, corrupt, truncated, not an image, too large)."""


class ProjectError(SegtoolError):
    """The project file cannot be opened, created or written."""


class ProjectLockedError(ProjectError):
    """The project is open for writing in another segtool process."""


class ModelError(SegtoolError):
    """A model is missing, corrupt, of the wrong kind or fails its checksum."""


class PromptError(SegtoolError):
    """A prompt cannot be used: empty, outside the image, degenerate box."""


class FormatError(SegtoolError):
    """An import/export file is malformed or inconsistent with the project."""


class UnsafePathError(FormatError):
    """A path from data is absolute, climbs out with ``..``, holds control characters or leads
    outside its root through a link."""


class DiskFullError(SegtoolError):
    """A write failed because the disk (or the user's quota) is full."""
