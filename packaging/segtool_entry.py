"""Entry script for the PyInstaller build: the same as the ``segtool`` console script."""

import sys

from segtool.cli import main

if __name__ == "__main__":
    sys.exit(main())
