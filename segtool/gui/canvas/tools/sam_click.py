"""SAM click tool: left click = positive, right/Shift+click = negative; live candidate; Tab/Enter/Esc."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from segtool.gui.canvas.tools.base import PromptTool, is_negative


class SamClickTool(PromptTool):
    """Each click re-predicts with every click so far and the previous low-res logits (multi-mask first)."""

    name = "sam-click"
    source = "sam"
    engine_name = "sam"
    multimask = True
    cursor = Qt.CursorShape.CrossCursor

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button):
            return False
        if not self.sam_ready():
            return True
        self.add_click(pos, is_negative(button, modifiers))
        return True

    def request(self) -> None:
        # the first click gets the model's alternatives (Tab); after it, the single best mask is refined
        self.multimask = len(self.prompt.points) <= 1 and self.prompt.box is None
        super().request()
