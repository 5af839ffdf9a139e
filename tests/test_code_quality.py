"""The house rules, checked in the normal test run: ruff, and DESIGN.md's import contracts."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "segtool", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is not installed (pip install -e '.[test]')"
    result = _run(exe)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout, result.stdout
