"""Tool base classes: :class:`Tool` (mouse/keys in image coordinates) and :class:`PromptTool`.

A :class:`PromptTool` turns clicks/boxes/scribbles into a :class:`~segtool.engines.base.Prompt`, asks its
engine through the session (off the GUI thread), shows the candidate on the canvas, cycles candidates
with Tab, commits with Enter (AddInstance, or EditMask of ``target_id``) and discards with Esc.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem

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


class PromptTool(Tool):
    """Prompt -> engine -> candidates; Tab cycles, Enter commits, Esc discards."""

    multimask = False

    def __init__(self, canvas: Any) -> None:
        super().__init__(canvas)
        self.prompt = Prompt()
        self.candidates: list[Candidate] = []
        self.index = 0
        #: instance to replace on Enter (EditMask); None adds a new instance
        self.target_id: int | None = None
        self.pending = False

    def deactivate(self) -> None:
        self.discard()

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
        cand = self.current()
        self.canvas.set_candidate(cand)

    def key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        if key == Qt.Key.Key_Tab and len(self.candidates) > 1:
            self.index = (self.index + 1) % len(self.candidates)
            self.show_current()
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if modifiers & Qt.KeyboardModifier.AltModifier and len(self.session.selected_ids) == 1:
                self.target_id = self.session.selected_ids[0]  # Alt+Enter: replace the selected mask
            return self.accept() is not None
        if key == Qt.Key.Key_Escape:
            had = not self.prompt.is_empty() or bool(self.candidates)
            self.discard()
            return had
        return False

    def accept(self) -> int | None:
        """Commit the current candidate; returns the instance id, or None when there is none."""
        cand = self.current()
        if cand is None:
            return None
        mask = self.final_mask(cand.mask)
        if self.target_id is not None and self.session.instance(self.target_id) is not None:
            self.session.commit_edit(self.target_id, mask)
            iid = self.target_id
        else:
            iid = self.session.commit_new(mask, self.source, cand.score)
        self.discard()
        if iid is not None:
            self.canvas.mask_committed.emit(iid)
        return iid

    def final_mask(self, mask: np.ndarray) -> np.ndarray:
        """Hook: the mask actually committed (bool ``(H, W)``)."""
        return mask

    def discard(self) -> None:
        """Forget the prompt and the candidates."""
        self.prompt = Prompt()
        self.candidates = []
        self.index = 0
        self.pending = False
        self.clear_marks()
        self.canvas.set_candidate(None)

    def add_click(self, pos: QPointF, negative: bool) -> None:
        """Append a click to the prompt, feeding back the previous low-res logits/state, and re-predict."""
        prev = self.current()
        self.prompt = self.prompt.with_click(pos.x(), pos.y(), 0 if negative else 1)
        if prev is not None:
            self.prompt.mask_logits = prev.low_res_logits
            self.prompt.state = prev.state
        self.point_mark(pos, negative)
        self.request()
