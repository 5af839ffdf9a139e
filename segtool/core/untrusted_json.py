"""The one loader for JSON from untrusted files: size and depth limits, clear errors.

:func:`load_json` refuses, with one line naming the file: a file over :data:`MAX_JSON_BYTES`, a file
that is not text JSON at all (an image given as a COCO file: "not a JSON file"), text that is not
UTF-8, malformed JSON (with line and column), ``NaN``/``Infinity`` (not JSON, though Python writes
them), and nesting deeper than :data:`MAX_JSON_DEPTH` (``[[[[...]]]]`` 50,000 deep would otherwise
exhaust the interpreter's recursion). Numbers too large for a float (``1e400``) parse as infinity:
the format readers check coordinates for finiteness.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from segtool.core.atomic import os_error_message
from segtool.core.errors import FormatError

#: Largest JSON file read (bytes); ``SEGTOOL_MAX_JSON_BYTES`` overrides it. COCO's train2017 is 0.45 GB.
MAX_JSON_BYTES = int(os.environ.get("SEGTOOL_MAX_JSON_BYTES", str(4 << 30)))
#: Deepest nesting accepted; real annotation files nest fewer than 10 levels.
MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1), iteratively."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
            depth = max(depth, level + 1)
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
            depth = max(depth, level + 1)
    return depth


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def parse_json(data: bytes, source: str, *, what: str = "JSON file", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON bytes (see :func:`load_json`); ``source`` names them in errors."""
    head = data[:64].lstrip(b" \t\r\n\xef\xbb\xbf")
    if not head or head[:1] not in b"{[":
        raise FormatError(f"{source}: not a {what} (it does not start with '{{' or '[')")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{source}: not a {what}: not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except _NonFinite as exc:
        raise FormatError(f"{source}: malformed JSON: {exc} is not a JSON number") from None
    except RecursionError:
        raise FormatError(f"{source}: JSON nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"{source}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. integers with too many digits
        raise FormatError(f"{source}: malformed JSON: {str(exc)[:120]}") from None
    if json_depth(value) > max_depth:
        raise FormatError(f"{source}: JSON nested too deeply (more than {max_depth} levels)")
    return value


def load_json(path: str | os.PathLike, *, what: str = "JSON file", max_bytes: int | None = None,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Read and parse an untrusted JSON file.

    Parameters
    ----------
    path : the file.
    what : what the file should be, for messages (``"COCO JSON file"``).
    max_bytes : size limit (default :data:`MAX_JSON_BYTES`).

    Raises
    ------
    FormatError
        Missing, a folder or a device, unreadable, too large, not JSON, not UTF-8, malformed or too
        deeply nested.
    """
    path = Path(path)
    limit = MAX_JSON_BYTES if max_bytes is None else max_bytes
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise FormatError(f"{path} is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise FormatError(f"{path} is not a regular file (a device or a pipe), not a {what}")
        size = info.st_size
        if size > limit:
            raise FormatError(f"{path}: {size} bytes, larger than the {limit}-byte limit for a {what}")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FormatError(os_error_message(exc, path, "read")) from None
    if len(data) > limit:
        raise FormatError(f"{path}: larger than the {limit}-byte limit for a {what}")
    return parse_json(data, str(path), what=what, max_depth=max_depth)
