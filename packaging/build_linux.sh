#!/usr/bin/env bash
# Build the one-folder application and smoke-test it offscreen. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q pyinstaller
pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/segtool.spec
du -sh dist/segtool
QT_QPA_PLATFORM=offscreen dist/segtool/segtool --version
QT_QPA_PLATFORM=offscreen dist/segtool/segtool demo --screenshot dist/smoke.png
echo "built dist/segtool; smoke screenshot in dist/smoke.png"
