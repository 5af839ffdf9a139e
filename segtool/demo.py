"""Sample images made by code, for ``segtool demo``, the screenshot and GUI tests.

Each sample is a synthetic "photo": a smooth, lit, slightly noisy background (table top and wall) with a
few clearly separated, shaded objects (a ball, a box, a mug, a leaf...). Nothing is downloaded; the same
index always renders the same pixels, and the exact mask of every object is known, so a test can click
on an object and measure the IoU of the mask it gets.

Coordinates: arrays are ``(H, W)``; object centres are ``(x, y)`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segtool.core import paths

#: Number of sample images ``segtool demo`` generates.
N_SAMPLES = 6
#: ``(width, height)`` of the sample images.
SAMPLE_SIZE = (800, 600)
#: Bump when the rendering changes, so that old demo folders are regenerated.
DEMO_VERSION = 1


@dataclass
class SampleObject:
    """One object of a sample image: its ``name`` (the label class), bool ``mask`` ``(H, W)`` and
    ``center`` ``(x, y)``: a pixel well inside the object (a good first click)."""

    name: str
    mask: np.ndarray
    center: tuple[int, int]


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A wall above a table top, with a soft light gradient and fine noise; float32 ``(H, W, 3)``."""
    wall = np.array(rng.choice([(196, 205, 214), (214, 204, 188), (188, 200, 190)]), np.float32)
    table = np.array(rng.choice([(132, 98, 70), (110, 112, 118), (150, 128, 96)]), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(h * rng.uniform(0.35, 0.45))
    img = np.where((yy < horizon)[..., None], wall, table)
    light = 1.0 - 0.25 * (((xx - w * 0.3) / w) ** 2 + ((yy - h * 0.2) / h) ** 2)
    img = img * light[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 1.5)
    return img + grain[..., None]


def _shade(img: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], center: tuple[int, int],
           radius: float) -> None:
    """Paint ``mask`` with ``color`` lit from the top-left (a highlight and a darker far side)."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - (center[0] - radius * 0.35), yy - (center[1] - radius * 0.35)) / max(radius * 1.6, 1.0)
    light = np.clip(1.15 - 0.55 * d, 0.55, 1.2)
    shaded = np.clip(np.array(color, np.float32)[None, None, :] * light[..., None], 0, 255)
    img[mask] = shaded[mask]


def _shadow(img: np.ndarray, mask: np.ndarray, offset: int) -> None:
    """Darken a blurred, offset copy of ``mask`` (a contact shadow) before the object is painted."""
    m = np.roll(np.roll(mask.astype(np.float32), offset, axis=0), offset, axis=1)
    m = cv2.GaussianBlur(m, (0, 0), offset * 0.8 + 1)
    img *= (1.0 - 0.35 * m)[..., None]


def _shape_mask(kind: str, w: int, h: int, cx: int, cy: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """Bool ``(H, W)`` mask of one object shape centred at ``(cx, cy)`` with size ``r`` pixels."""
    m = np.zeros((h, w), np.uint8)
    if kind == "ball":
        cv2.circle(m, (cx, cy), r, 1, -1, cv2.LINE_8)
    elif kind == "box":
        rect = ((cx, cy), (r * 1.8, r * 1.3), float(rng.uniform(-20, 20)))
        cv2.fillPoly(m, [cv2.boxPoints(rect).astype(np.int32)], 1)
    elif kind == "mug":
        cv2.rectangle(m, (cx - r * 2 // 3, cy - r), (cx + r * 2 // 3, cy + r), 1, -1)
        cv2.ellipse(m, (cx + r * 2 // 3, cy), (r // 2, r // 2), 0, -90, 90, 1, max(r // 5, 3))
    elif kind == "leaf":
        cv2.ellipse(m, (cx, cy), (r, r // 2), float(rng.uniform(-40, 40)), 0, 360, 1, -1)
    else:  # star
        ang = np.linspace(0, 2 * np.pi, 11)[:-1] - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m.astype(bool)


#: Object kinds and their colours (strong contrast against every background).
_KINDS = {
    "ball": (220, 60, 40),
    "box": (40, 90, 200),
    "mug": (240, 200, 40),
    "leaf": (50, 160, 60),
    "star": (230, 120, 20),
}


def render_sample(index: int, size: tuple[int, int] = SAMPLE_SIZE) -> tuple[np.ndarray, list[SampleObject]]:
    """Render sample ``index`` deterministically.

    Parameters
    ----------
    index : which sample (any int; the same index always gives the same image).
    size : ``(width, height)`` in pixels.

    Returns
    -------
    rgb : uint8 ``(H, W, 3)`` RGB image.
    objects : the objects drawn, each with its exact bool ``(H, W)`` mask (visible part only).
    """
    w, h = size
    rng = np.random.default_rng(1000 + index)
    img = _background(rng, w, h)
    kinds = list(_KINDS)
    rng.shuffle(kinds)
    n = 3 + index % 2
    scale = min(w, h)
    slots = [(int(w * (i + 0.5) / n), int(h * rng.uniform(0.55, 0.68))) for i in range(n)]
    objects: list[SampleObject] = []
    for (cx, cy), kind in zip(slots, kinds[:n], strict=True):
        r = int(scale * rng.uniform(0.09, 0.12))
        mask = _shape_mask(kind, w, h, cx, cy, r, rng)
        _shadow(img, mask, max(r // 8, 3))
        _shade(img, mask, _KINDS[kind], (cx, cy), r)
        objects.append(SampleObject(kind, mask, (cx, cy)))
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    return rgb, objects


def demo_folder() -> Path:
    """Where ``segtool demo`` keeps its sample images (the user data folder, ``demo/``)."""
    return paths.data_dir() / "demo"


def ensure_demo_images(folder: Path | None = None, count: int = N_SAMPLES) -> list[Path]:
    """Write the sample PNGs into ``folder`` (default :func:`demo_folder`) unless already there.

    Existing files of the same :data:`DEMO_VERSION` are kept (so annotations made on them stay valid);
    missing ones are rendered. Returns the image paths in order.
    """
    folder = Path(folder) if folder is not None else demo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"sample_{i + 1:02d}_v{DEMO_VERSION}.png"
        if not path.exists():
            rgb, _ = render_sample(i)
            tmp = path.with_suffix(".tmp.png")
            cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            tmp.replace(path)
        out.append(path)
    return out


def sample_index(path: Path | str) -> int | None:
    """The sample index of a file written by :func:`ensure_demo_images`, or None for other files."""
    name = Path(path).name
    if not (name.startswith("sample_") and name.endswith(f"_v{DEMO_VERSION}.png")):
        return None
    try:
        return int(name.split("_")[1]) - 1
    except ValueError:
        return None
