"""The one decoder and validator of COCO compressed RLE strings that come from outside.

pycocotools trusts its input: a counts string whose runs do not add up to ``H * W`` makes
``mask.decode`` write past its buffer (heap corruption or a segfault), and a string whose last
character asks for more makes it read past the end. Every RLE that comes from a file -- a COCO
import, a project row of a ``project.segtool`` someone sent -- is therefore checked here, with
numpy, before pycocotools sees it.

Format (pycocotools' ``rleFrString``): each run is a group of characters ``c - 48`` in ``0..63``,
5 data bits each, little-endian; ``0x20`` means "more follows"; ``0x10`` on the last character of a
group means negative. Runs from the third on are stored as the difference to the run two before.
Runs alternate background/foreground in column-major pixel order, starting with background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Longest character group of one run: 7 x 5 bits hold every count of a 2^32-pixel image.
MAX_GROUP_CHARS = 7


class RleError(ValueError):
    """A counts string is not valid compressed RLE for its size (the message says why).

    ``index`` is the position of the first bad string in the batch given to :func:`decode_counts`.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def segment_first(owner: np.ndarray) -> np.ndarray:
    """For every element, the index of the first element with the same (sorted) ``owner``."""
    starts = np.ones(owner.size, bool)
    starts[1:] = owner[1:] != owner[:-1]
    return np.maximum.accumulate(np.where(starts, np.arange(owner.size), 0))


def segment_cumsum(values: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting wherever ``owner`` (sorted) changes."""
    cs = np.cumsum(values)
    first = segment_first(owner)
    return cs - (cs - values)[first]


def decode_counts(texts: Sequence[str], areas: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode and check several compressed RLE strings at once (one numpy pass, no Python loop over runs).

    Parameters
    ----------
    texts : the counts strings.
    areas : ``H * W`` of every string (one int for all, or one per string).

    Returns
    -------
    counts, owner, pos
        int64 run lengths of all strings concatenated, the index of the string each run belongs
        to, and the run's position within its string.

    Raises
    ------
    RleError
        A string holds characters outside ``'0'..'o'``, ends in the middle of a run, has a run
        longer than :data:`MAX_GROUP_CHARS` characters, a negative run, or runs that do not cover
        its area exactly.
    """
    counts, owner, pos = _runs(texts)
    n = len(texts)
    want = np.broadcast_to(np.asarray(areas, np.int64), (n,))
    got = np.bincount(owner, weights=counts, minlength=n).astype(np.int64) if n else want
    bad = np.flatnonzero(got != want)
    if bad.size:
        k = int(bad[0])
        raise RleError(f"corrupt RLE (its runs do not cover the mask: {int(got[k])} pixels instead of "
                       f"{int(want[k])})", k)
    return counts, owner, pos


def _runs(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decode_counts` without the area check."""
    n = len(texts)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths = np.fromiter((len(t) for t in texts), np.int64, n)
    if (lengths == 0).any():
        raise RleError("corrupt RLE (empty counts)", int(np.flatnonzero(lengths == 0)[0]))
    try:
        data = np.frombuffer("".join(texts).encode("ascii"), np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        bad = next(i for i, t in enumerate(texts) if not t.isascii())
        raise RleError("corrupt RLE (non-ASCII counts)", bad) from None
    string_ends = np.cumsum(lengths)

    def owner_of(char_index: int) -> int:
        return int(np.searchsorted(string_ends, char_index, side="right"))

    outside = np.flatnonzero((data < 0) | (data > 63))
    if outside.size:
        raise RleError("corrupt RLE (characters outside the RLE alphabet)", owner_of(int(outside[0])))
    cut = np.flatnonzero(data[string_ends - 1] & 0x20)
    if cut.size:
        raise RleError("corrupt RLE (the last run is cut short)", int(cut[0]))
    ends = np.flatnonzero((data & 0x20) == 0)  # last character of every value
    starts = np.concatenate(([0], ends[:-1] + 1))
    long_runs = np.flatnonzero(ends - starts + 1 > MAX_GROUP_CHARS)
    if long_runs.size:
        raise RleError("corrupt RLE (a run is encoded with too many characters)", owner_of(int(ends[long_runs[0]])))
    shift = np.arange(data.size) - np.repeat(starts, ends - starts + 1)
    x = np.add.reduceat((data & 0x1F) << (5 * shift), starts)
    negative = (data[ends] & 0x10) != 0
    x[negative] |= -1 << (5 * (shift[ends][negative] + 1))
    owner = np.searchsorted(string_ends, ends, side="right")
    pos = np.arange(x.size) - segment_first(owner)
    odd, even = pos % 2 == 1, (pos % 2 == 0) & (pos >= 2)  # runs from the third on are deltas
    counts = x.copy()
    counts[odd] = segment_cumsum(np.where(odd, x, 0), owner)[odd]
    counts[even] = segment_cumsum(np.where(even, x, 0), owner)[even]
    if counts.size and counts.min() < 0:
        raise RleError("corrupt RLE (negative run)", int(owner[np.flatnonzero(counts < 0)[0]]))
    return counts, owner, pos


def rle_problem(counts: object, height: object, width: object) -> str | None:
    """Why ``counts`` is not a valid compressed RLE string of a ``height x width`` mask, or ``None``."""
    if not isinstance(counts, str):
        return f"RLE counts must be text, got {type(counts).__name__}"
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (height, width)):
        return f"RLE size must be two non-negative integers, got {height!r} x {width!r}"
    try:
        decode_counts([counts], int(height) * int(width))  # type: ignore[call-overload]
    except RleError as exc:
        return str(exc)
    return None


def string_to_counts(text: str) -> list[int] | None:
    """Run lengths of one compressed RLE string (whatever their total), or ``None`` if it is corrupt."""
    if not text:
        return []
    try:
        return _runs([text])[0].tolist()
    except RleError:
        return None
