"""``segtool doctor``: what a user should paste when SAM is slow, the GPU is unused or the window won't open.

Every section is gathered on its own: a failure in one (say, torch missing) is reported as that
section's ``error`` and the others are still filled in. Qt is probed in a subprocess, so this module
never imports PySide6 and a broken Qt platform plugin is reported, not crashed on.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from segtool import __version__
from segtool.core.paths import cache_dir, config_dir, data_dir

_QT_PROBE = (
    "import PySide6, PySide6.QtCore as c; from PySide6.QtGui import QGuiApplication; "
    "print(PySide6.__version__, c.qVersion()); app = QGuiApplication([]); print(app.platformName())"
)

_QT_HINTS = (
    ("xcb", "Linux: install the X11 libraries Qt needs, e.g. `sudo apt install libxcb-cursor0 libxkbcommon-x11-0 "
     "libxcb-icccm4 libxcb-keysyms1 libxcb-render-util0`; or run headless with QT_QPA_PLATFORM=offscreen"),
    ("wayland", "Wayland: try QT_QPA_PLATFORM=xcb, or install qt6-wayland for your distribution"),
    ("display", "No display: set DISPLAY, use `xvfb-run segtool ...`, or QT_QPA_PLATFORM=offscreen for batch work"),
)


def qt_xcb_plugin() -> Path | None:
    """The file of Qt's xcb platform plugin inside the installed PySide6 (``None`` when there is none)."""
    spec = importlib.util.find_spec("PySide6")
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        for rel in ("Qt/plugins/platforms/libqxcb.so", "plugins/platforms/libqxcb.so"):
            if (Path(root) / rel).is_file():
                return Path(root) / rel
    return None


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships shared library ``soname`` by the library packaging rule
    (``libxcb-cursor.so.0`` -> ``libxcb-cursor0``, ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``)."""
    name, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    return f"{name.lower()}{'-' if name[-1:].isdigit() else ''}{version}"


def missing_xcb_libraries(plugin: Path | None = None) -> list[str]:
    """Shared libraries Qt's xcb platform plugin needs that the dynamic loader cannot find (``ldd``), in
    order; empty when everything is there, when this is not Linux, or when ``ldd`` or the plugin is absent."""
    plugin = plugin or qt_xcb_plugin()
    ldd = shutil.which("ldd")
    if not sys.platform.startswith("linux") or plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]
    return list(dict.fromkeys(m for m in missing if m))


def xcb_failure(missing: list[str]) -> str:
    """One line for a user whose window cannot open: the missing libraries and the apt command."""
    packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
    return (f"the window cannot open: Qt's xcb platform plugin needs {', '.join(missing)}, missing on this system; "
            f"install {'it' if len(missing) == 1 else 'them'} with `sudo apt install {packages}` (Debian/Ubuntu "
            "names; `segtool doctor` has details)")


def has_display(env: Mapping[str, str] | None = None) -> bool:
    """False on Linux when neither an X11 (``DISPLAY``) nor a Wayland display is set; True elsewhere."""
    env = os.environ if env is None else env
    return not sys.platform.startswith("linux") or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _section(func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return func()
    except Exception as exc:  # noqa: BLE001 - a doctor reports every failure instead of raising
        return {"error": f"{type(exc).__name__}: {exc}"}


def _version(module: str, attr: str = "__version__") -> str:
    try:
        return str(getattr(importlib.import_module(module), attr))
    except Exception as exc:  # noqa: BLE001
        return f"not available ({type(exc).__name__}: {exc})"


def versions() -> dict[str, Any]:
    """Versions of segtool, Python and the libraries that do the work."""
    return {
        "segtool": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "numpy": _version("numpy"),
        "opencv": _version("cv2"),
        "onnxruntime": _version("onnxruntime"),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "segment_anything": "installed" if importlib.util.find_spec("segment_anything") else "missing",
        "mobile_sam (vit_t)": "installed" if importlib.util.find_spec("mobile_sam") else "missing",
        "pycocotools": "installed" if importlib.util.find_spec("pycocotools") else "missing",
    }


def qt_status(timeout: float = 30.0) -> dict[str, Any]:
    """PySide6/Qt versions and whether a Qt GUI application starts here, with its platform plugin."""
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-c", _QT_PROBE], capture_output=True, text=True,
                            timeout=timeout, env=env)
    lines = result.stdout.split()
    info: dict[str, Any] = {"QT_QPA_PLATFORM": env.get("QT_QPA_PLATFORM", "(not set)"),
                            "DISPLAY": env.get("DISPLAY", "(not set)"),
                            "WAYLAND_DISPLAY": env.get("WAYLAND_DISPLAY", "(not set)")}
    if len(lines) >= 2:
        info["pyside6"], info["qt"] = lines[0], lines[1]
    if result.returncode == 0 and len(lines) >= 3:
        info["platform_plugin"] = lines[2]
        info["gui_starts"] = True
        return info
    info["gui_starts"] = False
    missing = missing_xcb_libraries()
    if missing:
        info["missing libraries"] = ", ".join(missing)
    err = (result.stderr or "").strip().splitlines()
    info["error"] = " | ".join(line for line in err[-4:] if line.strip()) or f"exit code {result.returncode}"
    text = (result.stderr or "").lower()
    if missing:
        info["hint"] = xcb_failure(missing)
    elif not has_display(env) and env.get("QT_QPA_PLATFORM", "") in ("", "xcb", "wayland"):
        info["hint"] = _QT_HINTS[2][1]
    else:
        info["hint"] = next((hint for key, hint in _QT_HINTS if key in text), _QT_HINTS[2][1])
    return info


def compute_devices() -> dict[str, Any]:
    """Which device each SAM backend will use, and why not CUDA when it is not used."""
    from segtool.engines import devices

    smi = shutil.which("nvidia-smi")
    out: dict[str, Any] = {"nvidia-smi": smi or "not found"}
    if smi:
        gpus = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
        out["gpus"] = gpus.stdout.strip().replace("\n", "; ") or gpus.stderr.strip()
    try:
        choice = devices.torch_device()
        out["sam-torch device"] = choice.device
        if choice.reason:
            out["sam-torch: why not cuda"] = choice.reason
    except Exception as exc:  # noqa: BLE001
        out["sam-torch device"] = f"unavailable ({exc})"
    try:
        import onnxruntime as ort  # noqa: PLC0415

        providers = devices.onnx_providers()
        out["onnxruntime providers available"] = ", ".join(ort.get_available_providers())
        out["sam-onnx device"] = "cuda" if providers[0] == "CUDAExecutionProvider" else "cpu"
        if providers[0] != "CUDAExecutionProvider":
            out["sam-onnx: why not cuda"] = ("this onnxruntime has no CUDA provider; `pip uninstall onnxruntime && "
                                             "pip install onnxruntime-gpu` on a machine with an NVIDIA driver")
    except Exception as exc:  # noqa: BLE001
        out["sam-onnx device"] = f"unavailable ({exc})"
    return out


def installed_models() -> dict[str, Any]:
    """Installed models with their checksum status (see ``segtool models list``)."""
    from segtool.engines import models

    installed = models.installed_models()
    out: dict[str, Any] = {"models folder": str(models.models_dir())}
    if not installed:
        out["installed"] = ("none: SAM tools are off. `segtool models download mobile_sam` (40 MB), or "
                            "`segtool models add PATH` for a checkpoint or an ONNX encoder/decoder folder")
    for model in installed:
        out[model.name] = f"{model.engine}, {model_checksum_status(model, models)}, {model.path}"
    return out


def model_checksum_status(model: Any, models: Any) -> str:
    """``checksum ok`` / ``CHECKSUM MISMATCH`` for catalogue weights, file presence for the rest."""
    path = Path(model.path)
    if not path.exists():
        return "MISSING (the file or folder is gone; remove and add it again)"
    if path.is_dir():
        files = [name for name in ("encoder.onnx", "decoder.onnx") if (path / name).is_file()]
        return f"onnx files: {', '.join(files) or 'none'} (no published checksum)"
    entry = next((e for e in models.CATALOG.values() if e.filename == path.name), None)
    if entry is None:
        return "no published checksum"
    if models.sha256_file(path) == entry.sha256:
        return "checksum ok"
    return f"CHECKSUM MISMATCH (expected {entry.sha256[:12]}...; download it again)"


def cache_status() -> dict[str, Any]:
    """Where the embedding cache, the models and the settings live, and the cache's size."""
    from segtool.engines.embeddings import default_cache

    cache = default_cache()
    size = cache.disk_bytes()
    return {"embedding cache": str(cache.directory), "embedding cache size": f"{size / 1e6:.1f} MB",
            "embedding cache cap": f"{cache.max_disk_bytes / 1e9:.1f} GB", "models folder": str(data_dir() / "models"),
            "settings folder": str(config_dir()), "cache folder": str(cache_dir())}


def gather() -> dict[str, dict[str, Any]]:
    """The whole report: section title -> {key: value}."""
    return {
        "versions": _section(versions),
        "qt": _section(qt_status),
        "devices": _section(compute_devices),
        "models": _section(installed_models),
        "cache": _section(cache_status),
    }


def format_report(report: dict[str, dict[str, Any]]) -> str:
    """The report as aligned plain text, one section after another."""
    lines: list[str] = []
    for title, section in report.items():
        lines.append(f"[{title}]")
        width = max((len(k) for k in section), default=0)
        lines.extend(f"  {key.ljust(width)}  {value}" for key, value in section.items())
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
