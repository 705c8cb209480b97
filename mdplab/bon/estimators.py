r"""Estimating the KL divergence of best-of-:math:`n` from samples.

Practitioners rarely know the reference pmf; they have rewards of :math:`M` reference
samples, or BoN outputs. Two estimators of :math:`\mathrm{KL}(\pi_n\|p)`:

* **Plug-in** (:func:`kl_plugin`): replace the law of the reward under :math:`p` by the
  empirical law of :math:`M` reference rewards and apply the exact formula
  (:func:`mdplab.bon.kl`) to it. Consistent as :math:`M \to \infty`. For small :math:`M`
  relative to :math:`n` it is biased downward whenever the maximum of the sample is an atom of
  mass :math:`1/M`: it saturates at :math:`\log M` (the top empirical level has mass
  :math:`\ge 1/M`).
* **Monte Carlo** (:func:`kl_monte_carlo`): simulate :math:`m` best-of-:math:`n` draws (each of
  :math:`n` reference draws), estimate the pmf of the selected reward level by counts, and
  compute :math:`\sum_j \hat\pi(j)\log(\hat\pi(j)/q_j)` with the exact reference level masses.
  This is what "sample and measure" gives at a given compute budget; it is biased (upward,
  from the convexity of KL in :math:`\hat\pi`) and noisy.

The "analytical formula" :math:`\log n - (n-1)/n` is the third number people use; it is an
upper bound, not an estimate (Beirami et al. 2024, arXiv:2401.01879, Sec. 3). The
estimator proposed in Sec. 4 of that paper is not implemented: its exact form could not be
verified against the paper here.
"""

from __future__ import annotations

import numpy as np

from .._utils import as_rng
from ._levels import _as_float_1d, check_n, reward_levels
from .bestofn import level_kl

__all__ = ["kl_plugin", "kl_monte_carlo", "sample_bon"]


def kl_plugin(rewards, n):
    r"""Plug-in estimate of :math:`\mathrm{KL}(\pi_n\|p)` from reference rewards ``rewards``
    (``M`` samples of :math:`r(Y)`, :math:`Y \sim p`): the exact BoN KL of their empirical law."""
    x = _as_float_1d(rewards, "rewards")
    if x.size == 0:
        raise ValueError("rewards: expected at least one sample")
    if not np.all(np.isfinite(x)):
        raise ValueError("rewards: samples must be finite")
    values, counts = np.unique(x, return_counts=True)
    levels = reward_levels(counts / counts.sum(), values)
    n_arr, scalar = check_n(n)
    out = level_kl(levels, n_arr)
    return out[0] if scalar else out


def sample_bon(p, r, n: int, size: int, rng=None) -> np.ndarray:
    """``size`` outcome indices drawn from best-of-``n`` by simulation (ties broken uniformly
    at random among the tied draws), using ``n * size`` reference draws."""
    rng = as_rng(rng)
    levels = reward_levels(p, r)  # validates p, r
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size: expected an integer >= 1, got {size!r}")
    p = np.asarray(p, dtype=float)
    cdf = np.cumsum(p / p.sum())
    out = np.empty(size, dtype=np.intp)
    block = max(1, 2_000_000 // n)
    rvals = np.asarray(r, dtype=float)
    for start in range(0, size, block):
        m = min(block, size - start)
        draws = np.minimum(np.searchsorted(cdf, rng.random((m, n)), side="right"), p.size - 1)
        rw = rvals[draws]
        best = rw.max(axis=1, keepdims=True)
        # uniform among the draws attaining the maximum: random keys, argmax over ties
        keys = np.where(rw == best, rng.random((m, n)), -1.0)
        out[start:start + m] = draws[np.arange(m), keys.argmax(axis=1)]
    del levels
    return out


def kl_monte_carlo(p, r, n: int, draws: int, rng=None) -> float:
    r"""Monte Carlo estimate of :math:`\mathrm{KL}(\pi_n\|p)` from ``draws`` simulated BoN
    outputs (level counts against the exact reference level masses)."""
    levels = reward_levels(p, r)
    idx = sample_bon(p, r, n, draws, rng)
    counts = np.bincount(levels.level_of[idx], minlength=levels.J)
    pi_hat = counts / counts.sum()
    pos = pi_hat > 0
    return float(np.sum(pi_hat[pos] * (np.log(pi_hat[pos]) - levels.log_mass[pos])))
