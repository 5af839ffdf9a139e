"""Tool base classes: :class:`Tool` (mouse/keys in image coordinates) and :class:`PromptTool`.

A :class:`PromptTool` turns clicks/boxes/scribbles into a :class:`~segtool.engines.base.Prompt`, asks its
engine through the session (off the GUI thread), shows the candidate on the canvas, cycles candidates
with Tab, commits with Enter (AddInstance, once a class is chosen for the image, or EditMask of
``target_id``) and discards with Esc. Every click, box or scribble is one step: :meth:`PromptTool.step_back`
(Ctrl+Z, Backspace) removes the last one and re-predicts. What is pending survives an image switch
(:meth:`Tool.suspend` / :meth:`Tool.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from segtool.engines.base import Candidate, Prompt

POS_COLOR = QColor(40, 220, 60)
NEG_COLOR = QColor(230, 40, 40)


def is_negative(button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
    """Right click or Shift+click means background."""
    return button == Qt.MouseButton.RightButton or bool(modifiers & Qt.KeyboardModifier.ShiftModifier)


class Tool:
    """A canvas tool. Positions are ``QPointF`` in image pixels (scene coordinates); return True if handled."""

    name = "pan"
    source = "brush"
    #: engine key in the session ("sam" or a registry name), None for tools without one
    engine_name: str | None = None
    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, canvas: Any) -> None:
        self.canvas = canvas
        self.session = canvas.session
        self._items: list[QGraphicsItem] = []

    def activate(self) -> None:
        """Called when the tool becomes current."""

    def deactivate(self) -> None:
        """Called when another tool becomes current or the image changes: drop transient state."""
        self.clear_marks()

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        return False

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        return False

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        return False

    def key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        return False

    def leave(self) -> None:
        """The mouse left the canvas."""

    def has_pending(self) -> bool:
        """True when something is not committed yet (a prompt, a candidate, polygon vertices)."""
        return False

    def step_back(self) -> bool:
        """Remove the last step of what is pending (Ctrl+Z / Backspace); False when nothing is pending."""
        return False

    def next_candidate(self) -> bool:
        """Show the next candidate (Tab); False when there is no other one."""
        return False

    def suspend(self) -> Any:
        """What is pending, to keep while the user is on another image (``None``: nothing)."""
        return None

    def resume(self, state: Any) -> None:
        """Bring back what :meth:`suspend` returned, on the same image."""

    # ------------------------------------------------------------ helpers
    def add_mark(self, item: QGraphicsItem) -> QGraphicsItem:
        """Put a transient item (point, box, stroke) on the scene above the overlays."""
        item.setZValue(1e6)
        self.canvas.scene().addItem(item)
        self._items.append(item)
        return item

    def clear_marks(self) -> None:
        for item in self._items:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._items.clear()

    def point_mark(self, pos: QPointF, negative: bool) -> QGraphicsItem:
        """A click marker: a small dot that keeps its screen size."""
        dot = QGraphicsEllipseItem(QRectF(-5, -5, 10, 10))
        dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        dot.setPos(pos)
        dot.setBrush(QBrush(NEG_COLOR if negative else POS_COLOR))
        dot.setPen(QPen(QColor(255, 255, 255), 1.5))
        return self.add_mark(dot)

    def inside(self, pos: QPointF) -> bool:
        h, w = self.canvas.image_size()
        return 0 <= pos.x() < w and 0 <= pos.y() < h

    def is_edit_press(self, pos: QPointF, button: Qt.MouseButton) -> bool:
        """A left or right button press inside the image: what every editing tool reacts to."""
        return button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) and self.inside(pos)

    def sam_ready(self) -> bool:
        """True when a SAM model is loaded; otherwise the status bar says how to get one."""
        if self.session.sam_available():
            return True
        self.canvas.status_message.emit(QCoreApplication.translate(
            "Tool", "no SAM model: install one with `segtool models download mobile_sam`"))
        return False


class PanTool(Tool):
    """No editing: a left click selects the instance under the cursor (drag pans, handled by the view)."""

    name = "pan"
    cursor = Qt.CursorShape.OpenHandCursor

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if button != Qt.MouseButton.LeftButton:
            return False
        self.canvas.select_at(pos, add=bool(modifiers & Qt.KeyboardModifier.ControlModifier))
        return True


def copy_prompt(prompt: Prompt) -> Prompt:
    """A copy of ``prompt`` whose lists can change without touching the original."""
    return Prompt(points=prompt.points.copy(), labels=prompt.labels.copy(), box=prompt.box,
                  scribbles=list(prompt.scribbles), mask_logits=prompt.mask_logits, mask=prompt.mask,
                  state=prompt.state)


@dataclass
class PendingPrompt:
    """What a prompt tool keeps for an image the user left: prompt, steps, candidates, target."""

    prompt: Prompt
    steps: list[Prompt] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    index: int = 0
    target_id: int | None = None


class PromptTool(Tool):
    """Prompt -> engine -> candidates; Tab cycles, Enter commits, Esc discards, Ctrl+Z steps back."""

    multimask = False

    def __init__(self, canvas: Any) -> None:
        super().__init__(canvas)
        self.prompt = Prompt()
        self.candidates: list[Candidate] = []
        self.index = 0
        #: instance to replace on Enter (EditMask); None adds a new instance
        self.target_id: int | None = None
        self.pending = False
        #: (prompt before the step, marks on the scene before it), one per click/box/scribble
        self._steps: list[tuple[Prompt, int]] = []
        self._step_start: tuple[Prompt, int] | None = None
        #: the status bar shows "mask i of n" (cleared when a single candidate replaces them)
        self._said_alternatives = False

    def deactivate(self) -> None:
        self.discard()

    # ------------------------------------------------------------ steps
    def begin_step(self) -> None:
        """Remember the prompt (and the marks) before a click, box or scribble changes it."""
        if self._step_start is None:
            self._step_start = (copy_prompt(self.prompt), len(self._items))

    def end_step(self) -> None:
        """The prompt changed: the step begun by :meth:`begin_step` can be stepped back."""
        if self._step_start is not None:
            self._steps.append(self._step_start)
            self._step_start = None

    def has_pending(self) -> bool:
        return not self.prompt.is_empty() or bool(self.candidates)

    def step_back(self) -> bool:
        if not self.has_pending():
            return False
        if not self._steps:  # nothing the user added (e.g. the refine tool's start): drop it all
            self.discard()
            return True
        prompt, marks = self._steps.pop()
        while len(self._items) > marks:
            item = self._items.pop()
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.prompt, self.candidates, self.index = prompt, [], 0
        self.canvas.set_candidate(None)
        if self.prompt.is_empty():
            self.discard()
        else:
            self.request()
        return True

    def next_candidate(self) -> bool:
        if len(self.candidates) < 2:
            return False
        self.index = (self.index + 1) % len(self.candidates)
        self.show_current()
        return True

    def suspend(self) -> PendingPrompt | None:
        if not self.has_pending():
            return None
        return PendingPrompt(copy_prompt(self.prompt), [p for p, _ in self._steps], list(self.candidates),
                             self.index, self.target_id)

    def resume(self, state: PendingPrompt) -> None:
        self.discard()
        self.prompt, self.target_id = state.prompt, state.target_id
        self._redraw_marks(state.steps)
        self.candidates, self.index = list(state.candidates), state.index
        if self.candidates:
            self.show_current()
        else:
            self.request()

    def _redraw_marks(self, steps: list[Prompt]) -> None:
        """Marks for the prompt brought back, one step per recorded step (so that stepping back works)."""
        history = [*steps, self.prompt]
        for before, after in zip(history, history[1:], strict=False):
            self._steps.append((before, len(self._items)))
            for k in range(len(before.points), len(after.points)):
                self.point_mark(QPointF(*after.points[k]), int(after.labels[k]) == 0)
            if after.box is not None and after.box != before.box:
                self._box_mark(after.box)
            for scribble in after.scribbles[len(before.scribbles):]:
                self._scribble_mark(scribble.points, scribble.label)

    def _box_mark(self, box: tuple[float, float, float, float]) -> None:
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        rect = self.add_mark(QGraphicsRectItem(QRectF(QPointF(box[0], box[1]), QPointF(box[2], box[3]))))
        rect.setPen(pen)

    def _scribble_mark(self, points: np.ndarray, label: int) -> None:
        path = QPainterPath(QPointF(*points[0]))
        for x, y in points[1:]:
            path.lineTo(float(x), float(y))
        pen = QPen(POS_COLOR if label else NEG_COLOR, 3)
        pen.setCosmetic(True)
        self.add_mark(QGraphicsPathItem(path)).setPen(pen)

    def request(self) -> None:
        """Ask the engine for candidates for the current prompt (latest request wins)."""
        if self.prompt.is_empty():
            return
        self.pending = True
        self.session.predict(self.engine_name, self.prompt, self._on_candidates,
                             multimask=self.multimask and self.session.options.multimask)

    def _on_candidates(self, candidates: list[Candidate]) -> None:
        self.pending = False
        if self.prompt.is_empty():  # discarded meanwhile
            return
        self.candidates = list(candidates)
        self.index = 0
        self.show_current()

    def current(self) -> Candidate | None:
        return self.candidates[self.index] if self.candidates else None

    def show_current(self) -> None:
        """Show the current candidate; with alternatives, the status bar says which one it is and that
        Tab shows the next (a first SAM click has three: part, larger part, whole)."""
        self.canvas.set_candidate(self.current())
        if len(self.candidates) > 1:
            self.canvas.status_message.emit(QCoreApplication.translate(
                "Tool", "mask {0} of {1}: Tab shows the next, Enter accepts").format(
                    self.index + 1, len(self.candidates)))
            self._said_alternatives = True
        else:  # a follow-up's single mask: the count no longer holds
            self._unsay_alternatives()

    def _unsay_alternatives(self) -> None:
        """Clear the status bar's "mask i of n" if this tool put it there."""
        if self._said_alternatives:
            self.canvas.status_message.emit("")
            self._said_alternatives = False

    def key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        if key == Qt.Key.Key_Tab:
            return self.next_candidate()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.current() is None:
                return False
            if modifiers & Qt.KeyboardModifier.AltModifier and len(self.session.selected_ids) == 1:
                self.target_id = self.session.selected_ids[0]  # Alt+Enter: replace the selected mask
            self.accept()
            return True
        if key == Qt.Key.Key_Escape:
            had = self.has_pending()
            self._unsay_alternatives()
            self.discard()
            return had
        return False

    def accept(self) -> int | None:
        """Commit the current candidate; returns the instance id, or None when there is none (or when the
        class picker was opened first: the commit follows the pick, and Esc there keeps the candidate)."""
        cand = self.current()
        if cand is None:
            return None
        self._unsay_alternatives()  # before the class picker, whose choice the status bar then shows
        if self.target_id is not None and self.session.instance(self.target_id) is not None:
            return self._commit(cand)
        return self.canvas.with_class(lambda: self._commit(cand) if self.current() is cand else None)

    def _commit(self, cand: Candidate) -> int | None:
        """Store ``cand`` from its crop (no image-sized array), as a new instance or as the target's mask."""
        mask = cand
        if self.target_id is not None and self.session.instance(self.target_id) is not None:
            self.session.commit_edit(self.target_id, mask)
            iid = self.target_id
        else:
            iid = self.session.commit_new(mask, self.source, cand.score)
        self.discard()
        if iid is not None:
            self.canvas.mask_committed.emit(iid)
        return iid

    def discard(self) -> None:
        """Forget the prompt, its steps and the candidates."""
        self.prompt = Prompt()
        self.candidates = []
        self.index = 0
        self.pending = False
        self._steps, self._step_start = [], None
        self._said_alternatives = False  # the status line is left as it is (see accept and key)
        self.clear_marks()
        self.canvas.set_candidate(None)

    def add_click(self, pos: QPointF, negative: bool) -> None:
        """Append a click to the prompt, feeding back the previous low-res logits/state, and re-predict."""
        self.begin_step()
        prev = self.current()
        self.prompt = self.prompt.with_click(pos.x(), pos.y(), 0 if negative else 1)
        if prev is not None:
            self.prompt.mask_logits = prev.low_res_logits
            self.prompt.state = prev.state
        self.point_mark(pos, negative)
        self.end_step()
        self.request()
