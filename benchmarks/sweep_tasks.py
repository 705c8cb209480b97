"""Task functions for the sweep benchmark (module-level, so worker processes import them)."""

from __future__ import annotations

import time


def tiny(x, *, rng):
    return {"y": x}


def spin(x, *, rng, seconds=1.0):
    """Pure-Python CPU work for about ``seconds`` (no BLAS, no I/O)."""
    t = time.perf_counter()
    acc = 0
    while time.perf_counter() - t < seconds:
        for i in range(1000):
            acc += i * i
    return {"y": x, "acc": acc % 7}
