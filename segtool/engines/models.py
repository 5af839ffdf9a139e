"""Model catalogue, download (progress, HTTP Range resume, sha256, atomic placement) and registry.

Installed models live under ``data_dir()/models``; ``registry.json`` there maps a name to a
checkpoint file or an ONNX folder (downloaded or added with ``segtool models add PATH``).
The catalogue lists the official weights; the sha256 values are those published with them.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from segtool.core.atomic import write_text
from segtool.core.errors import ModelError
from segtool.core.paths import data_dir


@dataclass(frozen=True)
class CatalogEntry:
    """One downloadable model: ``engine`` ``sam-torch``; ``speed`` a rough CPU/GPU encoder time."""

    name: str
    url: str
    sha256: str
    size: int
    model_type: str
    filename: str
    speed: str
    license: str = "Apache-2.0"


CATALOG: dict[str, CatalogEntry] = {e.name: e for e in (
    CatalogEntry("vit_h", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
                 "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879, "vit_h",
                 "sam_vit_h_4b8939.pth", "encoder ~0.45 s on an A100-class GPU, minutes per image on CPU"),
    CatalogEntry("vit_l", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
                 "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607, "vit_l",
                 "sam_vit_l_0b3195.pth", "encoder ~0.3 s on GPU, ~1 min on CPU"),
    CatalogEntry("vit_b", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
                 "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383, "vit_b",
                 "sam_vit_b_01ec64.pth", "encoder ~0.1 s on GPU, ~10-20 s on CPU"),
    CatalogEntry("mobile_sam", "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
                 "6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f", 40_728_226, "vit_t",
                 "mobile_sam.pt", "encoder ~10 ms on GPU, ~0.5-1 s on CPU (needs mobilesam-mirror)", "Apache-2.0"),
)}


@dataclass
class InstalledModel:
    """A model ready to use: ``kind`` ``"torch"`` (checkpoint file) or ``"onnx"`` (folder)."""

    name: str
    path: str
    kind: str
    model_type: str | None = None
    source: str = "added"

    @property
    def engine(self) -> str:
        """The engine that runs it."""
        return "sam-onnx" if self.kind == "onnx" else "sam-torch"


_lock = threading.Lock()


def models_dir() -> Path:
    """``data_dir()/models``."""
    return data_dir() / "models"


def _registry_path() -> Path:
    return models_dir() / "registry.json"


def _read_registry() -> dict[str, dict]:
    try:
        return json.loads(_registry_path().read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model registry {_registry_path()} is unreadable ({exc}); delete it and add "
                         "your models again") from None


def _write_registry(entries: dict[str, dict]) -> None:
    path = _registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(entries, indent=1, sort_keys=True))


def installed_models() -> list[InstalledModel]:
    """Registered models, sorted by name."""
    with _lock:
        return [InstalledModel(**v) for _, v in sorted(_read_registry().items())]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file (read in 4 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind_of(path: Path) -> str:
    """``onnx`` for a folder with encoder.onnx + decoder.onnx, ``torch`` for a zip/pickle checkpoint."""
    if path.is_dir():
        missing = [n for n in ("encoder.onnx", "decoder.onnx") if not (path / n).is_file()]
        if missing:
            raise ModelError(f"{path} lacks {', '.join(missing)}: a SAM ONNX folder holds encoder.onnx and decoder.onnx")
        return "onnx"
    if not path.is_file():
        raise ModelError(f"no such model file or folder: {path}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    raise ModelError(f"{path} is neither a PyTorch checkpoint (.pt/.pth) nor a folder with encoder.onnx and "
                     "decoder.onnx")


def verify_model(path: Path, kind: str, model_type: str | None = None) -> str | None:
    """Check that ``path`` loads as what it claims; returns the SAM model type of a checkpoint.

    - ``onnx``: both files open in onnxruntime and have segment-anything's export signatures
      (encoder input ``input``; decoder inputs and outputs ``masks``, ``iou_predictions``,
      ``low_res_masks``).
    - ``torch``: a weights-only checkpoint (``torch.load(..., weights_only=True)``: no code runs) whose
      tensors are those of a known SAM type (``vit_h/l/b/t``, guessed from the weights when not
      given), every key and shape compared with the network built on PyTorch's ``meta`` device (no
      memory allocated).

    Raises
    ------
    ModelError
        The file is corrupt, truncated, code instead of weights, or not a SAM model of that type.
    """
    if kind == "onnx":
        from segtool.engines.sam_onnx import SamOnnxEngine  # noqa: PLC0415

        SamOnnxEngine(model=path, device="cpu", cache=False)
        return model_type
    from segtool.engines.sam_torch import verify_checkpoint  # noqa: PLC0415

    return verify_checkpoint(path, model_type)


def add_model(path: Path, name: str | None = None, *, model_type: str | None = None,
              source: str = "added", verify: bool = True) -> InstalledModel:
    """Register a local checkpoint file or ONNX folder under ``name`` (default: its stem), after
    :func:`verify_model` (skipped with ``verify=False``: a download already matched its sha256)."""
    path = Path(path).expanduser().resolve()
    kind = _kind_of(path)
    if verify:
        model_type = verify_model(path, kind, model_type)
    entry = InstalledModel(name or path.stem, str(path), kind, model_type, source)
    with _lock:
        entries = _read_registry()
        entries[entry.name] = asdict(entry)
        _write_registry(entries)
    return entry


def remove_model(name: str) -> InstalledModel:
    """Unregister ``name``; a downloaded file (under :func:`models_dir`) is deleted too."""
    with _lock:
        entries = _read_registry()
        if name not in entries:
            raise ModelError(f"no installed model named {name!r}; see `segtool models list`")
        entry = InstalledModel(**entries.pop(name))
        _write_registry(entries)
    path = Path(entry.path)
    if entry.source == "download" and models_dir() in path.parents:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return entry


def resolve_model(name_or_path: str | Path) -> InstalledModel:
    """An existing path, or an installed name; a catalogue name not yet downloaded gives the offline hint."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return InstalledModel(path.stem, str(path.resolve()), _kind_of(path))
    for model in installed_models():
        if model.name == str(name_or_path):
            return model
    if str(name_or_path) in CATALOG:
        raise ModelError(offline_hint(CATALOG[str(name_or_path)]))
    raise ModelError(f"unknown model {name_or_path!r}: not a file, not installed, not in the catalogue "
                     f"({', '.join(CATALOG)}); see `segtool models list`")


