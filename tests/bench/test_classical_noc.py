"""Robot user on the classical tools (both protocols) and the classical latency command.

Quality floors are set about 0.05-0.08 below what each engine measured on this fixed subset (every
6th image of ../shared/datasets/grabcut, 6 images, 10 clicks); the full-set numbers come from
``segtool bench noc`` and are reported, not tested (they take minutes).
"""

from __future__ import annotations

import json

import pytest

from segtool.bench.noc import summarize
from segtool.bench.robot import load_dataset, run_robot
from segtool.cli import main
from segtool.engines.registry import create_engine

#: engine -> protocol -> (floor of mean IoU after 10 clicks, ceiling of NoC@90 with 10 clicks at most)
FLOORS = {
    # grabcut (issue 15: band cut, clicked pieces, flood guard, data_power 0.75): click 0.937 after 10 clicks,
    # NoC@90 4.67; box 0.948, NoC@90 3.67 (the seeded k-means start makes these repeatable; before the
    # clicked-piece rule and data_power: click 0.935 / 5.0, box 0.945 / 4.0; the pre-issue-15 band 0.942 / 4.5)
    "grabcut": {"click": (0.90, 5.5), "box": (0.91, 4.5)},
    "watershed": {"click": (0.72, 8.5), "box": (0.80, 6.5)},
    "superpixel": {"click": (0.58, 10.0), "box": (0.65, 9.0)},
    # the follow-up discipline (issue 15) trades a little NoC for no flooding clicks: 8.5 -> 9.17 here
    "region-grow": {"click": (0.55, 9.5), "box": (0.65, 9.0)},
    "wand": {"click": (0.35, 10.0), "box": (0.48, 10.0)},
}


@pytest.fixture(scope="module")
def subset():
    from conftest import shared_path

    return load_dataset(shared_path("datasets", "grabcut"))[::6]


@pytest.mark.parametrize("engine_name", sorted(FLOORS))
def test_robot_quality_floor(engine_name: str, subset) -> None:
    engine = create_engine(engine_name)
    contexts = [engine.prepare(sample.image) for sample in subset]
    for first in ("click", "box"):
        traces = [run_robot(engine, ctx, sample, max_clicks=10, first=first)
                  for ctx, sample in zip(contexts, subset, strict=True)]
        report = summarize(engine_name, traces, 10, first)
        floor, noc_ceiling = FLOORS[engine_name][first]
        assert report["n_images"] == 6
        assert report["miou_at_click"][-1] >= floor, (first, report["miou_at_click"])
        assert report["noc90"] <= noc_ceiling, (first, report["noc90"])
        if engine_name == "grabcut":  # the clicks really continue: IoU after 10 clicks beats the first
            assert report["miou_at_click"][-1] > report["miou_at_click"][0] + 0.05


@pytest.mark.parametrize("engine_name", ["grabcut", "wand", "watershed"])
def test_latency_command_for_classical_engines(engine_name: str, tmp_path, capsys) -> None:
    out = tmp_path / "latency.json"
    code = main(["bench", "latency", "--engine", engine_name, "--megapixels", "0.05,0.1", "--repeats", "2",
                 "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["engine"] == engine_name and [r["megapixels"] for r in report["rows"]] == [0.05, 0.1]
    for row in report["rows"]:
        h, w = row["image_hw"]
        assert abs(h * w / 1e6 - row["megapixels"]) < 0.01
        assert all(v > 0 for v in row["interactions"].values())
        if engine_name == "grabcut":
            assert row["plain_cv2_grabcut_s"] > 0
    assert "MP" in capsys.readouterr().out
