"""Per-user folders (platformdirs), overridable by environment variables for tests and portable installs.

- ``SEGTOOL_CACHE_DIR``: embedding cache and other recomputable data.
- ``SEGTOOL_DATA_DIR``: downloaded and registered models.
- ``SEGTOOL_CONFIG_DIR``: settings.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "segtool"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else Path(default)


def cache_dir() -> Path:
    """Folder for recomputable data (embedding cache)."""
    return _dir("SEGTOOL_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    """Folder for user data that is costly to get again (model weights)."""
    return _dir("SEGTOOL_DATA_DIR", platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """Folder for settings."""
    return _dir("SEGTOOL_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME))
