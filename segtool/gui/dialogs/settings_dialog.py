"""The settings dialog: which SAM model, on which device.

The line under the choices says what is true now: which models are installed and which one "(first
installed)" means, or, when there is none, how to get one.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from segtool.gui.sam_models import MODEL_HINT, installed_models
from segtool.gui.settings import DEVICES, AppSettings


class SettingsDialog(QDialog):
    """Edit :class:`AppSettings` (model, device); the window reloads the model when accepted."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.settings = settings
        form = QFormLayout(self)
        installed = installed_models()
        self.model_combo = QComboBox(self)
        self.model_combo.setEditable(True)
        first = self.tr("(first installed: {0})").format(installed[0][0]) if installed else self.tr(
            "(first installed)")
        self.model_combo.addItem(first, "")
        for name, path in installed:
            self.model_combo.addItem(f"{name}  ({path})", name)
        self.model_combo.addItem(self.tr("none (classical tools only)"), "none")
        current = settings.model
        index = self.model_combo.findData(current)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        elif current:
            self.model_combo.setEditText(current)
        browse = QPushButton(self.tr("Folder…"), self)
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(browse)
        form.addRow(self.tr("SAM model"), row)
        self.device_combo = QComboBox(self)
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setCurrentText(settings.device)
        form.addRow(self.tr("Device"), self.device_combo)
        self.hint = QLabel(self._hint_text(installed), self)
        self.hint.setWordWrap(True)
        form.addRow(self.hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _hint_text(self, installed: list) -> str:
        if not installed:
            return QCoreApplication.translate("segtool", MODEL_HINT)
        names = ", ".join(name for name, _ in installed)
        return self.tr("Installed SAM models: {0}. Pick one, a folder with encoder.onnx + decoder.onnx, or a "
                       ".pt checkpoint; Help > Get a model… adds more.").format(names)

    def model_value(self) -> str:
        """The chosen model: "" (first installed), "none", a model name or a path."""
        index = self.model_combo.currentIndex()
        if index >= 0 and self.model_combo.itemText(index) == self.model_combo.currentText():
            return str(self.model_combo.itemData(index) or "")
        return self.model_combo.currentText().strip()

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("SAM model folder (encoder.onnx + decoder.onnx)"))
        if folder:
            self.model_combo.setEditText(folder)

    def accept(self) -> None:
        self.settings.model = self.model_value()
        self.settings.device = self.device_combo.currentText()
        self.settings.sync()
        super().accept()
