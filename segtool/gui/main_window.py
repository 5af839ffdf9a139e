"""The main window: wiring only. Canvas in the centre, docks around it, actions with shortcuts.

What lives where: drawing and tools in :mod:`segtool.gui.canvas`, docks in :mod:`segtool.gui.panels`,
dialogs in :mod:`segtool.gui.dialogs`, start-up in :mod:`segtool.gui.app`. Nothing here computes masks
and nothing needs saving: every committed edit is already in the SQLite project.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMessageBox, QWidget

from segtool.core.errors import SegtoolError
from segtool.gui.app import (
    CURRENT_IMAGE_KEY,
    MODEL_HINT,
    SamChoice,
    create_sam,
    open_project_path,
    resolve_sam_model,
)
from segtool.gui.canvas import SAM_TOOLS, AnnotationCanvas, EditorSession
from segtool.gui.image_loader import LoadedImage, PixelCache, load_quick_preview
from segtool.gui.panels.classes import ClassesPanel
from segtool.gui.panels.image_list import ImageListPanel
from segtool.gui.panels.instances import InstancesPanel
from segtool.gui.panels.status_bar import StatusBar
from segtool.gui.panels.thumbnails import Thumbnailer
from segtool.gui.panels.tool_options import ToolOptionsPanel
from segtool.gui.proposal_review import ProposalReview
from segtool.gui.settings import AppSettings
from segtool.gui.workers import JobControl, JobResult

#: (tool name, menu text, shortcut), in toolbar order.
#: Texts are marked for lupdate and translated when the actions are made.
TOOL_ACTIONS = (
    ("sam-click", QT_TRANSLATE_NOOP("MainWindow", "SAM click"), "S"),
    ("sam-box", QT_TRANSLATE_NOOP("MainWindow", "SAM box"), "X"),
    ("wand", QT_TRANSLATE_NOOP("MainWindow", "Magic wand"), "W"),
    ("grabcut", QT_TRANSLATE_NOOP("MainWindow", "GrabCut"), "G"),
    ("refine", QT_TRANSLATE_NOOP("MainWindow", "Refine selected"), "R"),
    ("watershed", QT_TRANSLATE_NOOP("MainWindow", "Watershed"), "T"),
    ("superpixel", QT_TRANSLATE_NOOP("MainWindow", "Superpixels"), "U"),
    ("brush", QT_TRANSLATE_NOOP("MainWindow", "Brush"), "B"),
    ("eraser", QT_TRANSLATE_NOOP("MainWindow", "Eraser"), "E"),
    ("polygon", QT_TRANSLATE_NOOP("MainWindow", "Polygon"), "O"),
    ("pan", QT_TRANSLATE_NOOP("MainWindow", "Pan / select"), "V"),
)


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
        self.pixels = PixelCache()
        self._load_generation = 0
        self._load_generation_failed = False
        self._loading_message: str | None = None
        self._load_job: JobControl | None = None
        self._quick_previews: dict[int, Any] = {}  # load job id -> QuickPreview, handed over by a worker
        #: image loads whose result arrived after the user had moved on
        self.stale_loads_dropped = 0
        self._docs: dict[int, tuple[Any, Any]] = {}
        self.session = EditorSession(parent=self)
        self.canvas = AnnotationCanvas(self.session, self)
        self.setCentralWidget(self.canvas)
        self.images_panel = ImageListPanel(self)
        self.thumbnails = Thumbnailer(self.session.pools.loader, parent=self)
        self.images_panel.set_thumbnailer(self.thumbnails, lambda rec: self.store.root / rec.path)
        self.classes_panel = ClassesPanel(self)
        self.instances_panel = InstancesPanel(self.session, self.classes_panel.class_by_id,
                                              self.classes_panel.current_class_id, self)
        self.options_panel = ToolOptionsPanel(self.session.options, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.images_panel)
        for dock in (self.classes_panel, self.instances_panel, self.options_panel):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._connect()
        self._sam_request = 0
        self.get_model_dialog: Any = None
        if sam is not None:
            self.set_sam(sam)
        else:  # creating an engine takes seconds (torch): never on the GUI thread
            self.load_sam(self.settings.model, self.settings.device)
        self.set_tool("pan")
        self.restored = self.restore_window_state()

    # ------------------------------------------------------------ actions
    def _action(self, key: str, text: str, shortcuts: Any, slot: Any, menu: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            seqs = [QKeySequence(s) for s in (shortcuts if isinstance(shortcuts, list | tuple) else [shortcuts])]
            action.setShortcuts(seqs)
            action.setToolTip(f"{text} ({seqs[0].toString()})")
        action.triggered.connect(slot)
        self.addAction(action)
        if menu is not None:
            menu.addAction(action)
        self.actions[key] = action
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu(self.tr("&File"))
        self._action("open", self.tr("Open folder or project…"), QKeySequence.StandardKey.Open, self._on_open_triggered, m)
        self._action("export", self.tr("Export…"), "Ctrl+E", self.show_export_dialog, m)
        self._action("settings", self.tr("Settings…"), "Ctrl+,", self.show_settings_dialog, m)
        m.addSeparator()
        self._action("quit", self.tr("Quit"), "Ctrl+Q", self.close, m)
        m = bar.addMenu(self.tr("&Edit"))
        self._action("undo", self.tr("Undo"), "Ctrl+Z", self._on_undo_triggered, m)
        self._action("redo", self.tr("Redo"), ["Ctrl+Shift+Z", "Ctrl+Y"], self._on_redo_triggered, m)
        self._action("delete", self.tr("Delete selected"), ["Del", "Backspace"], self.instances_panel.delete_selected, m)
        self._action("merge", self.tr("Merge selected"), "Ctrl+M", self.instances_panel.merge_selected, m)
        self._action("relabel", self.tr("Relabel selected"), "Ctrl+L", self.instances_panel.relabel_selected, m)
        m = bar.addMenu(self.tr("&Image"))
        self._action("next", self.tr("Next image"), ["D", "PgDown"], lambda: self.images_panel.step(+1), m)
        self._action("previous", self.tr("Previous image"), ["A", "PgUp"], lambda: self.images_panel.step(-1), m)
        self._action("done", self.tr("Mark done"), "Ctrl+Return", lambda: self.set_image_status("done"), m)
        self._action("fit", self.tr("Fit to window"), "Ctrl+0", self.canvas.fit_to_window, m)
        m = bar.addMenu(self.tr("&Tools"))
        self._action("get_model_tools", self.tr("Get a SAM model…"), None, self.show_get_model_dialog, m)
        m.addSeparator()
        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("ToolsToolBar")
        group = QActionGroup(self)
        for name, text, key in TOOL_ACTIONS:
            action = self._action(f"tool:{name}", self.tr(text), key, lambda _=False, n=name: self.set_tool(n), m)
            action.setCheckable(True)
            group.addAction(action)
            toolbar.addAction(action)
        m = bar.addMenu(self.tr("&Classes"))
        for k in range(9):
            self._action(f"class:{k + 1}", self.tr("Class {0}").format(k + 1), str(k + 1),
                         lambda _=False, i=k: self.classes_panel.choose_index(i), m)
        self.review = ProposalReview(self.session, self.canvas, parent=self)  # automatic proposals
        self.review.install(self, bar.addMenu(self.tr("&Proposals")))
        self.review.status_message.connect(lambda text: self.status.showMessage(text, 6000))
        m = bar.addMenu(self.tr("&Help"))
        self._action("get_model", self.tr("Get a model…"), None, self.show_get_model_dialog, m)
        self._action("about", self.tr("About segtool"), None, self.show_about_dialog, m)

    def _connect(self) -> None:
        self.images_panel.image_activated.connect(self.show_image)
        self.classes_panel.class_chosen.connect(self.session.set_current_class)
        self.classes_panel.classes_changed.connect(self._on_classes_changed)
        self.instances_panel.visibility_changed.connect(self._apply_visibility)
        self.session.document_changed.connect(self._on_session_document_changed)
        self.session.sam_state_changed.connect(self.status.set_encoder_state)
        self.session.encode_progress.connect(self.status.set_encode_progress)
        self.session.pools.loader.job_progress.connect(self._on_loader_job_progress)
        self.status.get_model_requested.connect(self.show_get_model_dialog)
        self.canvas.status_message.connect(lambda text: self.status.showMessage(text, 4000))
        self.canvas.tool_changed.connect(self._on_canvas_tool_changed)

    def restore_window_state(self) -> bool:
        """Put back the geometry and dock layout saved at the last close; False when there is none."""
        geometry, state = self.settings.window_state()
        ok = geometry is not None and self.restoreGeometry(geometry)
        return bool(state is not None and self.restoreState(state)) or ok

    # -------------------------------------------------------------- model
    def load_sam(self, model: str, device: str) -> None:
        """Create the SAM engine for ``model`` on ``device`` in the background pool, then :meth:`set_sam`
        (the latest request wins); SAM tools are off meanwhile, the window stays responsive."""
        self._sam_request += 1
        request = self._sam_request
        self.set_sam(SamChoice(None, self.tr("loading…"), "-", self.tr("the SAM model is loading…")))

        def done(result: JobResult) -> None:
            if request != self._sam_request:
                return  # a newer choice was made meanwhile
            choice = result.value if result.value is not None else SamChoice(
                None, "no model", "-", result.error or MODEL_HINT)
            self.set_sam(choice)

        self.session.pools.background.submit("load-model", -1, request,
                                             lambda _c: create_sam(model, device), done, priority=4)

    def set_sam(self, choice: SamChoice) -> None:
        """Use SAM ``choice`` (engine or None); SAM tools are disabled with a hint when there is none."""
        self.sam = choice
        self.session.set_sam_engine(choice.engine)
        self.status.set_model(choice.label, choice.device, available=choice.engine is not None)
        self.status.set_encoder_state(self.session.sam_state)
        for name in SAM_TOOLS:
            action = self.actions[f"tool:{name}"]
            action.setEnabled(choice.engine is not None)
            text = action.text()
            action.setToolTip(f"{text} ({action.shortcut().toString()})" if choice.engine is not None
                              else self.tr("{0}: unavailable. {1}").format(text, self._hint(choice.error)))
        if choice.engine is None and self.canvas.tool_name() in SAM_TOOLS:
            self.set_tool("pan")

    @staticmethod
    def _hint(error: str) -> str:
        """``error`` (why there is no model) followed by the translated hint on how to get one."""
        hint = QCoreApplication.translate("segtool", MODEL_HINT)
        extra = error.replace(MODEL_HINT, "").strip()
        return f"{extra}\n\n{hint}" if extra else hint

    def set_tool(self, name: str) -> None:
        """Switch the canvas tool (SAM tools only when a model is loaded)."""
        if name in SAM_TOOLS and self.session.sam_engine is None:
            self.status.showMessage(self._hint(self.sam.error), 8000)
            return
        self.canvas.set_tool(name)

    # ------------------------------------------------------------ project
    def open_project(self, path: str | Path) -> None:
        """Open a folder (creating its project) or a ``.segtool`` file, and go to the last image shown."""
        store = open_project_path(path)
        self.close_project()
        self.store = store
        self.session.set_store(store)
        self.settings.last_project = str(store.path)
        self.setWindowTitle(self.tr("segtool — {0}").format(store.path))
        self.classes_panel.set_store(store)
        records = store.images()
        self.images_panel.set_images(records)
        ids = [r.id for r in records]
        last = store.meta_get(CURRENT_IMAGE_KEY)
        if ids:
            self.show_image(last if last in ids else ids[0], wait=True)

    def close_project(self) -> None:
        """Close the open project (everything is already saved)."""
        if self.store is not None:
            self.session.pools.background.cancel_all()
            self.session.pools.loader.cancel_all()
            self._load_generation += 1
            self.pixels.clear()
            self.thumbnails.clear()
            self.images_panel.set_images([])  # no rows left for a pending thumbnail request to visit
            self._docs.clear()
            self.store.close()
            self.store = None

    def document(self, image_id: int) -> tuple[Any, Any]:
        """``(ImageDocument, History)`` of ``image_id``; a few are kept so undo survives switching back."""
        if image_id not in self._docs:
            from segtool.core.history import History

            doc = self.store.open_image(image_id)
            self._docs[image_id] = (doc, History(doc))
            while len(self._docs) > 8:
                self._docs.pop(next(iter(self._docs)))
        return self._docs[image_id]

    def show_image(self, image_id: int, *, wait: bool = False) -> None:
        """Go to image ``image_id``: its pixels are decoded in the loader pool (or taken from the cache of
        preloaded neighbours) and shown when ready; ``image_shown`` is emitted then. The list position, the
        status bar and the project's current image change at once. ``wait`` runs the event loop (the GUI
        stays live) until the image is up."""
        record = self.images_panel.record(image_id)
        if record is None or self.store is None:
            return
        self._load_generation += 1
        self._load_generation_failed = False
        self.images_panel.set_current(image_id)
        self.store.meta_set(CURRENT_IMAGE_KEY, image_id)
        self.status.set_position(self.images_panel.position(image_id) + 1, len(self.images_panel.records()),
                                 record.path)
        cached = self.pixels.get(image_id)
        if cached is not None:
            self._display(image_id, cached)
            return
        self._loading_message = self.tr("loading {0}…").format(record.path)
        self.status.showMessage(self._loading_message, 4000)
        path = self.store.root / record.path

        def load(control: JobControl) -> LoadedImage:
            quick = None if image_id in self.pixels else load_quick_preview(path)  # big JPEG: shown first
            if quick is not None and not control.cancelled:
                self._quick_previews[control.job_id] = quick
                control.progress(1, 2)
            return self.pixels.get_or_load(image_id, path)

        self._load_job = self.session.pools.loader.submit("load", image_id, self._load_generation, load,
                                                          self._on_loader_image_loaded, priority=2)
        if wait:
            self.run_until(lambda: self.canvas.image_id == image_id or self._load_generation_failed, 120000)

    def _on_loader_job_progress(self, job_id: int, _done: int, _total: int) -> None:
        quick = self._quick_previews.pop(job_id, None)
        job = self._load_job
        if quick is not None and job is not None and job.job_id == job_id and self.canvas.image_id != job.image_id:
            self.canvas.show_preview(job.image_id, quick.preview, quick.size)
            self.image_previewed.emit(job.image_id)

    def _on_loader_image_loaded(self, result: JobResult) -> None:
        self._quick_previews.pop(result.job_id, None)
        if result.generation != self._load_generation or self.store is None:
            self.stale_loads_dropped += 1  # the user moved on (or closed the project)
            return
        if result.error:
            self._load_generation_failed = True
            self.status.showMessage(result.error.split(": ", 1)[-1], 10000)
            return
        self._display(result.image_id, result.value)

    def _display(self, image_id: int, loaded: LoadedImage) -> None:
        self._load_generation_failed = False
        if self.status.currentMessage() == self._loading_message:
            self.status.clearMessage()  # the image is here: "loading …" would only mislead
        doc, history = self.document(image_id)
        self.canvas.show_image(image_id, loaded.rgb, doc, history, preview=(loaded.preview, loaded.preview_step))
        self.instances_panel.reload()
        self._apply_visibility()
        self._preload_neighbours(image_id)
        self.image_shown.emit(image_id)

    def _preload_neighbours(self, image_id: int) -> None:
        """Decode the next/previous images' pixels (loader pool) and encode them for SAM (background)."""
        sources = []
        for rec in self.images_panel.neighbours(image_id):
            path = self.store.root / rec.path

            def load(_control: Any = None, rid: int = rec.id, path: Path = path) -> np.ndarray:
                return self.pixels.get_or_load(rid, path).rgb

            if rec.id not in self.pixels:
                self.session.pools.loader.submit("preload", rec.id, self._load_generation, load, priority=0)
            sources.append((rec.id, load))
        self.session.prefetch(sources)

    def run_until(self, condition: Any, timeout_ms: int) -> None:
        """Run the event loop until ``condition()`` or the timeout (the window stays responsive)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline and not condition():
            loop = QEventLoop()
            QTimer.singleShot(10, loop.quit)
            loop.exec()

    def set_image_status(self, status: str) -> None:
        """Set the review status of the current image (durable at once)."""
        image_id = self.images_panel.current_id()
        if self.store is None or image_id is None:
            return
        doc, _ = self.document(image_id)
        doc.set_status(status)
        self.images_panel.set_status(image_id, status)

    # --------------------------------------------------------------- slots
    def _on_session_document_changed(self, _ids: list) -> None:
        self._apply_visibility()
        image_id = self.images_panel.current_id()
        record = self.images_panel.record(image_id) if image_id is not None else None
        if record is not None and record.status == "todo" and self.session.instances():
            self.set_image_status("in-progress")

    def _apply_visibility(self, *_args: object) -> None:
        hidden = self.instances_panel.hidden
        for iid, item in self.canvas.overlay_items().items():
            item.setVisible(iid not in hidden)

    def _on_classes_changed(self) -> None:
        self.canvas.refresh_overlays()
        self.instances_panel.reload()
        self._apply_visibility()

    def _on_canvas_tool_changed(self, name: str) -> None:
        action = self.actions.get(f"tool:{name}")
        if action is not None:
            action.setChecked(True)
        self.status.set_tool(name)

    def _on_undo_triggered(self) -> None:
        if not self.session.undo():
            self.status.showMessage(self.tr("nothing to undo"), 2000)

    def _on_redo_triggered(self) -> None:
        if not self.session.redo():
            self.status.showMessage(self.tr("nothing to redo"), 2000)

    def _on_open_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open an image folder"))
        if folder:
            self._guard(lambda: self.open_project(folder))

    def _guard(self, action: Any) -> None:
        try:
            action()
        except SegtoolError as exc:
            QMessageBox.warning(self, self.tr("segtool"), str(exc))

    # ------------------------------------------------------------- dialogs
    def show_export_dialog(self) -> None:
        from segtool.gui.dialogs.export import ExportDialog

        if self.store is not None:
            ExportDialog(self.store, self.session.pools.background, self).exec()

    def show_settings_dialog(self) -> None:
        from segtool.gui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.load_sam(self.settings.model, self.settings.device)

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
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline and (self.session.sam_state == "encoding"
                                               or self.session.pools.background.pending("encode")
                                               or self.session.pools.loader.pending("load")
                                               or self.session.pools.background.pending("load-model")):
            loop = QEventLoop()
            QTimer.singleShot(30, loop.quit)
            loop.exec()

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

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        """Quit without asking: every committed edit is already in the project."""
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.session.shutdown()
        self.close_project()
        super().closeEvent(event)
