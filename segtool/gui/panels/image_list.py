"""The image list dock: file names with their review status, a filter, next/previous navigation.

The panel shows :class:`~segtool.core.document.ImageRecord` rows (no pixels are loaded here). It emits
:attr:`ImageListPanel.image_activated` with an image id when the user picks one (click, Enter, or
:meth:`step`); the main window then loads it. Status is shown as a coloured dot and a suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segtool.core.document import IMAGE_STATUSES, ImageRecord
from segtool.gui.panels.thumbnails import THUMB_SIDE, Thumbnailer, blank_icon, broken_icon

#: Colour of each review status in the list.
STATUS_COLORS = {"todo": "#9aa0a6", "in-progress": "#f2a900", "done": "#34a853"}
_ID_ROLE = Qt.ItemDataRole.UserRole


class ImageListPanel(QDockWidget):
    """Dock listing the project's images.

    Signals
    -------
    image_activated(int) : the user chose image ``id`` (click, Enter, next/previous).
    """

    image_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Images"), parent)
        self.setObjectName("ImageListPanel")
        self._records: list[ImageRecord] = []
        self._current: int | None = None
        self._thumbnailer: Thumbnailer | None = None
        self._path_of: Callable[[ImageRecord], Path] | None = None
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.filter_edit = QLineEdit(body)
        self.filter_edit.setPlaceholderText(self.tr("Filter names…"))
        self.filter_edit.setClearButtonEnabled(True)
        self.status_combo = QComboBox(body)
        self.status_combo.addItems(["all", *IMAGE_STATUSES])
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.status_combo)
        layout.addLayout(row)
        self.list = QListWidget(body)
        self.list.setUniformItemSizes(True)
        self.list.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        layout.addWidget(self.list, 1)
        self.summary = QLabel(body)
        layout.addWidget(self.summary)
        self.setWidget(body)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.status_combo.currentTextChanged.connect(self._apply_filter)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.itemClicked.connect(self._on_list_item_activated)
        self.list.verticalScrollBar().valueChanged.connect(self._request_visible_thumbnails)
        self._thumb_timer = QTimer(self)  # coalesce scroll/resize bursts into one request
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(30)
        self._thumb_timer.timeout.connect(self._on_thumb_timer_timeout)

    def set_thumbnailer(self, thumbnailer: Thumbnailer, path_of: Callable[[ImageRecord], Path]) -> None:
        """Show thumbnails made by ``thumbnailer`` from the file ``path_of(record)``, for visible rows."""
        self._thumbnailer, self._path_of = thumbnailer, path_of
        thumbnailer.thumbnail_ready.connect(self._on_thumbnailer_thumbnail_ready)

    # -------------------------------------------------------------- content
    def set_images(self, records: Sequence[ImageRecord]) -> None:
        """Show ``records`` (in the given order); keeps the current image highlighted if still present."""
        self._records = list(records)
        self.list.clear()
        blank = blank_icon()
        for rec in self._records:
            item = QListWidgetItem(blank, "")
            item.setData(_ID_ROLE, rec.id)
            self._style_item(item, rec)
            self.list.addItem(item)
        self._apply_filter()
        if self._current is not None:
            self.set_current(self._current)
        self._request_visible_thumbnails()

    def _style_item(self, item: QListWidgetItem, rec: ImageRecord) -> None:
        item.setText(f"●  {rec.path}    [{self.tr(rec.status)}]")
        item.setForeground(QBrush(QColor(STATUS_COLORS.get(rec.status, "#000000"))))
        item.setToolTip(self.tr("{0}\n{1}×{2} px · {3}").format(rec.path, rec.width, rec.height, self.tr(rec.status)))

    def set_status(self, image_id: int, status: str) -> None:
        """Update the status shown for ``image_id``."""
        for i, rec in enumerate(self._records):
            if rec.id == image_id:
                rec.status = status
                self._style_item(self.list.item(i), rec)
        self._update_summary()

    def mark_unreadable(self, image_id: int, reason: str) -> None:
        """The file of ``image_id`` cannot be read: a broken-image icon (same size) and the reason as tooltip;
        its status and the other rows stay as they are."""
        row = self.position(image_id)
        if row >= 0:
            item = self.list.item(row)
            item.setIcon(broken_icon())
            item.setToolTip(reason)

    def records(self) -> list[ImageRecord]:
        """All images, in list order."""
        return list(self._records)

    def record(self, image_id: int) -> ImageRecord | None:
        """The record of ``image_id`` or ``None``."""
        return next((r for r in self._records if r.id == image_id), None)

    def position(self, image_id: int | None = None) -> int:
        """0-based index of ``image_id`` (default: the current one) in the list, -1 if absent."""
        target = self._current if image_id is None else image_id
        return next((i for i, r in enumerate(self._records) if r.id == target), -1)

    # ----------------------------------------------------------- navigation
    def current_id(self) -> int | None:
        """The image shown now, or ``None``."""
        return self._current

    def set_current(self, image_id: int) -> None:
        """Highlight ``image_id`` (does not emit :attr:`image_activated`)."""
        self._current = image_id
        row = self.position(image_id)
        if row >= 0:
            self.list.blockSignals(True)
            self.list.setCurrentRow(row)
            self.list.blockSignals(False)
            self.list.scrollToItem(self.list.item(row))

    def step(self, delta: int) -> int | None:
        """Go ``delta`` images forward (+1) or back (-1) among the *visible* (filtered) rows.

        Emits :attr:`image_activated` and returns the new id, or ``None`` at either end.
        """
        visible = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not visible:
            return None
        row = self.position()
        if row in visible:
            k = visible.index(row) + delta
        else:  # current image filtered out: go to the first visible one after (or before) it
            after = [v for v in visible if v > row] if delta > 0 else [v for v in visible if v < row]
            k = visible.index(after[0 if delta > 0 else -1]) if after else -1
        if not 0 <= k < len(visible):
            return None
        new_id = self._records[visible[k]].id
        self.set_current(new_id)
        self.image_activated.emit(new_id)
        return new_id

    def neighbours(self, image_id: int, radius: int = 1) -> list[ImageRecord]:
        """The records right after and before ``image_id`` (next first), for prefetching."""
        row = self.position(image_id)
        out = []
        for d in range(1, radius + 1):
            for k in (row + d, row - d):
                if row >= 0 and 0 <= k < len(self._records):
                    out.append(self._records[k])
        return out

    # ------------------------------------------------------------------ slots
    def _apply_filter(self, *_args: object) -> None:
        text = self.filter_edit.text().strip().lower()
        status = self.status_combo.currentText()
        for i, rec in enumerate(self._records):
            hidden = (text and text not in rec.path.lower()) or (status != "all" and rec.status != status)
            self.list.item(i).setHidden(bool(hidden))
        self._update_summary()

    def visible_rows(self) -> list[int]:
        """Rows (list order) whose item is inside the list's viewport now."""
        rect = self.list.viewport().rect()
        rows = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if not item.isHidden() and self.list.visualItemRect(item).intersects(rect):
                rows.append(i)
        return rows

    def _request_visible_thumbnails(self, *_args: object) -> None:
        if self._thumbnailer is not None:
            self._thumb_timer.start()

    def _on_thumb_timer_timeout(self) -> None:
        if self._thumbnailer is None or self._path_of is None:
            return
        for row in self.visible_rows():
            rec = self._records[row]
            icon = self._thumbnailer.icon(rec.id)
            if icon is not None:
                self.list.item(row).setIcon(icon)
            else:
                self._thumbnailer.request(rec.id, self._path_of(rec))

    def _on_thumbnailer_thumbnail_ready(self, image_id: int) -> None:
        row = self.position(image_id)
        if row >= 0 and self._thumbnailer is not None:
            self.list.item(row).setIcon(self._thumbnailer.icon(image_id))

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._request_visible_thumbnails()

    def _update_summary(self) -> None:
        shown = sum(not self.list.item(i).isHidden() for i in range(self.list.count()))
        done = sum(r.status == "done" for r in self._records)
        self.summary.setText(self.tr("{0} shown · {1}/{2} done").format(shown, done, len(self._records)))

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        image_id = int(item.data(_ID_ROLE))
        if image_id != self._current:
            self._current = image_id
            self.image_activated.emit(image_id)
