"""What the canvas shows instead of an image that cannot be read: "cannot open NAME:" and the reason."""

from __future__ import annotations

import textwrap

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QGraphicsSimpleTextItem


class PlaceholderItem(QGraphicsSimpleTextItem):
    """``text`` ("cannot open NAME: reason") as light text, the reason wrapped on the lines below."""

    def __init__(self, text: str) -> None:
        head, _, reason = text.partition(": ")
        super().__init__("\n".join([f"{head}:" if reason else head, *textwrap.wrap(reason, 70)]))
        font = QFont()
        font.setPointSizeF(13)
        self.setFont(font)
        self.setBrush(QBrush(QColor(235, 235, 235)))
        self.setZValue(2e6)

    def one_line(self) -> str:
        """The text on one line, as it was given."""
        head, _, rest = self.text().partition("\n")
        return f"{head} {rest.replace(chr(10), ' ')}".strip()
