"""The "Get a model" dialog: the catalogue's SAM models with size, speed and quality; download or add one.

Downloads run in the background pool (:class:`segtool.gui.workers.BackgroundPool`) through
:func:`segtool.engines.models.download`, with a progress bar and a Cancel button (an interrupted download
resumes from its ``.part`` file next time). "Add a local model…" registers a checkpoint file or an ONNX
folder with :func:`segtool.engines.models.add_model`. Either way :attr:`GetModelDialog.model_installed`
carries the model's name; the main window then creates the engine in the background and enables SAM.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segtool.core.errors import SegtoolError
from segtool.gui.workers import BackgroundPool, JobControl, JobResult


def _tr(text: str) -> str:
    return QCoreApplication.translate("GetModelDialog", text)


#: What a user should expect from each catalogue model: (CPU, GPU) encoder time per image, and quality.
#: Display text lives here, not in the engines; models missing here fall back to the catalogue's ``speed``.
MODEL_NOTES: dict[str, tuple[str, str, str]] = {
    "mobile_sam": ("~0.5-1 s", "~10 ms",
                   "good on clear objects; coarser edges than SAM ViT-B/L/H. The best start on a laptop."),
    "vit_b": ("~10-20 s", "~0.1 s", "SAM base: clearly better edges and small parts than MobileSAM."),
    "vit_l": ("~1 min", "~0.3 s", "SAM large: close to the best; a GPU is strongly advised."),
    "vit_h": ("minutes", "~0.45 s", "SAM huge: the best masks; needs a GPU with 8 GB or more."),
}
#: Columns of the table.
COLUMNS = ("Model", "Size", "Speed on CPU", "Speed on GPU", "Quality", "Status")


class GetModelDialog(QDialog):
    """Lists :data:`segtool.engines.models.CATALOG`; downloads the chosen entry or adds a local model.

    Signals
    -------
    model_installed(str) : name of the model now installed (downloaded or added).
    """

    model_installed = Signal(str)

    def __init__(self, pool: BackgroundPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Get a SAM model"))
        self.setObjectName("GetModelDialog")
        self.resize(860, 360)
        self.pool = pool
        self.job: JobControl | None = None
        self.installed_name: str | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(self.tr("SAM turns a click or a box into a mask. Pick a model to download (once), or "
                               "add one you already have. The classical tools work without any."), self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([_tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        row = QHBoxLayout()
        self.add_button = QPushButton(self.tr("Add a local model…"), self)
        self.download_button = QPushButton(self.tr("Download"), self)
        self.cancel_button = QPushButton(self.tr("Cancel download"), self)
        self.close_button = QPushButton(self.tr("Close"), self)
        self.cancel_button.setEnabled(False)
        row.addWidget(self.add_button)
        row.addStretch(1)
        for button in (self.download_button, self.cancel_button, self.close_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.download_button.clicked.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.close_button.clicked.connect(self.reject)
        self.pool.job_progress.connect(self._on_pool_job_progress)
        self.refresh()

    # -------------------------------------------------------------- content
    def refresh(self) -> None:
        """Fill the table from the catalogue and the installed models (the smallest model first)."""
        from segtool.engines import models

        installed = {m.name for m in models.installed_models()}
        entries = sorted(models.CATALOG.values(), key=lambda e: e.size)
        self.table.setRowCount(len(entries))
        for r, entry in enumerate(entries):
            cpu, gpu, quality = MODEL_NOTES.get(entry.name, (entry.speed, "", ""))
            cells = (entry.name, f"{entry.size / 1e6:,.0f} MB", _tr(cpu), _tr(gpu), _tr(quality),
                     self.tr("installed") if entry.name in installed else self.tr("not installed"))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.name)
                item.setToolTip(f"{entry.url}\n{entry.speed}\n{entry.license}")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if self.table.currentRow() < 0 and entries:
            self.table.selectRow(0)

    def selected_name(self) -> str | None:
        """Catalogue name of the selected row, or ``None``."""
        item = self.table.item(self.table.currentRow(), 0) if self.table.currentRow() >= 0 else None
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select(self, name: str) -> None:
        """Select the row of catalogue model ``name``."""
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(r)

    # ------------------------------------------------------------- download
    def start_download(self, name: str) -> JobControl:
        """Download catalogue model ``name`` in the background pool; progress and result show here."""
        from segtool.engines import models

        def job(control: JobControl) -> Path:
            def report(done: int, total: int) -> None:
                if control.cancelled:
                    raise _Cancelled(_tr("download cancelled; it resumes where it stopped next time"))
                control.progress(done >> 10, total >> 10)  # KiB: Qt signals carry 32-bit ints

            return models.download(name, progress=False, progress_callback=report)

        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText(self.tr("downloading {0}…").format(name))
        self.job = self.pool.submit(f"download:{name}", -1, 0, job, self._on_download_finished, priority=5)
        return self.job

    def _on_download_clicked(self) -> None:
        name = self.selected_name()
        if name is not None and self.job is None:
            self.start_download(name)

    def _on_cancel_clicked(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText(self.tr("cancelling…"))

    def _on_pool_job_progress(self, job_id: int, done: int, total: int) -> None:
        if self.job is not None and job_id == self.job.job_id:
            self.progress.setRange(0, max(total, 0))
            self.progress.setValue(min(done, total) if total > 0 else 0)

    def _on_download_finished(self, result: JobResult) -> None:
        name = result.kind.split(":", 1)[1]
        self.job = None
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
        if result.error or result.cancelled:
            message = result.error.split(": ", 1)[-1] if result.error else _tr("download cancelled")
            self.status_label.setText(message)
            return
        self.status_label.setText(self.tr("{0} is installed: SAM tools are ready once it is loaded.").format(name))
        self._installed(name)

    # ---------------------------------------------------------------- local
    def _on_add_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("A SAM checkpoint (.pt/.pth) or encoder.onnx"),
                                              "", self.tr("SAM models (*.pt *.pth *.onnx);;All files (*)"))
        if path:
            self.add_local(Path(path))

    def add_local(self, path: Path) -> str | None:
        """Register ``path`` (checkpoint file; an ``encoder.onnx`` means its folder); returns the name."""
        from segtool.engines import models

        target = path.parent if path.suffix == ".onnx" else path
        try:
            entry = models.add_model(target)
        except SegtoolError as exc:
            self.status_label.setText(str(exc))
            return None
        self.status_label.setText(self.tr("{0} added ({1}).").format(entry.name, entry.path))
        self._installed(entry.name)
        return entry.name

    def _installed(self, name: str) -> None:
        self.installed_name = name
        self.refresh()
        self.model_installed.emit(name)


class _Cancelled(SegtoolError):
    """The user cancelled a download (raised inside the progress callback)."""
