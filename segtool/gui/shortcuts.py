"""Every key and mouse binding of the window, in one table: the single source of truth.

The main window makes its ``QAction`` objects (text, shortcuts, menu, status tip) from
:data:`SHORTCUTS`; the canvas looks its own keys up here (:func:`matches`); Help > Keyboard shortcuts
and README's table (:func:`markdown_table`, compared with README by a test) are generated from the
same rows. Texts are English source strings, translated in the ``MainWindow`` context.

``python -m segtool.gui.shortcuts`` prints the README table.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence


@dataclass(frozen=True)
class Shortcut:
    """One binding.

    Attributes
    ----------
    id : action key (``"undo"``, ``"tool:wand"``, ``"class:3"``...).
    text : short name (menu text).
    keys : ``QKeySequence`` strings in portable form (``"Ctrl+Z"``); empty for menu-only actions.
    how : what it does, one line (status tip, dialog, README).
    menu : the menu it appears in; ``""`` for window-wide keys without a menu item.
    scope : ``"window"`` (a QAction of the main window), or ``"mouse"`` (a gesture, listed only).
    """

    id: str
    text: str
    keys: tuple[str, ...] = ()
    how: str = ""
    menu: str = ""
    scope: str = "window"


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", QT_TRANSLATE_NOOP("MainWindow", "Open folder or project…"), ("Ctrl+O",),
             QT_TRANSLATE_NOOP("MainWindow", "open an image folder or a .segtool project"), "File"),
    Shortcut("export", QT_TRANSLATE_NOOP("MainWindow", "Export…"), ("Ctrl+E",),
             QT_TRANSLATE_NOOP("MainWindow", "export to COCO, Pascal VOC or YOLO"), "File"),
    Shortcut("settings", QT_TRANSLATE_NOOP("MainWindow", "Settings…"), ("Ctrl+,",),
             QT_TRANSLATE_NOOP("MainWindow", "SAM model and device"), "File"),
    Shortcut("quit", QT_TRANSLATE_NOOP("MainWindow", "Quit"), ("Ctrl+Q",),
             QT_TRANSLATE_NOOP("MainWindow", "quit (every edit is already saved)"), "File"),
    Shortcut("undo", QT_TRANSLATE_NOOP("MainWindow", "Undo"), ("Ctrl+Z",),
             QT_TRANSLATE_NOOP("MainWindow", "with a candidate pending: remove its last click, box or scribble; "
                                             "else undo the last edit (one brush stroke = one step)"), "Edit"),
    Shortcut("redo", QT_TRANSLATE_NOOP("MainWindow", "Redo"), ("Ctrl+Shift+Z", "Ctrl+Y"),
             QT_TRANSLATE_NOOP("MainWindow", "redo the last undone edit"), "Edit"),
    Shortcut("back", QT_TRANSLATE_NOOP("MainWindow", "Remove last click"), ("Backspace",),
             QT_TRANSLATE_NOOP("MainWindow", "remove the last click, box or scribble of the candidate "
                                             "(with none pending: delete the selected instances)"), "Edit"),
    Shortcut("delete", QT_TRANSLATE_NOOP("MainWindow", "Delete selected"), ("Del",),
             QT_TRANSLATE_NOOP("MainWindow", "delete the selected instances"), "Edit"),
    Shortcut("merge", QT_TRANSLATE_NOOP("MainWindow", "Merge selected"), ("Ctrl+M",),
             QT_TRANSLATE_NOOP("MainWindow", "merge the selected instances into one"), "Edit"),
    Shortcut("relabel", QT_TRANSLATE_NOOP("MainWindow", "Relabel selected…"), ("Ctrl+L",),
             QT_TRANSLATE_NOOP("MainWindow", "pick a class for the selected instances (or double-click their "
                                             "class in the instance list)"), "Edit"),
    Shortcut("accept", QT_TRANSLATE_NOOP("MainWindow", "Accept candidate"), ("Return", "Enter"),
             QT_TRANSLATE_NOOP("MainWindow", "accept the candidate as a new instance (the first time on an "
                                             "image, a class picker opens at the cursor)"), "Candidate"),
    Shortcut("replace", QT_TRANSLATE_NOOP("MainWindow", "Replace selected mask"), ("Alt+Return",),
             QT_TRANSLATE_NOOP("MainWindow", "replace the mask of the one selected instance with the candidate"),
             "Candidate"),
    Shortcut("discard", QT_TRANSLATE_NOOP("MainWindow", "Discard candidate"), ("Esc",),
             QT_TRANSLATE_NOOP("MainWindow", "discard the candidate"), "Candidate"),
    Shortcut("next_candidate", QT_TRANSLATE_NOOP("MainWindow", "Next candidate"), ("Tab",),
             QT_TRANSLATE_NOOP("MainWindow", "next SAM candidate (multi-mask models), wherever the focus is; "
                                             'the status bar says which one is shown ("mask 2 of 3")'),
             "Candidate"),
    Shortcut("fit", QT_TRANSLATE_NOOP("MainWindow", "Fit to window"), ("F", "Ctrl+0"),
             QT_TRANSLATE_NOOP("MainWindow", "show the whole image; it stays fitted while the window resizes, "
                                             "until you zoom"), "View"),
    Shortcut("hide_masks", QT_TRANSLATE_NOOP("MainWindow", "Hide all masks"), ("H",),
             QT_TRANSLATE_NOOP("MainWindow", "hide or show every mask, to see the image beneath"), "View"),
    Shortcut("class_names", QT_TRANSLATE_NOOP("MainWindow", "Show class names"), ("C",),
             QT_TRANSLATE_NOOP("MainWindow", "show or hide the class name at each instance"), "View"),
    Shortcut("next", QT_TRANSLATE_NOOP("MainWindow", "Next image"), ("D", "PgDown"),
             QT_TRANSLATE_NOOP("MainWindow", "next image (a pending candidate stays with its image)"), "Image"),
    Shortcut("previous", QT_TRANSLATE_NOOP("MainWindow", "Previous image"), ("A", "PgUp"),
             QT_TRANSLATE_NOOP("MainWindow", "previous image"), "Image"),
    Shortcut("done", QT_TRANSLATE_NOOP("MainWindow", "Mark done"), ("Ctrl+Return",),
             QT_TRANSLATE_NOOP("MainWindow", "mark the image done"), "Image"),
    Shortcut("tool:sam-click", QT_TRANSLATE_NOOP("MainWindow", "SAM click"), ("S",),
             QT_TRANSLATE_NOOP("MainWindow", "left click = object, right click or Shift+click = background; "
                                             "the mask updates at once"), "Tools"),
    Shortcut("tool:sam-box", QT_TRANSLATE_NOOP("MainWindow", "SAM box"), ("X",),
             QT_TRANSLATE_NOOP("MainWindow", "drag a box; add clicks to correct"), "Tools"),
    Shortcut("tool:wand", QT_TRANSLATE_NOOP("MainWindow", "Magic wand"), ("W",),
             QT_TRANSLATE_NOOP("MainWindow", "click a region of similar colour (tolerance in Tool options); "
                                             "more clicks add (left) or cut out (right)"), "Tools"),
    Shortcut("tool:grabcut", QT_TRANSLATE_NOOP("MainWindow", "GrabCut"), ("G",),
             QT_TRANSLATE_NOOP("MainWindow", "drag a box or click on the object, then click or drag scribbles "
                                             "(left = object, right = background) to correct"), "Tools"),
    Shortcut("tool:refine", QT_TRANSLATE_NOOP("MainWindow", "Refine selected"), ("R",),
             QT_TRANSLATE_NOOP("MainWindow", "GrabCut in a band around the selected mask's border "
                                             "(e.g. to fix a SAM edge)"), "Tools"),
    Shortcut("tool:watershed", QT_TRANSLATE_NOOP("MainWindow", "Watershed"), ("T",),
             QT_TRANSLATE_NOOP("MainWindow", "drag scribbles: object (left) and background (right or Shift)"),
             "Tools"),
    Shortcut("tool:superpixel", QT_TRANSLATE_NOOP("MainWindow", "Superpixels"), ("U",),
             QT_TRANSLATE_NOOP("MainWindow", "click or drag to add regions, right button to remove them"), "Tools"),
    Shortcut("tool:brush", QT_TRANSLATE_NOOP("MainWindow", "Brush"), ("B",),
             QT_TRANSLATE_NOOP("MainWindow", "paint on the selected mask (a new mask if none is selected); "
                                             "the circle shows the brush"), "Tools"),
    Shortcut("tool:eraser", QT_TRANSLATE_NOOP("MainWindow", "Eraser"), ("E",),
             QT_TRANSLATE_NOOP("MainWindow", "erase from the selected mask"), "Tools"),
    Shortcut("tool:polygon", QT_TRANSLATE_NOOP("MainWindow", "Polygon"), ("O",),
             QT_TRANSLATE_NOOP("MainWindow", "click vertices, Enter closes; \"snap polygon edges\" follows "
                                             "image edges between vertices"), "Tools"),
    Shortcut("tool:pan", QT_TRANSLATE_NOOP("MainWindow", "Pan / select"), ("V",),
             QT_TRANSLATE_NOOP("MainWindow", "click selects, hover highlights, drag pans"), "Tools"),
    Shortcut("brush_smaller", QT_TRANSLATE_NOOP("MainWindow", "Smaller brush"), ("[",),
             QT_TRANSLATE_NOOP("MainWindow", "brush and eraser radius down (Tool options shows it)"), "Tools"),
    Shortcut("brush_bigger", QT_TRANSLATE_NOOP("MainWindow", "Bigger brush"), ("]",),
             QT_TRANSLATE_NOOP("MainWindow", "brush and eraser radius up"), "Tools"),
    Shortcut("pick_class", QT_TRANSLATE_NOOP("MainWindow", "Pick class…"), ("L",),
             QT_TRANSLATE_NOOP("MainWindow", "pick the class for the next masks: type to filter, Up/Down, "
                                             "Enter picks, a new name creates a class"), "Classes"),
    Shortcut("classes", QT_TRANSLATE_NOOP("MainWindow", "Class 1 - 9"), tuple(str(k) for k in range(1, 10)),
             QT_TRANSLATE_NOOP("MainWindow", "class for the next masks"), "Classes"),
    Shortcut("propose", QT_TRANSLATE_NOOP("MainWindow", "Propose masks on this image"), ("Ctrl+P",),
             QT_TRANSLATE_NOOP("MainWindow", "automatic proposals, with a progress bar and Cancel"), "Proposals"),
    Shortcut("accept_proposal", QT_TRANSLATE_NOOP("MainWindow", "Accept proposal under cursor"), ("Y",),
             QT_TRANSLATE_NOOP("MainWindow", "accept the proposal under the cursor"), "Proposals"),
    Shortcut("reject_proposal", QT_TRANSLATE_NOOP("MainWindow", "Reject proposal under cursor"), ("N",),
             QT_TRANSLATE_NOOP("MainWindow", "reject the proposal under the cursor"), "Proposals"),
    Shortcut("accept_above", QT_TRANSLATE_NOOP("MainWindow", "Accept all proposals above the score threshold"),
             ("Shift+Y",), QT_TRANSLATE_NOOP("MainWindow", "accept every proposal scoring above the threshold"),
             "Proposals"),
    Shortcut("reject_rest", QT_TRANSLATE_NOOP("MainWindow", "Reject all remaining proposals"), ("Shift+N",),
             QT_TRANSLATE_NOOP("MainWindow", "reject the proposals still pending"), "Proposals"),
    Shortcut("shortcuts", QT_TRANSLATE_NOOP("MainWindow", "Keyboard shortcuts"), ("F1",),
             QT_TRANSLATE_NOOP("MainWindow", "this list"), "Help"),
    Shortcut("get_model", QT_TRANSLATE_NOOP("MainWindow", "Get a model…"), (),
             QT_TRANSLATE_NOOP("MainWindow", "download or add a SAM model"), "Help"),
    Shortcut("about", QT_TRANSLATE_NOOP("MainWindow", "About segtool"), (), "", "Help"),
    Shortcut("mouse:zoom", QT_TRANSLATE_NOOP("MainWindow", "Zoom"), ("wheel",),
             QT_TRANSLATE_NOOP("MainWindow", "zoom to the cursor (the zoom is shown in the status bar)"),
             scope="mouse"),
    Shortcut("mouse:pan", QT_TRANSLATE_NOOP("MainWindow", "Pan"), ("middle drag", "Space+drag"),
             QT_TRANSLATE_NOOP("MainWindow", "move the view, with any tool"), scope="mouse"),
    Shortcut("mouse:select", QT_TRANSLATE_NOOP("MainWindow", "Add to selection"), ("Ctrl+click",),
             QT_TRANSLATE_NOOP("MainWindow", "add an instance to the selection, with any tool"), scope="mouse"),
)

BY_ID = {s.id: s for s in SHORTCUTS}
#: Menus in menu-bar order, and their titles.
MENUS = ("File", "Edit", "Candidate", "View", "Image", "Tools", "Classes", "Proposals", "Help")
MENU_TITLES = {
    "File": QT_TRANSLATE_NOOP("MainWindow", "&File"), "Edit": QT_TRANSLATE_NOOP("MainWindow", "&Edit"),
    "Candidate": QT_TRANSLATE_NOOP("MainWindow", "Ca&ndidate"), "View": QT_TRANSLATE_NOOP("MainWindow", "&View"),
    "Image": QT_TRANSLATE_NOOP("MainWindow", "&Image"), "Tools": QT_TRANSLATE_NOOP("MainWindow", "&Tools"),
    "Classes": QT_TRANSLATE_NOOP("MainWindow", "&Classes"),
    "Proposals": QT_TRANSLATE_NOOP("MainWindow", "&Proposals"), "Help": QT_TRANSLATE_NOOP("MainWindow", "&Help"),
}


def sequences(shortcut_id: str) -> list[QKeySequence]:
    """The ``QKeySequence`` list of ``shortcut_id``."""
    return [QKeySequence(k) for k in BY_ID[shortcut_id].keys]


def matches(event: QKeyEvent, shortcut_id: str) -> bool:
    """True when key ``event`` is one of the keys of ``shortcut_id`` (for keys the canvas handles itself)."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    pressed = QKeySequence(event.keyCombination().key() | mods)
    return any(pressed.matches(seq) == QKeySequence.SequenceMatch.ExactMatch for seq in sequences(shortcut_id))


