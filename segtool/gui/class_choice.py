"""Choosing classes with the picker: for the next masks (``L``, the first accept on an image) and for the
selected instances (Ctrl+L, a double-click on their class in the instances dock).

:class:`ClassChooser` opens a :class:`~segtool.gui.class_picker.ClassPicker` at the cursor with the
project's classes; a new name is added to the project through the classes dock. A pick for the next
masks makes that class current *on this image* (the session then stops asking until the next image);
a relabel is one undoable ``Relabel`` command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QPoint, Signal

from segtool.gui.class_picker import ClassPicker
from segtool.gui.panels import instance_commands as cmds


class ClassChooser(QObject):
    """Class picking for the window.

    Parameters
    ----------
    window : parent widget of the popups.
    session : the editor session (current class, selection, ``push``).
    classes_panel : the classes dock (the classes, ``add_class``, the highlighted row).

    Signals
    -------
    status_message(str) : what happened, for the status bar.
    """

    status_message = Signal(str)

    def __init__(self, window: Any, session: Any, classes_panel: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window, self.session, self.classes_panel = window, session, classes_panel
        #: the picker shown now (``None`` when closed)
        self.picker: ClassPicker | None = None

    def _open(self, pos: QPoint, title: str, on_pick: Callable[[int | None], None],
              on_cancel: Callable[[], None]) -> ClassPicker:
        if self.picker is not None:
            self.picker.cancel()
        picker = ClassPicker(self.classes_panel.classes(), self.session.current_class_id,
                             self.classes_panel.add_class, title, self.window)
        self.picker = picker

        def picked(class_id: object) -> None:
            self.picker = None
            on_pick(None if class_id is None else int(class_id))

        def cancelled() -> None:
            self.picker = None
            on_cancel()

        picker.picked.connect(picked)
        picker.cancelled.connect(cancelled)
        picker.popup_at(pos)
        return picker

    def ask_for_commit(self, pos: QPoint, done: Callable[[bool], None]) -> None:
        """The canvas's hook: pick the class of the mask being accepted; ``done(True)`` once it is current."""
        def pick(class_id: int | None) -> None:
            self._make_current(class_id)
            done(True)

        self._open(pos, self.tr("Class for this mask"), pick, lambda: done(False))

    def pick_for_next(self, pos: QPoint) -> None:
        """``L``: choose the class of the next masks."""
        self._open(pos, self.tr("Class for the next masks"), self._make_current, lambda: None)

    def relabel(self, ids: Sequence[int], pos: QPoint) -> None:
        """Pick a class for the instances ``ids`` (one undoable step)."""
        ids = [int(i) for i in ids]
        if not ids:
            self.status_message.emit(self.tr("select instances first (click them, or rows in the list)"))
            return

        def pick(class_id: int | None) -> None:
            current = {i.id: i.class_id for i in self.session.instances()}
            todo = [i for i in ids if i in current and current[i] != class_id]
            if todo:
                self.session.push(cmds.relabel(todo, class_id))
            name = self._name(class_id)
            self.status_message.emit(self.tr("{0} instance(s) now {1}").format(len(ids), name))

        self._open(pos, self.tr("Class for {0} selected instance(s)").format(len(ids)), pick, lambda: None)

    def _make_current(self, class_id: int | None) -> None:
        self.session.set_current_class(class_id, picked=True)
        if class_id is not None:
            self.classes_panel.choose_id(class_id, emit=False)
        self.status_message.emit(self.tr("class for the next masks: {0}").format(self._name(class_id)))

    def _name(self, class_id: int | None) -> str:
        cls = self.classes_panel.class_by_id(class_id)
        return cls.name if cls is not None else self.tr("(no class)")
