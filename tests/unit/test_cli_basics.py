"""The command line: version and the one-line error contract."""

from __future__ import annotations

import subprocess
import sys

from segtool import __version__


def test_version_via_module() -> None:
    out = subprocess.run([sys.executable, "-m", "segtool", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"segtool {__version__}"
