"""Builders of the core commands the instances dock pushes (one place to adapt to :mod:`segtool.core.commands`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _commands() -> Any:
    from segtool.core import commands

    return commands


def delete(ids: Sequence[int]) -> Any:
    """A command deleting the instances ``ids``."""
    return _commands().DeleteInstances(list(ids))


def relabel(ids: Sequence[int], class_id: int | None) -> Any:
    """A command giving the instances ``ids`` the class ``class_id``."""
    return _commands().Relabel(list(ids), class_id)


def merge(ids: Sequence[int]) -> Any:
    """A command merging the instances ``ids`` into the first one."""
    return _commands().Merge(list(ids))


def reorder(ids_in_order: Sequence[int], delta: int) -> list[Any]:
    """Commands moving each of ``ids_in_order`` one step up (``delta`` > 0) or down in z-order.

    ``ids_in_order`` are bottom to top; they are moved top-first when going up (bottom-first when going
    down) so that a selected block keeps its internal order. Push them inside one macro.
    """
    commands = _commands()
    move = "up" if delta > 0 else "down"
    seq = list(reversed(ids_in_order)) if delta > 0 else list(ids_in_order)
    return [commands.Reorder(i, move) for i in seq]
