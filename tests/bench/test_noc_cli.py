"""``segtool bench noc`` options: variants side by side, protocols apart, the tune split, bad variants."""

from __future__ import annotations

import json

from segtool.cli import main


def test_before_after_runs_both_variants_and_both_protocols_in_one_run(grabcut_dir, tmp_path, capsys):
    out = tmp_path / "noc.json"
    code = main(["bench", "noc", "--engine", "watershed", "--dataset", str(grabcut_dir), "--limit", "2",
                 "--max-clicks", "3", "--first", "both", "--before-after", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    runs = [(r["first"], r["variant"]) for r in report["runs"]]
    assert runs == [("click", "raw"), ("click", "default"), ("box", "raw"), ("box", "default")]
    for run in report["runs"]:
        assert run["n_images"] == 2 and len(run["miou_at_click"]) == 3
        assert run["follow_up_clicks"] <= 2 * 2 and 0 <= run["harmful_clicks"] <= run["follow_up_clicks"]
    text = capsys.readouterr().out
    assert "click-first: clicks only" in text and "box-first: the ground-truth box is interaction 1" in text
    assert text.index("click-first") < text.index("box-first")


def test_tune_split_is_every_fourth_image(grabcut_dir, tmp_path):
    out = tmp_path / "noc.json"
    assert main(["bench", "noc", "--engine", "wand", "--dataset", str(grabcut_dir), "--limit", "6", "--split",
                 "tune", "--max-clicks", "2", "--raw", "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["variant"] == "raw" and [im["name"] for im in run["images"]] == ["106024", "181079"]


def test_sam_options_on_a_classical_engine_fail_with_one_line(grabcut_dir, capsys):
    code = main(["bench", "noc", "--engine", "wand", "--dataset", str(grabcut_dir), "--limit", "1",
                 "--variants", "zoom-in"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "SAM option" in err and len(err.splitlines()) == 1
