"""GrabCut tool: drag a box or click on the object, then clicks (left/right) or plain drags (scribbles)
continue the colour model."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from segtool.engines.base import Scribble
from segtool.gui.canvas.tools.base import NEG_COLOR, POS_COLOR, is_negative
from segtool.gui.canvas.tools.sam_box import BoxPromptTool


class GrabCutTool(BoxPromptTool):
    """A box or a click first (no live update: GrabCut is slower), then clicks or scribbles (drag) as seeds.

    A first click (a press and release without a drag) starts the object from that click alone, as
    :class:`~segtool.engines.graphcut.GrabCutEngine` does for a click-only prompt (the GrabCut
    benchmark's click-first protocol).
    """

    name = "grabcut"
    source = "grabcut"
    engine_name = "grabcut"
    live = False
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self._stroke: list[tuple[float, float]] = []
        self._stroke_label = 1
        self._stroke_item: QGraphicsPathItem | None = None

    def started(self) -> bool:
        """True once the object has a box, a mask to refine or a click."""
        return self.prompt.box is not None or self.prompt.mask is not None or len(self.prompt.points) > 0

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.started():
            return super().press(pos, button, modifiers)
        if not self.inside(pos):
            return False
        self.begin_step()
        self._stroke = [(pos.x(), pos.y())]
        self._stroke_label = 0 if is_negative(button, modifiers) else 1
        pen = QPen(POS_COLOR if self._stroke_label else NEG_COLOR, 3)
        pen.setCosmetic(True)
        self._stroke_item = self.add_mark(QGraphicsPathItem())
        self._stroke_item.setPen(pen)
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._stroke:
            return super().move(pos, buttons, modifiers)
        self._stroke.append((pos.x(), pos.y()))
        path = QPainterPath(QPointF(*self._stroke[0]))
        for x, y in self._stroke[1:]:
            path.lineTo(x, y)
        if self._stroke_item is not None:
            self._stroke_item.setPath(path)
        return True

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._stroke:
            return super().release(pos, button, modifiers)
        stroke, self._stroke = self._stroke, []
        if len(stroke) < 3:  # a click
            self._stroke_item = None
            self.clear_last_mark()
            self.add_click(QPointF(*stroke[0]), self._stroke_label == 0)
            return True
        radius = max(2.0, self.session.options.brush_radius / 2)
        self.prompt.scribbles.append(Scribble(np.asarray(stroke, np.float32), self._stroke_label, radius))
        prev = self.current()
        if prev is not None:
            self.prompt.state = prev.state
        self.end_step()
        self.request()
        return True

    def not_dragged(self, start: QPointF) -> None:
        """A first press and release without a drag: the object starts from that click."""
        self.discard()
        self.add_click(start, False)

    def clear_last_mark(self) -> None:
        if self._items:
            item = self._items.pop()
            if item.scene() is not None:
                item.scene().removeItem(item)


__all__ = ["GrabCutTool", "QColor"]
