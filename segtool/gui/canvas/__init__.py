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
        session.set_current_class(class_id, picked=True)  # keys 1-9, the picker; picked=False: not chosen here
        session.class_ready() -> bool                  # a class was picked on this image (no need to ask)
        session.set_option(name, value)                # a ToolOptions field; emits options_changed(name)
        session.clear_image(image_id)                  # an unreadable image: no pixels, nothing editable
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
        options_changed(str)         # a ToolOptions field changed ([ ] keys, the options dock)
        sam_outputs_known(int)       # masks per prompt of the SAM model (1 = single-mask: nothing to cycle)

``AnnotationCanvas(session, parent=None)`` (``segtool.gui.canvas.view``), a ``QGraphicsView``.
    ``show_image(image_id, rgb, document=None, history=None)``: shows an RGB uint8 ``(H, W, 3)`` image
    (preview first, full-resolution tiles lazily; a 40 MP image is up in well under a second) and starts the
    SAM encode for it in the background; ``set_document(doc, history=None)``: the per-image document
    (its change events, and the session's ``document_changed``, redraw the overlays of the touched instances);
    ``set_tool(name)`` with ``name`` in :data:`TOOL_NAMES`; ``tool_name()``; ``fit_to_window()`` (kept
    while the view resizes, until ``zoom_by``); ``zoom_by(factor, anchor=None)``; ``refresh_overlays(ids=None)``;
    ``set_candidate(candidate)`` (a :class:`~segtool.engines.base.Candidate`: its crop at its offset, in the
    current class colour; cost proportional to the crop); ``show_placeholder(image_id, text)`` (a file that
    cannot be read); ``set_view(opacity=, show_masks=, show_labels=)``; ``set_hidden(ids)``;
    ``set_editable(on)`` (read-only); ``with_class(commit, cancelled=None)`` (runs ``commit`` once a class is
    picked for this image, through ``class_picker``, the main window's hook); ``step_back()`` (Ctrl+Z /
    Backspace on a pending candidate); ``cycle_candidate()`` (Tab); ``has_pending()``. A candidate pending
    when the image changes is kept for that image and comes back with it.

    Signals::

        instance_hovered(int)        # instance id under the cursor, -1 for none
        selection_changed(list)      # forwarded from the session
        candidate_changed()          # a tool's candidate mask appeared/changed/vanished
        candidate_painted(float)     # time.perf_counter() at the end of painting a NEW candidate overlay:
                                     # click-to-mask-on-screen latency = this - the click's perf_counter()
        mask_committed(int)          # instance id added or edited by a tool
        status_message(str)
        tool_changed(str)
        zoom_changed(float)          # screen pixels per image pixel (status bar)
        pending_changed(bool)        # the tool holds / no longer holds an uncommitted prompt or candidate

    Mouse/keys inside the canvas: wheel zooms to the cursor; middle-drag or Space+left-drag pans; ``F`` fits.
    Left click = positive, right click or Shift+click = negative; Tab cycles the multi-mask candidates;
    Enter accepts (AddInstance, once a class is chosen for the image; EditMask in the ``refine`` tool, and
    Alt+Enter replaces the mask of the one selected instance with the candidate, for any prompt tool); Esc
    discards; Ctrl+Z / Backspace remove the last click, box or scribble; ``[`` / ``]`` shrink / grow the
    brush. Key names come from :mod:`segtool.gui.shortcuts` (in the window its actions take them first). Clicking an instance with no prompt pending (``pan`` tool or
    Ctrl+click) selects it.

Tools (``segtool.gui.canvas.tools``, one module each)
------------------------------------------------------
``sam-click``, ``sam-box`` (SAM; live update), ``wand`` (tolerance = ``options.wand_tolerance``),
``grabcut`` (box, then clicks / plain-drag scribbles continue the model), ``refine`` (GrabCut on the selected mask),
``watershed`` (plain-drag scribbles, left = object, right = background), ``superpixel`` (click or drag adds, right removes
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
