"""The main window's menus, toolbar and actions, made from :data:`segtool.gui.shortcuts.SHORTCUTS`.

:func:`build_actions` maps every table row to the window method or widget slot it triggers; the key,
text and status tip come from the table, so the menus, the shortcuts dialog and README cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QToolBar

from segtool.gui import shortcuts
from segtool.gui.proposal_review import REVIEW_SLOTS


def _slots(window: Any) -> dict[str, Callable[..., Any]]:
    """Table id -> what the action does (tool actions are added by :func:`build_actions`)."""
    ip, cv, chooser = window.instances_panel, window.canvas, window.chooser
    at = cv.cursor_global_pos
    slots = {
        "open": window.open_folder_dialog, "export": window.show_export_dialog, "quit": window.close,
        "settings": window.show_settings_dialog, "undo": window.undo, "redo": window.redo,
        "back": lambda: cv.step_back() or ip.delete_selected(), "delete": ip.delete_selected,
        "merge": ip.merge_selected, "relabel": lambda: chooser.relabel(ip.selected_ids(), at()),
        "pick_class": lambda: chooser.pick_for_next(at()),
        "accept": lambda: cv.tool_key(Qt.Key.Key_Return), "discard": lambda: cv.tool_key(Qt.Key.Key_Escape),
        "replace": lambda: cv.tool_key(Qt.Key.Key_Return, Qt.KeyboardModifier.AltModifier),
        "next_candidate": cv.cycle_candidate, "brush_smaller": lambda: cv.change_brush(-1),
        "brush_bigger": lambda: cv.change_brush(+1), "fit": cv.fit_to_window,
        "hide_masks": lambda on: cv.set_view(show_masks=not on),
        "class_names": lambda on: cv.set_view(show_labels=on),
        "next": lambda: window.images_panel.step(+1), "previous": lambda: window.images_panel.step(-1),
        "done": lambda: window.set_image_status("done"), "shortcuts": window.show_shortcuts_dialog,
        "get_model": window.show_get_model_dialog, "about": window.show_about_dialog,
    }
    # triggered(bool) would hand ``checked`` to a slot with an optional argument (accept_above's threshold)
    slots.update({key: (lambda _=False, slot=window.review.slot(key): slot()) for key in REVIEW_SLOTS})
    return slots


def add_action(window: Any, actions: dict[str, QAction], key: str, text: str, keys: Sequence[str], how: str,
               slot: Callable[..., Any], menu: Any = None) -> QAction:
    """One window-wide action (its shortcuts work whatever widget has the focus)."""
    action = QAction(text, window)
    sequences = [QKeySequence(k) for k in keys]
    action.setShortcuts(sequences)
    action.setStatusTip(shortcuts.tr(how))
    action.setToolTip(f"{text} ({sequences[0].toString()})" if sequences else text)
    action.triggered.connect(slot)
    window.addAction(action)
    if menu is not None:
        menu.addAction(action)
    actions[key] = action
    return action


def build_actions(window: Any) -> dict[str, QAction]:
    """Menus (in :data:`~segtool.gui.shortcuts.MENUS` order), the tools toolbar and every action."""
    actions: dict[str, QAction] = {}
    slots, group = _slots(window), QActionGroup(window)
    menus = {name: window.menuBar().addMenu(shortcuts.tr(shortcuts.MENU_TITLES[name])) for name in shortcuts.MENUS}
    toolbar = window.addToolBar(window.tr("Tools"))
    toolbar.setObjectName("ToolsToolBar")
    for entry in shortcuts.SHORTCUTS:
        if entry.scope != "window":
            continue
        if entry.id == "classes":  # one action per key
            for k, key in enumerate(entry.keys):
                add_action(window, actions, f"classes:{k + 1}", shortcuts.tr("Class {0}").format(k + 1), [key],
                           entry.how, lambda _=False, i=k: window.classes_panel.choose_index(i), menus[entry.menu])
            continue
        slot = slots.get(entry.id) or (lambda _=False, n=entry.id[5:]: window.set_tool(n))
        action = add_action(window, actions, entry.id, shortcuts.tr(entry.text), entry.keys, entry.how, slot,
                            menus[entry.menu])
        if entry.id.startswith("tool:"):
            action.setCheckable(True)
            group.addAction(action)
            toolbar.addAction(action)
        elif entry.id in ("hide_masks", "class_names"):
            action.setCheckable(True)
            action.setChecked(entry.id == "class_names")
    tools = menus["Tools"]
    first = tools.actions()[0]
    tools.insertAction(first, add_action(window, actions, "get_model_tools", window.tr("Get a SAM model…"), (), "",
                                         window.show_get_model_dialog))
    tools.insertSeparator(first)
    return actions


def add_view_controls(window: Any) -> QSlider:
    """The global mask-opacity slider, at the end of the tools toolbar."""
    toolbar = window.findChild(QToolBar, "ToolsToolBar")
    slider = QSlider(Qt.Orientation.Horizontal, window)
    slider.setRange(0, 100)
    slider.setValue(round(100 * window.canvas.view_options.mask_opacity))
    slider.setMaximumWidth(120)
    slider.setToolTip(window.tr("Opacity of every mask (H hides them all)"))
    slider.setObjectName("MaskOpacitySlider")
    toolbar.addSeparator()
    toolbar.addWidget(QLabel(window.tr(" mask opacity "), window))
    toolbar.addWidget(slider)
    return slider
