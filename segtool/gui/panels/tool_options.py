"""The tool options dock: magic-wand tolerance, brush size, edge snapping, SAM multi-mask, zoom-in, refine edges.

Every field goes through ``session.set_option`` and follows ``session.options_changed``, so the dock and
the canvas keys (``[`` / ``]``) always show the same value. For a SAM model that gives a single mask per
prompt the multi-mask option is disabled and says so.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDockWidget, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget


class ToolOptionsPanel(QDockWidget):
    """Edits the canvas session's ``ToolOptions`` (tools read them at each interaction)."""

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Tool options"), parent)
        self.setObjectName("ToolOptionsPanel")
        self.session = session
        self.options = session.options
        body = QWidget(self)
        form = QFormLayout(body)
        self.tolerance = QDoubleSpinBox(body)
        self.tolerance.setRange(0.5, 100.0)
        self.tolerance.setToolTip(self.tr("Magic wand colour tolerance (Lab distance)"))
        self.brush = QSpinBox(body)
        self.brush.setRange(1, 500)
        self.brush.setSuffix(" px")
        self.brush.setToolTip(self.tr("Brush / eraser radius in image pixels ([ and ] change it)"))
        self.snap = QCheckBox(self.tr("snap polygon edges"), body)
        self.multimask = QCheckBox(self.tr("SAM multi-mask (Tab cycles)"), body)
        form.addRow(self.tr("Wand tolerance"), self.tolerance)
        form.addRow(self.tr("Brush radius"), self.brush)
        self.zoom_in = QCheckBox(self.tr("SAM zoom-in on clicked objects too"), body)
        self.zoom_in.setToolTip(self.tr("A small object started with a box always zooms in: a crop around it is "
                                        "encoded in the background and later clicks are decoded on it. With "
                                        "this on, objects started with a click zoom in too."))
        self.refine_edges = QCheckBox(self.tr("SAM refine edges (GrabCut)"), body)
        self.refine_edges.setToolTip(self.tr("Re-decide a narrow band along each SAM mask's border with GrabCut"))
        form.addRow(self.snap)
        form.addRow(self.multimask)
        form.addRow(self.zoom_in)
        form.addRow(self.refine_edges)
        self.setWidget(body)
        self.sync()
        self.tolerance.valueChanged.connect(lambda v: session.set_option("wand_tolerance", float(v)))
        self.brush.valueChanged.connect(lambda v: session.set_option("brush_radius", int(v)))
        self.snap.toggled.connect(lambda v: session.set_option("snap_edges", bool(v)))
        self.multimask.toggled.connect(lambda v: session.set_option("multimask", bool(v)))
        self.zoom_in.toggled.connect(lambda v: session.set_option("sam_zoom_in", bool(v)))
        self.refine_edges.toggled.connect(lambda v: session.set_option("sam_refine_edges", bool(v)))
        session.options_changed.connect(self._on_session_options_changed)
        session.sam_outputs_known.connect(self.set_sam_outputs)

    def sync(self) -> None:
        """Show the current option values."""
        for widget, value in ((self.tolerance, float(self.options.wand_tolerance)),
                              (self.brush, int(self.options.brush_radius)),
                              (self.snap, bool(self.options.snap_edges)),
                              (self.multimask, bool(self.options.multimask)),
                              (self.zoom_in, bool(self.options.sam_zoom_in)),
                              (self.refine_edges, bool(self.options.sam_refine_edges))):
            widget.blockSignals(True)
            if isinstance(widget, QCheckBox):
                widget.setChecked(value)
            else:
                widget.setValue(value)
            widget.blockSignals(False)

    def set_sam_outputs(self, outputs: int) -> None:
        """The SAM model gives ``outputs`` masks per prompt: 1 disables the multi-mask option."""
        single = int(outputs) <= 1
        self.multimask.setEnabled(not single)
        self.multimask.setToolTip(self.tr("this SAM model gives a single mask per prompt: nothing for Tab to "
                                          "cycle") if single else self.tr("first click: SAM's alternative masks, "
                                                                          "Tab cycles them"))

    def _on_session_options_changed(self, _name: str) -> None:
        self.sync()
