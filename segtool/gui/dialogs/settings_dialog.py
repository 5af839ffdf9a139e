"""The settings dialog: which SAM model, on which device."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from segtool.gui.app import MODEL_HINT, _installed_models
from segtool.gui.settings import DEVICES, AppSettings


class SettingsDialog(QDialog):
    """Edit :class:`AppSettings` (model, device); the window reloads the model when accepted."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.settings = settings
        form = QFormLayout(self)
        self.model_combo = QComboBox(self)
        self.model_combo.setEditable(True)
        self.model_combo.addItem(self.tr("(first installed)"), "")
        for name, path in _installed_models():
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
        hint = QLabel(MODEL_HINT, self)
        hint.setWordWrap(True)
        form.addRow(hint)
        self.path_edit = QLineEdit(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

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
