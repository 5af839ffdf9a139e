"""Label Studio JSON both ways; brush RLE read and written only by label-studio-sdk's own converter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from format_projects import H, W, instance_masks, make_project
from outside_tools import LABEL_STUDIO_SDK, pip_target
from pycocotools import mask as coco_mask

from segtool.cli import main
from segtool.core.errors import FormatError
from segtool.services.formats import export_project, import_into_project, load_dataset
from segtool.store.sqlite import ProjectStore


@pytest.fixture
def brush(monkeypatch: pytest.MonkeyPatch):
    """label-studio-sdk's brush converter (the SDK installed apart, see outside_tools)."""
    monkeypatch.syspath_prepend(str(pip_target(LABEL_STUDIO_SDK)))
    for name in [m for m in sys.modules if m.startswith("label_studio_sdk")]:
        monkeypatch.delitem(sys.modules, name)
    from label_studio_sdk.converter import brush

    return brush


def _sdk_masks(brush, tasks: list[dict]) -> dict[str, list[tuple[str, np.ndarray]]]:
    out = {}
    for task in tasks:
        anns = []
        for r in task["annotations"][0]["result"]:
            if r["type"] == "brushlabels":
                layers = brush.decode_from_annotation("brush", [{**r, **r["value"]}])
                (layer,) = layers.values()
                anns.append((r["value"]["brushlabels"][0], layer > 0))
            else:
                pts = (np.asarray(r["value"]["points"]) / 100 * (W, H)).ravel().tolist()
                anns.append((r["value"]["polygonlabels"][0],
                             coco_mask.decode(coco_mask.frPyObjects([pts], H, W))[:, :, 0].astype(bool)))
        out[task["data"]["image"].split("?d=")[1]] = anns
    return out


@pytest.mark.parametrize("segmentation", ["rle", "auto"])
def test_export_is_read_back_by_the_sdk(tmp_path: Path, brush, segmentation: str) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "ls", "label-studio", segmentation=segmentation)
        ours = instance_masks(store)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    kinds = {r["type"] for t in tasks for r in t["annotations"][0]["result"]}
    assert kinds == ({"brushlabels"} if segmentation == "rle" else {"brushlabels", "polygonlabels"})
    assert '<Label value="cat"' in (tmp_path / "ls" / "label_config.xml").read_text()
    theirs = _sdk_masks(brush, tasks)
    assert theirs.keys() == ours.keys()
    for path, expected in ours.items():
        assert [n for n, _ in theirs[path]] == [n for n, _ in expected]
        for (_, a), (_, b) in zip(theirs[path], expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_export_import_round_trip_is_exact(tmp_path: Path, brush) -> None:
    with make_project(tmp_path / "p") as store:
        export_project(store, tmp_path / "ls", "label-studio", segmentation="auto")
        ours = instance_masks(store)
    with make_project(tmp_path / "q", classes=()) as store2:
        for rec in store2.images():
            store2.delete_instances([i.id for i in store2.instances(rec.id)])
        report = import_into_project(store2, tmp_path / "ls" / "tasks.json", "label-studio")
        assert report.instances_added == 9
        back = instance_masks(store2)
    for path, expected in ours.items():
        assert [n for n, _ in back[path]] == [n for n, _ in expected]
        for (_, a), (_, b) in zip(back[path], expected, strict=True):
            np.testing.assert_array_equal(a, b)


def _task(result: list[dict], image: str = "/data/upload/3/1a2b3c4d-a.jpg", key: str = "annotations") -> dict:
    return {"id": 7, "data": {"image": image}, key: [{"id": 1, "result": result, "score": 0.75}]}


def test_import_written_by_hand_polygons_rectangles_and_other_results(tmp_path: Path, brush, capsys) -> None:
    root = tmp_path / "p"
    with make_project(root, names=("a.jpg",), classes=()) as store:
        store.delete_instances([i.id for i in store.instances(store.images()[0].id)])
    m = np.zeros((H, W), np.uint8)
    m[10:20, 30:50] = 255
    rle = brush.mask2rle(m)
    base = {"original_width": W, "original_height": H, "from_name": "t", "to_name": "image"}
    result = [
        {**base, "type": "polygonlabels", "value": {"points": [[0, 0], [50, 0], [50, 50], [0, 50]], "polygonlabels": ["car"]}},
        {**base, "type": "brushlabels", "value": {"format": "rle", "rle": [int(v) for v in rle], "brushlabels": ["road"]}},
        {**base, "type": "rectanglelabels", "value": {"x": 0, "y": 0, "width": 25, "height": 50, "rectanglelabels": ["car"]}},
        {**base, "type": "choices", "value": {"choices": ["day"]}},
    ]
    (tmp_path / "t.json").write_text(json.dumps([_task(result)]))
    assert main(["import", str(root), str(tmp_path / "t.json"), "--format", "label-studio"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 instances" in out and "1 rectangle(s) skipped" in out and "1 choices result(s)" in out
    with ProjectStore.open(root, readonly=True) as store:
        got = instance_masks(store)["a.jpg"]
    assert [n for n, _ in got] == ["car", "road"]
    assert got[0][1].sum() == 32 * 24 and got[0][1][:24, :32].all()
    np.testing.assert_array_equal(got[1][1], m > 0)
    (tmp_path / "p2.json").write_text(json.dumps([_task(result[:1], "/data/local-files/?d=a.jpg", "predictions")]))
    with ProjectStore.open(root) as store:
        data = load_dataset(store, tmp_path / "p2.json", "label-studio", boxes="mask")
        assert data.images[0].annotations[0].score == 0.75


@pytest.mark.parametrize("value, message", [
    ({"format": "rle", "rle": [0, 0, 0, 200, 1], "brushlabels": ["x"]}, "holds 200 values"),
    ({"format": "rle", "rle": [300], "brushlabels": ["x"]}, "list of bytes"),
    ({"points": [[0, 0], [1, "a"]], "polygonlabels": ["x"]}, "points must be"),
])
def test_bad_results_are_refused_before_decoding(tmp_path: Path, brush, value: dict, message: str) -> None:
    root = tmp_path / "p"
    kind = "brushlabels" if "rle" in value else "polygonlabels"
    (tmp_path / "t.json").write_text(json.dumps([_task([{"type": kind, "value": value}], "a.jpg")]))
    with make_project(root, names=("a.jpg",)) as store:
        with pytest.raises(FormatError, match=message):
            load_dataset(store, tmp_path / "t.json", "label-studio")


def test_unknown_image_and_missing_sdk_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    (tmp_path / "t.json").write_text(json.dumps([_task([], "/data/upload/1/zz.jpg")]))
    with make_project(root, names=("a.jpg",)) as store:
        with pytest.raises(FormatError, match="matches no image of the project"):
            load_dataset(store, tmp_path / "t.json", "label-studio")
        for name in [m for m in sys.modules if m.startswith("label_studio_sdk")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "label_studio_sdk", None)  # as if not installed
        with pytest.raises(FormatError, match="need label-studio-sdk"):
            export_project(store, tmp_path / "ls", "label-studio", segmentation="rle")
        assert not (tmp_path / "ls").exists()
