"""The main window: wiring only. Canvas in the centre, docks around it, actions with shortcuts.

What lives where: every key binding in :mod:`segtool.gui.shortcuts` (the actions are made from it),
drawing and tools in :mod:`segtool.gui.canvas`, docks in :mod:`segtool.gui.panels`, image switching in
:mod:`segtool.gui.image_switcher`, class picking in :mod:`segtool.gui.class_choice`, the SAM model in
:mod:`segtool.gui.sam_models`, dialogs in :mod:`segtool.gui.dialogs`. Nothing here computes masks and
nothing needs saving: every committed edit is already in the SQLite project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QWidget

from segtool.core.errors import ProjectLockedError, SegtoolError
from segtool.gui import shortcuts
from segtool.gui.canvas import SAM_TOOLS, AnnotationCanvas, EditorSession
from segtool.gui.class_choice import ClassChooser
from segtool.gui.image_switcher import ImageSwitcher
from segtool.gui.panels.classes import ClassesPanel
from segtool.gui.panels.image_list import ImageListPanel
from segtool.gui.panels.instances import InstancesPanel
from segtool.gui.panels.status_bar import StatusBar
from segtool.gui.panels.thumbnails import Thumbnailer
from segtool.gui.panels.tool_options import ToolOptionsPanel
from segtool.gui.project_opening import CURRENT_IMAGE_KEY, open_project_path
from segtool.gui.proposal_review import REVIEW_SLOTS, ProposalReview
from segtool.gui.read_only import ReadOnlyBanner, ask_read_only
from segtool.gui.sam_models import MODEL_HINT, SamChoice, SamLoader, model_hint, resolve_sam_model
from segtool.gui.settings import AppSettings
from segtool.gui.window_actions import add_view_controls, build_actions

#: actions that change the project: off in read-only mode, as are the editing tools
EDIT_ACTIONS = ("undo", "redo", "back", "delete", "merge", "relabel", "pick_class", "accept", "replace", "discard",
                "done", *REVIEW_SLOTS)
#: actions that act on a pending candidate: enabled only while there is one (else their keys go to widgets)
PENDING_ACTIONS = ("accept", "replace", "discard", "next_candidate")


class MainWindow(QMainWindow):
    """The annotation window. ``open_project(path)`` shows a project; ``store`` is the open one.

    Signals
    -------
    image_previewed(int) : a quick preview of large image ``id`` is on the canvas (its pixels still load).
    image_shown(int) : the pixels of image ``id`` are on the canvas (after :meth:`show_image`).
    """

    image_previewed = Signal(int)
    image_shown = Signal(int)

    def __init__(self, settings: AppSettings | None = None, *, sam: SamChoice | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("segtool"))
        self.settings = settings or AppSettings()
        self.store: Any = None
        self.read_only = False
        self.session = EditorSession(parent=self)
        self.canvas = AnnotationCanvas(self.session, self)
        self.setCentralWidget(self.canvas)
        self.images_panel = ImageListPanel(self)
        self.thumbnails = Thumbnailer(self.session.pools.loader, parent=self)
        self.images_panel.set_thumbnailer(self.thumbnails, lambda rec: self.store.root / rec.path)
        self.classes_panel = ClassesPanel(self)
        self.instances_panel = InstancesPanel(self.session, self.classes_panel.class_by_id, self)
        self.options_panel = ToolOptionsPanel(self.session, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.images_panel)
        for dock in (self.classes_panel, self.instances_panel, self.options_panel):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.switcher = ImageSwitcher(self.canvas, self.images_panel, self)
        self.chooser = ClassChooser(self, self.session, self.classes_panel, self)
        self.canvas.class_picker = self.chooser.ask_for_commit
        self.review = ProposalReview(self.session, self.canvas, parent=self)  # automatic proposals
        self.review.class_gate = self.canvas.with_class
        self.sam_loader = SamLoader(self.session.pools.background, self)
        self.readonly_banner = ReadOnlyBanner(self.canvas)
        self.actions: dict[str, QAction] = build_actions(self)
        self.opacity_slider = add_view_controls(self)
        self._connect()
        self.get_model_dialog: Any = None
        self.sam = SamChoice(None, "no model", "-", MODEL_HINT)
        if sam is not None:
            self.set_sam(sam)
        else:  # creating an engine takes seconds (torch): never on the GUI thread
            self.load_sam(self.settings.model, self.settings.device)
        self.set_tool("pan")
        self._set_read_only(False)
        self.restored = self.restore_window_state()

    def _connect(self) -> None:
        self.images_panel.image_activated.connect(self.show_image)
        self.classes_panel.class_chosen.connect(self.session.set_current_class)
        self.classes_panel.classes_changed.connect(self._on_classes_changed)
        self.instances_panel.visibility_changed.connect(self.canvas.set_hidden)
        self.instances_panel.relabel_requested.connect(self.chooser.relabel)
        self.session.document_changed.connect(self._on_session_document_changed)
        self.session.sam_state_changed.connect(self.status.set_encoder_state)
        self.session.encode_progress.connect(self.status.set_encode_progress)
        self.session.sam_outputs_known.connect(lambda n: n == 1 and self.status.showMessage(self.tr(
            "this SAM model gives a single mask per prompt: Tab has nothing to cycle, multi-mask is off"), 8000))
        self.switcher.image_previewed.connect(self.image_previewed)
        self.switcher.image_shown.connect(self._on_switcher_image_shown)
        self.switcher.image_failed.connect(lambda _id, _text: self._update_enabled())
        self.switcher.position_changed.connect(self.status.set_position)
        self.switcher.status_message.connect(self.status.showMessage)
        self.status.get_model_requested.connect(self.show_get_model_dialog)
        self.status.job_cancel_requested.connect(self.review.cancel)
        self.review.status_message.connect(lambda text: self.status.showMessage(text, 6000))
        self.review.progress.connect(lambda d, t: self.status.set_job(self.tr("proposing masks"), d, t))
        self.review.busy_changed.connect(lambda busy: None if busy else self.status.set_job(None))
        self.chooser.status_message.connect(lambda text: self.status.showMessage(text, 4000))
        self.canvas.status_message.connect(lambda text: self.status.showMessage(text, 4000))
        self.canvas.tool_changed.connect(self._on_canvas_tool_changed)
        self.canvas.zoom_changed.connect(self.status.set_zoom)
        self.canvas.pending_changed.connect(lambda _on: self._update_enabled())
        self.sam_loader.loaded.connect(self.set_sam)
        self.opacity_slider.valueChanged.connect(lambda v: self.canvas.set_view(opacity=v / 100))
        self.actions["class_names"].setChecked(self.canvas.view_options.show_labels)

    def restore_window_state(self) -> bool:
        """Put back the geometry and dock layout saved at the last close; False when there is none."""
        geometry, state = self.settings.window_state()
        ok = geometry is not None and self.restoreGeometry(geometry)
        return bool(state is not None and self.restoreState(state)) or ok

    def place_on_screen(self, share: float = 0.8) -> None:
        """First start: ``share`` of the available screen in each direction, centred."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        self.resize(int(area.width() * share), int(area.height() * share))
        self._centre(area)
        self._centre_when_shown = area  # the frame (title bar) is known once the window manager shows it

    def _centre(self, area: Any) -> None:
        frame = self.frameGeometry()
        self.move(area.center() - QPoint(frame.width() // 2, frame.height() // 2))

    # -------------------------------------------------------------- model
    def load_sam(self, model: str, device: str) -> None:
        """Create the SAM engine for ``model`` on ``device`` in the background (the latest request wins);
        SAM tools are off meanwhile, the window stays responsive."""
        self.set_sam(SamChoice(None, self.tr("loading…"), "-", self.tr("the SAM model is loading…")))
        self.sam_loader.load(model, device)

    def set_sam(self, choice: SamChoice) -> None:
        """Use SAM ``choice`` (engine or None); SAM tools are disabled with a hint when there is none."""
        self.sam = choice
        self.session.set_sam_engine(choice.engine)
        self.status.set_model(choice.label, choice.device, available=choice.engine is not None)
        self.status.set_encoder_state(self.session.sam_state)
        self._update_enabled()
        if choice.engine is None and self.canvas.tool_name() in SAM_TOOLS:
            self.set_tool("pan")

    def set_tool(self, name: str) -> None:
        """Switch the canvas tool (SAM tools only when a model is loaded)."""
        if name in SAM_TOOLS and self.session.sam_engine is None:
            self.status.showMessage(model_hint(self.sam.error), 8000)
            return
        self.canvas.set_tool(name)

    def _update_enabled(self) -> None:
        """Enable what makes sense now: SAM tools with a model, edits with a writable project and pixels,
        candidate keys only with a candidate (so that Enter, Esc, Tab and Backspace reach widgets otherwise)."""
        editable = not self.read_only and self.canvas.placeholder_text() is None  # no edits on a broken file
        pending = self.canvas.has_pending()
        for key, action in self.actions.items():
            if key.startswith("tool:"):
                sam_ok = key[5:] not in SAM_TOOLS or self.sam.engine is not None
                action.setEnabled(sam_ok and (editable or key == "tool:pan"))
                text = shortcuts.tr(shortcuts.BY_ID[key].text)
                action.setToolTip(f"{text} ({action.shortcut().toString()})" if sam_ok else
                                  self.tr("{0}: unavailable. {1}").format(text, model_hint(self.sam.error)))
            elif key in PENDING_ACTIONS:
                action.setEnabled(pending and (editable or key == "next_candidate"))
            elif key in EDIT_ACTIONS:
                action.setEnabled(editable)
        self.actions["back"].setEnabled(editable)  # Backspace deletes the selection when nothing is pending

    # ------------------------------------------------------------ project
    def open_project(self, path: str | Path, *, ask: bool = True) -> None:
        """Open a folder (creating its project) or a ``.segtool`` file, and go to the last image shown.

        When another segtool writes the project and ``ask`` is true, a dialog offers to open it read-only
        (browse and export, no edits); declined, or with ``ask`` false, :class:`ProjectLockedError` is raised.
        """
        try:
            store, read_only = open_project_path(path), False
        except ProjectLockedError as exc:
            if not ask or not ask_read_only(self, str(exc)):
                raise
            store, read_only = open_project_path(path, readonly=True), True
        self.close_project()
        self.store = store
        self.session.set_store(store)
        self.switcher.set_store(store)
        self._set_read_only(read_only)
        if not read_only:
            self.settings.last_project = str(store.path)
        self.classes_panel.set_store(store)
        self.session.set_current_class(self.classes_panel.current_class_id(), picked=False)
        records = store.images()
        self.images_panel.set_images(records)
        ids = [r.id for r in records]
        last = store.meta_get(CURRENT_IMAGE_KEY)
        if ids:
            self.show_image(last if last in ids else ids[0], wait=True)

    def _set_read_only(self, on: bool) -> None:
        """Read-only mode: pan/select, browse and export; every editing tool and action off, clearly shown."""
        self.read_only = bool(on)
        self.canvas.set_editable(not on)
        self.classes_panel.set_editable(not on)
        self.instances_panel.set_editable(not on)
        self.status.set_read_only(on)
        self.readonly_banner.setVisible(on)
        path = "" if self.store is None else str(self.store.path)
        self.setWindowTitle(self.tr("segtool — {0}").format(path) + (self.tr(" [read-only]") if on else "")
                            if path else self.tr("segtool"))
        self._update_enabled()

    def close_project(self) -> None:
        """Close the open project (everything is already saved)."""
        if self.store is not None:
            self.session.pools.background.cancel_all()
            self.session.pools.loader.cancel_all()
            self.switcher.set_store(None)
            self.thumbnails.clear()
            self.images_panel.set_images([])  # no rows left for a pending thumbnail request to visit
            self.store.close()
            self.store = None

    # ------------------------------------------------------------- images
    @property
    def pixels(self) -> Any:
        """The decoded-pixel cache (:class:`~segtool.gui.image_loader.PixelCache`)."""
        return self.switcher.pixels

    @property
    def stale_loads_dropped(self) -> int:
        """Image loads whose result arrived after the user had moved on."""
        return self.switcher.stale_loads_dropped

    def show_image(self, image_id: int, *, wait: bool = False) -> None:
        """Go to image ``image_id`` (see :meth:`ImageSwitcher.show_image`)."""
        self.switcher.show_image(image_id, wait=wait)

    def run_until(self, condition: Any, timeout_ms: int) -> None:
        """Run the event loop until ``condition()`` or the timeout (the window stays responsive)."""
        self.switcher.run_until(condition, timeout_ms)

    def set_image_status(self, status: str) -> None:
        """Set the review status of the current image (durable at once)."""
        image_id = self.images_panel.current_id()
        if self.store is None or image_id is None or self.read_only or not self.canvas.has_pixels():
            return
        doc, _ = self.switcher.document(image_id)
        doc.set_status(status)
        self.images_panel.set_status(image_id, status)

    # --------------------------------------------------------------- slots
    def _on_switcher_image_shown(self, image_id: int) -> None:
        if self.status.currentMessage() == self.switcher.loading_message():
            self.status.clearMessage()  # the image is here: "loading …" would only mislead
        self.instances_panel.reload()
        self.canvas.set_hidden(self.instances_panel.hidden)
        self._update_enabled()
        self.image_shown.emit(image_id)

    def _on_session_document_changed(self, _ids: list) -> None:
        self.canvas.set_hidden(self.instances_panel.hidden)
        image_id = self.session.image_id
        record = self.images_panel.record(image_id)
        if record is not None and record.status == "todo" and self.session.instances() and not self.read_only \
                and image_id == self.images_panel.current_id():
            self.set_image_status("in-progress")

    def _on_classes_changed(self) -> None:
        self.canvas.refresh_overlays()
        self.instances_panel.reload()

    def _on_canvas_tool_changed(self, name: str) -> None:
        action = self.actions.get(f"tool:{name}")
        if action is not None:
            action.setChecked(True)
        self.status.set_tool(name)
        self._update_enabled()

    def undo(self) -> None:
        """Ctrl+Z: with a candidate pending, its last click goes (nothing committed changes); else undo."""
        if self.canvas.step_back():
            return
        if not self.session.undo():
            self.status.showMessage(self.tr("nothing to undo"), 2000)

    def redo(self) -> None:
        if not self.session.redo():
            self.status.showMessage(self.tr("nothing to redo"), 2000)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open an image folder"))
        if folder:
            try:
                self.open_project(folder)
            except SegtoolError as exc:
                QMessageBox.warning(self, self.tr("segtool"), str(exc))

    # ------------------------------------------------------------- dialogs
    def show_export_dialog(self) -> None:
        from segtool.gui.dialogs.export import ExportDialog

        if self.store is not None:
            ExportDialog(self.store, self.session.pools.background, self).exec()

    def show_settings_dialog(self) -> None:
        from segtool.gui.dialogs.settings_dialog import SettingsDialog

        if SettingsDialog(self.settings, self).exec():
            self.load_sam(self.settings.model, self.settings.device)

    def show_shortcuts_dialog(self) -> Any:
        """Help > Keyboard shortcuts, made from this window's actions (non-modal)."""
        from segtool.gui.dialogs.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self.actions, self)
        dialog.show()
        return dialog

    def show_get_model_dialog(self) -> Any:
        """Show the "Get a model" dialog (non-modal); an installed model is loaded without a restart."""
        from segtool.gui.dialogs.get_model import GetModelDialog

        if self.get_model_dialog is None:
            self.get_model_dialog = GetModelDialog(self.session.pools.background, self)
            self.get_model_dialog.model_installed.connect(self._on_get_model_installed)
        self.get_model_dialog.refresh()
        self.get_model_dialog.show()
        self.get_model_dialog.raise_()
        return self.get_model_dialog

    def offer_model_once(self) -> bool:
        """At the first start without any SAM model, show the "Get a model" dialog (remembered)."""
        if self.sam.engine is not None or self.settings.model_offered or resolve_sam_model(self.settings.model):
            return False
        self.settings.model_offered = True
        self.show_get_model_dialog()
        return True

    def _on_get_model_installed(self, name: str) -> None:
        self.settings.model = name
        self.load_sam(name, self.settings.device)

    def show_about_dialog(self) -> None:
        from segtool.gui.dialogs.about import show_about

        show_about(self)

    # --------------------------------------------------------- screenshot
    def wait_until_idle(self, timeout_ms: int = 20000) -> None:
        """Run the event loop until the SAM encoder and background jobs are done (screenshots, tests)."""
        self.run_until(lambda: not (self.session.sam_state == "encoding" or self.session.pools.background.pending(
            "encode") or self.switcher.is_busy() or self.sam_loader.busy()), timeout_ms)

    def save_screenshot(self, file: Path) -> bool:
        """Render the window (with the image, overlays and docks) to the PNG ``file``."""
        for _ in range(5):
            QApplication.processEvents()
        self.canvas.fit_to_window()
        self.wait_until_idle()
        for _ in range(5):
            QApplication.processEvents()
        file.parent.mkdir(parents=True, exist_ok=True)
        return bool(self.grab().save(str(file), "PNG"))

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        """Fit the image once the window has its real size."""
        super().showEvent(event)
        QTimer.singleShot(0, self.canvas.fit_to_window)
        area, self._centre_when_shown = getattr(self, "_centre_when_shown", None), None
        for ms in (100, 600) if area is not None else ():  # the window manager adds its frame when it can
            QTimer.singleShot(ms, self, lambda pos=self.pos(): self.pos() == pos and self._centre(area))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        """Quit without asking: every committed edit is already in the project."""
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.session.shutdown()
        self.close_project()
        super().closeEvent(event)
