"""``AnnotationCanvas``: the QGraphicsView that shows the image, the instance overlays and the tools.

Scene coordinates are image pixels (x right, y down). See the package docstring for the contract.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from segtool.core.masks import decode_rle
from segtool.gui.canvas import TOOL_NAMES
from segtool.gui.canvas.overlays import MaskOverlayItem, overlay_from_mask
from segtool.gui.canvas.session import EditorSession
from segtool.gui.canvas.tiles import TiledImageItem
from segtool.gui.canvas.tools import create_tool
from segtool.gui.canvas.tools.base import Tool

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]
CANDIDATE_COLOR = (255, 255, 255)


class AnnotationCanvas(QGraphicsView):
    """Image + per-instance overlays + the current tool; zoom to cursor, pan, fit, hover highlight."""

    instance_hovered = Signal(int)
    selection_changed = Signal(list)
    candidate_changed = Signal()
    candidate_painted = Signal(float)
    mask_committed = Signal(int)
    status_message = Signal(str)
    tool_changed = Signal(str)

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
        self._overlays: dict[int, MaskOverlayItem] = {}
        self._candidate: MaskOverlayItem | None = None
        self._hovered = -1
        self._space = False
        self._pan_from: QPoint | None = None
        self.image_id = -1
        #: image shown as a preview only (its full pixels are loading), -1 for none
        self.preview_id = -1
        self._tool: Tool = create_tool("pan", self)
        self.session.document_changed.connect(self._on_session_document_changed)
        self.session.selection_changed.connect(self._on_session_selection_changed)
        self.session.status_message.connect(self.status_message)

    # ------------------------------------------------------------ content
    def show_image(self, image_id: int, rgb: np.ndarray, document: object = None, history: object = None,
                   *, preview: tuple[np.ndarray, int] | None = None) -> None:
        """Show RGB uint8 ``(H, W, 3)`` image ``image_id`` (with its document) and fit it to the window.

        ``preview``: ``(rgb[::step, ::step] contiguous, step)`` made off the GUI thread, if available.
        """
        self._tool.deactivate()
        self.image_id = int(image_id)
        keep_view, self.preview_id = self.preview_id == self.image_id, -1
        self._image_item.set_image(rgb, preview)
        h, w = rgb.shape[:2]
        self.scene().setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))
        self.session.set_image(image_id, rgb, document, history)
        if not keep_view:  # the user may already have zoomed into the preview
            self.fit_to_window()

    def show_preview(self, image_id: int, preview: np.ndarray, size: tuple[int, int]) -> None:
        """Show uint8 ``(h, w, 3)`` ``preview`` of image ``image_id`` (full size ``(H, W)``) while its pixels
        load: the view fits it and pans/zooms, tools and overlays wait for :meth:`show_image`."""
        self._tool.deactivate()
        self.set_candidate(None)
        for item in self._overlays.values():
            self.scene().removeItem(item)
        self._overlays.clear()
        self.preview_id = int(image_id)
        self._image_item.set_preview_only(preview, size)
        h, w = size
        self.scene().setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))
        self.fit_to_window()

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
        return dict(self._overlays)

    def candidate_item(self) -> MaskOverlayItem | None:
        return self._candidate

    # --------------------------------------------------------------- tools
    def set_tool(self, name: str) -> None:
        """Make ``name`` (one of :data:`~segtool.gui.canvas.TOOL_NAMES`) the current tool."""
        if name not in TOOL_NAMES:
            raise ValueError(f"unknown tool {name!r}; choose one of: {', '.join(TOOL_NAMES)}")
        self._tool.deactivate()
        self._tool = create_tool(name, self)
        self.viewport().setCursor(self._tool.cursor)
        self._tool.activate()
        self.tool_changed.emit(name)

    def tool(self) -> Tool:
        return self._tool

    def tool_name(self) -> str:
        return self._tool.name

    def set_candidate(self, candidate: Any) -> None:
        """Show a :class:`~segtool.engines.base.Candidate` (its crop at its offset: no full-size array) or a
        bool ``(H, W)`` mask as the candidate (dashed, translucent), or remove it (``None``)."""
        if self._candidate is not None:
            self.scene().removeItem(self._candidate)
            self._candidate = None
        if candidate is not None:
            if hasattr(candidate, "crop"):
                box = candidate.bbox
                item = None if box is None else MaskOverlayItem(
                    np.ascontiguousarray(candidate.crop), box, CANDIDATE_COLOR, dashed=True, alpha=110)
            else:
                item = overlay_from_mask(candidate, CANDIDATE_COLOR, dashed=True, alpha=110)
            if item is not None:
                item.setZValue(5e5)
                item.on_painted = self.candidate_painted.emit
                self.scene().addItem(item)
                self._candidate = item
        self.candidate_changed.emit()

    # ------------------------------------------------------------ overlays
    def class_color(self, class_id: int | None) -> tuple[int, int, int]:
        """Colour of a label class (from the store when it has one), else a palette colour."""
        store = self.session.store
        if store is not None and class_id is not None:
            try:
                for cls in store.classes():
                    if cls.id == class_id:
                        return tuple(cls.color)
            except Exception:  # a store without classes yet
                pass
        return PALETTE[(class_id or 0) % len(PALETTE)]

    def refresh_overlays(self, ids: list[int] | None = None) -> None:
        """Rebuild the overlays of ``ids`` (all when ``None`` or empty) from the session's instances."""
        instances = {inst.id: inst for inst in self.session.instances()}
        targets = set(self._overlays) | set(instances) if not ids else set(ids)
        for iid in targets:
            old = self._overlays.pop(iid, None)
            if old is not None:
                self.scene().removeItem(old)
            inst = instances.get(iid)
            if inst is None or inst.area == 0 or inst.attributes.get("hidden"):
                continue
            x0, y0, x1, y1 = inst.bbox
            crop = np.ascontiguousarray(decode_rle(inst.rle)[y0:y1, x0:x1])
            item = MaskOverlayItem(crop, tuple(inst.bbox), self.class_color(inst.class_id),
                                   dashed=inst.state == "pending")
            item.setZValue(1 + inst.z)
            item.set_selected(iid in self.session.selected_ids)
            self.scene().addItem(item)
            self._overlays[iid] = item
        self._hovered = -1

    def instance_at(self, pos: QPointF) -> int:
        """Id of the topmost instance covering image point ``pos``, or -1."""
        x, y = int(pos.x()), int(pos.y())
        best, best_z = -1, -1e18
        for iid, item in self._overlays.items():
            if item.isVisible() and item.zValue() > best_z and item.contains_pixel(x, y):
                best, best_z = iid, item.zValue()
        return best

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
        for iid, item in self._overlays.items():
            item.set_selected(iid in ids)
        self.selection_changed.emit(list(ids))

    def _set_hovered(self, iid: int) -> None:
        if iid == self._hovered:
            return
        old = self._overlays.get(self._hovered)
        if old is not None:
            old.set_highlighted(False)
        new = self._overlays.get(iid)
        if new is not None:
            new.set_highlighted(True)
        self._hovered = iid
        self.instance_hovered.emit(iid)

    # ---------------------------------------------------------- navigation
    def fit_to_window(self) -> None:
        """Show the whole image, centred."""
        h, w = self.image_size()
        if h and w:
            self.resetTransform()
            self.fitInView(QRectF(0, 0, w, h), Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under viewport position ``anchor`` fixed."""
        factor = max(1e-3 / self.zoom(), min(factor, 64.0 / self.zoom()))
        at = (anchor or QPointF(self.viewport().rect().center())).toPoint()
        before = self.mapToScene(at)
        self.scale(factor, factor)
        after = self.mapToScene(at)
        center = self.mapToScene(self.viewport().rect().center())
        self.centerOn(center - (after - before))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position())
        event.accept()

    def _pan_by(self, delta: QPoint) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())

    # ------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (self._space and button == Qt.MouseButton.LeftButton) or (
                self._tool.name == "pan" and button == Qt.MouseButton.LeftButton and self._pan_start_ok(event)):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self.is_loading():  # only pan and zoom until the full pixels are there
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
        event.accept()

    def _pan_start_ok(self, event: QMouseEvent) -> bool:
        """In the pan tool a press on empty image pans; on an instance it selects."""
        return self.instance_at(self.mapToScene(event.position().toPoint())) < 0

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            now = event.position().toPoint()
            self._pan_by(now - self._pan_from)
            self._pan_from = now
            event.accept()
            return
        if self.is_loading():
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
        if self.is_loading():
            return
        pos = self.mapToScene(event.position().toPoint())
        if not self._tool.release(QPointF(pos), event.button(), event.modifiers()):
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
        elif not self.is_loading() and self._tool.key(key, mods):
            pass
        elif key == Qt.Key.Key_F:
            self.fit_to_window()
        elif key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight):
            self._change_brush(-1 if key == Qt.Key.Key_BracketLeft else 1)
        elif key == Qt.Key.Key_Z and mods & Qt.KeyboardModifier.ControlModifier:
            (self.session.redo if mods & Qt.KeyboardModifier.ShiftModifier else self.session.undo)()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: N802, A002 (Qt API) - Tab cycles candidates
        return False

    def _change_brush(self, direction: int) -> None:
        opts = self.session.options
        r = opts.brush_radius
        step = max(1, round(r * 0.25))
        opts.brush_radius = int(max(1, min(500, r + step if direction > 0 else r - step)))
        self.status_message.emit(self.tr("brush radius {0} px").format(opts.brush_radius))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt API)
        super().drawForeground(painter, rect)
