"""Edge snapping: the intelligent-scissors path follows strong edges, in a window, on big images too."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segtool.core.errors import PromptError
from segtool.engines.edge_snap import snap_path
from segtool.engines.graphcut import GrabCutEngine


def _rectangle_image(scale: int = 1) -> np.ndarray:
    """A bright rectangle (50, 40)-(250, 160) on a dark noisy background, times ``scale``."""
    rng = np.random.default_rng(0)
    image = np.full((200, 300, 3), 40, np.float32)
    cv2.rectangle(image, (50, 40), (250, 160), (220, 220, 220), -1)
    image = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else image


def _distance_to_rectangle(path: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    return np.minimum.reduce([abs(path[:, 0] - x0), abs(path[:, 0] - x1), abs(path[:, 1] - y0), abs(path[:, 1] - y1)])


def test_path_runs_along_the_edge_between_two_corners() -> None:
    image = _rectangle_image()
    path = snap_path(image, (50, 40), (250, 160))
    assert path.dtype == np.int32 and path.shape[1] == 2
    assert tuple(path[0]) == (50, 40) and tuple(path[-1]) == (250, 160)
    assert _distance_to_rectangle(path, 50, 40, 250, 160).max() <= 1  # on the border, not the diagonal
    assert np.abs(np.diff(path, axis=0)).max() <= 1  # 8-connected


def test_points_off_the_edge_snap_onto_it() -> None:
    image = _rectangle_image()
    path = snap_path(image, (100, 43), (200, 38))  # both a few pixels off the top edge
    middle = path[len(path) // 4: 3 * len(path) // 4]
    assert np.abs(middle[:, 1] - 40).max() <= 1


def test_large_image_and_engine_context() -> None:
    image = _rectangle_image(scale=12)  # 3600x2400: searched in a downscaled window
    context = GrabCutEngine().prepare(image)
    path = snap_path(context, (600, 480), (3000, 1920))
    assert tuple(path[0]) == (600, 480) and tuple(path[-1]) == (3000, 1920)
    assert np.median(_distance_to_rectangle(path, 600, 480, 3000, 1920)) <= 12


def test_same_point_and_points_outside() -> None:
    image = _rectangle_image()
    assert snap_path(image, (10, 10), (10, 10)).tolist() == [[10, 10]]
    with pytest.raises(PromptError):
        snap_path(image, (10, 10), (300, 10))
    with pytest.raises(PromptError):
        snap_path(image, (-1, 10), (20, 10))
    with pytest.raises(PromptError):
        snap_path(object(), (1, 1), (2, 2))


def test_flat_white_image_gives_a_path_without_error() -> None:
    white = np.full((60, 80, 3), 255, np.uint8)
    path = snap_path(white, (5, 5), (70, 50))
    assert tuple(path[0]) == (5, 5) and tuple(path[-1]) == (70, 50)
