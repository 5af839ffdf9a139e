"""The class picker: a small popup at the cursor to choose (or create) a label class.

Type to filter (case-insensitive substring), Up/Down move, Enter picks the highlighted row; a name that
matches no class offers "New class NAME" (picked by Enter when nothing else matches); "(no class)" is
there for the user who really wants none; Esc, or a click outside, cancels. The picker knows nothing of
the store: the caller passes the classes and a ``create(name) -> LabelClass`` function.

Signals
-------
picked(object) : the chosen class id, or ``None`` for an explicit "(no class)".
cancelled() : Esc, or the popup closed without a choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from segtool.core.document import LabelClass
from segtool.core.errors import SegtoolError
from segtool.core.names import class_name_problem
from segtool.gui.panels.classes import color_icon

_ROLE = Qt.ItemDataRole.UserRole
#: row kinds stored beside the class id
_CLASS, _NEW, _NONE = "class", "new", "none"


class ClassPicker(QFrame):
    """Popup list of classes with a filter line.

    Parameters
    ----------
    classes : the project's classes, in order.
    current : class id highlighted first (the last one used), or ``None``.
    create : ``name -> LabelClass`` adding a class to the project (may raise :class:`SegtoolError`).
    title : one line above the filter (what the pick is for).
    """

    picked = Signal(object)
    cancelled = Signal()

    def __init__(self, classes: Sequence[LabelClass], current: int | None,
                 create: Callable[[str], LabelClass] | None, title: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("ClassPicker")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self._classes = list(classes)
        self._create = create
        self._done = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self.title = QLabel(title or self.tr("Class for this mask"), self)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText(self.tr("type to filter or to name a new class…"))
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        self.hint = QLabel(self.tr("Enter picks · Esc cancels"), self)
        self.hint.setStyleSheet("color: gray;")
        for widget in (self.title, self.filter_edit, self.list, self.hint):
            layout.addWidget(widget)
        self.setMinimumWidth(240)
        self.filter_edit.installEventFilter(self)
        self.list.installEventFilter(self)
        self.filter_edit.textChanged.connect(self._refill)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.itemClicked.connect(self._on_list_item_activated)
        self._refill("", current)

    # ------------------------------------------------------------- content
    def _refill(self, text: str, prefer: int | None = None) -> None:
        needle = text.strip()
        low = needle.lower()
        self.list.clear()
        shown = [c for c in self._classes if low in c.name.lower()]
        for k, cls in enumerate(self._classes):
            if cls in shown:
                key = f"{k + 1}  " if k < 9 else "    "
                self._add_row(f"{key}{cls.name}", _CLASS, cls.id, color_icon(cls.color))
        exact = next((c for c in self._classes if c.name.lower() == low), None)
        if needle and exact is None and self._create is not None:
            self._add_row(self.tr('New class "{0}"').format(needle), _NEW, needle)
        if not needle or "no class".startswith(low) or "none".startswith(low):
            item = self._add_row(self.tr("(no class)"), _NONE, None)
            item.setForeground(QColor(128, 128, 128))
        self.list.setCurrentRow(self._best_row(exact, shown, prefer))
        rows = min(max(self.list.count(), 3), 12)
        self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 18) + 6)
        self.adjustSize()

    def _add_row(self, text: str, kind: str, value: Any, icon: Any = None) -> QListWidgetItem:
        item = QListWidgetItem(text)
        if icon is not None:
            item.setIcon(icon)
        item.setData(_ROLE, (kind, value))
        self.list.addItem(item)
        return item

    def _best_row(self, exact: LabelClass | None, shown: list[LabelClass], prefer: int | None) -> int:
        """Exact match, else the preferred class, else the first class shown, else "New class"."""
        target = exact.id if exact is not None else prefer
        for row in range(self.list.count()):
            kind, value = self.list.item(row).data(_ROLE)
            if kind == _CLASS and value == target:
                return row
        if shown:
            return 0
        for row in range(self.list.count()):
            if self.list.item(row).data(_ROLE)[0] == _NEW:
                return row
        return 0

    def rows(self) -> list[str]:
        """Texts of the rows shown (tests, screenshots)."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    # ------------------------------------------------------------- showing
    def popup_at(self, pos: QPoint) -> None:
        """Show the picker with its top-left corner at global ``pos``, kept inside that screen."""
        self.adjustSize()
        screen = QGuiApplication.screenAt(pos) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        x = min(max(pos.x(), area.left()), area.right() - self.width())
        y = min(max(pos.y(), area.top()), area.bottom() - self.height())
        self.move(x, y)
        self.show()
        self.raise_()
        self.activateWindow()
        self.filter_edit.setFocus(Qt.FocusReason.PopupFocusReason)

    # ------------------------------------------------------------- choosing
    def choose_current(self) -> None:
        """Pick the highlighted row (what Enter does)."""
        item = self.list.currentItem()
        if item is None:
            return
        kind, value = item.data(_ROLE)
        if kind == _NEW:
            problem = class_name_problem(value)
            if problem is not None:
                self.hint.setText(problem)
                return
            try:
                value = self._create(value).id
            except SegtoolError as exc:
                self.hint.setText(str(exc))
                return
        self._finish(value, picked=True)

    def cancel(self) -> None:
        """Close without a choice (what Esc does)."""
        self._finish(None, picked=False)

    def _finish(self, value: Any, *, picked: bool) -> None:
        if self._done:
            return
        self._done = True
        self.close()
        if picked:
            self.picked.emit(value)
        else:
            self.cancelled.emit()

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.list.setCurrentItem(item)
        self.choose_current()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._key(event)
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if not self._key(event):
            super().keyPressEvent(event)

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.choose_current()
            return True
        if key == Qt.Key.Key_Escape:
            self.cancel()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.list.count():
            step = -1 if key == Qt.Key.Key_Up else 1
            self.list.setCurrentRow((self.list.currentRow() + step) % self.list.count())
            return True
        return False

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt API) - a click outside closes a popup
        super().hideEvent(event)
        if not self._done:
            self._done = True
            self.cancelled.emit()
