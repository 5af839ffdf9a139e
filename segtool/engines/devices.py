"""Where models run: CUDA, then Apple MPS, then CPU; and why not CUDA (for ``segtool doctor``).

torch and onnxruntime are imported lazily inside the functions; nothing here loads a backend at
import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from segtool.core.errors import ModelError

TORCH_DEVICES = ("cuda", "mps", "cpu")


@dataclass
class DeviceChoice:
    """A chosen device and the reason the faster ones were not taken (empty when CUDA was chosen)."""

    device: str
    reason: str = ""


def torch_device(requested: str | None = None) -> DeviceChoice:
    """The torch device to use: ``requested`` when given (validated), else cuda > mps > cpu.

    Raises
    ------
    ModelError
        ``requested`` names a device torch cannot use here.
    """
    import torch  # noqa: PLC0415 - lazy, torch is heavy

    if requested:
        kind = requested.split(":")[0]
        if kind not in TORCH_DEVICES:
            raise ModelError(f"unknown device {requested!r}; use one of {', '.join(TORCH_DEVICES)} (or cuda:N)")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"device {requested!r} requested but {cuda_unavailable_reason()}; use --device cpu")
        if kind == "mps" and not _mps_available(torch):
            raise ModelError("device 'mps' requested but Apple MPS is not available; use --device cpu")
        return DeviceChoice(requested)
    if torch.cuda.is_available():
        return DeviceChoice("cuda")
    reason = cuda_unavailable_reason()
    if _mps_available(torch):
        return DeviceChoice("mps", reason)
    return DeviceChoice("cpu", reason)


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cuda_unavailable_reason() -> str:
    """Why torch cannot use CUDA here, in words a user can act on ('' when it can)."""
    import torch  # noqa: PLC0415

    if torch.cuda.is_available():
        return ""
    if torch.version.cuda is None:
        return (f"this torch build ({torch.__version__}) has no CUDA support; install a CUDA build of "
                "torch from https://pytorch.org to use an NVIDIA GPU")
    try:
        count = torch.cuda.device_count()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"torch was built with CUDA {torch.version.cuda} but the driver failed: {exc}"
    if count == 0:
        return (f"torch was built with CUDA {torch.version.cuda} but no NVIDIA GPU or driver was found "
                "(check nvidia-smi)")
    return f"torch was built with CUDA {torch.version.cuda} but CUDA is not usable (driver too old?)"


def onnx_providers(requested: str | None = None) -> list[str]:
    """onnxruntime execution providers in order of preference.

    ``requested`` None: CUDA when onnxruntime offers it, then CPU. ``"cpu"``: CPU only. ``"cuda"``:
    CUDA then CPU, :class:`ModelError` when onnxruntime has no CUDA provider.
    """
    import onnxruntime as ort  # noqa: PLC0415

    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    kind = (requested or "").split(":")[0]
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and not has_cuda:
        raise ModelError("device 'cuda' requested but this onnxruntime has no CUDA provider; "
                         "install onnxruntime-gpu or use --device cpu")
    if kind not in ("", "cuda"):
        raise ModelError(f"unknown device {requested!r} for onnxruntime; use cpu or cuda")
    return (["CUDAExecutionProvider"] if has_cuda else []) + ["CPUExecutionProvider"]
