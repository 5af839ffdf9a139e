"""The status bar: SAM model and device, encoder state with a progress bar, tool, image position."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget


class StatusBar(QStatusBar):
    """Permanent fields (right side) plus Qt's transient messages (left side).

    Signals
    -------
    get_model_requested() : the "Get a model" link (shown while no SAM model is loaded) was clicked.
    """

    get_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tool_label = QLabel(self.tr("tool: -"))
        self.model_label = QLabel(self.tr("model: -"))
        self.device_label = QLabel(self.tr("device: -"))
        self.encoder_label = QLabel(self.tr("SAM: -"))
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(110)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.position_label = QLabel(self.tr("no image"))
        self.get_model_link = QLabel(f'<a href="get-model">{self.tr("Get a model…")}</a>')
        self.get_model_link.setToolTip(self.tr("Download or add a SAM model to enable the SAM tools"))
        self.get_model_link.linkActivated.connect(lambda _link: self.get_model_requested.emit())
        self.get_model_link.hide()
        for widget in (self.tool_label, self.get_model_link, self.model_label, self.device_label, self.encoder_label, self.progress,
                       self.position_label):
            self.addPermanentWidget(widget)

    def set_model(self, label: str, device: str, available: bool = True) -> None:
        """Show the SAM model ``label`` and its ``device`` (``cpu``/``cuda``); without a model
        (``available`` false) a "Get a model…" link appears."""
        self.get_model_link.setVisible(not available and label != self.tr("loading…"))
        self.model_label.setText(self.tr("model: {0}").format(label))
        self.device_label.setText(self.tr("device: {0}").format(device))

    def set_tool(self, name: str) -> None:
        self.tool_label.setText(self.tr("tool: {0}").format(name))

    def set_encoder_state(self, state: str) -> None:
        """``none`` | ``encoding`` | ``ready`` | ``error`` (the session's ``sam_state_changed``)."""
        text = {"none": self.tr("SAM: off"), "encoding": self.tr("SAM: encoding…"), "ready": self.tr("SAM: ready"),
                "error": self.tr("SAM: error")}.get(state, f"SAM: {state}")
        self.encoder_label.setText(text)
        self.progress.setVisible(state == "encoding")

    def set_encode_progress(self, done: int, total: int) -> None:
        """``done`` of ``total`` (0, 0 = busy indicator)."""
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    def set_position(self, index: int, count: int, name: str) -> None:
        """Show ``index`` (1-based) of ``count`` and the image ``name``."""
        self.position_label.setText(f"{index}/{count}  {name}")
