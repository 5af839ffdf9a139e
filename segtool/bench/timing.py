"""Timing helpers shared by the benchmark commands."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(func: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``func``, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
