"""Benchmark instances: four families, built with :mod:`mdplab.envs` and cached on disk.

=================  ==========================================================================
``random-sparse``  ``random_mdp(S, 10, sparsity=10)``: 10 distinct successors per (s, a),
                   flat-Dirichlet weights, ``R ~ U[0, 1]``; S in {1e3, 1e4, 1e5, 1e6} (CSR)
``random-dense``   ``random_mdp(S, A)``, dense ``(S, A, S)``; S in {500, 2000} x A in {4, 16}
``gridworld``      ``gridworld(300, 300, slip=0.1)``: S = 90 000, A = 4, goal in the corner,
                   reward 1 on entering it (slow mixing: the reward is ~600 steps away) (CSR)
``chain``          ``chain(10_000, slip=0.1)``: A = 2, reward at the right end, start at the
                   left (slow mixing: the random walk needs ~n**2 steps) (CSR)
=================  ==========================================================================

Every family is run at ``gamma`` 0.99 and 0.999 (seed 0). The kernel and rewards do not depend
on ``gamma``, so one cached copy (``.npy`` arrays, memory-mapped on load) serves both.
Building the 1e6-state instance (1e8 non-zeros, 1.3 GB) takes ~15 s; loading it from the
cache takes ~1 s plus mdplab's validation.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import mdplab as ml
from mdplab import envs

__all__ = ["Instance", "full_suite", "quick_suite", "build", "ensure_cached", "tiny",
           "cache_dir"]

GAMMAS = (0.99, 0.999)


@dataclass(frozen=True)
class Instance:
    family: str
    S: int
    A: int
    gamma: float
    seed: int = 0

    @property
    def key(self) -> str:
        """Identifies the kernel and rewards (not gamma): the cache file stem."""
        return f"{self.family}-S{self.S}-A{self.A}-seed{self.seed}"

    @property
    def name(self) -> str:
        return f"{self.key}-g{self.gamma}"

    @property
    def label(self) -> str:
        size = f"S={_fmt_int(self.S)}"
        if self.family == "random-dense":
            size += f", A={self.A}"
        return f"{size}, γ={self.gamma}"

    @property
    def sparse(self) -> bool:
        return self.family != "random-dense"

    def to_dict(self) -> dict:
        return asdict(self)


def _fmt_int(n: int) -> str:
    e = int(round(np.log10(n)))
    return f"1e{e}" if 10**e == n else f"{n:,}".replace(",", " ")


def full_suite() -> list[Instance]:
    """The instances of ``make bench``, in the order they are run.

    Everything at gamma = 0.99 first, then gamma = 0.999 with the 1e6-state instance last, so
    that if the time budget runs out it is repeated-at-0.999 rows that are dropped.
    """
    out = []
    for g in GAMMAS:
        sizes = (1000, 10_000, 100_000, 1_000_000) if g == GAMMAS[0] else (1000, 10_000, 100_000)
        for S in sizes:
            out.append(Instance("random-sparse", S, 10, g))
        for S in (500, 2000):
            for A in (4, 16):
                out.append(Instance("random-dense", S, A, g))
        out.append(Instance("chain", 10_000, 2, g))
        out.append(Instance("gridworld", 90_000, 4, g))
    out.append(Instance("random-sparse", 1_000_000, 10, GAMMAS[1]))
    return out


def quick_suite() -> list[Instance]:
    """A smoke version (< 1 min): one small instance per family, gamma = 0.99."""
    return [
        Instance("random-sparse", 1000, 10, 0.99),
        Instance("random-dense", 300, 4, 0.99),
        Instance("chain", 500, 2, 0.99),
        Instance("gridworld", 900, 4, 0.99),
    ]


def cache_dir() -> Path:
    path = Path(os.environ.get("MDPLAB_BENCH_CACHE",
                               Path(tempfile.gettempdir()) / "mdplab-bench-cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _generate(inst: Instance) -> ml.TabularMDP:
    g = inst.gamma
    if inst.family == "random-sparse":
        return envs.random_mdp(inst.S, inst.A, gamma=g, sparsity=10, rng=inst.seed)
    if inst.family == "random-dense":
        return envs.random_mdp(inst.S, inst.A, gamma=g, rng=inst.seed)
    if inst.family == "gridworld":
        side = int(round(np.sqrt(inst.S)))
        return envs.gridworld(side, side, slip=0.1, gamma=g, sparse=True)
    if inst.family == "chain":
        return envs.chain(inst.S, gamma=g, slip=0.1, sparse=True)
    raise ValueError(f"unknown family {inst.family!r}")


def build(inst: Instance, cache: Path | None = None) -> tuple[ml.TabularMDP, float]:
    """``(mdp, seconds)``: load ``inst`` from the cache, generating (and caching) it if missing."""
    cache = cache_dir() if cache is None else Path(cache)
    stem = cache / inst.key
    t0 = time.perf_counter()
    if inst.sparse and (stem.with_suffix(".data.npy")).exists():
        P = sp.csr_array((np.load(stem.with_suffix(".data.npy"), mmap_mode="r"),
                          np.load(stem.with_suffix(".indices.npy"), mmap_mode="r"),
                          np.load(stem.with_suffix(".indptr.npy"), mmap_mode="r")),
                         shape=(inst.S * inst.A, inst.S))
        P = sp.csr_array((np.array(P.data), np.array(P.indices), np.array(P.indptr)),
                         shape=P.shape)
        R = np.load(stem.with_suffix(".R.npy"))
        mdp = ml.TabularMDP(P, R, gamma=inst.gamma)
    elif not inst.sparse and stem.with_suffix(".P.npy").exists():
        mdp = ml.TabularMDP(np.load(stem.with_suffix(".P.npy")),
                            np.load(stem.with_suffix(".R.npy")), gamma=inst.gamma)
    else:
        mdp = _generate(inst)
        if mdp.S != inst.S or mdp.A != inst.A:
            raise RuntimeError(f"{inst.name}: generator gave S={mdp.S}, A={mdp.A}")
        tmp = {}
        if mdp.is_sparse:
            tmp = {"data": mdp.P.data, "indices": mdp.P.indices, "indptr": mdp.P.indptr}
        else:
            tmp = {"P": mdp.P}
        tmp["R"] = mdp.R
        for k, arr in tmp.items():
            part = stem.with_suffix(f".{k}.tmp.npy")
            np.save(part, arr)
            part.replace(stem.with_suffix(f".{k}.npy"))
    return mdp, time.perf_counter() - t0


def ensure_cached(inst: Instance, cache: Path | None = None) -> tuple[int, float]:
    """``(nnz, seconds)``: make sure ``inst`` is in the cache (generating it if needed) and
    return its number of stored entries without loading it (``seconds`` = 0 when cached)."""
    cache = cache_dir() if cache is None else Path(cache)
    stem = cache / inst.key
    if inst.sparse and stem.with_suffix(".data.npy").exists():
        return int(np.load(stem.with_suffix(".data.npy"), mmap_mode="r").shape[0]), 0.0
    if not inst.sparse and stem.with_suffix(".P.npy").exists():
        return inst.S * inst.A * inst.S, 0.0
    mdp, secs = build(inst, cache)
    return (int(mdp.P.nnz) if mdp.is_sparse else inst.S * inst.A * inst.S), secs


def tiny(inst: Instance) -> list[ml.TabularMDP]:
    """Small models of the same layout and index dtypes, for the JIT warm-up before timing.

    mdplab's kernels have a serial and a parallel build (chosen by array size), so sparse
    families get one model below and one above the switch (``PARALLEL_MIN_WORK`` entries).
    """
    if inst.family == "random-dense":
        return [envs.random_mdp(50, inst.A, gamma=inst.gamma, rng=1)]
    big = max(400, 40_000 // inst.A)  # >= 400k stored entries
    return [envs.random_mdp(200, inst.A, gamma=inst.gamma, sparsity=10, rng=1),
            envs.random_mdp(big, inst.A, gamma=inst.gamma, sparsity=10, rng=1)]
