"""How GrabCut follow-up clicks act on the working grid: soft/hard discs, clicked pieces, flood guard.

All arrays here are working-grid ``cv2.GC_*`` labels, uint8 ``(h, w)``, changed in place, and bool
foreground masks of the same shape; click positions are working-grid ``(cx, cy)`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segtool.engines.base import Prompt

FG_VALUES = (cv2.GC_FGD, cv2.GC_PR_FGD)


@dataclass(frozen=True)
class NewClick:
    """A click made since the last cut that landed on the wrong side of the current boundary.

    ``distance`` is its distance (working pixels) to the nearest pixel already on its side.
    """

    cx: int
    cy: int
    positive: bool
    distance: float


def new_click_priors(labels: np.ndarray, prompt: Prompt, done: int, roi, scale: float,
                     hard_fraction: float) -> list[NewClick]:
    """Soft seeds for clicks made since the last cut, in place on working ``labels``.

    A positive click on the background turns a disc of probable background into probable
    foreground; its radius is half the click's distance to the current foreground (the robot and
    annotators click in the middle of the missed part). The inner ``hard_fraction`` of that disc
    becomes a hard constraint (hard labels of earlier clicks are never overwritten). Negative
    clicks mirror this. Returns the clicks that landed on the wrong side.
    """
    out = []
    for (x, y), lab in list(zip(prompt.points, prompt.labels, strict=True))[done:]:
        cx, cy = int((x - roi[0]) * scale), int((y - roi[1]) * scale)
        if not (0 <= cy < labels.shape[0] and 0 <= cx < labels.shape[1]):
            continue
        fg = np.isin(labels, FG_VALUES)
        if bool(fg[cy, cx]) == bool(lab):
            continue
        other = (~fg if lab else fg).astype(np.uint8)  # the click's side of the boundary
        dist = cv2.distanceTransform(other, cv2.DIST_L2, 3)
        out.append(NewClick(cx, cy, bool(lab), float(dist[cy, cx])))
        radius = int(np.clip(0.5 * dist[cy, cx], 1, max(labels.shape)))
        disc = np.zeros(labels.shape, np.uint8)
        cv2.circle(disc, (cx, cy), radius, 1, -1)
        flip = (disc > 0) & (labels == (cv2.GC_PR_BGD if lab else cv2.GC_PR_FGD))
        labels[flip] = cv2.GC_PR_FGD if lab else cv2.GC_PR_BGD
        hard = np.zeros(labels.shape, np.uint8)
        cv2.circle(hard, (cx, cy), max(1, int(hard_fraction * radius)), 1, -1)
        labels[(hard > 0) & (labels != (cv2.GC_BGD if lab else cv2.GC_FGD))] = (
            cv2.GC_FGD if lab else cv2.GC_BGD)
    return out


def keep_clicked(labels: np.ndarray, fg: np.ndarray, keep_largest: bool) -> np.ndarray:
    """The 8-connected pieces of ``fg`` that hold a hard foreground label (a positive click),
    plus the largest piece when ``keep_largest`` (a box start); dropped pieces become probable
    background in ``labels``. ``fg`` unchanged while there is no positive click (a box alone)."""
    seeds = labels == cv2.GC_FGD
    if not seeds.any():
        return fg
    n, comp = cv2.connectedComponents(fg.astype(np.uint8), connectivity=8)
    if n <= 2:
        return fg
    keep = np.zeros(n, bool)
    keep[np.unique(comp[seeds & fg])] = True
    if keep_largest:
        keep[1 + int(np.argmax(np.bincount(comp.ravel(), minlength=n)[1:]))] = True
    keep[0] = False
    out = keep[comp]
    labels[fg & ~out] = cv2.GC_PR_BGD
    return out


def is_flood(before: np.ndarray, after: np.ndarray, clicks: list[NewClick], ratio: float) -> bool:
    """True when the new clicks changed (added or removed) more than ``ratio`` times the area of
    their discs (``pi * d**2`` each): a click in the middle of an error of size ``d`` that flips a
    region far larger than that has flooded similar colours elsewhere (through the re-learnt
    colour models)."""
    if not clicks or ratio <= 0:
        return False
    budget = ratio * sum(np.pi * max(c.distance, 1.0) ** 2 for c in clicks)
    return np.count_nonzero(after != before) > budget


def freeze_far(labels: np.ndarray, clicks: list[NewClick], reach: float) -> np.ndarray:
    """Make the probable labels farther than ``reach * d`` from every new click hard (in place);
    returns the bool mask of the pixels so fixed (see :func:`thaw`)."""
    near = np.zeros(labels.shape, np.uint8)
    for c in clicks:
        cv2.circle(near, (c.cx, c.cy), max(2, int(round(reach * c.distance))), 1, -1)
    frozen = (near == 0) & ((labels == cv2.GC_PR_FGD) | (labels == cv2.GC_PR_BGD))
    labels[frozen & (labels == cv2.GC_PR_FGD)] = cv2.GC_FGD
    labels[frozen & (labels == cv2.GC_PR_BGD)] = cv2.GC_BGD
    return frozen


def thaw(labels: np.ndarray, frozen: np.ndarray) -> None:
    """Undo :func:`freeze_far` on ``labels`` (in place): later clicks may move those pixels again."""
    labels[frozen & (labels == cv2.GC_FGD)] = cv2.GC_PR_FGD
    labels[frozen & (labels == cv2.GC_BGD)] = cv2.GC_PR_BGD

