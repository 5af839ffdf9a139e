"""User-visible strings go through Qt's translation functions: lupdate extracts them from segtool/gui, and a
compiled .qm for a locale, installed by ``install_translator``, changes the real window's menus and docks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication
from test_main_window import make_window

from segtool.gui.app import install_translator

ROOT = Path(__file__).resolve().parents[2]

TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de">
<context><name>MainWindow</name>
<message><source>&amp;Help</source><translation>&amp;Hilfe</translation></message>
<message><source>Magic wand</source><translation>Zauberstab</translation></message>
</context>
<context><name>ImageListPanel</name>
<message><source>Images</source><translation>Bilder</translation></message>
</context>
</TS>
"""


def test_lupdate_finds_the_window_strings(tmp_path):
    ts = tmp_path / "segtool_xx.ts"
    sources = sorted(str(p) for p in (ROOT / "segtool" / "gui").rglob("*.py"))
    subprocess.run(["pyside6-lupdate", *sources, "-ts", str(ts)], check=True, capture_output=True, timeout=120)
    text = ts.read_text()
    for source in ("Get a model…", "Magic wand", "Filter names…", "Cancel download", "SAM: encoding…",
                   "Export failed: {0}"):
        assert f"<source>{source}</source>" in text, source


def test_an_installed_translation_changes_the_window(qtbot, tmp_path):
    (tmp_path / "segtool_de.ts").write_text(TS)
    subprocess.run(["pyside6-lrelease", str(tmp_path / "segtool_de.ts"), "-qm", str(tmp_path / "segtool_de.qm")],
                   check=True, capture_output=True, timeout=120)
    app = QApplication.instance()
    assert install_translator(app, QLocale("fr"), tmp_path) is None  # no French .qm: nothing installed
    translator = install_translator(app, QLocale("de"), tmp_path)
    assert translator is not None
    try:
        window = make_window(qtbot, tmp_path)
        menus = [a.text() for a in window.menuBar().actions()]
        assert "&Hilfe" in menus and "&Help" not in menus
        assert window.actions["tool:wand"].text() == "Zauberstab"
        assert window.images_panel.windowTitle() == "Bilder"
    finally:
        app.removeTranslator(translator)
