"""The editor session: what the canvas tools read and write (see the package docstring for the contract).

Engine contexts (``prepare``) run in the background pool, predictions in the latest-request-wins queue;
both carry ``(image_id, generation)`` and results of a stale generation are dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from segtool.core.document import Instance
from segtool.engines.base import Candidate, Prompt
from segtool.gui.canvas.docops import DocumentOps, make_document_ops
from segtool.gui.workers import JobControl, JobResult, WorkerPools

SAM_KEY = "sam"


@dataclass
class ToolOptions:
    """User-tunable tool settings (the tool-options panel edits these)."""

    wand_tolerance: float = 12.0
    brush_radius: int = 8
    snap_edges: bool = False
    multimask: bool = True
    watershed_mode: str = "watershed"
    sam_zoom_in: bool = False
    sam_refine_edges: bool = False


class EditorSession(QObject):
    """Current image + document + history + engines + worker pools, shared by the canvas tools."""

    document_changed = Signal(list)
    selection_changed = Signal(list)
    current_class_changed = Signal(object)
    sam_state_changed = Signal(str)
    encode_progress = Signal(int, int)
    status_message = Signal(str)
    #: name of the :class:`ToolOptions` field that changed (the options dock and the canvas follow)
    options_changed = Signal(str)
    #: masks the SAM model gives per prompt, once known (1 = single-mask model: nothing for Tab to cycle)
    sam_outputs_known = Signal(int)

    def __init__(self, store: Any = None, *, sam_engine: Any = None, pools: WorkerPools | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.sam_engine = sam_engine
        self.pools = pools or WorkerPools(parent=self)
        self.options = ToolOptions()
        self.image_id: int = -1
        self.image: np.ndarray | None = None
        self.generation = 0
        self.current_class_id: int | None = None
        #: image on which the user last picked the current class (the picker asks once per image)
        self.class_picked_on: int | None = None
        #: masks per prompt of the SAM model (None until known)
        self.sam_outputs: int | None = None
        self.selected_ids: list[int] = []
        self.ops: DocumentOps | None = None
        self.sam_state = "none"
        #: results that arrived for an image the user had already left
        self.stale_results_dropped = 0
        self._engines: dict[str, Any] = {}
        self._contexts: OrderedDict[tuple[int, str], Any] = OrderedDict()
        self._waiting: dict[str, list[Callable[[Any], None]]] = {}
        self._encode_job: JobControl | None = None
        self.pools.background.job_progress.connect(self._on_background_progress)

    # ------------------------------------------------------------------ setup
    def set_store(self, store: Any) -> None:
        """Use ``store`` (a ``ProjectStore``) for the documents of the images shown next."""
        self.store = store
        self.class_picked_on = None

    def set_sam_engine(self, engine: Any) -> None:
        """Use ``engine`` for the SAM tools (``None`` disables them); re-encodes the current image."""
        self.sam_engine = engine
        self.sam_outputs = getattr(engine, "mask_outputs", None)
        if self.sam_outputs is not None:
            self.sam_outputs_known.emit(int(self.sam_outputs))
        if self._encode_job is not None:
            self._encode_job.cancel()
            self._encode_job = None
        self._contexts = OrderedDict((k, v) for k, v in self._contexts.items() if k[1] != SAM_KEY)
        if self.image is not None:
            self._start_sam_encode()
        else:
            self._set_sam_state("none")

    def set_image(self, image_id: int, rgb: np.ndarray, document: Any = None, history: Any = None) -> None:
        """Switch to image ``image_id`` (RGB uint8 ``(H, W, 3)``); starts its SAM encode in the background."""
        self.generation += 1
        self.pools.interactive.clear()
        self.image_id, self.image = int(image_id), rgb
        if self.ops is not None:
            self.ops.close()
        self.ops = make_document_ops(document, history, self.store, self.image_id,
                                     size=(rgb.shape[0], rgb.shape[1]))
        self.ops.subscribe(self._on_ops_changed)
        self._waiting.clear()
        self.selected_ids = []
        self.selection_changed.emit([])
        self._start_sam_encode()
        self.document_changed.emit([])

    def clear_image(self, image_id: int) -> None:
        """Show no pixels for image ``image_id`` (it cannot be read): nothing can be edited or committed."""
        self.generation += 1
        self.pools.interactive.clear()
        self._cancel_encode()
        if self.ops is not None:
            self.ops.close()
        self.image_id, self.image, self.ops = int(image_id), None, None
        self._waiting.clear()
        self.selected_ids = []
        self.selection_changed.emit([])
        self._set_sam_state("none")
        self.document_changed.emit([])

    def set_current_class(self, class_id: int | None, *, picked: bool = True) -> None:
        """Class given to the next committed mask; ``picked``: the user chose it (on this image)."""
        self.current_class_id = class_id
        if picked:
            self.class_picked_on = self.image_id
        self.current_class_changed.emit(class_id)

    def class_ready(self) -> bool:
        """True when the user picked the current class on this image (no need to ask before a commit)."""
        return self.class_picked_on is not None and self.class_picked_on == self.image_id

    def set_option(self, name: str, value: Any) -> None:
        """Change tool option ``name`` (a :class:`ToolOptions` field); emits :attr:`options_changed`."""
        if not hasattr(self.options, name):
            raise AttributeError(f"no tool option {name!r}")
        if getattr(self.options, name) != value:
            setattr(self.options, name, value)
            self.options_changed.emit(name)

    def select(self, ids: Sequence[int]) -> None:
        """Replace the selection with ``ids`` (instance ids of the current image)."""
        self.selected_ids = [int(i) for i in ids]
        self.selection_changed.emit(list(self.selected_ids))

    def shutdown(self) -> None:
        """Cancel background work and wait for the threads (call on close)."""
        self.pools.shutdown()

    # --------------------------------------------------------------- document
    @property
    def document(self) -> Any:
        """The current image's ``ImageDocument`` (``None`` before the first image)."""
        return None if self.ops is None else self.ops.doc

    @property
    def history(self) -> Any:
        """The current image's ``History`` (``None`` before the first image)."""
        return None if self.ops is None else self.ops.history

    def instances(self) -> list[Instance]:
        """Instances of the current image, lowest z first."""
        return [] if self.ops is None else self.ops.instances()

    def instance(self, instance_id: int) -> Instance | None:
        """The instance ``instance_id`` of the current image, or ``None``."""
        return None if self.ops is None else self.ops.instance(instance_id)

    def commit_new(self, mask: Any, source: str, score: float | None = None) -> int | None:
        """Add bool ``(H, W)`` ``mask`` (or a crop with its offset, such as a ``Candidate``) as a new
        instance of the current class; returns its id."""
        if not (mask.any() if isinstance(mask, np.ndarray) else mask.crop.any()):
            self.status_message.emit(self.tr("empty mask: nothing added"))
            return None
        new_id = self.ops.add(mask, self.current_class_id, source, score)
        self.select([new_id])
        return new_id

    def commit_edit(self, instance_id: int, mask: Any) -> None:
        """Replace the mask of ``instance_id`` by bool ``(H, W)`` ``mask`` (or a crop with its offset; an
        EditMask command)."""
        self.ops.edit(instance_id, mask)

    def commit_paint(self, instance_id: int, patch: np.ndarray, bbox: tuple[int, int, int, int],
                     erase: bool) -> None:
        """Paint (or erase) bool ``patch`` inside XYXY ``bbox`` on ``instance_id`` (an EditMask command)."""
        self.ops.paint(instance_id, patch, bbox, erase)

    def push(self, command: Any) -> None:
        """Run any core command on the current image's history."""
        self.ops.push(command)

    @contextlib.contextmanager
    def macro(self, name: str) -> Iterator[None]:
        """Group the commits inside into one undo step (one brush stroke)."""
        with self.ops.macro(name):
            yield

    def undo(self) -> bool:
        """Undo the last step of the current image; True if something was undone."""
        return self.ops is not None and self.ops.undo()

    def redo(self) -> bool:
        """Redo the last undone step; True if something was redone."""
        return self.ops is not None and self.ops.redo()

    def can_undo(self) -> bool:
        return self.ops is not None and self.ops.can_undo()

    def can_redo(self) -> bool:
        return self.ops is not None and self.ops.can_redo()

    def _on_ops_changed(self, ids: list[int]) -> None:
        present = {inst.id for inst in self.instances()}
        if any(i not in present for i in self.selected_ids):
            self.select([i for i in self.selected_ids if i in present])
        self.document_changed.emit(list(ids))

    # ---------------------------------------------------------------- engines
    def engine(self, name: str) -> Any:
        """The engine for ``name`` (``"sam"`` or a registry name such as ``"grabcut"``); created lazily."""
        if name == SAM_KEY:
            return self.sam_engine
        if name not in self._engines:
            from segtool.engines.registry import create_engine

            self._engines[name] = create_engine(name)
        return self._engines[name]

    def sam_available(self) -> bool:
        return self.sam_engine is not None

    def context(self, name: str) -> Any:
        """The prepared context of engine ``name`` for the current image, or ``None`` if not ready."""
        return self._contexts.get((self.image_id, name))

    def predict(self, name: str, prompt: Prompt, on_result: Callable[[list[Candidate]], None], *,
                multimask: bool = False) -> None:
        """Run ``engine.predict`` off the GUI thread; ``on_result(candidates)`` gets fresh results only.

        If the engine's context is not ready yet, the request waits for it (SAM's encoder). Without
        pixels (an image that cannot be read) nothing is asked.
        """
        if self.image is None:
            return
        ctx = self.context(name)
        if ctx is None:
            self._waiting[name] = [lambda c: self.predict(name, prompt, on_result, multimask=multimask)]
            self._ensure_context(name)
            return
        engine = self.engine(name)
        if name == SAM_KEY:
            self._apply_sam_options(engine)
        generation, image_id = self.generation, self.image_id

        def job(_control: JobControl) -> list[Candidate]:
            return engine.predict(ctx, prompt, multimask=multimask)

        def done(result: JobResult) -> None:
            if result.generation != self.generation:
                self.stale_results_dropped += 1
                return
            if result.error:
                self.status_message.emit(self.tr("{0}: {1}").format(name, result.error.split(": ", 1)[-1]))
                return
            if name == SAM_KEY and multimask and self.sam_outputs is None and result.value:
                self.sam_outputs = len(result.value)
                self.sam_outputs_known.emit(self.sam_outputs)
            on_result(result.value)

        self.pools.interactive.request(name, image_id, generation, job, done)

    def _apply_sam_options(self, engine: Any) -> None:
        """Carry the zoom-in / refine-edges toggles to the SAM engine's click options."""
        current = getattr(engine, "interactive", None)
        if current is not None and not current.raw:
            engine.interactive = dataclasses.replace(current, zoom_in=self.options.sam_zoom_in,
                                                     refine_edges=self.options.sam_refine_edges)

    def _ensure_context(self, name: str) -> None:
        if name == SAM_KEY:
            if self.sam_state != "encoding":
                self._start_sam_encode()
            return
        if any(c.kind == f"prepare:{name}" and c.generation == self.generation
               for c in self.pools.background.pending()):
            return
        self._submit_prepare(name, f"prepare:{name}")

    def _submit_prepare(self, name: str, kind: str) -> JobControl:
        engine, image = self.engine(name), self.image
        return self.pools.background.submit(kind, self.image_id, self.generation,
                                            lambda control: _Prepared(engine, engine.prepare(image)),
                                            self._on_prepared, priority=1)

    def _cancel_encode(self) -> None:
        if self._encode_job is not None:
            self._encode_job.cancel()
            self._encode_job = None

    def _start_sam_encode(self) -> None:
        job = self._encode_job
        if job is not None and job.image_id == self.image_id and any(
                c.job_id == job.job_id for c in self.pools.background.pending()):
            self._set_sam_state("encoding")  # e.g. back to an image whose encode still runs: keep it
            return
        if job is not None:
            job.cancel()
            self._encode_job = None
        if self.sam_engine is None or self.image is None:
            self._set_sam_state("none")
            return
        if self.context(SAM_KEY) is not None:
            self._set_sam_state("ready")
            return
        self._set_sam_state("encoding")
        self.encode_progress.emit(0, 0)
        self._encode_job = self._submit_prepare(SAM_KEY, "encode")

    def _on_prepared(self, result: JobResult) -> None:
        """A context arrived: keep it (per image), use it only if it is for the image shown now."""
        name = SAM_KEY if result.kind in ("encode", "prefetch") else result.kind.split(":", 1)[1]
        is_encode = self._encode_job is not None and result.job_id == self._encode_job.job_id
        if is_encode:
            self._encode_job = None
        if result.error:
            if result.image_id == self.image_id and result.kind == "encode":
                self._set_sam_state("error")
                self.status_message.emit(self.tr("SAM encoder failed: {0}").format(result.error))
            return
        prepared: _Prepared | None = result.value
        if prepared is None:  # cancelled before it started
            self.stale_results_dropped += int(result.image_id != self.image_id and result.kind != "prefetch")
            return
        if prepared.engine is not self.engine(name):  # the model was changed meanwhile
            self.stale_results_dropped += 1
            return
        self._remember_context(result.image_id, name, prepared.context)
        if result.image_id != self.image_id:  # the user moved on: keep it for a later visit, use nothing
            if result.kind != "prefetch":
                self.stale_results_dropped += 1
            return
        if name == SAM_KEY:
            self._set_sam_state("ready")
            self.encode_progress.emit(1, 1)
        for callback in self._waiting.pop(name, []):
            callback(prepared.context)

    def _remember_context(self, image_id: int, name: str, ctx: Any, keep: int = 6) -> None:
        self._contexts[(image_id, name)] = ctx
        self._contexts.move_to_end((image_id, name))
        while len(self._contexts) > keep:
            self._contexts.popitem(last=False)

    def prefetch(self, images: Sequence[tuple[int, Path | str | Callable[[], np.ndarray]]]) -> None:
        """Encode the neighbours ``[(image_id, path_or_loader), ...]`` in the background (low priority).

        The SAM engine's embedding cache keeps the result; switching to one of them makes SAM ready at once.
        """
        if self.sam_engine is None:
            return
        engine = self.sam_engine
        for image_id, source in images:
            if (int(image_id), SAM_KEY) in self._contexts:
                continue

            def job(control: JobControl, source=source) -> _Prepared | None:
                if control.cancelled:
                    return None
                return _Prepared(engine, engine.prepare(_load(source)))

            self.pools.background.submit("prefetch", int(image_id), self.generation, job,
                                         self._on_prepared, priority=0)

    def _set_sam_state(self, state: str) -> None:
        if state != self.sam_state:
            self.sam_state = state
            self.sam_state_changed.emit(state)

    def _on_background_progress(self, job_id: int, done: int, total: int) -> None:
        if self._encode_job is not None and job_id == self._encode_job.job_id:
            self.encode_progress.emit(done, total)


@dataclass
class _Prepared:
    """A prepare() result tagged with the engine that made it."""

    engine: Any
    context: Any


def _load(source: Path | str | Callable[[], np.ndarray]) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` from a path (through :mod:`segtool.io.images` when present) or a loader."""
    if callable(source):
        return source()
    try:
        from segtool.io.images import load_image
    except ImportError:  # io layer not there yet
        import cv2

        bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
        return np.ascontiguousarray(bgr[:, :, ::-1])
    return load_image(source)
