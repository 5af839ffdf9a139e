"""Review of automatic proposals in the window: propose on the current image, accept or reject.

:class:`ProposalReview` is a small controller over the editor session and the canvas:

- ``propose()`` runs :func:`segtool.engines.proposals.generate_proposals` on the current image in the
  background pool (SAM when a model is loaded, else the classical fallback), with progress and
  cancel; the result is added as *pending* instances (one undo step), which the canvas draws dashed
  (distinct from accepted masks). Proposals duplicating an existing instance (IoU >= 0.7) are
  dropped; a result for an image the user has left is dropped.
- keys: ``Y`` accepts / ``N`` rejects the pending proposal under the cursor; ``Shift+Y`` accepts all
  pending proposals scoring at least :attr:`ProposalReview.threshold`; ``Shift+N`` rejects all
  remaining pending proposals; ``Ctrl+P`` proposes (its progress, a count and Cancel, show in the
  status bar through :attr:`ProposalReview.progress`). Accepting gives unlabelled proposals the current
  class, picked first (:attr:`ProposalReview.class_gate`) when none was picked on this image. Every review
  step is one undoable command.

Coordinates: masks are bool ``(H, W)`` of the current image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from segtool.core.commands import AcceptProposals, AddInstance, DeleteInstances, Relabel
from segtool.engines.proposals import ProposalConfig, generate_proposals
from segtool.gui.workers import JobControl, JobResult

#: ids in :data:`segtool.gui.shortcuts.SHORTCUTS` of the review actions -> method names
REVIEW_SLOTS = {"propose": "propose", "accept_proposal": "accept_under_cursor",
                "reject_proposal": "reject_under_cursor", "accept_above": "accept_above", "reject_rest": "reject_rest"}


class _Cancelled(Exception):
    """Raised inside the proposal job when the user cancelled it."""


class ProposalReview(QObject):
    """Propose, accept and reject pending proposals of the session's current image.

    Parameters
    ----------
    session : the :class:`~segtool.gui.canvas.session.EditorSession`.
    canvas : the :class:`~segtool.gui.canvas.view.AnnotationCanvas` (for the instance under the cursor).
    config : proposal parameters (default: 16x16 grid, fast enough on a CPU).
    threshold : score at or above which ``accept_above`` accepts.
    """

    proposals_added = Signal(int)  # number of pending proposals added to the current image
    reviewed = Signal(int, int)  # accepted, rejected by the last review step
    busy_changed = Signal(bool)
    status_message = Signal(str)
    progress = Signal(int, int)  # done, total of the running proposal job (0, 0 = starting)

    def __init__(self, session: Any, canvas: Any, *, config: ProposalConfig | None = None,
                 threshold: float = 0.9, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.canvas = session, canvas
        # 16 prompts a batch: the progress bar moves every 16 of the 256 decoder calls
        self.config = config or ProposalConfig(points_per_side=16, points_per_batch=16)
        self.threshold = threshold
        self.job: JobControl | None = None
        #: ``gate(commit)``: runs ``commit`` once a class is chosen for the image (the canvas's ``with_class``)
        self.class_gate: Callable[[Callable[[], Any]], Any] = lambda commit: commit()
        self._hovered = -1
        canvas.instance_hovered.connect(self._on_canvas_instance_hovered)
        session.pools.background.job_progress.connect(self._on_pool_job_progress)

    def slot(self, shortcut_id: str) -> Callable[[], Any]:
        """The method a review action (by its id in the shortcuts table) triggers."""
        return getattr(self, REVIEW_SLOTS[shortcut_id])

    def _on_canvas_instance_hovered(self, instance_id: int) -> None:
        self._hovered = int(instance_id)

    def _on_pool_job_progress(self, job_id: int, done: int, total: int) -> None:
        if self.job is not None and job_id == self.job.job_id:
            self.progress.emit(done, total)

    # ------------------------------------------------------------------ proposing
    def busy(self) -> bool:
        """True while a proposal job for the current image is queued or running."""
        return self.job is not None

    def propose(self) -> JobControl | None:
        """Start proposals on the current image in the background; ``None`` if there is no image."""
        session = self.session
        if session.image is None or session.ops is None:
            self.status_message.emit("open an image first")
            return None
        if self.job is not None:
            self.job.cancel()
        image, engine = session.image, session.sam_engine
        context = session.context("sam") if engine is not None else None
        existing = [inst.mask() for inst in session.instances()]
        config = self.config

        def job(control: JobControl) -> list:
            def progress(done: int, total: int) -> None:
                if control.cancelled:
                    raise _Cancelled
                control.progress(done, total)
            try:
                return generate_proposals(image, engine, config, existing=existing, context=context,
                                          progress=progress)
            except _Cancelled:
                return []

        self.job = session.pools.background.submit("proposals", session.image_id, session.generation, job,
                                                   self._on_job_done)
        self.busy_changed.emit(True)
        self.progress.emit(0, 0)
        self.status_message.emit("proposing masks" + (" (SAM)…" if engine is not None else " (classical)…"))
        return self.job

    def cancel(self) -> None:
        """Cancel the running proposal job (its result is dropped)."""
        if self.job is not None:
            self.job.cancel()
            self.status_message.emit("cancelling proposals…")

    def _on_job_done(self, result: JobResult) -> None:
        if self.job is not None and result.job_id == self.job.job_id:
            self.job = None
            self.busy_changed.emit(False)
        stale = result.image_id != self.session.image_id or result.generation != self.session.generation
        if result.cancelled:
            self.status_message.emit("proposals cancelled: nothing was added")
            return
        if stale:
            return
        if result.error:
            self.status_message.emit(f"proposals failed: {result.error}")
            return
        self._add_pending(result.value or [])

    def _add_pending(self, proposals: Sequence[Any]) -> None:
        if proposals:
            with self.session.macro("proposals"):
                for p in proposals:
                    self.session.push(AddInstance(p.mask, class_id=None, source="proposal", score=float(p.score),
                                                  state="pending"))
        self.proposals_added.emit(len(proposals))
        self.status_message.emit(f"{len(proposals)} proposal(s) to review: Y accept, N reject (under the cursor), "
                                 "Shift+Y accept all above the threshold, Shift+N reject the rest")

    # ------------------------------------------------------------------ reviewing
    def pending(self) -> list[Any]:
        """Pending instances of the current image, lowest z first."""
        return [i for i in self.session.instances() if i.state == "pending"]

    def accept(self, ids: Sequence[int]) -> int:
        """Accept pending proposals ``ids`` (unlabelled ones get the current class); returns how many."""
        pending = {i.id: i for i in self.pending()}
        ids = [int(i) for i in ids if int(i) in pending]
        if not ids:
            return 0
        cls = self.session.current_class_id
        unlabelled = [i for i in ids if pending[i].class_id is None]
        with self.session.macro("accept proposals"):
            self.session.push(AcceptProposals(ids))
            if cls is not None and unlabelled:
                self.session.push(Relabel(unlabelled, cls))
        self.reviewed.emit(len(ids), 0)
        return len(ids)

    def reject(self, ids: Sequence[int]) -> int:
        """Delete pending proposals ``ids`` (undoable); returns how many."""
        pending = {i.id for i in self.pending()}
        ids = [int(i) for i in ids if int(i) in pending]
        if ids:
            self.session.push(DeleteInstances(ids))
            self.reviewed.emit(0, len(ids))
        return len(ids)

    def _target(self) -> list[int]:
        """The pending proposal under the cursor, else the selected pending ones."""
        pending = {i.id for i in self.pending()}
        if self._hovered in pending:
            return [self._hovered]
        return [i for i in self.session.selected_ids if i in pending]

    def accept_under_cursor(self) -> int:
        """Accept the pending proposal under the cursor (or the selected ones), picking a class first if none
        was picked on this image; returns how many were accepted now."""
        ids = self._target()
        return (self.class_gate(lambda: self.accept(ids)) or 0) if ids else 0

    def reject_under_cursor(self) -> int:
        """Reject the pending proposal under the cursor (or the selected ones)."""
        return self.reject(self._target())

    def accept_above(self, threshold: float | None = None) -> int:
        """Accept every pending proposal with ``score >= threshold`` (default :attr:`threshold`)."""
        limit = self.threshold if threshold is None else threshold
        ids = [i.id for i in self.pending() if i.score is not None and i.score >= limit]
        return (self.class_gate(lambda: self.accept(ids)) or 0) if ids else 0

    def reject_rest(self) -> int:
        """Reject every pending proposal still on the current image."""
        return self.reject([i.id for i in self.pending()])
