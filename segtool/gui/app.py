"""Start-up of the window: QApplication, the project to open, the SAM model, ``segtool demo``.

:func:`run_gui` is what ``segtool [FOLDER|PROJECT.segtool]`` and ``segtool demo [--screenshot FILE]`` call.
Helpers here are Qt-free where they can be (project opening, model resolution), so tests and the
benchmark reuse them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segtool.core.errors import SegtoolError

#: How to get a SAM model, shown wherever SAM is unavailable.
MODEL_HINT = ("No SAM model installed: use Help > Get a model…, or run `segtool models download mobile_sam`, or "
              "add a folder holding encoder.onnx + decoder.onnx with `segtool models add PATH`, then choose it "
              "in Settings.")
#: Store meta key holding the image id the window showed last.
CURRENT_IMAGE_KEY = "gui.current_image"


@dataclass
class SamChoice:
    """The SAM model the window uses: ``engine`` (or None), a ``label`` for the status bar, the
    ``device`` it runs on (``"cpu"``/``"cuda"``), and ``error``: why there is none, for the tooltip."""

    engine: Any
    label: str
    device: str
    error: str = ""


def open_project_path(path: str | os.PathLike) -> Any:
    """Open ``path`` for writing: a ``.segtool`` file, or an image folder (its project is created and
    the folder scanned when it has none). Returns the open ``ProjectStore``.

    Raises
    ------
    SegtoolError
        The path does not exist, or the project cannot be opened (locked, corrupt...).
    """
    from segtool.store.sqlite import ProjectStore, project_path

    p = Path(path).expanduser()
    if not p.exists():
        raise SegtoolError(f"{p} does not exist; give an image folder or a .segtool project file")
    if p.is_dir():  # create the project, or add the images that appeared since it was last opened
        from segtool.services.project_init import init_project

        init_project(p)
    return ProjectStore.open(project_path(p))


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
    for name, path in _installed_models():
        if not choice or choice == name:
            return _engine_for_path(path)
    return None


def _engine_for_path(path: Path) -> tuple[str, Path]:
    if path.is_dir() and (path / "encoder.onnx").exists():
        return "sam-onnx", path
    return "sam-torch", path


def _installed_models() -> list[tuple[str, Path]]:
    """``(name, path)`` of models installed through ``segtool models`` (empty if that layer is absent)."""
    try:
        from segtool.engines import models
    except ImportError:
        return []
    lister = getattr(models, "installed_models", None)
    if lister is None:
        return []
    out = []
    for item in lister():
        name = getattr(item, "name", None) or str(item)
        path = getattr(item, "path", None)
        if path is not None and Path(path).exists():
            out.append((name, Path(path)))
    return out


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


def ensure_demo_project() -> Path:
    """Generate the sample images (once) and their project; the first sample is pre-annotated.

    Returns the demo folder (open it with :func:`open_project_path`).
    """
    from segtool.demo import demo_folder, ensure_demo_images, render_sample, sample_index

    folder = demo_folder()
    ensure_demo_images(folder)
    store = open_project_path(folder)
    try:
        if store.meta_get("demo.seeded"):
            return folder
        from segtool.core.document import Instance

        images = store.images()
        first = next((r for r in images if sample_index(r.path) == 0), None)
        if first is not None and not store.instances(first.id):
            _, objects = render_sample(0)
            class_ids = {}
            for obj in objects:
                cls = store.class_by_name(obj.name) or store.add_class(obj.name)
                class_ids[obj.name] = cls.id
            new = [Instance.from_mask(o.mask, id=0, image_id=first.id, class_id=class_ids[o.name],
                                      source="polygon", z=k) for k, o in enumerate(objects)]
            with store.transaction():
                store.add_instances(first.id, new)
                store.set_image_status(first.id, "done")
        for name in ("ball", "box", "mug", "leaf", "star"):
            if store.class_by_name(name) is None:
                store.add_class(name)
        store.meta_set("demo.seeded", True)
    finally:
        store.close()
    return folder


#: Compiled translations: ``segtool_<locale>.qm`` (e.g. ``segtool_de.qm``, ``segtool_pt_BR.qm``).
#: To make one: ``pyside6-lupdate $(git ls-files 'segtool/gui/*.py') -ts segtool/resources/i18n/segtool_de.ts``,
#: translate the .ts in Qt Linguist (``pyside6-linguist``), then
#: ``pyside6-lrelease segtool/resources/i18n/segtool_de.ts -qm segtool/resources/i18n/segtool_de.qm``.
I18N_DIR = Path(__file__).resolve().parents[1] / "resources" / "i18n"


def install_translator(app: Any, locale: Any = None, folder: Path = I18N_DIR) -> Any:
    """Install a ``QTranslator`` for ``locale`` (default: the system's) when a ``.qm`` exists in ``folder``.

    Returns the installed translator (keep a reference), or ``None`` when there is no translation.
    """
    from PySide6.QtCore import QLocale, QTranslator

    translator = QTranslator(app)
    if folder.is_dir() and translator.load(locale or QLocale.system(), "segtool", "_", str(folder)):
        app.installTranslator(translator)
        return translator
    return None


def run_gui(path: str | None = None, *, demo: bool = False, screenshot: str | None = None) -> int:
    """Show the window (on ``path``, or the demo project) and run the event loop; returns the exit code.

    With ``screenshot``, the window is rendered to that PNG once the image and its overlays are up, and
    the function returns without waiting for the user (works offscreen).
    """
    from PySide6.QtWidgets import QApplication

    from segtool.gui.main_window import MainWindow
    from segtool.gui.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("segtool")
    app.setOrganizationName("segtool")
    app.segtool_translator = install_translator(app)  # every user-visible string goes through tr()
    if demo:
        path = str(ensure_demo_project())
    settings = AppSettings()
    window = MainWindow(settings)
    if not window.restored or screenshot is not None:
        window.resize(1500, 920)
    if path is not None:
        window.open_project(path)
    window.show()
    if screenshot is not None:
        ok = window.save_screenshot(Path(screenshot))
        window.close()
        return 0 if ok else 1
    # the model loads in the background; when there is none, offer one (first run only)
    window.run_until(lambda: not window.session.pools.background.pending("load-model"), 30000)
    window.offer_model_once()
    return int(app.exec())
