"""Module-level task functions for tests/test_sweep.py (worker processes import them)."""

from __future__ import annotations

import os
import time

import numpy as np


def noisy_square(x, scale=1.0, *, rng):
    """A deterministic function of (x, scale) plus the task's random draw."""
    return {"y": scale * x * x, "draw": float(rng.normal()), "pid": os.getpid()}


def several_rows(n, *, rng):
    return [{"i": i, "u": float(rng.random())} for i in range(n)]


def fails_on_three(x, *, rng):
    if x == 3:
        raise RuntimeError("x = 3 is not allowed")
    return {"y": x}


def slow(x, *, rng, delay=0.2):
    time.sleep(delay)
    return {"y": x, "draw": float(rng.random())}


def spin(x, *, rng, seconds=0.25):
    """CPU-bound for about ``seconds``."""
    t = time.perf_counter()
    acc = 0.0
    while time.perf_counter() - t < seconds:
        acc += float(np.sum(np.sqrt(np.arange(1000.0))))
    return {"y": x, "acc": acc > 0}
