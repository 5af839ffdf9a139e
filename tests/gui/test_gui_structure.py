"""Point 8 of issue 11, the house: no import cycle inside ``segtool.gui`` (the one between ``app``,
``main_window`` and the settings dialog is gone: model choice and loading live in ``sam_models``), image
switching is a class of its own, and ``main_window.py`` is wiring only, under 400 lines. The import graph
is grimp's (import-linter's library), which counts imports inside functions too."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def _gui_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("segtool", include_external_packages=False)
    gui = {m for m in graph.modules if m.startswith("segtool.gui")}
    return {m: {d for d in graph.find_modules_directly_imported_by(m) if d in gui} for m in gui}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_there_is_no_import_cycle_in_the_gui():
    edges = _gui_graph()
    assert "segtool.gui.sam_models" in edges and "segtool.gui.image_switcher" in edges
    # the package __init__ files only re-export lazily; a cycle through them is not a real one
    real = {m: {d for d in deps if not d.endswith(("gui", "canvas", "panels", "dialogs", "tools"))}
            for m, deps in edges.items()}
    assert _cycles(real) == []
    for module in ("segtool.gui.main_window", "segtool.gui.dialogs.settings_dialog", "segtool.gui.sam_models"):
        assert "segtool.gui.app" not in real[module], module  # the start-up module sits on top
    assert "segtool.gui.main_window" not in real["segtool.gui.dialogs.settings_dialog"]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_main_window_is_wiring_only():
    source = (ROOT / "segtool" / "gui" / "main_window.py").read_text()
    assert len(source.splitlines()) < 400
    assert "class ImageSwitcher" in (ROOT / "segtool" / "gui" / "image_switcher.py").read_text()
    for work in ("decode_rle", "load_image", "cv2", "np.zeros"):  # no mask or pixel work in the window
        assert work not in source, work
