"""Canvas tools, one module each; :func:`create_tool` maps a tool name to its class."""

from __future__ import annotations

import importlib
from typing import Any

#: tool name -> "module:Class" (modules under segtool.gui.canvas.tools)
TOOLS: dict[str, str] = {
    "sam-click": "sam_click:SamClickTool",
    "sam-box": "sam_box:SamBoxTool",
    "wand": "wand:WandTool",
    "grabcut": "grabcut:GrabCutTool",
    "refine": "refine:RefineTool",
    "watershed": "watershed:WatershedTool",
    "superpixel": "superpixel:SuperpixelTool",
    "brush": "brush:BrushTool",
    "eraser": "brush:EraserTool",
    "polygon": "polygon:PolygonTool",
    "pan": "base:PanTool",
}


def create_tool(name: str, canvas: Any) -> Any:
    """Instantiate the tool ``name`` for ``canvas``; ``KeyError`` names the valid tools."""
    if name not in TOOLS:
        raise KeyError(f"unknown tool {name!r}; choose one of: {', '.join(TOOLS)}")
    module_name, class_name = TOOLS[name].split(":")
    module = importlib.import_module(f"segtool.gui.canvas.tools.{module_name}")
    return getattr(module, class_name)(canvas)
