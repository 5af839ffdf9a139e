"""The built wheel installs into a fresh virtual environment and runs from there (issue 8, point 1).

The venv takes its third-party packages from the environment the tests run in (the running
interpreter's site-packages folders are put on its path), so the test downloads nothing and works the
same whether pytest runs from the system interpreter or from inside a venv (``--system-site-packages``
would give the *base* interpreter's packages there). Those folders are plain path entries, so their
``.pth`` files (e.g. an editable install of segtool) are not run: segtool itself comes only from the
wheel, and the test checks that the imported package lives inside the venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                             "--outdir", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_wheel_and_sdist_include_resources(dists: Path) -> None:
    wheel = next(dists.glob("segtool-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "segtool/resources/icons/segtool.svg" in names
    assert "segtool/resources/linux/io.github.segtool.Segtool.desktop" in names
    assert "segtool/resources/linux/io.github.segtool.Segtool.metainfo.xml" in names
    sdist = next(dists.glob("segtool-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("segtool/resources/icons/segtool.svg") for m in members)


def _running_site_packages() -> list[str]:
    """The site-packages folders the running interpreter imports from (a venv's, the base's, the user's)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def test_wheel_runs_from_a_fresh_venv(dists: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    purelib = subprocess.run([str(bindir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "_running_environment.pth").write_text("\n".join(_running_site_packages()) + "\n")
    wheel = next(dists.glob("segtool-*.whl"))
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the venv decides what is imported
    env["QT_QPA_PLATFORM"] = "offscreen"
    where = subprocess.run([str(bindir / "python"), "-c", "import segtool; print(segtool.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve())

    version = subprocess.run([str(bindir / "segtool"), "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("segtool ")

    # what `segtool demo` checks first on a real display (a plain install preloads nothing for it)
    xcb = subprocess.run([str(bindir / "python"), "-c", "from segtool.services.diagnostics import "
                          "missing_xcb_libraries; print(missing_xcb_libraries())"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert xcb.returncode == 0, xcb.stderr[-2000:]

    shot = tmp_path / "shot.png"
    run = subprocess.run([str(bindir / "segtool"), "demo", "--screenshot", str(shot)], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[0] >= 400 and pixels.shape[1] >= 600
    assert pixels.reshape(-1, 3).std(axis=0).max() > 10, "the screenshot is blank"
