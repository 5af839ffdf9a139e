"""Edge snapping for the polygon tool: an intelligent-scissors path between two points.

OpenCV's ``cv2.segmentation.IntelligentScissorsMB`` (Mortensen & Barrett's live wire) finds the
cheapest path along strong edges. Its cost map is built from the whole image it is given, so the
path is searched in a window around the two points only (the bounding box of both, grown by
``margin`` of their distance), downscaled to at most ``max_pixels``: a 40-megapixel photo snaps as
fast as a small one.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from segtool.core.errors import PromptError


def _image_of(context_or_image: Any) -> np.ndarray:
    """The RGB uint8 ``(H, W, 3)`` image behind an engine context or an image array."""
    if isinstance(context_or_image, np.ndarray):
        image = context_or_image
    elif hasattr(context_or_image, "pyramid"):  # GrabCutContext
        image = context_or_image.pyramid[0]
    elif hasattr(context_or_image, "smooth"):  # WatershedContext
        image = context_or_image.smooth
    elif hasattr(context_or_image, "image"):
        image = np.asarray(context_or_image.image)
    else:
        raise PromptError(f"cannot snap on a {type(context_or_image).__name__}: pass the RGB image")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3:
        raise PromptError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return image


def snap_path(context_or_image: Any, p0_xy: tuple[float, float], p1_xy: tuple[float, float], *,
              margin: float = 0.5, max_pixels: int = 250_000) -> np.ndarray:
    """Path along strong edges from ``p0_xy`` to ``p1_xy``.

    Parameters
    ----------
    context_or_image : RGB uint8 ``(H, W, 3)`` image, or a context of the grabcut/watershed engines.
    p0_xy, p1_xy : ``(x, y)`` pixels, inside the image.
    margin : the search window is the points' bounding box grown by ``margin`` times their
        distance (at least 16 pixels).
    max_pixels : the window is downscaled to at most this many pixels for the search.

    Returns
    -------
    int32 ``(K, 2)`` ``(x, y)`` path from ``p0`` to ``p1`` inclusive (``K >= 1``), 8-connected at
    full resolution unless the window had to be downscaled.

    Raises
    ------
    PromptError
        A point lies outside the image.
    """
    image = _image_of(context_or_image)
    h, w = image.shape[:2]
    pts = np.array([p0_xy, p1_xy], np.float64).reshape(2, 2)
    if (pts < 0).any() or (pts[:, 0] >= w).any() or (pts[:, 1] >= h).any() or not np.isfinite(pts).all():
        raise PromptError(f"edge snapping: a point of {pts.tolist()} lies outside the {w}x{h} image")
    p = np.floor(pts).astype(np.int64)
    if (p[0] == p[1]).all():
        return p[:1].astype(np.int32)
    pad = max(16, int(margin * np.hypot(*(p[1] - p[0]))))
    x0, y0 = max(0, int(p[:, 0].min()) - pad), max(0, int(p[:, 1].min()) - pad)
    x1, y1 = min(w, int(p[:, 0].max()) + pad + 1), min(h, int(p[:, 1].max()) + pad + 1)
    window = np.ascontiguousarray(image[y0:y1, x0:x1, :3]).astype(np.uint8, copy=False)
    scale = min(1.0, float(np.sqrt(max_pixels / window.shape[0] / window.shape[1])))
    if scale < 1.0:
        size = (max(2, round(window.shape[1] * scale)), max(2, round(window.shape[0] * scale)))
        window = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
    sx, sy = window.shape[1] / (x1 - x0), window.shape[0] / (y1 - y0)
    local = np.column_stack([np.minimum(((p[:, 0] - x0) * sx).astype(int), window.shape[1] - 1),
                             np.minimum(((p[:, 1] - y0) * sy).astype(int), window.shape[0] - 1)])
    tool = cv2.segmentation.IntelligentScissorsMB()
    tool.setEdgeFeatureCannyParameters(32, 100)
    tool.setGradientMagnitudeMaxLimit(200)
    tool.applyImage(window)
    tool.buildMap((int(local[0, 0]), int(local[0, 1])))
    contour = tool.getContour((int(local[1, 0]), int(local[1, 1]))).reshape(-1, 2).astype(np.float64)
    if len(contour) and (contour[0] == local[1]).all():  # OpenCV returns it from the target back
        contour = contour[::-1]
    path = np.column_stack([contour[:, 0] / sx + x0, contour[:, 1] / sy + y0]).round().astype(np.int32)
    path[0], path[-1] = p[0], p[1]
    keep = np.ones(len(path), bool)
    keep[1:] = (np.diff(path, axis=0) != 0).any(axis=1)
    return path[keep]
