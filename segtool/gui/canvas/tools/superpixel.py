"""Superpixel tool: a left click adds the region under the cursor, a right/Shift click removes it;
a drag adds (or, right/Shift, removes) every region the stroke crosses. Enter commits."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from segtool.gui.canvas.tools.watershed import WatershedTool


class SuperpixelTool(WatershedTool):
    """Clicks become positive/negative points, drags become scribbles, for the superpixel engine."""

    name = "superpixel"
    source = "superpixel"
    engine_name = "superpixel"
    cursor = Qt.CursorShape.PointingHandCursor

    def release(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if self._stroke and len(self._stroke) < 3:  # a click, not a stroke
            (x, y), self._stroke = self._stroke[0], []
            if self._items:
                self.canvas.scene().removeItem(self._items.pop())
            self.add_click(QPointF(x, y), self._label == 0)
            return True
        return super().release(pos, button, modifiers)
