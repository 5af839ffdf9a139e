"""Watershed tool: scribbles (drag) mark object (left) and background (right/Shift); Enter commits."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from segtool.engines.base import Scribble
from segtool.gui.canvas.tools.base import NEG_COLOR, POS_COLOR, PromptTool, is_negative


class WatershedTool(PromptTool):
    """Every finished scribble re-runs the marker watershed with all scribbles so far."""

    name = "watershed"
    source = "watershed"
    engine_name = "watershed"
    cursor = Qt.CursorShape.CrossCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self._stroke: list[tuple[float, float]] = []
        self._label = 1
        self._item: QGraphicsPathItem | None = None

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button):
            return False
        self.begin_step()
        self._label = 0 if is_negative(button, modifiers) else 1
        self._stroke = [(pos.x(), pos.y())]
        pen = QPen(POS_COLOR if self._label else NEG_COLOR, 3)
        pen.setCosmetic(True)
        self._item = self.add_mark(QGraphicsPathItem())
        self._item.setPen(pen)
        self._redraw()
        return True

    def move(self, pos: QPointF, buttons: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._stroke:
            return False
        self._stroke.append((pos.x(), pos.y()))
        self._redraw()
        return True

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self._stroke:
            return False
        stroke, self._stroke = self._stroke, []
        radius = max(1.0, self.session.options.brush_radius / 2)
        self.prompt.scribbles.append(Scribble(np.asarray(stroke, np.float32), self._label, radius))
        self.end_step()
        self.request()
        return True

    def _redraw(self) -> None:
        path = QPainterPath(QPointF(*self._stroke[0]))
        for x, y in self._stroke[1:]:
            path.lineTo(x, y)
        if len(self._stroke) == 1:
            path.addEllipse(QPointF(*self._stroke[0]), 1.0, 1.0)
        if self._item is not None:
            self._item.setPath(path)