def default_model() -> InstalledModel | None:
    """The SAM model used when none is named: ``$SEGTOOL_SAM_MODEL`` (a path) if it exists, else the
    first installed model (by name, as the window chooses), else ``None``."""
    env = os.environ.get("SEGTOOL_SAM_MODEL", "").strip()
    if env and Path(env).expanduser().exists():
        return resolve_model(env)
    for model in installed_models():
        if Path(model.path).exists():
            return model
    return None


def offline_hint(entry: CatalogEntry, reason: str = "") -> str:
    """What to download and where to put it, for machines without internet access."""
    target = models_dir() / entry.filename
    why = f"{reason}. " if reason else ""
    return (f"{why}Model {entry.name} is not installed. Download {entry.url} ({entry.size / 1e6:.0f} MB, sha256 "
            f"{entry.sha256}) on a connected machine, copy it to {target}, then run `segtool models add {target}`")


def _open(url: str, offset: int, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "segtool"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URLs of the catalogue


def _transfer(url: str, part: Path, total: int | None, progress: bool, timeout: float,
              progress_callback: Callable[[int, int], None] | None = None) -> None:
    """Append the rest of ``url`` to ``part`` (HTTP Range from its current size); ``progress_callback(done,
    total)`` (bytes; total 0 when unknown) after each block -- an exception it raises stops the transfer."""
    from tqdm import tqdm  # noqa: PLC0415

    offset = part.stat().st_size if part.exists() else 0
    if total is not None and offset >= total:
        return
    with _open(url, offset, timeout) as response:
        if offset and response.status != 206:  # server ignored Range: start over
            offset = 0
        length = response.headers.get("Content-Length")
        expected = total or (offset + int(length) if length else None)
        with open(part, "ab" if offset else "wb") as fh, tqdm(
                total=expected, initial=offset, unit="B", unit_scale=True, disable=not progress,
                desc=part.name.removesuffix(".part")) as bar:
            done = offset
            for block in iter(lambda: response.read(1 << 20), b""):
                fh.write(block)
                bar.update(len(block))
                done += len(block)
                if progress_callback is not None:
                    progress_callback(done, expected or 0)
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise http.client.IncompleteRead(b"", expected - size)


def download(name: str, *, url: str | None = None, dest_dir: Path | None = None, progress: bool = True,
             retries: int = 5, timeout: float = 30.0, register: bool = True,
             progress_callback: Callable[[int, int], None] | None = None) -> Path:
    """Download catalogue model ``name`` (or ``url`` with its sha256), verify it, place it atomically.

    ``progress_callback(done_bytes, total_bytes)`` is called after each block (the GUI's progress bar);
    an exception it raises (e.g. the user cancelled) propagates and leaves ``<file>.part`` for a resume.

    An interrupted transfer leaves ``<file>.part``; the next attempt (a retry here or a later call)
    resumes it with an HTTP Range request. The file is renamed into place only after its sha256
    matches; on a mismatch the partial file is deleted and :class:`ModelError` raised.
    """
    if name not in CATALOG:
        raise ModelError(f"unknown model {name!r}; downloadable models: {', '.join(CATALOG)}")
    entry = CATALOG[name]
    dest_dir = Path(dest_dir) if dest_dir is not None else models_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / entry.filename
    part = dest_dir / f"{entry.filename}.part"
    source = url or entry.url
    last_error: Exception | None = None
    for _ in range(max(1, retries)):
        try:
            _transfer(source, part, entry.size, progress, timeout, progress_callback)
            last_error = None
            break
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last_error = exc
            if isinstance(exc, urllib.error.HTTPError) or (isinstance(exc, urllib.error.URLError)
                                                             and not part.exists()):
                break
    if last_error is not None:
        raise ModelError(offline_hint(entry, f"download of {source} failed ({last_error})")) from None
    digest = sha256_file(part)
    if digest != entry.sha256:
        part.unlink(missing_ok=True)
        raise ModelError(f"checksum mismatch for {entry.filename}: got sha256 {digest}, expected {entry.sha256}; "
                         "the partial file was deleted, run the download again")
    os.replace(part, final)
    if register:
        add_model(final, entry.name, model_type=entry.model_type, source="download", verify=False)
    return final
