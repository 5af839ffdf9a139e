"""Superpixel tool: a left click adds the region under the cursor, a right/Shift click removes it."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from segtool.gui.canvas.tools.base import PromptTool, is_negative


class SuperpixelTool(PromptTool):
    """Clicks are positive/negative points for the superpixel engine; Enter commits."""

    name = "superpixel"
    source = "superpixel"
    engine_name = "superpixel"
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) or not self.inside(pos):
            return False
        self.add_click(pos, is_negative(button, modifiers))
        return True
