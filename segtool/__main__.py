"""``python -m segtool`` is the same as the ``segtool`` console script."""

from segtool.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
