"""Read-only mode, for a project another segtool writes: the question, and the banner that shows it.

In read-only mode the window browses and exports; every editing tool and action is off (see
``MainWindow._set_read_only``), the status bar shows a READ-ONLY badge, the title says so, and
:class:`ReadOnlyBanner` sits over the canvas.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def _tr(text: str) -> str:
    return QCoreApplication.translate("ReadOnly", text)


def ask_read_only(parent: QWidget, message: str) -> bool:
    """Ask whether to open a project another segtool writes read-only (``message`` says which); True for yes."""
    box = QMessageBox(QMessageBox.Icon.Warning, _tr("Project in use"), message, parent=parent)
    box.setObjectName("ReadOnlyQuestion")
    box.setInformativeText(_tr("Open it read-only? You can browse and export, but not edit, until the other "
                               "segtool closes it."))
    read_only = box.addButton(_tr("Open read-only"), QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is read_only


class ReadOnlyBanner(QLabel):
    """A red strip at the top-left of the canvas: "READ-ONLY: ... Browse and export only"."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("ReadOnlyBanner")
        self.setText(_tr("  READ-ONLY: this project is open for writing in another segtool. "
                         "Browse and export only.  "))
        self.setStyleSheet("QLabel { background: rgba(179, 38, 30, 225); color: white; font-weight: bold; "
                           "padding: 4px; border-radius: 3px; }")
        self.adjustSize()
        self.move(8, 8)
        self.hide()
