"""The export dialog: COCO / Pascal VOC / YOLO, with progress, run off the GUI thread.

The job runs in the window's background pool (:class:`segtool.gui.workers.BackgroundPool`) on its own
read-only connection to the project (SQLite readers take no lock and see the last committed state), so
the window stays responsive and may keep annotating while it runs. Cancel stops it between images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from segtool.core.errors import SegtoolError


class ExportCancelled(SegtoolError):
    """The user cancelled the export."""


def run_export(project_file: Path, out: Path, fmt: str, segmentation: str, control: Any) -> Any:
    """Export ``project_file`` to ``out`` as ``fmt`` (worker thread); reports progress per image.

    Returns the ``ExportReport`` of :func:`segtool.services.formats.export_project`.
    """
    from segtool.services.formats import export_project
    from segtool.store.sqlite import ProjectStore

    with ProjectStore.open(project_file, readonly=True) as store:
        total = len(store.images())
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            control.progress(done, total)
            if control.cancelled:
                raise ExportCancelled("export cancelled")

        control.progress(0, total)
        target = out / "annotations.json" if fmt == "coco" else out
        # The user chose the folder: an earlier segtool export there is replaced (never other files).
        return export_project(store, target, fmt, segmentation=segmentation, progress=progress, overwrite=True)


class ExportDialog(QDialog):
    """Choose a format and a folder, then export with a progress bar (Cancel stops the job)."""

    def __init__(self, store: Any, pool: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Export"))
        self.setMinimumWidth(480)
        self.store, self.pool = store, pool
        self.job: Any = None
        self.report: Any = None
        self.error: str | None = None
        form = QFormLayout(self)
        self.format_combo = QComboBox(self)
        self.format_combo.addItems(["coco", "voc", "yolo"])
        self.segmentation_combo = QComboBox(self)
        self.segmentation_combo.addItems(["rle", "polygon", "auto"])
        self.segmentation_combo.setToolTip(self.tr("COCO only: RLE keeps holes; auto writes polygons where a mask has none"))
        self.out_edit = QLineEdit(str(Path(store.root) / "export"), self)
        browse = QPushButton(self.tr("Folder…"), self)
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        form.addRow(self.tr("Format"), self.format_combo)
        form.addRow(self.tr("Segmentation"), self.segmentation_combo)
        form.addRow(self.tr("Output folder"), row)
        self.progress = QProgressBar(self)
        self.progress.setValue(0)
        form.addRow(self.progress)
        self.result_label = QLabel("", self)
        self.result_label.setWordWrap(True)
        form.addRow(self.result_label)
        buttons = QHBoxLayout()
        self.export_button = QPushButton(self.tr("Export"), self)
        self.cancel_button = QPushButton(self.tr("Close"), self)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.format_combo.currentTextChanged.connect(
            lambda fmt: self.segmentation_combo.setEnabled(fmt == "coco"))
        pool.job_progress.connect(self._on_pool_progress)

    def start(self) -> None:
        """Start the export job in the background pool."""
        if self.job is not None:
            return
        out = Path(self.out_edit.text()).expanduser()
        fmt, seg = self.format_combo.currentText(), self.segmentation_combo.currentText()
        out.mkdir(parents=True, exist_ok=True)
        self.report, self.error = None, None
        self.export_button.setEnabled(False)
        self.cancel_button.setText(self.tr("Cancel"))
        self.result_label.setText(self.tr("exporting…"))
        project = Path(self.store.path)
        self.job = self.pool.submit("export", -1, 0, lambda control: run_export(project, out, fmt, seg, control),
                                    self._on_job_finished)

    def running(self) -> bool:
        return self.job is not None

    def _on_pool_progress(self, job_id: int, done: int, total: int) -> None:
        if self.job is not None and job_id == self.job.job_id:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

    def _on_job_finished(self, result: Any) -> None:
        self.job = None
        self.export_button.setEnabled(True)
        self.cancel_button.setText(self.tr("Close"))
        if result.error:
            self.error = result.error
            self.result_label.setText(self.tr("Export failed: {0}").format(result.error))
            return
        self.report = result.value
        self.progress.setValue(self.progress.maximum())
        self.result_label.setText(self.tr("Exported {0} images, {1} annotations to {2}").format(
            self.report.images, self.report.annotations, self.out_edit.text()))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Export to folder"), self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def _on_cancel_clicked(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.result_label.setText(self.tr("cancelling…"))
        else:
            self.accept()
