"""``AnnotationCanvas``: the QGraphicsView that shows the image, the instance overlays and the tools.

Scene coordinates are image pixels (x right, y down). See the package docstring for the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from segtool.engines.base import Candidate
from segtool.gui import shortcuts
from segtool.gui.canvas import TOOL_NAMES
from segtool.gui.canvas.navigation import ZoomPanMixin
from segtool.gui.canvas.overlay_layer import NO_CLASS_COLOR, PALETTE, InstanceOverlays
from segtool.gui.canvas.overlays import MaskOverlayItem, ViewOptions, overlay_from_crop
from segtool.gui.canvas.placeholder import PlaceholderItem
from segtool.gui.canvas.session import EditorSession
from segtool.gui.canvas.tiles import TiledImageItem
from segtool.gui.canvas.tools import create_tool
from segtool.gui.canvas.tools.base import Tool

__all__ = ["AnnotationCanvas", "PALETTE"]

#: ``picker(global_pos, done)``: ask the user for a class; ``done(True)`` once one is current, else ``done(False)``
ClassPickerHook = Callable[[QPoint, Callable[[bool], None]], None]


class AnnotationCanvas(ZoomPanMixin, QGraphicsView):
    """Image + per-instance overlays + the current tool; zoom to cursor, pan, fit, hover highlight."""

    instance_hovered = Signal(int)
    selection_changed = Signal(list)
    candidate_changed = Signal()
    candidate_painted = Signal(float)
    mask_committed = Signal(int)
    status_message = Signal(str)
    tool_changed = Signal(str)
    #: screen pixels per image pixel, after every zoom, fit or resize
    zoom_changed = Signal(float)
    #: the tool has (True) or no longer has (False) something pending: a prompt, a candidate, vertices
    pending_changed = Signal(bool)

    def __init__(self, session: EditorSession | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session or EditorSession(parent=self)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # pan with middle/space-drag
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._image_item = TiledImageItem()
        self.scene().addItem(self._image_item)
        self.view_options = ViewOptions()
        self.overlays = InstanceOverlays(self.scene(), self.session, self.view_options)
        self._candidate: MaskOverlayItem | None = None
        self._candidate_source: Candidate | None = None
        self._placeholder: PlaceholderItem | None = None
        self._hovered = -1
        self._space = False
        self._pan_from: QPoint | None = None
        self._last_mouse = QPoint(-1, -1)
        self._fit_mode = True
        self._pending = False
        self._suspended: dict[int, tuple[str, Any]] = {}
        self.editable = True
        #: set by the main window: asks for a class before a new instance is committed
        self.class_picker: ClassPickerHook | None = None
        self.image_id = -1
        #: image shown as a preview only (its full pixels are loading), -1 for none
        self.preview_id = -1
        self._tool: Tool = create_tool("pan", self)
        self.session.document_changed.connect(self._on_session_document_changed)
        self.session.selection_changed.connect(self._on_session_selection_changed)
        self.session.current_class_changed.connect(self._on_session_current_class_changed)
        self.session.status_message.connect(self.status_message)

    # ------------------------------------------------------------ content
    def show_image(self, image_id: int, rgb: np.ndarray, document: object = None, history: object = None,
                   *, preview: tuple[np.ndarray, int] | None = None) -> None:
        """Show RGB uint8 ``(H, W, 3)`` image ``image_id`` (with its document) and fit it to the window.

        ``preview``: ``(rgb[::step, ::step] contiguous, step)`` made off the GUI thread, if available.
        A candidate left pending on this image earlier comes back with its tool.
        """
        self._leave_image(int(image_id))
        self.image_id = int(image_id)
        keep_view, self.preview_id = self.preview_id == self.image_id, -1
        self._set_placeholder(None)
        self._image_item.set_image(rgb, preview)
        h, w = rgb.shape[:2]
        self.scene().setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))
        self.session.set_image(image_id, rgb, document, history)
        if not keep_view:  # the user may already have zoomed into the preview
            self.fit_to_window()
        self._resume(self.image_id)

    def show_preview(self, image_id: int, preview: np.ndarray, size: tuple[int, int]) -> None:
        """Show uint8 ``(h, w, 3)`` ``preview`` of image ``image_id`` (full size ``(H, W)``) while its pixels
        load: the view fits it and pans/zooms, tools and overlays wait for :meth:`show_image`."""
        self._leave_image(int(image_id))
        self.overlays.clear()
        self._set_placeholder(None)
        self.preview_id = int(image_id)
        self._image_item.set_preview_only(preview, size)
        h, w = size
        self.scene().setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))
        self.fit_to_window()

    def show_placeholder(self, image_id: int, text: str) -> None:
        """Image ``image_id`` cannot be shown: ``text`` (e.g. "cannot open NAME: reason") replaces it, and
        nothing can be edited until another image is shown."""
        self._leave_image(int(image_id))
        self.image_id, self.preview_id = int(image_id), -1
        self.overlays.clear()
        self._image_item.clear()
        self.session.clear_image(image_id)
        self._set_placeholder(text)
        self.resetTransform()
        rect = self._placeholder.boundingRect()
        self.scene().setSceneRect(rect.adjusted(-400, -300, 400, 300))
        self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def _set_placeholder(self, text: str | None) -> None:
        if self._placeholder is not None:
            self.scene().removeItem(self._placeholder)
            self._placeholder = None
        if text is not None:
            self._placeholder = PlaceholderItem(text)
            self.scene().addItem(self._placeholder)

    def placeholder_text(self) -> str | None:
        """The text shown instead of an unreadable image (on one line), or ``None``."""
        return None if self._placeholder is None else self._placeholder.one_line()

    def has_pixels(self) -> bool:
        """True when an image's full pixels are shown (not a preview, not a placeholder)."""
        return self.session.image is not None and not self.is_loading() and self._placeholder is None

    def is_loading(self) -> bool:
        """True while only a preview is shown (tools are inactive until the full pixels arrive)."""
        return self._image_item.is_preview_only()

    def set_document(self, document: object, history: object = None) -> None:
        """Use ``document`` (and its ``history``) for the image shown now; overlays follow its changes."""
        if self.session.image is not None:
            self._tool.deactivate()
            self.session.set_image(self.image_id, self.session.image, document, history)

    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the image shown (0, 0 when none)."""
        return self._image_item.image_size()

    def image_item(self) -> TiledImageItem:
        return self._image_item

    def overlay_items(self) -> dict[int, MaskOverlayItem]:
        """Instance id -> its overlay item (read-only use)."""
        return dict(self.overlays.items)

    def candidate_item(self) -> MaskOverlayItem | None:
        return self._candidate

    # ----------------------------------------------------- image switching
    def _leave_image(self, new_id: int) -> None:
        """Keep what the tool has pending on the image being left (it comes back with the image)."""
        if self.image_id >= 0 and self.image_id != new_id and self.image_id not in self._suspended:
            state = self._tool.suspend()
            if state is not None:
                self._suspended[self.image_id] = (self._tool.name, state)
                self.status_message.emit(self.tr("the pending candidate stays with the image you left; "
                                                 "go back to accept it"))
        self._tool.deactivate()
        self.set_candidate(None)
        self._update_pending()

    def _resume(self, image_id: int) -> None:
        kept = self._suspended.pop(image_id, None)
        if kept is None or not self.editable:
            return
        name, state = kept
        if name != self._tool.name:
            self.set_tool(name)
        self._tool.resume(state)
        self._update_pending()

    def suspended_images(self) -> list[int]:
        """Images that hold a pending candidate kept for later."""
        return list(self._suspended)

    # --------------------------------------------------------------- tools
    def set_tool(self, name: str) -> None:
        """Make ``name`` (one of :data:`~segtool.gui.canvas.TOOL_NAMES`) the current tool."""
        if name not in TOOL_NAMES:
            raise ValueError(f"unknown tool {name!r}; choose one of: {', '.join(TOOL_NAMES)}")
        if not self.editable and name != "pan":
            self.status_message.emit(self.tr("read-only: the project is open in another segtool"))
            return
        self._tool.deactivate()
        self._tool = create_tool(name, self)
        self.viewport().setCursor(self._tool.cursor)
        self._tool.activate()
        self._update_pending()
        self.tool_changed.emit(name)

    def set_editable(self, on: bool) -> None:
        """Read-only (``on`` false): only the pan tool, nothing can be committed."""
        self.editable = bool(on)
        if not on and self._tool.name != "pan":
            self.set_tool("pan")

    def tool(self) -> Tool:
        return self._tool

    def tool_name(self) -> str:
        return self._tool.name

    def has_pending(self) -> bool:
        """True when the tool holds a prompt, candidate or vertices not yet committed."""
        return self._tool.has_pending()

    def _update_pending(self) -> None:
        pending = self.has_pending()
        if pending != self._pending:
            self._pending = pending
            self.pending_changed.emit(pending)

    def tool_key(self, key: int, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> bool:
        """Give the tool ``key`` (the window's Enter / Alt+Enter / Esc actions); True if it used it."""
        used = self.has_pixels() and self._tool.key(key, modifiers)
        self._update_pending()
        return used

    def step_back(self) -> bool:
        """Remove the last click, box or scribble of what is pending and re-predict; False if nothing is."""
        done = self._tool.step_back()
        self._update_pending()
        return done

    def cycle_candidate(self) -> bool:
        """Show the next candidate (Tab); says why not in the status bar when there is no other one."""
        if self._tool.next_candidate():
            return True
        if self.has_pending():
            single = self.session.sam_outputs == 1 and self._tool.engine_name == "sam"
            self.status_message.emit(self.tr("this SAM model gives a single mask per prompt: nothing to cycle")
                                     if single else self.tr("only one candidate for this prompt"))
        return False

    def set_candidate(self, candidate: Candidate | None) -> None:
        """Show ``candidate`` (its crop at its offset) in the current class colour, candidate style, or
        remove it (``None``). Cost is proportional to the crop, not to the image."""
        if self._candidate is not None:
            self.scene().removeItem(self._candidate)
            self._candidate = None
        self._candidate_source = candidate
        if candidate is not None:
            item = overlay_from_crop(candidate.crop, candidate.offset, self.candidate_color(),
                                     style="candidate", view=self.view_options)
            if item is not None:
                item.setZValue(5e5)
                item.on_painted = self.candidate_painted.emit
                self.scene().addItem(item)
                self._candidate = item
        self.candidate_changed.emit()
        self._update_pending()

    def candidate_color(self) -> tuple[int, int, int]:
        """The current class's colour (a neutral grey before a class is chosen)."""
        cid = self.session.current_class_id
        return NO_CLASS_COLOR if cid is None else self.overlays.class_color(cid)

    def with_class(self, commit: Callable[[], Any], cancelled: Callable[[], None] | None = None) -> Any:
        """Run ``commit`` (which adds instances of the current class) once a class is chosen for this
        image: at once when the user already picked one here, else after the class picker at the cursor
        (Esc there calls ``cancelled``). Returns ``commit()``'s value when it ran at once, else ``None``."""
        if self.class_picker is None or self.session.class_ready():
            return commit()

        def done(chosen: bool) -> None:
            if chosen:
                commit()
            else:
                self.status_message.emit(self.tr("nothing added: no class chosen"))
                if cancelled is not None:
                    cancelled()
            self._update_pending()

        self.class_picker(self.cursor_global_pos(), done)
        return None

    def cursor_global_pos(self) -> QPoint:
        """Where the mouse last was over the canvas (global), else the canvas centre."""
        local = self._last_mouse if self.viewport().rect().contains(self._last_mouse) else \
            self.viewport().rect().center()
        return self.viewport().mapToGlobal(local)

    # ------------------------------------------------------------ overlays
    def class_color(self, class_id: int | None) -> tuple[int, int, int]:
        """Colour of a label class (from the store when it has one), else a palette colour."""
        return self.overlays.class_color(class_id)

    def refresh_overlays(self, ids: list[int] | None = None) -> None:
        """Rebuild the overlays of ``ids`` (all when ``None`` or empty) from the session's instances."""
        if not ids:
            self.overlays.invalidate_classes()
        self.overlays.refresh(ids)
        self._hovered = -1
        if not ids and self._candidate_source is not None:  # class colours may have changed
            self.set_candidate(self._candidate_source)

    def set_hidden(self, ids: set[int] | list[int]) -> None:
        """Hide the overlays of these instance ids (the instances dock's visibility)."""
        self.overlays.set_hidden(set(ids))

    def set_view(self, *, opacity: float | None = None, show_masks: bool | None = None,
                 show_labels: bool | None = None) -> None:
        """Global mask opacity (0..1), all masks shown or hidden, class names shown or hidden."""
        if opacity is not None:
            self.view_options.mask_opacity = float(min(1.0, max(0.0, opacity)))
        if show_masks is not None:
            self.view_options.show_masks = bool(show_masks)
        if show_labels is not None:
            self.view_options.show_labels = bool(show_labels)
        self.overlays.apply_view()
        if self._candidate is not None:
            self._candidate.update()
        self.viewport().update()

    def instance_at(self, pos: QPointF) -> int:
        """Id of the topmost instance covering image point ``pos``, or -1."""
        return self.overlays.instance_at(pos)

    def select_at(self, pos: QPointF, add: bool = False) -> None:
        """Select the instance under ``pos`` (toggle it into the selection with ``add``)."""
        iid = self.instance_at(pos)
        current = list(self.session.selected_ids)
        if add and iid >= 0:
            self.session.select([i for i in current if i != iid] if iid in current else current + [iid])
        else:
            self.session.select([] if iid < 0 else [iid])

    def _on_session_document_changed(self, ids: list) -> None:
        self.refresh_overlays(list(ids))

    def _on_session_selection_changed(self, ids: list) -> None:
        for iid, item in self.overlays.items.items():
            item.set_selected(iid in ids)
        self.selection_changed.emit(list(ids))

    def _on_session_current_class_changed(self, _class_id: object) -> None:
        if self._candidate_source is not None:
            self.set_candidate(self._candidate_source)  # the candidate takes the new class colour

    def _set_hovered(self, iid: int) -> None:
        if iid == self._hovered:
            return
        old = self.overlays.items.get(self._hovered)
        if old is not None:
            old.set_highlighted(False)
        new = self.overlays.items.get(iid)
        if new is not None:
            new.set_highlighted(True)
        self._hovered = iid
        self.instance_hovered.emit(iid)

    # ------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        button = event.button()
        self._last_mouse = event.position().toPoint()
        if button == Qt.MouseButton.MiddleButton or (self._space and button == Qt.MouseButton.LeftButton) or (
                self._tool.name == "pan" and button == Qt.MouseButton.LeftButton and self._pan_start_ok(event)):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if not self.has_pixels():  # a preview or a placeholder: only pan and zoom
            event.accept()
            return
        pos = self.mapToScene(event.position().toPoint())
        pos = QPointF(pos.x(), pos.y())
        if button == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ControlModifier \
                and self._tool.name != "pan":
            self.select_at(pos, add=True)
        elif not self._tool.press(pos, button, event.modifiers()):
            super().mousePressEvent(event)
            return
        self._update_pending()
        event.accept()

    def _pan_start_ok(self, event: QMouseEvent) -> bool:
        """In the pan tool a press on empty image pans; on an instance it selects."""
        return self.instance_at(self.mapToScene(event.position().toPoint())) < 0

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        self._last_mouse = event.position().toPoint()
        if self._pan_from is not None:
            now = event.position().toPoint()
            self._pan_by(now - self._pan_from)
            self._pan_from = now
            event.accept()
            return
        if not self.has_pixels():
            return
        pos = self.mapToScene(event.position().toPoint())
        self._set_hovered(self.instance_at(pos))
        if not self._tool.move(QPointF(pos), event.buttons(), event.modifiers()):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(self._tool.cursor)
            event.accept()
            return
        if not self.has_pixels():
            return
        pos = self.mapToScene(event.position().toPoint())
        if not self._tool.release(QPointF(pos), event.button(), event.modifiers()):
            super().mouseReleaseEvent(event)
        self._update_pending()

    def leaveEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self._tool.leave()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        """Keys that reach the canvas itself (in the window, its actions take the same keys first)."""
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
        elif self.has_pixels() and self._tool.key(key, event.modifiers()):
            self._update_pending()
        elif shortcuts.matches(event, "undo") or shortcuts.matches(event, "back"):
            if not self.step_back() and shortcuts.matches(event, "undo"):
                self.session.undo()
        elif shortcuts.matches(event, "redo"):
            self.session.redo()
        elif shortcuts.matches(event, "fit"):
            self.fit_to_window()
        elif shortcuts.matches(event, "brush_smaller") or shortcuts.matches(event, "brush_bigger"):
            self.change_brush(-1 if shortcuts.matches(event, "brush_smaller") else 1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 (Qt API) - Tab cycles candidates
        if self.has_pending():
            self.cycle_candidate()
            return True
        return super().focusNextPrevChild(next)

    def change_brush(self, direction: int) -> None:
        """``[`` / ``]``: the brush radius one step (25 %) down or up; the options dock follows."""
        r = self.session.options.brush_radius
        step = max(1, round(r * 0.25))
        self.session.set_option("brush_radius", int(max(1, min(500, r + step if direction > 0 else r - step))))
        self.status_message.emit(self.tr("brush radius {0} px").format(self.session.options.brush_radius))
