"""Which SAM model the window uses, and loading it off the GUI thread.

:func:`resolve_sam_model` turns the settings' choice (a name, a path, "" = first installed, "none") into
an engine name and a model path; :func:`create_sam` builds the engine (never raises); :class:`SamLoader`
runs :func:`create_sam` in the background pool, the latest request winning. The settings dialog, the
main window and the start-up code all read from here, so none of them imports another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from segtool.core.errors import SegtoolError

#: How to get a SAM model, shown wherever SAM is unavailable.
MODEL_HINT = ("No SAM model installed: use Help > Get a model…, or run `segtool models download mobile_sam`, or "
              "add a folder holding encoder.onnx + decoder.onnx with `segtool models add PATH`, then choose it "
              "in Settings.")


def model_hint(error: str) -> str:
    """``error`` (why there is no model) followed by the translated hint on how to get one."""
    from PySide6.QtCore import QCoreApplication

    hint = QCoreApplication.translate("segtool", MODEL_HINT)
    extra = error.replace(MODEL_HINT, "").strip()
    return f"{extra}\n\n{hint}" if extra else hint


@dataclass
class SamChoice:
    """The SAM model the window uses: ``engine`` (or None), a ``label`` for the status bar, the
    ``device`` it runs on (``"cpu"``/``"cuda"``), and ``error``: why there is none, for the tooltip."""

    engine: Any
    label: str
    device: str
    error: str = ""


def installed_models() -> list[tuple[str, Path]]:
    """``(name, path)`` of the models installed through ``segtool models`` whose files exist."""
    from segtool.engines import models

    return [(m.name, Path(m.path)) for m in models.installed_models() if Path(m.path).exists()]


def resolve_sam_model(choice: str = "") -> tuple[str, Path] | None:
    """``(engine name, model path)`` for the settings' model ``choice`` ("" = first installed, "none").

    ``choice`` may be a path (a folder with ``encoder.onnx`` -> ``sam-onnx``, a ``.pt``/``.pth``
    checkpoint -> ``sam-torch``) or the name of a model installed with ``segtool models``. Without an
    installed model, ``SEGTOOL_SAM_MODEL`` (a path) is tried. Returns None when there is nothing.
    """
    if choice == "none":
        return None
    for candidate in (choice, os.environ.get("SEGTOOL_SAM_MODEL", "")):
        if candidate and Path(candidate).exists():
            return _engine_for_path(Path(candidate))
    for name, path in installed_models():
        if not choice or choice == name:
            return _engine_for_path(path)
    return None


def _engine_for_path(path: Path) -> tuple[str, Path]:
    if path.is_dir() and (path / "encoder.onnx").exists():
        return "sam-onnx", path
    return "sam-torch", path


def create_sam(choice: str = "", device: str = "auto") -> SamChoice:
    """Load the SAM engine for ``choice`` on ``device`` (``auto``/``cpu``/``cuda``); never raises."""
    found = resolve_sam_model(choice)
    if found is None:
        return SamChoice(None, "no model", "-", MODEL_HINT)
    name, path = found
    try:
        from segtool.engines.registry import create_engine

        engine = create_engine(name, model=path, device=None if device == "auto" else device)
    except SegtoolError as exc:
        return SamChoice(None, f"{path.name} (failed)", "-", f"{exc}\n\n{MODEL_HINT}")
    providers = getattr(engine, "providers", None)
    if providers is not None:
        dev = "cuda" if any("CUDA" in p for p in providers) else "cpu"
    else:
        dev = str(getattr(engine, "device", "cpu")).split(":")[0]
    return SamChoice(engine, f"{name}: {path.name}", dev)


class SamLoader(QObject):
    """Creates SAM engines in ``pool`` (a :class:`~segtool.gui.workers.BackgroundPool`).

    Signals
    -------
    loaded(object) : the :class:`SamChoice` of the latest :meth:`load` (older requests are dropped).
    """

    loaded = Signal(object)

    def __init__(self, pool: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self._request = 0

    def load(self, model: str, device: str) -> None:
        """Create the engine for ``model`` on ``device`` in the background; :attr:`loaded` follows."""
        self._request += 1
        request = self._request

        def done(result: Any) -> None:
            if request != self._request:
                return  # a newer choice was made meanwhile
            choice = result.value if result.value is not None else SamChoice(
                None, "no model", "-", result.error or MODEL_HINT)
            self.loaded.emit(choice)

        self.pool.submit("load-model", -1, request, lambda _c: create_sam(model, device), done, priority=4)

    def busy(self) -> bool:
        """True while an engine is being created."""
        return bool(self.pool.pending("load-model"))
