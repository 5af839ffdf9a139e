"""labelme files that carry their image as ``imageData`` (base64 of the image file; labelme's own
reader takes the image from there whenever it is present): where it goes in the project folder.

The file is named after ``imagePath`` (its last component, as labelme's own reader takes it with
``PureWindowsPath``), else after the JSON file's stem, with the suffix of the format the bytes
really are (labelme stores re-encoded PNG data for formats Qt cannot keep). It goes where
``imagePath`` points when that is inside the project folder, else beside the JSON file when that
lies inside it, else into the project folder itself. An existing
file is never replaced: one with the same bytes is used as it is, a different one makes the name
``<stem>-1<suffix>``, ``-2``, ... Names are checked with :class:`~segtool.core.safe_paths.RelPath`.
Nothing is written here: the import writes the files (:func:`segtool.core.atomic.write_bytes`) only
after the whole source was validated, and removes them again if the import fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from collections.abc import Callable
from pathlib import Path, PureWindowsPath

from PIL import Image, UnidentifiedImageError

from segtool.core.errors import FormatError, UnsafePathError
from segtool.core.safe_paths import RelPath
from segtool.core.untrusted_json import load_json
from segtool.io.common import declared_size_problem
from segtool.io.dataset_files import project_rel
from segtool.io.images import file_hash

#: Pillow format -> the suffix an embedded image is written with.
SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp", "GIF": ".gif"}


def _digest(data: bytes) -> str:
    """The content hash :func:`segtool.io.images.file_hash` gives a file holding ``data``."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_image_data(text: object) -> tuple[bytes | None, str | None]:
    """``(bytes, suffix)`` of a labelme ``imageData`` string, or ``(None, reason)``.

    The bytes must be base64 of an image file of a known format whose header size is within the
    pixel limit (checked before anything is decoded further).
    """
    if not isinstance(text, str) or not text:
        return None, "imageData must be a base64 string"
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, "imageData is not valid base64"
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, size = im.format, im.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, "imageData is not an image file"
    if fmt not in SUFFIXES:
        return None, f"imageData is a {fmt} image; segtool keeps {', '.join(SUFFIXES)}"
    reason = declared_size_problem(*size)
    return (None, f"imageData: {reason}") if reason else (data, SUFFIXES[fmt])


def _wanted_name(file: Path, image_path: object, suffix: str) -> str:
    name = PureWindowsPath(image_path).name if isinstance(image_path, str) and image_path.strip() else ""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if not name or SUFFIXES.get(Image.registered_extensions().get(Path(name).suffix.lower()) or "") != suffix:
        name = f"{stem or file.stem}{suffix}"
    try:
        return RelPath(name, "imagePath").rsplit("/", 1)[-1]
    except UnsafePathError:
        return f"{file.stem}{suffix}"


def place_embedded_image(file: Path, image_path: object, data: bytes, suffix: str, root: Path,
                         planned: dict[str, str], folder: Path | None = None) -> tuple[RelPath, Callable[[], bytes] | None]:
    """Where the embedded image of ``file`` goes: ``(project path, bytes to write or None)``.

    ``folder``: where ``imagePath`` points inside the project (default: beside ``file``, or the
    project folder when ``file`` lies outside it).

    ``None``: a file with these bytes is already there (or planned by another file of this import,
    ``planned``: project path -> content hash, updated here). The bytes are read again from the
    JSON file when written (``load_json`` + :func:`decode_image_data`), so they are not held meanwhile.
    """
    if folder is None or project_rel(folder, root) is None:
        folder = file.parent if project_rel(file.parent, root) is not None else root
    base = project_rel(folder, root)
    name = _wanted_name(file, image_path, suffix)
    stem, digest = name[: -len(suffix)], _digest(data)
    for n in range(10_000):
        candidate = name if n == 0 else f"{stem}-{n}{suffix}"
        rel = RelPath(f"{base}/{candidate}" if base and base != "." else candidate, "image path")
        target = root / rel
        same = planned.get(rel) == digest or (target.is_file() and file_hash(target) == digest)
        if same:
            return rel, None
        if rel not in planned and not target.exists() and not target.is_symlink():
            planned[rel] = digest

            def read(json_file: Path = file) -> bytes:
                raw, _ = decode_image_data(load_json(json_file, what="labelme JSON file").get("imageData"))
                if raw is None or _digest(raw) != digest:
                    raise FormatError(f"{json_file} changed while it was imported (nothing was imported)")
                return raw
            return rel, read
    raise UnsafePathError(f"no free name for the image of {file.name} beside {name}")
