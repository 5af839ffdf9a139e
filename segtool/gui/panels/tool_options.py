"""The tool options dock: magic-wand tolerance, brush size, edge snapping, SAM multi-mask, zoom-in, refine edges."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDockWidget, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget


class ToolOptionsPanel(QDockWidget):
    """Edits the canvas session's ``ToolOptions`` in place (tools read them at each interaction)."""

    def __init__(self, options: Any, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Tool options"), parent)
        self.setObjectName("ToolOptionsPanel")
        self.options = options
        body = QWidget(self)
        form = QFormLayout(body)
        self.tolerance = QDoubleSpinBox(body)
        self.tolerance.setRange(0.5, 100.0)
        self.tolerance.setValue(float(options.wand_tolerance))
        self.tolerance.setToolTip(self.tr("Magic wand colour tolerance (Lab distance)"))
        self.brush = QSpinBox(body)
        self.brush.setRange(1, 500)
        self.brush.setValue(int(options.brush_radius))
        self.brush.setToolTip(self.tr("Brush / eraser radius in image pixels ([ and ] change it)"))
        self.snap = QCheckBox(self.tr("snap polygon edges"), body)
        self.snap.setChecked(bool(options.snap_edges))
        self.multimask = QCheckBox(self.tr("SAM multi-mask (Tab cycles)"), body)
        self.multimask.setChecked(bool(options.multimask))
        form.addRow(self.tr("Wand tolerance"), self.tolerance)
        form.addRow(self.tr("Brush radius"), self.brush)
        self.zoom_in = QCheckBox(self.tr("SAM zoom-in on small objects"), body)
        self.zoom_in.setChecked(bool(options.sam_zoom_in))
        self.zoom_in.setToolTip(self.tr("After the first click, encode a crop around a small object in the "
                                        "background and decode later clicks on it"))
        self.refine_edges = QCheckBox(self.tr("SAM refine edges (GrabCut)"), body)
        self.refine_edges.setChecked(bool(options.sam_refine_edges))
        self.refine_edges.setToolTip(self.tr("Re-decide a narrow band along each SAM mask's border with GrabCut"))
        form.addRow(self.snap)
        form.addRow(self.multimask)
        form.addRow(self.zoom_in)
        form.addRow(self.refine_edges)
        self.setWidget(body)
        self.tolerance.valueChanged.connect(lambda v: setattr(self.options, "wand_tolerance", float(v)))
        self.brush.valueChanged.connect(lambda v: setattr(self.options, "brush_radius", int(v)))
        self.snap.toggled.connect(lambda v: setattr(self.options, "snap_edges", bool(v)))
        self.multimask.toggled.connect(lambda v: setattr(self.options, "multimask", bool(v)))
        self.zoom_in.toggled.connect(lambda v: setattr(self.options, "sam_zoom_in", bool(v)))
        self.refine_edges.toggled.connect(lambda v: setattr(self.options, "sam_refine_edges", bool(v)))

    def sync(self) -> None:
        """Show the current option values (after ``[``/``]`` changed the brush in the canvas)."""
        self.brush.blockSignals(True)
        self.brush.setValue(int(self.options.brush_radius))
        self.brush.blockSignals(False)
