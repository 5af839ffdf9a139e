"""Refine tool: GrabCut in a band around the selected instance's mask; Enter replaces it (EditMask)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt

from segtool.gui.canvas.tools.grabcut import GrabCutTool


class RefineTool(GrabCutTool):
    """On activation (and on selection change) refines the selected mask; clicks/scribbles correct it."""

    name = "refine"
    cursor = Qt.CursorShape.CrossCursor

    def activate(self) -> None:
        self.session.selection_changed.connect(self._on_session_selection_changed)
        self._start_refine()

    def deactivate(self) -> None:
        try:
            self.session.selection_changed.disconnect(self._on_session_selection_changed)
        except (RuntimeError, TypeError):
            pass
        super().deactivate()

    def _on_session_selection_changed(self, ids: list) -> None:
        if ids and ids[0] != self.target_id:
            self.discard()
            self._start_refine()

    def _start_refine(self) -> None:
        ids = self.session.selected_ids
        inst = self.session.instance(ids[0]) if ids else None
        if inst is None:
            self.canvas.status_message.emit(QCoreApplication.translate("Tool", "refine: select an instance first"))
            return
        self.target_id = inst.id
        self.prompt.mask = inst.mask()
        self.request()

    def discard(self) -> None:
        super().discard()
        self.target_id = None
