"""Magic wand: a click grows a region of similar colour (tolerance from ``session.options``)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from segtool.engines.base import Prompt
from segtool.gui.canvas.tools.base import PromptTool, is_negative


class WandTool(PromptTool):
    """Left click seeds the region; later clicks add positive/negative seeds (seeded region growing)."""

    name = "wand"
    source = "wand"
    engine_name = "wand"
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
        if not self.is_edit_press(pos, button):
            return False
        self.add_click(pos, is_negative(button, modifiers))
        return True

    def request(self) -> None:
        engine = self.session.engine("wand")
        if hasattr(engine, "tolerance"):
            engine.tolerance = float(self.session.options.wand_tolerance)
        self.prompt = Prompt(points=self.prompt.points, labels=self.prompt.labels, state=self.prompt.state)
        super().request()
