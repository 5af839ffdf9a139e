"""Point 2 of issue 11, "a candidate you can see on any background": committed masks, the pending
candidate and pending proposals are rendered on white, black and mid-grey synthetic objects, and the
pixels on screen along each outline are measured against the object pixels beneath. Each style also
has a signature the others lack (solid class colour / white dashes on black / amber dots on black), and
the candidate is drawn from its crop alone (no full-image mask is ever built for it)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from segtool.core.commands import AddInstance, DeleteInstances
from segtool.engines.base import Candidate

H, W = 200, 600
OBJECTS = {"white": 255, "black": 0, "grey": 128}
PURPLE, YELLOW, AMBER = (145, 30, 180), (255, 225, 25), (255, 191, 0)  # palette classes 5 and 2; proposals


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]


def _grab(canvas) -> np.ndarray:
    img = canvas.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def _square(k: int) -> np.ndarray:
    """Mask of the inner square of object ``k``: its outline lies on that object only."""
    m = np.zeros((H, W), bool)
    m[40:160, 40 + 200 * k:160 + 200 * k] = True
    return m


@pytest.fixture
def scene(qtbot, canvas):
    rgb = np.full((H, W, 3), 90, np.uint8)
    for k, value in enumerate(OBJECTS.values()):
        rgb[20:180, 20 + 200 * k:180 + 200 * k] = value
    canvas.resize(900, 400)
    canvas.show_image(1, rgb)
    canvas.set_view(show_labels=False)
    canvas.resetTransform()  # 1:1, so that screen pixels are image pixels
    canvas.centerOn(W / 2, H / 2)
    return canvas


def _draw(canvas, style: str, class_id: int = 5) -> np.ndarray:
    """Put the three squares on screen in ``style``; returns the viewport pixels."""
    session = canvas.session
    canvas.set_candidate(None)
    if session.instances():
        session.push(DeleteInstances([i.id for i in session.instances()]))
    session.set_current_class(class_id)
    for k in range(3):
        if style == "committed":
            session.commit_new(_square(k), "polygon")
        elif style == "proposal":
            session.push(AddInstance(_square(k), class_id=None, source="proposal", score=0.9, state="pending"))
    if style == "candidate":
        both = _square(0) | _square(1) | _square(2)
        canvas.set_candidate(Candidate(crop=both[40:160, 40:560], offset=(40, 40), image_size=(H, W)))
    canvas.viewport().repaint()
    return _grab(canvas)


def _edge(canvas, shot: np.ndarray, k: int, spread: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(band of pixels within ``spread`` of the bottom edge of square ``k``, the 2-px core row pair)."""
    left = canvas.mapFromScene(QPointF(40 + 200 * k, 160))
    right = canvas.mapFromScene(QPointF(160 + 200 * k, 160))
    x0, x1, y = left.x() + 6, right.x() - 6, left.y()
    return shot[y - spread:y + spread, x0:x1], shot[y - 1:y + 1, x0:x1]


@pytest.mark.parametrize("style,class_id", [("committed", 5), ("committed", 2), ("candidate", 5),
                                            ("candidate", 2), ("proposal", 5)])
def test_every_outline_stands_out_on_white_black_and_grey_objects(scene, style, class_id):
    shot = _draw(scene, style, class_id)
    for k, (name, value) in enumerate(OBJECTS.items()):
        band, _ = _edge(scene, shot, k)
        contrast = np.abs(_luma(band) - value).max()
        # a two-tone (dark + light) outline differs from any grey beneath by at least half the range
        assert contrast >= 120, f"{style} (class {class_id}) on a {name} object: luminance contrast {contrast:.0f}"


def test_the_old_faint_white_candidate_would_fail_the_same_measure(scene):
    """The measure is not lenient: a white dashed line on white (the old candidate style) scores ~0."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QPen
    from PySide6.QtWidgets import QGraphicsRectItem

    pen = QPen(Qt.GlobalColor.white, 2, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    item = QGraphicsRectItem(40, 40, 120, 120)
    item.setPen(pen)
    scene.scene().addItem(item)
    scene.viewport().repaint()
    band, _ = _edge(scene, _grab(scene), 0)
    scene.scene().removeItem(item)
    assert np.abs(_luma(band) - 255).max() < 30


def _near(pixels: np.ndarray, color: tuple[int, int, int], tol: float = 45) -> np.ndarray:
    return np.abs(pixels.astype(int) - np.array(color)).max(axis=-1) <= tol


def test_the_three_styles_cannot_be_mistaken_for_one_another(scene):
    signatures = {}
    for style in ("committed", "candidate", "proposal"):
        shot = _draw(scene, style, class_id=5)
        _, core = _edge(scene, shot, 1)  # on the black object
        line = core.reshape(-1, 3)
        signatures[style] = {
            "class colour": _near(line, PURPLE).mean(), "white": (line.min(axis=1) > 215).mean(),
            "dark": (line.max(axis=1) < 40).mean(), "amber": _near(line, AMBER, 70).mean(),
        }
    committed, candidate, proposal = (signatures[s] for s in ("committed", "candidate", "proposal"))
    assert committed["class colour"] > 0.4 and committed["amber"] == 0  # solid, in the class colour
    assert 0.25 < candidate["white"] < 0.8 and candidate["dark"] > 0.15  # white dashes on a black line
    assert candidate["class colour"] < 0.05 and candidate["amber"] == 0
    assert 0.1 < proposal["amber"] < 0.6 and proposal["dark"] > 0.3  # amber dots on a black line
    assert proposal["class colour"] < 0.05 and proposal["white"] < 0.05


def test_the_candidate_takes_the_class_colour_and_is_drawn_from_its_crop(scene):
    big = Candidate(crop=np.ones((30, 50), bool), offset=(500, 150), image_size=(H, W))
    scene.session.set_current_class(2)
    scene.set_candidate(big)
    item = scene.candidate_item()
    assert item.bbox == (500, 150, 550, 180) and item.crop.shape == (30, 50)
    assert item.color == YELLOW and item.style == "candidate"
    assert big._full is None  # no (H, W) array was made to show it
    scene.session.set_current_class(5)  # another class: the candidate follows its colour
    assert scene.candidate_item().color == PURPLE
    # its fill is the class colour, over the image
    scene.viewport().repaint()
    shot = _grab(scene)
    inside = scene.mapFromScene(QPointF(525, 165))
    pixel = shot[inside.y(), inside.x()].astype(int)
    assert pixel[2] > pixel[1] + 20  # purple tint (blue over green) on the grey background
