"""Timing of the preference-game solvers: 10^4 iterations on |Y| = 1000 responses.

Run: ``python benchmarks/games_bench.py [--iterations 10000] [--n 1000] [--prompts 1]``.
BLAS is limited to one thread (set before NumPy is imported): a 1000 x 1000 matrix-vector
product is memory-bound, and on a shared 2-core machine extra BLAS threads make it ~10x slower.
Prints one row per algorithm (seconds, seconds per preference query) and the equilibrium solve.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mdplab.learn import games  # noqa: E402


def run(n: int = 1000, iterations: int = 10_000, prompts: int = 1, beta: float = 0.1,
        seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    P = games.random_preference(n, rng, batch=None if prompts == 1 else prompts)
    rows = []
    t = time.perf_counter()
    eq = games.regularized_equilibrium(P, beta)
    rows.append({"algorithm": "regularized_equilibrium", "iterations": eq.iterations,
                 "seconds": time.perf_counter() - t,
                 "certified_l1_error": float(np.max(eq.error_bound))})
    algos = {
        "nash_mp": lambda: games.nash_mp(P, beta, iterations=iterations, record_every=100),
        "nash_md": lambda: games.nash_md(P, beta, iterations=iterations, record_every=100),
        "mmd": lambda: games.mmd(P, beta, iterations=iterations, record_every=100),
        "omd": lambda: games.omd(P, beta, eta=1.0, iterations=iterations, record_every=100),
        "self_play": lambda: games.self_play(P, iterations=iterations, record_every=100),
    }
    for name, fn in algos.items():
        t = time.perf_counter()
        tr = fn()
        sec = time.perf_counter() - t
        rows.append({"algorithm": name, "iterations": iterations, "seconds": sec,
                     "queries": int(tr.queries[-1]),
                     "us_per_query": 1e6 * sec / max(int(tr.queries[-1]), 1)})
    df = pd.DataFrame(rows)
    df.insert(0, "n", n)
    df.insert(1, "prompts", prompts)
    return df


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--iterations", type=int, default=10_000)
    ap.add_argument("--prompts", type=int, default=1)
    args = ap.parse_args()
    print(run(args.n, args.iterations, args.prompts).to_string(index=False))
