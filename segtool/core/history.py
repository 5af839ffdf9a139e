"""Undo/redo for one :class:`~segtool.core.document.ImageDocument`.

>>> history = History(doc)
>>> history.push(AddInstance(mask, class_id=1))      # runs it; durable in the project when it returns
>>> with history.macro("brush stroke"):               # many steps, one undo step
...     for patch, bbox in stroke_pieces:
...         history.push(EditMask(iid, patch, bbox, mode="add"))
>>> history.undo(); history.redo()                    # each durable too
>>> history.is_clean, history.mark_clean()            # e.g. for an "edited" marker

Durability: :meth:`History.push`, :meth:`undo` and :meth:`redo` each run inside one
``doc.transaction()``, which commits to the project store before returning; inside a macro every
step commits on its own (a crash mid-stroke keeps the steps that returned) and undoing the macro
reverts all its steps in one transaction. If a command raises, the transaction rolls back, the
document reloads from the store (listeners get ``"reset"``) and the history is unchanged.

The stacks live in memory only (a reopened project starts with an empty history). :meth:`nbytes`
reports what they hold; ``max_bytes``/``limit`` drop the oldest steps beyond a budget.
Listeners added with :meth:`History.subscribe` are called (no arguments) whenever
``can_undo``/``can_redo``/labels/clean state may have changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from segtool.core.commands import Command
from segtool.core.document import ImageDocument


class Macro(Command):
    """Several commands undone and redone as one step."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.steps: list[Command] = []

    def do(self, doc: ImageDocument) -> None:
        for step in self.steps:
            step.do(doc)

    def undo(self, doc: ImageDocument) -> None:
        for step in reversed(self.steps):
            step.undo(doc)

    def nbytes(self) -> int:
        return super().nbytes() + sum(s.nbytes() for s in self.steps)


class History:
    """The undo and redo stacks of one document.

    Parameters
    ----------
    doc : ImageDocument
    limit : int, optional
        Keep at most this many undo steps (oldest dropped).
    max_bytes : int, optional
        Drop the oldest undo steps while the stacks hold more than this many bytes.
    """

    def __init__(self, doc: ImageDocument, *, limit: int | None = None, max_bytes: int | None = None) -> None:
        self.doc = doc
        self.limit = limit
        self.max_bytes = max_bytes
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._macros: list[Macro] = []
        self._clean_index: int | None = 0
        self._listeners: list[Callable[[], None]] = []
        self._bytes = 0

    # -- state -------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and not self._macros

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self._macros

    @property
    def undo_label(self) -> str | None:
        """Label of the step :meth:`undo` would revert (for "Undo <label>")."""
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    @property
    def is_clean(self) -> bool:
        """Whether the document is as it was at the last :meth:`mark_clean` (or at the start)."""
        return self._clean_index == len(self._undo) and not self._macros

    def mark_clean(self) -> None:
        """Remember the current state as clean (e.g. after an export)."""
        self._clean_index = len(self._undo)
        self._notify()

    def nbytes(self) -> int:
        """Bytes held by the undo and redo stacks (packed mask diffs, RLE snapshots, objects)."""
        return sum(c.nbytes() for c in self._undo) + sum(c.nbytes() for c in self._redo) + \
            sum(m.nbytes() for m in self._macros)

    def __len__(self) -> int:
        return len(self._undo)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change of the stacks; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- operations ----------------------------------------------------------------------------
    def push(self, command: Command) -> Command:
        """Run ``command`` (durably) and record it; clears the redo stack. Returns it."""
        with self.doc.transaction():
            command.do(self.doc)
        if self._macros:
            self._macros[-1].steps.append(command)
            return command
        self._record(command)
        return command

    def _record(self, command: Command) -> None:
        if self._clean_index is not None and self._clean_index > len(self._undo):
            self._clean_index = None  # the clean state was in the redo stack: unreachable now
        self._redo.clear()
        self._undo.append(command)
        if self.max_bytes is not None:
            self._bytes = sum(c.nbytes() for c in self._undo)
        self._trim()
        self._notify()

    def _trim(self) -> None:
        while self._undo and ((self.limit is not None and len(self._undo) > self.limit)
                              or (self.max_bytes is not None and self._bytes > self.max_bytes
                                  and len(self._undo) > 1)):
            dropped = self._undo.pop(0)
            self._bytes -= dropped.nbytes()
            if self._clean_index is not None:
                self._clean_index = self._clean_index - 1 if self._clean_index > 0 else None

    def undo(self) -> Command | None:
        """Revert the last step (durably); returns it, or ``None`` if there is nothing to undo."""
        if not self.can_undo:
            return None
        command = self._undo[-1]
        with self.doc.transaction():
            command.undo(self.doc)
        self._redo.append(self._undo.pop())
        self._notify()
        return command

    def redo(self) -> Command | None:
        """Re-apply the last undone step (durably); returns it, or ``None``."""
        if not self.can_redo:
            return None
        command = self._redo[-1]
        with self.doc.transaction():
            command.do(self.doc)
        self._undo.append(self._redo.pop())
        self._notify()
        return command

    def clear(self) -> None:
        """Forget both stacks (the document is unchanged)."""
        self._undo.clear()
        self._redo.clear()
        self._clean_index = None
        self._notify()

    @contextmanager
    def macro(self, label: str) -> Iterator[Macro]:
        """Group every :meth:`push` inside the block into one undo step.

        Steps are applied and committed as they are pushed. If the block raises, the steps done so
        far are undone (in one transaction) and nothing is recorded. Nested macros fold into the
        outer one. An empty macro records nothing.
        """
        macro = Macro(label)
        self._macros.append(macro)
        try:
            yield macro
        except BaseException:
            self._macros.pop()
            if macro.steps:
                with self.doc.transaction():
                    macro.undo(self.doc)
            raise
        self._macros.pop()
        if not macro.steps:
            return
        if self._macros:
            self._macros[-1].steps.append(macro)
        else:
            self._record(macro)
