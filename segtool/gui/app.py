"""Start-up of the window: QApplication, translations, the project to open, ``segtool demo``.

:func:`run_gui` is what ``segtool [FOLDER|PROJECT.segtool]`` and ``segtool demo [--screenshot FILE]`` call.
The model choice lives in :mod:`segtool.gui.sam_models` and project opening in
:mod:`segtool.gui.project_opening`; this module sits on top of the window and nothing imports it back.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from segtool.gui.project_opening import open_project_path
from segtool.gui.sam_models import create_sam, resolve_sam_model

__all__ = ["create_sam", "ensure_demo_project", "install_translator", "resolve_sam_model", "run_gui"]


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
    if screenshot is not None:
        window.resize(1500, 920)
    elif not window.restored:
        window.place_on_screen()
    window.show()
    if path is not None:  # a project another segtool writes: the window offers read-only (or raises)
        window.open_project(path, ask=screenshot is None)
    if screenshot is not None:
        ok = window.save_screenshot(Path(screenshot))
        window.close()
        return 0 if ok else 1
    # the model loads in the background; when there is none, offer one (first run only)
    window.run_until(lambda: not window.session.pools.background.pending("load-model"), 30000)
    window.offer_model_once()
    return int(app.exec())
