"""The status bar: SAM model and device, encoder state with a progress bar, tool, zoom, image position, a
read-only badge, and the progress of a long job (automatic proposals) with its count and a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


class StatusBar(QStatusBar):
    """Permanent fields (right side) plus Qt's transient messages (left side).

    Signals
    -------
    get_model_requested() : the "Get a model" link (shown while no SAM model is loaded) was clicked.
    job_cancel_requested() : the Cancel button of the job progress was clicked.
    """

    get_model_requested = Signal()
    job_cancel_requested = Signal()

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
        self.zoom_label = QLabel(self.tr("zoom -"))
        self.zoom_label.setToolTip(self.tr("screen pixels per image pixel; F fits the image to the window"))
        self.readonly_label = QLabel(self.tr("READ-ONLY"))
        self.readonly_label.setStyleSheet("QLabel { background: #b3261e; color: white; font-weight: bold; "
                                          "padding: 1px 6px; border-radius: 3px; }")
        self.readonly_label.setToolTip(self.tr("the project is open for writing in another segtool: browse and "
                                               "export only"))
        self.readonly_label.hide()
        self.job_label = QLabel()
        self.job_bar = QProgressBar()
        self.job_bar.setMaximumWidth(160)
        self.job_bar.setFormat("%v/%m")
        self.job_cancel = QPushButton(self.tr("Cancel"))
        self.job_cancel.clicked.connect(self.job_cancel_requested)
        for widget in (self.job_label, self.job_bar, self.job_cancel):  # permanent: messages never hide them
            widget.hide()
            self.addPermanentWidget(widget)
        self.get_model_link = QLabel(f'<a href="get-model">{self.tr("Get a model…")}</a>')
        self.get_model_link.setToolTip(self.tr("Download or add a SAM model to enable the SAM tools"))
        self.get_model_link.linkActivated.connect(lambda _link: self.get_model_requested.emit())
        self.get_model_link.hide()
        for widget in (self.readonly_label, self.tool_label, self.get_model_link, self.model_label,
                       self.device_label, self.encoder_label, self.progress, self.zoom_label, self.position_label):
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

    def set_zoom(self, zoom: float) -> None:
        """Show ``zoom`` (screen pixels per image pixel) as a percentage."""
        self.zoom_label.setText(self.tr("zoom {0}%").format(f"{100 * zoom:.0f}" if zoom >= 0.1 else f"{100 * zoom:.1f}"))

    def set_read_only(self, on: bool) -> None:
        """Show or hide the READ-ONLY badge."""
        self.readonly_label.setVisible(bool(on))

    def set_job(self, text: str | None, done: int = 0, total: int = 0) -> None:
        """Show a running job: ``text``, a bar with ``done``/``total`` (0, 0 = busy) and Cancel; ``None`` hides it."""
        for widget in (self.job_label, self.job_bar, self.job_cancel):
            widget.setVisible(text is not None)
        if text is None:
            return
        self.job_label.setText(text)
        self.job_bar.setRange(0, max(0, total))
        self.job_bar.setValue(min(done, total) if total > 0 else 0)
