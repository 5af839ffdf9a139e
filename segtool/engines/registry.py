"""Engine names -> classes, imported lazily so that no backend loads before it is used."""

from __future__ import annotations

import importlib
from typing import Any

from segtool.core.errors import SegtoolError

#: CLI/GUI name -> "module:Class". SAM engines take ``model=PATH`` (and ``device=...``).
ENGINES: dict[str, str] = {
    "sam-onnx": "segtool.engines.sam_onnx:SamOnnxEngine",
    "sam-torch": "segtool.engines.sam_torch:SamTorchEngine",
    "grabcut": "segtool.engines.graphcut:GrabCutEngine",
    "wand": "segtool.engines.region_grow:MagicWandEngine",
    "region-grow": "segtool.engines.region_grow:SeededRegionGrowEngine",
    "watershed": "segtool.engines.watershed:WatershedEngine",
    "superpixel": "segtool.engines.watershed:SuperpixelEngine",
}

SAM_ENGINES = ("sam-onnx", "sam-torch")


def engine_class(name: str) -> type:
    """The class registered under ``name``; :class:`SegtoolError` for an unknown name."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise SegtoolError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_engine(name: str, **options: Any) -> Any:
    """Instantiate the engine ``name`` with keyword ``options`` (e.g. ``model=``, ``device=``)."""
    return engine_class(name)(**options)
