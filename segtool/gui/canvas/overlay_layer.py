"""The instances drawn over the image: one :class:`MaskOverlayItem` per instance, with its class name.

:class:`InstanceOverlays` keeps them under one parent item, so "hide all masks" is one visibility flip and
every hidden overlay is also out of reach of hover and selection. Class names and colours are read from
the store once and cached until :meth:`InstanceOverlays.invalidate_classes`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsScene

from segtool.core.masks import decode_rle
from segtool.gui.canvas.overlays import LabelTag, MaskOverlayItem, ViewOptions

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40)]
#: colour of instances without a class, and of a candidate before a class is chosen (a neutral grey)
NO_CLASS_COLOR = (200, 200, 200)


class InstanceOverlays:
    """Overlay items of the session's instances on ``scene``, kept in step by :meth:`refresh`."""

    def __init__(self, scene: QGraphicsScene, session: Any, view: ViewOptions) -> None:
        self.session, self.view = session, view
        self.layer = QGraphicsRectItem()
        self.layer.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self.layer.setZValue(1)
        scene.addItem(self.layer)
        self.items: dict[int, MaskOverlayItem] = {}
        self.hidden: set[int] = set()
        self._classes: dict[int, tuple[str, tuple[int, int, int]]] | None = None

    # ------------------------------------------------------------- classes
    def invalidate_classes(self) -> None:
        """Forget the cached class names and colours (a class was added, renamed or recoloured)."""
        self._classes = None

    def class_info(self, class_id: int | None) -> tuple[str, tuple[int, int, int]] | None:
        """``(name, colour)`` of ``class_id`` from the store, or ``None`` when it has no such class."""
        if self._classes is None:
            store = self.session.store
            try:
                self._classes = {c.id: (c.name, tuple(c.color)) for c in store.classes()} if store else {}
            except Exception:  # noqa: BLE001 - a store without classes yet draws palette colours
                self._classes = {}
        return None if class_id is None else self._classes.get(class_id)

    def class_color(self, class_id: int | None) -> tuple[int, int, int]:
        """Colour of a label class (from the store when it has one), else a palette colour."""
        if class_id is None:
            return NO_CLASS_COLOR
        info = self.class_info(class_id)
        return info[1] if info is not None else PALETTE[class_id % len(PALETTE)]

    # ------------------------------------------------------------- content
    def clear(self) -> None:
        for item in self.items.values():
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.items.clear()

    def refresh(self, ids: list[int] | None = None) -> None:
        """Rebuild the overlays of ``ids`` (all when ``None`` or empty) from the session's instances."""
        instances = {inst.id: inst for inst in self.session.instances()}
        targets = set(self.items) | set(instances) if not ids else set(ids)
        for iid in targets:
            old = self.items.pop(iid, None)
            if old is not None and old.scene() is not None:
                old.scene().removeItem(old)
            inst = instances.get(iid)
            if inst is None or inst.area == 0 or inst.attributes.get("hidden"):
                continue
            self.items[iid] = self._make(inst)
        self.set_hidden(self.hidden)

    def _make(self, inst: Any) -> MaskOverlayItem:
        x0, y0, x1, y1 = inst.bbox
        crop = np.ascontiguousarray(decode_rle(inst.rle)[y0:y1, x0:x1])
        pending = inst.state == "pending"
        item = MaskOverlayItem(crop, tuple(inst.bbox), self.class_color(inst.class_id),
                               style="proposal" if pending else "committed", view=self.view)
        item.setZValue(1 + inst.z)
        item.set_selected(inst.id in self.session.selected_ids)
        item.setParentItem(self.layer)
        info = self.class_info(inst.class_id)
        if pending:
            text = f"proposal {inst.score:.2f}" if inst.score is not None else "proposal"
        else:
            text = info[0] if info is not None else "(no class)"
        tag = LabelTag(text, item.color, parent=item)
        tag.setPos(QPointF(x0, y0))
        tag.setVisible(self.view.show_labels)
        return item

    def labels(self) -> list[LabelTag]:
        """The class-name tags (one per overlay)."""
        return [c for item in self.items.values() for c in item.childItems() if isinstance(c, LabelTag)]

    # ------------------------------------------------------------ showing
    def set_hidden(self, ids: set[int]) -> None:
        """Hide the overlays of instance ids ``ids`` (a view setting of the instances dock)."""
        self.hidden = set(ids)
        for iid, item in self.items.items():
            item.setVisible(iid not in self.hidden)

    def apply_view(self) -> None:
        """Follow :attr:`view` (masks shown, labels shown); opacity is read at paint time."""
        self.layer.setVisible(self.view.show_masks)
        for tag in self.labels():
            tag.setVisible(self.view.show_labels)
        for item in self.items.values():
            item.update()

    def instance_at(self, pos: QPointF) -> int:
        """Id of the topmost visible instance covering image point ``pos``, or -1."""
        x, y = int(pos.x()), int(pos.y())
        best, best_z = -1, -1e18
        for iid, item in self.items.items():
            if item.isVisible() and item.zValue() > best_z and item.contains_pixel(x, y):
                best, best_z = iid, item.zValue()
        return best