def tr(text: str) -> str:
    """``text`` translated in the context the table's strings were marked in."""
    return QCoreApplication.translate("MainWindow", text) if text else ""


def native_keys(shortcut: Shortcut) -> str:
    """The keys as the user reads them on this platform (``"Ctrl+Z"``, ``"⌘Z"`` on macOS)."""
    if shortcut.scope == "mouse":
        return ", ".join(shortcut.keys)
    if shortcut.id == "classes":
        return "1 - 9"
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in shortcut.keys)


def rows(translate: bool = True) -> list[tuple[str, str, str, str]]:
    """``(group, keys, action, how)`` for every binding with a key, menus in order, then the mouse."""
    out = []
    for group in (*MENUS, ""):
        for s in SHORTCUTS:
            if s.menu == group and s.keys:
                text, how = (tr(s.text), tr(s.how)) if translate else (s.text, s.how)
                out.append((group or "Mouse", native_keys(s) if translate else _portable(s), text.replace("…", ""),
                            how))
    return out


def _portable(shortcut: Shortcut) -> str:
    return "1 - 9" if shortcut.id == "classes" else ", ".join(shortcut.keys)


def markdown_table() -> str:
    """README's "Tools and shortcuts" table (English, portable key names)."""
    lines = ["| keys | action | how |", "|---|---|---|"]
    for _group, keys, text, how in rows(translate=False):
        lines.append(f"| {keys.replace('|', '/')} | {text} | {how} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
