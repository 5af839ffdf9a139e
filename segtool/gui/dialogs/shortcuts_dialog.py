"""Help > Keyboard shortcuts: every shortcut, read from the window's own actions.

The rows come from the live ``QAction`` objects (their text, shortcuts and status tips, translated as the
menus are), in the order and groups of :data:`segtool.gui.shortcuts.SHORTCUTS`, which also made them;
mouse gestures come from the same table. Nothing here is typed twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from segtool.gui import shortcuts


def action_rows(actions: Mapping[str, QAction]) -> list[tuple[str, str, str, str]]:
    """``(group, keys, action, how)`` for every action with a shortcut (and every mouse gesture)."""
    out = []
    for group in (*shortcuts.MENUS, ""):
        for entry in shortcuts.SHORTCUTS:
            if entry.menu != group or not entry.keys:
                continue
            if entry.scope == "mouse":
                out.append((shortcuts.tr("Mouse"), shortcuts.native_keys(entry), shortcuts.tr(entry.text),
                            shortcuts.tr(entry.how)))
                continue
            mine = [a for key, a in actions.items() if key == entry.id or key.startswith(entry.id + ":")]
            keys = [seq.toString(QKeySequence.SequenceFormat.NativeText) for a in mine for seq in a.shortcuts()]
            if not keys:
                continue
            shown = f"{keys[0]} - {keys[-1]}" if len(mine) > 1 else ", ".join(keys)
            text = entry.text if len(mine) > 1 else mine[0].text()
            out.append((shortcuts.tr(group), shown, shortcuts.tr(text).replace("&", "").replace("…", ""),
                        mine[0].statusTip()))
    return out


class ShortcutsDialog(QDialog):
    """A read-only table of the window's shortcuts, grouped by menu."""

    def __init__(self, actions: Mapping[str, QAction], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Keyboard shortcuts"))
        self.setObjectName("ShortcutsDialog")
        self.resize(980, 720)
        layout = QVBoxLayout(self)
        rows = action_rows(actions)
        self.table = QTableWidget(len(rows), 4, self)
        self.table.setHorizontalHeaderLabels([self.tr("menu"), self.tr("keys"), self.tr("action"), self.tr("how")])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        for c in range(2):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(2, 220)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        layout.addWidget(self.table)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API) - rows fit their wrapped text once sized
        super().showEvent(event)
        self.table.resizeRowsToContents()

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row."""
        return [tuple(self.table.item(r, c).text() for c in range(4)) for r in range(self.table.rowCount())]
