"""The one validated path type for every path that comes from data, and the one word policy.

Every path read from a project row, a dataset file (COCO ``file_name``, labelme ``imagePath``, a VOC
id, a CVAT/Label Studio image name) or a command-line name that becomes part of a file name goes
through :class:`RelPath` before use, and is turned into a real path only by :meth:`RelPath.inside`,
which resolves links and checks that the result stays inside its root.

- :class:`RelPath`: a POSIX path relative to a root: not absolute, no drive or UNC prefix, no ``..``
  component, no empty component, no NUL or other control character, valid UTF-8 (no lone
  surrogates), at most :data:`MAX_PATH_CHARS` characters. Backslashes are folder separators (files
  written on Windows).
- :func:`plain_word`: names that become file names by themselves (``--split`` names): letters,
  digits, ``_`` and ``-``.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from pathlib import Path

from segtool.core.errors import UnsafePathError

#: Longest relative path accepted (characters).
MAX_PATH_CHARS = 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a NUL, newline or any other Unicode control (``Cc``) character."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def is_valid_utf8(text: str) -> bool:
    """True when ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe(value: object, limit: int = 80) -> str:
    """A printable, bounded ``repr`` of untrusted text for error messages (one line, escapes shown)."""
    text = ascii(value) if isinstance(value, str) and not is_valid_utf8(value) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RelPath(str):
    """A validated, normalised POSIX path relative to some root (see the module docstring).

    ``RelPath("a\\\\b/./c.jpg") == "a/b/c.jpg"``. Raises :class:`UnsafePathError` for anything else.

    Parameters
    ----------
    value : the untrusted path text.
    what : what the path is, for the error message (``"COCO file_name"``, ``"project image path"``).
    """

    def __new__(cls, value: object, what: str = "path") -> RelPath:
        return super().__new__(cls, _normalise(value, what))

    def inside(self, root: str | os.PathLike) -> Path:
        """The real path of ``root / self``, refused when it leaves ``root`` after resolving links.

        Raises
        ------
        UnsafePathError
            The path, or a link on the way, leads outside ``root``.
        """
        base = Path(os.path.realpath(root))
        target = Path(os.path.realpath(base / self))
        if target != base and base not in target.parents:
            raise UnsafePathError(f"{describe(str(self))} leads outside {base} (through a link); refused")
        return target

    @property
    def parts(self) -> tuple[str, ...]:
        """The folder and file components."""
        return tuple(self.split("/"))


def _normalise(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UnsafePathError(f"{what} must be text, got {type(value).__name__}")
    if not value.strip():
        raise UnsafePathError(f"{what} is empty")
    if len(value) > MAX_PATH_CHARS:
        raise UnsafePathError(f"{what} is longer than {MAX_PATH_CHARS} characters")
    if not is_valid_utf8(value):
        raise UnsafePathError(f"{what} {describe(value)} is not valid Unicode (lone surrogate)")
    if has_control_chars(value):
        raise UnsafePathError(f"{what} {describe(value)} holds a NUL or control character")
    text = value.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise UnsafePathError(f"{what} {describe(value)} is absolute; only paths relative to the root are allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"{what} {describe(value)} names no file")
    if ".." in parts:
        raise UnsafePathError(f"{what} {describe(value)} climbs out of its root with '..'")
    return posixpath.join(*parts)


def rel_path_or_none(value: object, what: str = "path") -> RelPath | None:
    """:class:`RelPath` of ``value``, or ``None`` when it is not a safe relative path."""
    try:
        return RelPath(value, what)
    except UnsafePathError:
        return None


def plain_word(value: object, what: str = "name") -> str:
    """``value`` when it is a plain word (letters, digits, ``_``, ``-``; 1-64 characters), else
    :class:`UnsafePathError`. For names that become file names by themselves (``--split val``)."""
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise UnsafePathError(f"{what} {describe(value)} must be a plain word (letters, digits, '_' and '-')")
    return value
