"""Going from one image to another: decode off the GUI thread, show, preload the neighbours.

:class:`ImageSwitcher` owns the pixel cache, the per-image documents (with their undo history, so Ctrl+Z
survives a round trip), the load generation that makes late results harmless, and what happens when a
file cannot be read: the canvas shows a placeholder ("cannot open NAME: reason"), editing is off, no
image's status changes, and the image list keeps its layout (the row gets a broken-image icon).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from segtool.gui.image_loader import LoadedImage, PixelCache, load_quick_preview
from segtool.gui.project_opening import CURRENT_IMAGE_KEY
from segtool.gui.workers import JobControl, JobResult


def _reason(message: str, path: str, name: str) -> str:
    """The reader's message without the absolute path and without repeating the file name first."""
    text = message.replace(path, name)
    if text.startswith(name + " "):
        text = text[len(name) + 1:]
    return text[3:] if text.startswith("is ") else text


class ImageSwitcher(QObject):
    """Shows project images on the canvas.

    Parameters
    ----------
    canvas : the :class:`~segtool.gui.canvas.view.AnnotationCanvas` (its session has the worker pools).
    images_panel : the :class:`~segtool.gui.panels.image_list.ImageListPanel` (records, neighbours).

    Signals
    -------
    image_previewed(int) : a quick preview of large image ``id`` is on the canvas (its pixels still load).
    image_shown(int) : the pixels of image ``id`` are on the canvas.
    image_failed(int, str) : image ``id`` cannot be read; the message says why.
    position_changed(int, int, str) : 1-based position, count and name of the image now current.
    status_message(str, int) : text and milliseconds for the status bar.
    """

    image_previewed = Signal(int)
    image_shown = Signal(int)
    image_failed = Signal(int, str)
    position_changed = Signal(int, int, str)
    status_message = Signal(str, int)

    def __init__(self, canvas: Any, images_panel: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.images_panel = canvas, images_panel
        self.session = canvas.session
        self.store: Any = None
        self.pixels = PixelCache()
        #: image loads whose result arrived after the user had moved on
        self.stale_loads_dropped = 0
        self._generation = 0
        self._failed = False
        self._loading_message: str | None = None
        self._load_job: JobControl | None = None
        self._quick_previews: dict[int, Any] = {}  # load job id -> QuickPreview, handed over by a worker
        self._docs: dict[int, tuple[Any, Any]] = {}
        self.session.pools.loader.job_progress.connect(self._on_loader_job_progress)

    # ------------------------------------------------------------ project
    def set_store(self, store: Any) -> None:
        """Show images of ``store`` from now on (``None``: the project was closed)."""
        self._generation += 1
        self.pixels.clear()
        self._docs.clear()
        self.store = store

    def document(self, image_id: int) -> tuple[Any, Any]:
        """``(ImageDocument, History)`` of ``image_id``; a few are kept so undo survives switching back."""
        if image_id not in self._docs:
            from segtool.core.history import History

            doc = self.store.open_image(image_id)
            self._docs[image_id] = (doc, History(doc))
            while len(self._docs) > 8:
                self._docs.pop(next(iter(self._docs)))
        return self._docs[image_id]

    # ------------------------------------------------------------ showing
    def show_image(self, image_id: int, *, wait: bool = False) -> None:
        """Go to image ``image_id``: its pixels are decoded in the loader pool (or taken from the cache of
        preloaded neighbours) and shown when ready; ``image_shown`` is emitted then. The list position, the
        status bar and the project's current image change at once. ``wait`` runs the event loop (the GUI
        stays live) until the image is up or has failed."""
        record = self.images_panel.record(image_id)
        if record is None or self.store is None:
            return
        self._generation += 1
        self._failed = False
        self.images_panel.set_current(image_id)
        if not self.store.readonly:
            self.store.meta_set(CURRENT_IMAGE_KEY, image_id)
        self.position_changed.emit(self.images_panel.position(image_id) + 1, len(self.images_panel.records()),
                                   record.path)
        cached = self.pixels.get(image_id)
        if cached is not None:
            self._display(image_id, cached)
            return
        self._loading_message = self.tr("loading {0}…").format(record.path)
        self.status_message.emit(self._loading_message, 4000)
        path = self.store.root / record.path

        def load(control: JobControl) -> LoadedImage:
            quick = None if image_id in self.pixels else load_quick_preview(path)  # big JPEG: shown first
            if quick is not None and not control.cancelled:
                self._quick_previews[control.job_id] = quick
                control.progress(1, 2)
            return self.pixels.get_or_load(image_id, path)

        self._load_job = self.session.pools.loader.submit("load", image_id, self._generation, load,
                                                          self._on_loader_image_loaded, priority=2)
        if wait:
            self.run_until(lambda: self.canvas.image_id == image_id and not self.canvas.is_loading()
                           or self._failed, 120000)

    def loading_message(self) -> str | None:
        """The "loading NAME…" text of the load in flight (cleared from the status bar once shown)."""
        return self._loading_message

    def _on_loader_job_progress(self, job_id: int, _done: int, _total: int) -> None:
        quick = self._quick_previews.pop(job_id, None)
        job = self._load_job
        if quick is not None and job is not None and job.job_id == job_id and self.canvas.image_id != job.image_id:
            self.canvas.show_preview(job.image_id, quick.preview, quick.size)
            self.image_previewed.emit(job.image_id)

    def _on_loader_image_loaded(self, result: JobResult) -> None:
        self._quick_previews.pop(result.job_id, None)
        if result.generation != self._generation or self.store is None:
            self.stale_loads_dropped += 1  # the user moved on (or closed the project)
            return
        if result.error:
            self._fail(result.image_id, result.error.split(": ", 1)[-1])
            return
        self._display(result.image_id, result.value)

    def _fail(self, image_id: int, reason: str) -> None:
        """``image_id`` cannot be read: a placeholder, no tools, nothing stored, the list unchanged."""
        self._failed = True
        record = self.images_panel.record(image_id)
        name = record.path if record is not None else str(image_id)
        text = self.tr("cannot open {0}: {1}").format(name, _reason(reason, str(self.store.root / name), name))
        self.canvas.show_placeholder(image_id, text)
        self.images_panel.mark_unreadable(image_id, text)
        self.status_message.emit(text, 10000)
        self.image_failed.emit(image_id, text)

    def _display(self, image_id: int, loaded: LoadedImage) -> None:
        self._failed = False
        doc, history = self.document(image_id)
        self.canvas.show_image(image_id, loaded.rgb, doc, history, preview=(loaded.preview, loaded.preview_step))
        self._preload_neighbours(image_id)
        self.image_shown.emit(image_id)

    def _preload_neighbours(self, image_id: int) -> None:
        """Decode the next/previous images' pixels (loader pool) and encode them for SAM (background)."""
        sources: list[tuple[int, Callable[..., np.ndarray]]] = []
        for rec in self.images_panel.neighbours(image_id):
            path = self.store.root / rec.path

            def load(_control: Any = None, rid: int = rec.id, path: Path = path) -> np.ndarray:
                return self.pixels.get_or_load(rid, path).rgb

            if rec.id not in self.pixels:
                self.session.pools.loader.submit("preload", rec.id, self._generation, load, priority=0)
            sources.append((rec.id, load))
        self.session.prefetch(sources)

    def is_busy(self) -> bool:
        """True while an image is loading."""
        return bool(self.session.pools.loader.pending("load"))

    @staticmethod
    def run_until(condition: Callable[[], bool], timeout_ms: int) -> None:
        """Run the event loop until ``condition()`` or the timeout (the window stays responsive)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline and not condition():
            loop = QEventLoop()
            QTimer.singleShot(10, loop.quit)
            loop.exec()
