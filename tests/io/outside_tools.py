"""Readers of other projects that cannot share segtool's environment, installed for the tests on
first use into a cache folder (``SEGTOOL_TEST_TOOLS``, default ``~/.cache/segtool-test-tools``).

- :func:`pip_target`: ``pip install --no-deps --target`` of one pinned package whose declared
  requirements clash with segtool's (label-studio-sdk pins ``opencv-python-headless<4.13``, which
  pins ``numpy<2.3``; its brush converter needs only numpy and Pillow, which are here).
- :func:`tool_venv`: a virtual environment that sees segtool's packages
  (``--system-site-packages``) plus its own pinned packages: labelme, whose ``LabelFile`` imports
  PyQt5, which must not share a process with PySide6; it runs in a subprocess
  (:func:`run_labelme_side` runs ``labelme_side.py``, labelme's own reader and writer, there).

A missing network makes these fail loudly, never skip: CI reaches the package index.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

LABEL_STUDIO_SDK = "label-studio-sdk==2.1.2"
LABELME = ("labelme==6.3.1", "imgviz==2.1.0", "cmap==0.8.0", "loguru>=0.7", "natsort>=7.1", "PyQt5==5.15.11",
           "PyQt5-Qt5==5.15.17", "PyQt5-sip>=12.15")


def _cache() -> Path:
    return Path(os.environ.get("SEGTOOL_TEST_TOOLS", Path.home() / ".cache" / "segtool-test-tools"))


def _key(specs: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join((sys.version, *specs)).encode()).hexdigest()[:16]


def _pip(args: list[str], what: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", *args],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"cannot install {what} for the test: {proc.stderr.strip()[-800:]}")


def pip_target(spec: str) -> Path:
    """A folder holding ``spec`` (and nothing else), installed once; put it on ``sys.path``."""
    folder = _cache() / f"target-{_key((spec,))}"
    if not (folder / ".complete").is_file():
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        _pip(["--target", str(tmp), spec], spec)
        (tmp / ".complete").write_text(spec)
        try:
            os.replace(tmp, folder)
        except OSError:  # another test process finished first
            pass
    return folder


def tool_venv(specs: tuple[str, ...]) -> Path:
    """The python executable of a venv with segtool's packages plus ``specs`` (installed once)."""
    folder = _cache() / f"venv-{_key(specs)}"
    python = folder / "bin" / "python"
    if not (folder / ".complete").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--clear", str(folder)],
                       check=True, timeout=300)
        proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", *specs],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"cannot install {specs} for the test: {proc.stderr.strip()[-800:]}")
        (folder / ".complete").write_text("\n".join(specs))
    return python


def run_labelme_side(*args: str | os.PathLike) -> None:
    """Run ``tests/io/labelme_side.py`` (labelme's own reader/writer) in the labelme venv; fail the
    test with labelme's error when it cannot."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)  # labelme's process sees its venv and the system packages only
    proc = subprocess.run([str(tool_venv(LABELME)), str(Path(__file__).with_name("labelme_side.py")),
                           *map(str, args)], capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0:
        pytest.fail(f"labelme could not: {proc.stderr.strip()[-1500:]}")
