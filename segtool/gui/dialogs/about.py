"""The About box."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from segtool import __version__


def show_about(parent: QWidget) -> None:
    """Show version, licence and where the project lives."""
    QMessageBox.about(parent, QCoreApplication.translate("About", "About segtool"),
                      QCoreApplication.translate(
                          "About", "<b>segtool {0}</b><br>Annotate images with segmentation masks: SAM clicks and "
                          "boxes, magic wand, GrabCut, watershed, brush, polygon.<br>Every edit is saved at once "
                          "in the project file.<br>Apache-2.0.").format(__version__))
