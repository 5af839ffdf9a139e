"""Thumbnails for the image list: made lazily (only for rows that are scrolled into view) in the loader
pool, kept in memory as ``QIcon`` per image id for the life of the open project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from segtool.gui.canvas.tiles import rgb_to_qimage
from segtool.gui.workers import BackgroundPool, JobControl, JobResult

#: Longest side of a thumbnail, in pixels.
THUMB_SIDE = 64


def make_thumbnail(path: str | Path, side: int = THUMB_SIDE) -> np.ndarray | None:
    """RGB uint8 ``(h, w, 3)`` thumbnail (longest side ``side``), upright; ``None`` if unreadable.

    JPEGs are decoded at a reduced scale (fast even for 40 MP files). Safe in a worker thread.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.draft("RGB", (side, side))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((side, side))
            return np.ascontiguousarray(np.asarray(im))
    except Exception:  # noqa: BLE001 - a missing thumbnail is not an error; loading the image reports it
        return None


def blank_icon(side: int = THUMB_SIDE) -> QIcon:
    """A transparent icon of the thumbnail size: rows keep their layout until their thumbnail arrives."""
    pix = QPixmap(side, side)
    pix.fill(Qt.GlobalColor.transparent)
    return QIcon(pix)


def broken_icon(side: int = THUMB_SIDE) -> QIcon:
    """A grey tile with a red cross, of the thumbnail size, for a file that cannot be read."""
    pix = QPixmap(side, side)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.fillRect(side // 8, side // 8, side * 3 // 4, side * 3 // 4, QColor(90, 90, 96))
    painter.setPen(QPen(QColor(230, 60, 50), max(2, side // 12)))
    a, b = side // 4, side * 3 // 4
    painter.drawLine(a, a, b, b)
    painter.drawLine(a, b, b, a)
    painter.end()
    return QIcon(pix)


class Thumbnailer(QObject):
    """Makes and caches thumbnails; emits :attr:`thumbnail_ready` (image id) when one is available."""

    thumbnail_ready = Signal(int)

    def __init__(self, pool: BackgroundPool, side: int = THUMB_SIDE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool, self.side = pool, side
        self._icons: dict[int, QIcon] = {}
        self._pending: set[int] = set()
        self._epoch = 0  # bumped by clear(): results for a closed project are dropped

    def icon(self, image_id: int) -> QIcon | None:
        """The cached icon of ``image_id`` or ``None`` (not made yet)."""
        return self._icons.get(int(image_id))

    def request(self, image_id: int, path: str | Path) -> None:
        """Make the thumbnail of ``image_id`` from ``path`` in the background, unless cached or queued."""
        image_id = int(image_id)
        if image_id in self._icons or image_id in self._pending:
            return
        self._pending.add(image_id)
        side = self.side

        def job(control: JobControl) -> np.ndarray | None:
            return None if control.cancelled else make_thumbnail(path, side)

        self.pool.submit("thumbnail", image_id, self._epoch, job, self._on_pool_thumbnail_made, priority=-1)

    def clear(self) -> None:
        """Forget every thumbnail (another project)."""
        self._epoch += 1
        self._icons.clear()
        self._pending.clear()
        self.pool.cancel_all("thumbnail")

    def __len__(self) -> int:
        return len(self._icons)

    def _on_pool_thumbnail_made(self, result: JobResult) -> None:
        if result.generation != self._epoch:
            return
        self._pending.discard(result.image_id)
        if result.value is None:  # unreadable: a broken-image tile of the same size keeps the list's layout
            self._icons[result.image_id] = broken_icon(self.side)
        else:
            self._icons[result.image_id] = QIcon(QPixmap.fromImage(rgb_to_qimage(result.value)))
        self.thumbnail_ready.emit(result.image_id)
