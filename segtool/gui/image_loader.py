"""Image pixels for the window, decoded off the GUI thread and kept in a small in-memory cache.

:func:`load_for_display` decodes a file (through :mod:`segtool.io.images`) and makes the downsampled
preview the canvas paints first, so the GUI thread only wraps ready arrays into pixmaps. Both are plain
numpy work, safe in any thread. :class:`PixelCache` keeps the last few images (the current one and its
preloaded neighbours) and makes sure two threads asking for the same image decode it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segtool.gui.canvas.tiles import make_preview


@dataclass
class LoadedImage:
    """Decoded pixels: ``rgb`` uint8 ``(H, W, 3)``; ``preview`` uint8 ``(h, w, 3)`` contiguous, sampled
    every ``preview_step``-th pixel of ``rgb`` in both directions (``rgb[::step, ::step]``)."""

    rgb: np.ndarray
    preview: np.ndarray
    preview_step: int

    @property
    def nbytes(self) -> int:
        return int(self.rgb.nbytes + self.preview.nbytes)


def load_for_display(path: str | Path) -> LoadedImage:
    """Decode ``path`` to RGB and make its preview (worker thread).

    Raises
    ------
    ImageReadError
        The file cannot be read (see :func:`segtool.io.images.load_image`).
    """
    from segtool.io.images import load_image

    rgb = load_image(path)
    preview, step = make_preview(rgb)
    return LoadedImage(rgb, preview, step)


#: files with fewer pixels load in full quickly enough; no separate preview is decoded for them
QUICK_PREVIEW_MIN_PIXELS = 8_000_000


@dataclass
class QuickPreview:
    """A reduced decode shown while the full image loads: ``preview`` uint8 ``(h, w, 3)`` upright,
    covering the whole image of ``size`` ``(H, W)`` (stretched to it when painted)."""

    preview: np.ndarray
    size: tuple[int, int]


def load_quick_preview(path: str | Path, max_side: int = 1024) -> QuickPreview | None:
    """Decode a reduced JPEG (DCT scaling, several times faster than a full decode) for a large file.

    Returns ``None`` when there is no cheap reduced decode (not a JPEG, or a small image): the caller
    then waits for the full decode. Errors return ``None`` too; the full decode reports them.
    """
    from PIL import Image

    from segtool.io.images import apply_orientation

    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format != "JPEG" or w * h < QUICK_PREVIEW_MIN_PIXELS:
                return None
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            half = max_side // 2  # draft() picks the smallest DCT scale at least this big: <= max_side
            im.draft("RGB", (max(1, w * half // max(w, h)), max(1, h * half // max(w, h))))
            small = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - a preview is optional; the full decode reports the error
        return None
    small = np.ascontiguousarray(apply_orientation(small, orientation if 1 <= orientation <= 8 else 1))
    size = (w, h) if orientation in (5, 6, 7, 8) else (h, w)
    return QuickPreview(small, size)


class PixelCache:
    """Thread-safe LRU of :class:`LoadedImage` keyed by image id.

    Parameters
    ----------
    max_items : images kept at most (current + neighbours).
    max_bytes : memory budget; the least recently used images beyond it are dropped (the newest one
        always stays, however large).
    loader : ``path -> LoadedImage`` (tests may slow it down).
    """

    def __init__(self, max_items: int = 4, max_bytes: int = 800 << 20,
                 loader: Callable[[str | Path], LoadedImage] = load_for_display) -> None:
        self.max_items, self.max_bytes, self.loader = max_items, max_bytes, loader
        self._items: OrderedDict[int, LoadedImage] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[int, threading.Lock] = {}
        #: files decoded so far (a preloaded image is decoded once, not again when shown)
        self.decodes = 0

    def get(self, image_id: int) -> LoadedImage | None:
        """The cached pixels of ``image_id`` or ``None`` (marks them recently used)."""
        with self._lock:
            item = self._items.get(int(image_id))
            if item is not None:
                self._items.move_to_end(int(image_id))
            return item

    def get_or_load(self, image_id: int, path: str | Path) -> LoadedImage:
        """The pixels of ``image_id``, decoding ``path`` if they are not cached (call off the GUI thread).

        Concurrent calls for the same id wait for one decode instead of decoding twice.
        """
        with self._lock:
            key_lock = self._key_locks.setdefault(int(image_id), threading.Lock())
        with key_lock:
            item = self.get(image_id)
            if item is None:
                item = self.loader(path)
                self.decodes += 1
                self.put(image_id, item)
            return item

    def put(self, image_id: int, item: LoadedImage) -> None:
        """Keep ``item`` for ``image_id``, evicting the least recently used beyond the limits."""
        with self._lock:
            self._items[int(image_id)] = item
            self._items.move_to_end(int(image_id))
            while len(self._items) > 1 and (len(self._items) > self.max_items or sum(
                    i.nbytes for i in self._items.values()) > self.max_bytes):
                old, _ = self._items.popitem(last=False)
                self._key_locks.pop(old, None)

    def clear(self) -> None:
        """Forget every image (project closed)."""
        with self._lock:
            self._items.clear()
            self._key_locks.clear()

    def __contains__(self, image_id: object) -> bool:
        with self._lock:
            return image_id in self._items


__all__ = ["LoadedImage", "PixelCache", "QuickPreview", "load_for_display", "load_quick_preview"]
