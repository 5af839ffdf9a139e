"""The annotation canvas: image view, mask overlays, interactive tools, and the editor session.

Contract with the main window (window engineer) -- read this, not the code
=========================================================================

Objects
-------
``EditorSession(store=None, *, sam_engine=None, pools=None)`` (``segtool.gui.canvas.session``), a QObject.
    Holds what the tools read and write: the store, the current image (id, RGB array, per-image document,
    ``History``), ``current_class_id``, ``selected_ids``, the SAM engine (or ``None`` = SAM tools disabled),
    the classical engines (created lazily through :func:`segtool.engines.registry.create_engine`), the
    worker pools (:class:`segtool.gui.workers.WorkerPools`) and ``options`` (a :class:`ToolOptions`:
    ``wand_tolerance``, ``brush_radius``, ``snap_edges``, ``multimask``, ``watershed_mode``).

    Main-window API::

        session.set_store(store)                       # after opening a project
        session.set_sam_engine(engine_or_None)         # model chosen in settings; None disables SAM tools
        session.set_image(image_id, rgb, document=None, history=None)   # normally via canvas.show_image
        session.prefetch([(image_id, path_or_loader), ...])  # encode neighbours (i+1, i-1) in background
        session.set_current_class(class_id)            # keys 1-9 in the classes dock
        session.select(ids: list[int])                 # instances dock selection -> canvas
        session.undo(); session.redo()                 # Ctrl+Z / Ctrl+Shift+Z (through core History)
        session.can_undo() / can_redo() -> bool
        session.push(command)                          # run any core command (delete, relabel, merge ...)
                                                       # on the current image's History; canvas redraws
        session.instances() -> list[Instance]
        session.shutdown()                             # cancel jobs, wait for threads (on close)

    Signals (all emitted on the GUI thread)::

        document_changed(list)       # instance ids touched ([] = reload all) after push/undo/redo
        selection_changed(list)      # selected instance ids
        current_class_changed(object)
        sam_state_changed(str)       # "none" | "encoding" | "ready" | "error" (status bar / tool enablement)
        encode_progress(int, int)    # done, total (0, 0 = indeterminate) for the current image's encoder
        status_message(str)

``AnnotationCanvas(session, parent=None)`` (``segtool.gui.canvas.view``), a ``QGraphicsView``.
    ``show_image(image_id, rgb, document=None, history=None)``: shows an RGB uint8 ``(H, W, 3)`` image
    (preview first, full-resolution tiles lazily; a 40 MP image is up in well under a second) and starts the
    SAM encode for it in the background; ``set_document(doc, history=None)``: the per-image document
    (its change events, and the session's ``document_changed``, redraw the overlays of the touched instances);
    ``set_tool(name)`` with ``name`` in :data:`TOOL_NAMES`; ``tool_name()``; ``fit_to_window()``;
    ``zoom_by(factor, anchor=None)``; ``refresh_overlays(ids=None)``.

    Signals::

        instance_hovered(int)        # instance id under the cursor, -1 for none
        selection_changed(list)      # forwarded from the session
        candidate_changed()          # a tool's candidate mask appeared/changed/vanished
        candidate_painted(float)     # time.perf_counter() at the end of painting a NEW candidate overlay:
                                     # click-to-mask-on-screen latency = this - the click's perf_counter()
        mask_committed(int)          # instance id added or edited by a tool
        status_message(str)
        tool_changed(str)

    Mouse/keys inside the canvas: wheel zooms to the cursor; middle-drag or Space+left-drag pans; ``F`` fits.
    Left click = positive, right click or Shift+click = negative; Tab cycles the multi-mask candidates;
    Enter accepts (AddInstance; EditMask in the ``refine`` tool, and Alt+Enter replaces the mask of the one
    selected instance with the candidate, for any prompt tool); Esc discards;
    ``[`` / ``]`` shrink / grow the brush. Clicking an instance with no prompt pending (``pan`` tool or
    Ctrl+click) selects it.

Tools (``segtool.gui.canvas.tools``, one module each)
------------------------------------------------------
``sam-click``, ``sam-box`` (SAM; live update), ``wand`` (tolerance = ``options.wand_tolerance``),
``grabcut`` (box, then clicks/scribbles continue the model), ``refine`` (GrabCut on the selected mask),
``watershed`` (scribbles, left = object, right = background), ``superpixel`` (click or drag adds, right removes
regions), ``brush`` / ``eraser`` (on the selected mask, or a new instance when none is selected; one stroke =
one undo step), ``polygon`` (click vertices, Enter or a click on the first vertex closes; with
``options.snap_edges`` edges follow image contours via :mod:`segtool.engines.edge_snap`), ``pan``.

Threads (``segtool.gui.workers``)
---------------------------------
``WorkerPools``: ``background`` (:class:`BackgroundPool`: encode, prefetch, proposals, export -- any
``fn(control) -> result`` with ``control.progress(done, total)`` and ``control.cancelled``) and
``interactive`` (:class:`LatestRequestQueue`: one prediction at a time, a newer request replaces the
queued one). Every job carries ``(image_id, generation)``; the session drops results of a stale generation
(counted in ``session.stale_results_dropped``). No inference runs on the GUI thread or in ``paintEvent``.
"""

from __future__ import annotations

TOOL_NAMES = ("sam-click", "sam-box", "wand", "grabcut", "refine", "watershed", "superpixel",
              "brush", "eraser", "polygon", "pan")
SAM_TOOLS = ("sam-click", "sam-box")

__all__ = ["TOOL_NAMES", "SAM_TOOLS", "AnnotationCanvas", "EditorSession", "ToolOptions"]


def __getattr__(name: str):  # lazy, so that importing the package does not build Qt classes twice
    if name == "AnnotationCanvas":
        from segtool.gui.canvas.view import AnnotationCanvas

        return AnnotationCanvas
    if name in ("EditorSession", "ToolOptions"):
        from segtool.gui.canvas import session

        return getattr(session, name)
    raise AttributeError(name)
