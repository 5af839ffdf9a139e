"""The label classes dock: add, rename, recolour; keys 1-9 pick the class given to the next mask.

Class changes are written straight to the project store (``store.add_class`` / ``store.update_class``);
they are project settings, not annotation edits, so they are not on the undo stack.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QDockWidget,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from segtool.core.document import LabelClass
from segtool.core.errors import SegtoolError

_ID_ROLE = Qt.ItemDataRole.UserRole


def color_icon(color: tuple[int, int, int], size: int = 14) -> QIcon:
    """A square swatch of ``color`` ``(r, g, b)``."""
    pix = QPixmap(size, size)
    pix.fill(QColor(*color))
    return QIcon(pix)


class ClassesPanel(QDockWidget):
    """Dock listing the label classes of the project.

    Signals
    -------
    class_chosen(object) : the class id for the next mask (``None`` = no class).
    classes_changed() : a class was added, renamed or recoloured (views redraw colours).
    """

    class_chosen = Signal(object)
    classes_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Classes"), parent)
        self.setObjectName("ClassesPanel")
        self.store: Any = None
        self._classes: list[LabelClass] = []
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget(body)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("Add"), body)
        self.rename_button = QPushButton(self.tr("Rename"), body)
        self.color_button = QPushButton(self.tr("Colour"), body)
        for b in (self.add_button, self.rename_button, self.color_button):
            row.addWidget(b)
        layout.addLayout(row)
        self.setWidget(body)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.rename_button.clicked.connect(self._on_rename_clicked)
        self.color_button.clicked.connect(self._on_color_clicked)
        self.list.currentRowChanged.connect(self._on_list_row_changed)

    def set_store(self, store: Any) -> None:
        """Show the classes of ``store`` (a ``ProjectStore``) and highlight the first one (without emitting
        :attr:`class_chosen`: the user has not chosen it)."""
        self.store = store
        self.reload()
        if self._classes:
            self.choose_id(self._classes[0].id, emit=False)

    def set_editable(self, on: bool) -> None:
        """Read-only projects: no adding, renaming or recolouring."""
        for button in (self.add_button, self.rename_button, self.color_button):
            button.setEnabled(bool(on))

    def reload(self) -> None:
        """Re-read the classes from the store, keeping the current choice."""
        current = self.current_class_id()
        self._classes = self.store.classes() if self.store is not None else []
        self.list.blockSignals(True)
        self.list.clear()
        for k, cls in enumerate(self._classes):
            key = f"{k + 1}  " if k < 9 else "    "
            item = QListWidgetItem(color_icon(cls.color), f"{key}{cls.name}")
            item.setData(_ID_ROLE, cls.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if current is not None:
            self.choose_id(current, emit=False)

    def classes(self) -> list[LabelClass]:
        """The classes shown, in order (key ``k`` picks ``classes()[k - 1]``)."""
        return list(self._classes)

    def class_by_id(self, class_id: int | None) -> LabelClass | None:
        return next((c for c in self._classes if c.id == class_id), None)

    def current_class_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(_ID_ROLE))

    def choose_index(self, index: int) -> bool:
        """Pick the ``index``-th class (0-based; key ``1`` is index 0). False if there is none."""
        if not 0 <= index < len(self._classes):
            return False
        self.list.setCurrentRow(index)
        self.class_chosen.emit(self._classes[index].id)
        return True

    def choose_id(self, class_id: int, emit: bool = True) -> None:
        for k, cls in enumerate(self._classes):
            if cls.id == class_id:
                self.list.blockSignals(not emit)
                self.list.setCurrentRow(k)
                self.list.blockSignals(False)

    # ------------------------------------------------------------- actions
    def add_class(self, name: str, color: tuple[int, int, int] | None = None) -> LabelClass:
        """Add a class to the project and pick it."""
        cls = self.store.add_class(name, color)
        self.reload()
        self.choose_id(cls.id)
        self.classes_changed.emit()
        return cls

    def rename_class(self, class_id: int, name: str) -> None:
        self.store.update_class(class_id, name=name)
        self.reload()
        self.classes_changed.emit()

    def recolor_class(self, class_id: int, color: tuple[int, int, int]) -> None:
        self.store.update_class(class_id, color=color)
        self.reload()
        self.classes_changed.emit()

    def _on_add_clicked(self) -> None:
        if self.store is None:
            return
        name, ok = QInputDialog.getText(self, self.tr("New class"), self.tr("Name:"))
        if ok and name.strip():
            self._guard(lambda: self.add_class(name.strip()))

    def _on_rename_clicked(self) -> None:
        cls = self.class_by_id(self.current_class_id())
        if cls is None:
            return
        name, ok = QInputDialog.getText(self, self.tr("Rename class"), self.tr("Name:"), text=cls.name)
        if ok and name.strip():
            self._guard(lambda: self.rename_class(cls.id, name.strip()))

    def _on_color_clicked(self) -> None:
        cls = self.class_by_id(self.current_class_id())
        if cls is None:
            return
        color = QColorDialog.getColor(QColor(*cls.color), self, self.tr("Colour of {0}").format(cls.name))
        if color.isValid():
            self._guard(lambda: self.recolor_class(cls.id, (color.red(), color.green(), color.blue())))

    def _guard(self, action: Any) -> None:
        try:
            action()
        except SegtoolError as exc:
            QMessageBox.warning(self, "segtool", str(exc))

    def _on_list_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._classes):
            self.class_chosen.emit(self._classes[row].id)
