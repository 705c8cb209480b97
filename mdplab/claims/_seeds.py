"""Multi-seed experiments of the claims, run through :func:`mdplab.sweep.sweep`.

A claim's check receives one generator (``claim_rng``); :func:`seed_sweep` draws the seeds of
its repetitions from it and runs ``fn(**params, rng=...)`` for every grid point and seed
through the sweep machinery, so each repetition gets the generator that ``sweep`` derives
from its task key (``SeedSequence`` of a hash of the function, the parameters, the seed and
the package version): the same numbers whatever the number of workers or the order of
execution, and the same as ``ml.sweep`` would give a user re-running one repetition.

Claims already run in parallel with each other (``mdplab claims check --workers``), so the
repetitions run in the claim's own process by default (``workers=1``); a task that raises
makes the check raise (a claim is never computed on a silently partial table).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..sweep import sweep


def seed_list(rng: np.random.Generator, n: int) -> list[int]:
    """``n`` distinct non-negative seeds drawn from the claim's generator."""
    seeds: list[int] = []
    while len(seeds) < n:
        s = int(rng.integers(2**31))
        if s not in seeds:
            seeds.append(s)
    return seeds


def seed_sweep(fn: Callable, grid, n_seeds: int, rng: np.random.Generator, *,
               workers: int = 1) -> pd.DataFrame:
    """``mdplab.sweep(fn, grid, seeds=seed_list(rng, n_seeds), workers=workers)``; raises
    ``RuntimeError`` with the first traceback if any repetition failed."""
    return sweep_seeds(fn, grid, seed_list(rng, n_seeds), workers=workers)


def sweep_seeds(fn: Callable, grid, seeds: list[int], *, workers: int = 1) -> pd.DataFrame:
    """As :func:`seed_sweep` with the seeds given (e.g. a prefix of one :func:`seed_list` for
    the parts of a claim that need fewer repetitions)."""
    df = sweep(fn, grid, seeds=list(seeds), workers=workers, progress=False)
    summary = df.attrs["sweep"]
    if summary.failed:
        first = summary.errors[0]
        raise RuntimeError(f"{summary.failed} of {summary.total} repetitions failed; first: "
                           f"{first['params']} seed {first['seed']}: {first['error']}\n"
                           f"{first['traceback']}")
    return df
