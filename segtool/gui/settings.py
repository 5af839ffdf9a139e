"""User settings of the window (model, device, window layout, last project), kept in an INI file.

The file is ``<config dir>/segtool.ini`` (:func:`segtool.core.paths.config_dir`, overridable with
``SEGTOOL_CONFIG_DIR``), so tests never touch a user's real settings. The position inside a project
(current image) is *not* kept here but in the project itself (store meta ``gui.current_image``), so it
travels with the project.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from segtool.core import paths

#: Devices offered in the settings dialog ("auto" = cuda when available, else cpu).
DEVICES = ("auto", "cpu", "cuda")


class AppSettings:
    """Typed access to the window's settings.

    Attributes are read and written straight through to the INI file (``QSettings``), so two windows
    see each other's choices and nothing needs saving.
    """

    def __init__(self, file: Path | None = None) -> None:
        file = file or paths.config_dir() / "segtool.ini"
        file.parent.mkdir(parents=True, exist_ok=True)
        self.file = file
        self._qs = QSettings(str(file), QSettings.Format.IniFormat)

    def _get(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return default if value is None else str(value)

    @property
    def model(self) -> str:
        """Name or path of the SAM model to use ("" = the first installed one, "none" = no SAM)."""
        return self._get("sam/model")

    @model.setter
    def model(self, value: str) -> None:
        self._qs.setValue("sam/model", value)

    @property
    def device(self) -> str:
        """One of :data:`DEVICES`."""
        value = self._get("sam/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._qs.setValue("sam/device", value if value in DEVICES else "auto")

    @property
    def last_project(self) -> str:
        """The project file opened last ("" = none)."""
        return self._get("window/last_project")

    @last_project.setter
    def last_project(self, value: str) -> None:
        self._qs.setValue("window/last_project", value)

    @property
    def model_offered(self) -> bool:
        """True once the "Get a model" dialog was shown at start-up (it is offered only once)."""
        return self._get("firstrun/model_offered", "false").lower() == "true"

    @model_offered.setter
    def model_offered(self, value: bool) -> None:
        self._qs.setValue("firstrun/model_offered", "true" if value else "false")

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """``(geometry, dock state)`` saved by :meth:`save_window_state`, or ``None`` each."""
        geometry = self._qs.value("window/geometry")
        state = self._qs.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        """Remember the window geometry and the dock layout."""
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    def sync(self) -> None:
        """Write pending changes to disk now."""
        self._qs.sync()
