"""SAM box tool: drag a box (live update while dragging), then clicks refine; Tab/Enter/Esc."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from segtool.gui.canvas.tools.base import PromptTool, is_negative


class BoxPromptTool(PromptTool):
    """Drag a box (XYXY, image pixels) for ``prompt.box``; after it, clicks add points."""

    live = True
    min_side = 3.0

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self._start: QPointF | None = None
        self._rect: QGraphicsRectItem | None = None

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button):
            return False
        if self.prompt.box is not None:
            self.add_click(pos, is_negative(button, modifiers))
            return True
        if button != Qt.MouseButton.LeftButton:
            return False
        self._start = pos
        self.begin_step()
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._rect = self.add_mark(QGraphicsRectItem(QRectF(pos, pos)))
        self._rect.setPen(pen)
        return True

    def _box(self, pos: QPointF) -> tuple[float, float, float, float]:
        h, w = self.canvas.image_size()
        assert self._start is not None
        x0, x1 = sorted((self._start.x(), pos.x()))
        y0, y1 = sorted((self._start.y(), pos.y()))
        return (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if self._start is None:
            return False
        box = self._box(pos)
        if self._rect is not None:
            self._rect.setRect(QRectF(QPointF(box[0], box[1]), QPointF(box[2], box[3])))
        if self.live and min(box[2] - box[0], box[3] - box[1]) >= self.min_side:
            self.prompt.box = box
            self.request()
        return True

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if self._start is None:
            return False
        start, box = self._start, self._box(pos)
        self._start = None
        if min(box[2] - box[0], box[3] - box[1]) < self.min_side:
            self.not_dragged(start)
            return True
        self.prompt.box = box
        self.end_step()
        self.request()
        return True

    def not_dragged(self, start: QPointF) -> None:
        """A press and release at ``start`` without a drag: no box (the GrabCut tool starts from the click)."""
        self.discard()

    def discard(self) -> None:
        self._start, self._rect = None, None
        super().discard()


class SamBoxTool(BoxPromptTool):
    """SAM from a box; live candidate while dragging."""

    name = "sam-box"
    source = "sam"
    engine_name = "sam"
    multimask = False
    cursor = Qt.CursorShape.CrossCursor

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.sam_ready():
            return True
        return super().press(pos, button, modifiers)
