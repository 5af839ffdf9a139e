"""Without a display the window commands say so in one line (Qt would abort the process instead),
and ``demo --screenshot`` renders offscreen by itself."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def _headless_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(SEGTOOL_DATA_DIR=str(tmp_path / "data"), SEGTOOL_CONFIG_DIR=str(tmp_path / "config"))
    return env


def test_window_without_a_display_is_one_clear_error(tmp_path) -> None:
    for argv in (["demo"], [str(tmp_path)]):
        out = subprocess.run([sys.executable, "-m", "segtool", *argv], capture_output=True, text=True,
                             env=_headless_env(tmp_path), timeout=120)
        assert out.returncode == 1, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "no display" in lines[0] and "xvfb-run" in lines[0], out.stderr


def test_screenshot_without_a_display_renders_offscreen(tmp_path) -> None:
    shot = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "-m", "segtool", "demo", "--screenshot", str(shot)],
                         capture_output=True, text=True, env=_headless_env(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.reshape(-1, 3).std(axis=0).max() > 10
