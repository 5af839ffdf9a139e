"""The instances dock: every mask of the current image with its class, colour, visibility and z-order.

Buttons act on the selected rows: move up / down in z-order, delete, merge, relabel (a class picker,
also on a double-click on the class cell). Each of them builds a core command
(:mod:`segtool.core.commands`) and pushes it through the editor session, so it is undoable and durable
like a canvas edit. The state column says which instances are pending proposals. Visibility is a view
setting (not stored in the project): hidden ids are handed to the canvas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QGridLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segtool.core.document import Instance, LabelClass
from segtool.gui.panels import instance_commands as cmds
from segtool.gui.panels.classes import color_icon

_ID_ROLE = Qt.ItemDataRole.UserRole
_GREY = (128, 128, 128)
#: columns of the tree
COLUMNS = ("#", "class", "state", "area", "source")
CLASS_COLUMN, STATE_COLUMN = 1, 2


class InstancesPanel(QDockWidget):
    """Dock listing the current image's instances, top of the z-order first.

    Parameters
    ----------
    session : the canvas ``EditorSession`` (instances, selection, ``push`` of commands).
    class_lookup : ``class_id -> LabelClass | None`` (names and colours).

    Signals
    -------
    visibility_changed(list) : ids of the instances now hidden.
    relabel_requested(list, QPoint) : the user wants to pick a class for instance ids (global position).
    """

    visibility_changed = Signal(list)
    relabel_requested = Signal(list, QPoint)

    def __init__(self, session: Any, class_lookup: Callable[[int | None], LabelClass | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Instances"), parent)
        self.setObjectName("InstancesPanel")
        self.session = session
        self._class_lookup = class_lookup
        self.hidden: set[int] = set()
        self._syncing = False
        self._editable = True
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tree = QTreeWidget(body)
        self.tree.setHeaderLabels(["#", self.tr("class"), self.tr("state"), self.tr("area"), self.tr("source")])
        self.tree.setRootIsDecorated(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        for column in range(len(COLUMNS)):  # every column fits its text; the source takes what is left
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == len(COLUMNS) - 1
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        layout.addWidget(self.tree, 1)
        grid = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        for k, (key, label, tip) in enumerate([
            ("up", self.tr("Up"), self.tr("Bring forward (z-order)")),
            ("down", self.tr("Down"), self.tr("Send backward (z-order)")),
            ("relabel", self.tr("Relabel…"), self.tr("Pick a class for the selected instances (Ctrl+L, or "
                                                     "double-click the class)")),
            ("merge", self.tr("Merge"), self.tr("Merge the selected instances into one")),
            ("delete", self.tr("Delete"), self.tr("Delete the selected instances (Del)")),
            ("visible", self.tr("Hide/show"), self.tr("Toggle visibility of the selected instances")),
        ]):
            button = QPushButton(label, body)
            button.setToolTip(tip)
            grid.addWidget(button, k // 3, k % 3)
            self.buttons[key] = button
        layout.addLayout(grid)
        self.setWidget(body)
        self.buttons["up"].clicked.connect(lambda: self.move_selected(+1))
        self.buttons["down"].clicked.connect(lambda: self.move_selected(-1))
        self.buttons["relabel"].clicked.connect(self.relabel_selected)
        self.buttons["merge"].clicked.connect(self.merge_selected)
        self.buttons["delete"].clicked.connect(self.delete_selected)
        self.buttons["visible"].clicked.connect(self.toggle_visibility)
        self.tree.itemSelectionChanged.connect(self._on_tree_selection_changed)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)
        self.tree.itemChanged.connect(self._on_tree_item_changed)
        session.document_changed.connect(self._on_session_document_changed)
        session.selection_changed.connect(self._on_session_selection_changed)

    # ------------------------------------------------------------- content
    def reload(self) -> None:
        """Rebuild the rows from the session's instances (top of the z-order first)."""
        self._syncing = True
        self.tree.clear()
        present = set()
        for inst in reversed(self.session.instances()):
            present.add(inst.id)
            self.tree.addTopLevelItem(self._make_item(inst))
        self.hidden &= present
        self._syncing = False
        self._on_session_selection_changed(list(self.session.selected_ids))
        self._update_buttons()

    def _make_item(self, inst: Instance) -> QTreeWidgetItem:
        cls = self._class_lookup(inst.class_id)
        pending = inst.state == "pending"
        state = self.tr("pending") if pending else self.tr("accepted")
        if pending and inst.score is not None:
            state = self.tr("pending {0}").format(f"{inst.score:.2f}")
        item = QTreeWidgetItem([str(inst.id), cls.name if cls else self.tr("(no class)"), state, str(inst.area),
                                inst.source])
        item.setIcon(CLASS_COLUMN, color_icon(cls.color if cls else _GREY))
        item.setData(0, _ID_ROLE, inst.id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Unchecked if inst.id in self.hidden else Qt.CheckState.Checked)
        if cls is None:
            item.setForeground(CLASS_COLUMN, QBrush(QColor(150, 150, 150)))
        if pending:  # a proposal still to review: amber and italic, like its dotted outline on the canvas
            font = QFont(item.font(STATE_COLUMN))
            font.setItalic(True)
            for column in range(len(COLUMNS)):
                item.setFont(column, font)
            item.setForeground(STATE_COLUMN, QBrush(QColor(200, 140, 0)))
        return item

    def ids(self) -> list[int]:
        """Instance ids in row order (top of the z-order first)."""
        return [int(self.tree.topLevelItem(i).data(0, _ID_ROLE)) for i in range(self.tree.topLevelItemCount())]

    def selected_ids(self) -> list[int]:
        return [int(it.data(0, _ID_ROLE)) for it in self.tree.selectedItems()]

    # ------------------------------------------------------------- actions
    def delete_selected(self) -> None:
        """Delete the selected instances (one undo step)."""
        ids = self.selected_ids()
        if ids:
            self.session.push(cmds.delete(ids))

    def relabel_selected(self) -> None:
        """Ask for a class for the selected instances (:attr:`relabel_requested`, at the Relabel button)."""
        button = self.buttons["relabel"]
        self.relabel_requested.emit(self.selected_ids(), button.mapToGlobal(button.rect().bottomLeft()))

    def set_editable(self, on: bool) -> None:
        """Read-only projects: only hide/show stays."""
        self._editable = bool(on)
        self._update_buttons()

    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        if column != CLASS_COLUMN or not self._editable:
            return
        iid = int(item.data(0, _ID_ROLE))
        ids = self.selected_ids() if iid in self.selected_ids() else [iid]
        rect = self.tree.visualItemRect(item)
        at = QPoint(self.tree.header().sectionPosition(CLASS_COLUMN), rect.bottom())
        self.relabel_requested.emit(ids, self.tree.viewport().mapToGlobal(at))

    def merge_selected(self) -> None:
        """Merge the selected instances into the lowest-id one."""
        ids = self.selected_ids()
        if len(ids) >= 2:
            self.session.push(cmds.merge(sorted(ids)))

    def move_selected(self, delta: int) -> None:
        """Move the selected instances ``delta`` steps up (+1) or down (-1) in z-order."""
        chosen = set(self.selected_ids())
        order = [inst.id for inst in self.session.instances()]  # bottom to top
        ids = [i for i in order if i in chosen]
        if not ids or (delta > 0 and order[-len(ids):] == ids) or (delta < 0 and order[:len(ids)] == ids):
            return
        with self.session.macro("reorder"):
            for command in cmds.reorder(ids, delta):
                self.session.push(command)

    def toggle_visibility(self) -> None:
        """Hide the selected instances if any is visible, else show them all."""
        ids = set(self.selected_ids())
        self.hidden = (self.hidden - ids) if ids <= self.hidden else (self.hidden | ids)
        self.reload()
        self.visibility_changed.emit(sorted(self.hidden))

    # --------------------------------------------------------------- slots
    def _update_buttons(self) -> None:
        n = len(self.selected_ids())
        for key in ("up", "down", "relabel", "delete"):
            self.buttons[key].setEnabled(n > 0 and self._editable)
        self.buttons["visible"].setEnabled(n > 0)
        self.buttons["merge"].setEnabled(n >= 2 and self._editable)

    def _on_tree_selection_changed(self) -> None:
        self._update_buttons()
        if not self._syncing:
            self._syncing = True
            self.session.select(self.selected_ids())
            self._syncing = False

    def _on_tree_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._syncing or column != 0:
            return
        iid = int(item.data(0, _ID_ROLE))
        before = set(self.hidden)
        if item.checkState(0) == Qt.CheckState.Checked:
            self.hidden.discard(iid)
        else:
            self.hidden.add(iid)
        if self.hidden != before:
            self.visibility_changed.emit(sorted(self.hidden))

    def _on_session_document_changed(self, _ids: list) -> None:
        self.reload()

    def _on_session_selection_changed(self, ids: list) -> None:
        if self._syncing:
            return
        self._syncing = True
        wanted = {int(i) for i in ids}
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(int(item.data(0, _ID_ROLE)) in wanted)
        self._syncing = False
        self._update_buttons()
