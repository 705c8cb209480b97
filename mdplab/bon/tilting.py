r"""Exponential tilting: the KL-regularized optimum on an outcome distribution.

For a reference pmf :math:`p`, rewards :math:`r` and a temperature :math:`\beta > 0`,

.. math::

    \max_\phi\; \mathbb E_\phi[r] - \beta\,\mathrm{KL}(\phi\|p)
    \quad\text{is attained at}\quad
    \phi_\beta(y) = \frac{p(y)\,e^{r(y)/\beta}}{Z(\beta)}, \qquad
    Z(\beta) = \mathbb E_p e^{r/\beta},

with optimal value :math:`\beta \log Z` (Korbak, Perez & Buckley 2022, arXiv:2205.11275, the
posterior view; the Gibbs variational principle). Equivalently, with :math:`\lambda = 1/\beta`,
:math:`\phi_\beta` solves the KL-*constrained* problem :math:`\max \mathbb E_\phi r` s.t.
:math:`\mathrm{KL}(\phi\|p) \le \Delta` for the :math:`\Delta` it attains (Yang et al. 2024,
arXiv:2404.01730, Sec. 3; numbering unverified), and
:math:`d\,\mathbb E_{\phi}[r] / d\,\mathrm{KL} = \beta` along the curve.

Both the KL and the expected reward are monotone in :math:`\beta`: as :math:`\beta \to 0`,
:math:`\phi_\beta \to p(\cdot \mid r = r_{\max})`, :math:`\mathrm{KL} \to \log(1/q_{\rm top})`
and :math:`\mathbb E r \to r_{\max}`; as :math:`\beta \to \infty`, :math:`\phi_\beta \to p`.
This gives the maps between best-of-:math:`n` and the tilt: the :math:`\beta` whose tilt has the
same KL (or the same expected reward) as :math:`\pi_n` (:func:`matching_beta`).

Numerics: log-sum-exp with the maximal reward factored out (stable for :math:`\beta` from
``1e-8`` to ``1e8`` and :math:`|r|` up to ``1e6``); the KL is summed as
:math:`\sum p\,h(\log(\phi/p))` with :math:`h \ge 0` (see :mod:`mdplab.bon._levels`), which keeps
its relative accuracy when it is as small as :math:`\mathrm{Var}_p(r)/(2\beta^2)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ._levels import (
    RewardLevels,
    check_beta,
    check_n,
    expand_to_outcomes,
    kl_from_log_ratio,
    reward_levels,
)
from .bestofn import level_expectation, level_kl, level_win_rate

__all__ = [
    "tilt",
    "tilt_kl",
    "tilt_reward",
    "tilt_win_rate",
    "log_partition",
    "beta_for_kl",
    "beta_for_reward",
    "matching_beta",
    "frontier",
]


# --------------------------------------------------------------------------- level formulas
def level_log_tilt(levels: RewardLevels, lam: np.ndarray) -> np.ndarray:
    r"""``(len(lam), J)``: :math:`\log \phi(j) = \log q_j + \lambda v_j - \Lambda(\lambda)`,
    for any real :math:`\lambda` (:math:`\lambda = 1/\beta`)."""
    lam = np.asarray(lam, dtype=float)[:, None]
    vmax, vmin = levels.values[-1], levels.values[0]
    # factor out the largest exponent: v_max for lam > 0, v_min for lam < 0
    shift = np.where(lam >= 0, vmax, vmin)
    with np.errstate(invalid="ignore"):
        expo = levels.log_mass + lam * (levels.values - shift)
    expo = np.where(np.isneginf(levels.log_mass), -np.inf, expo)
    return expo - np.logaddexp.reduce(expo, axis=1, keepdims=True)


def level_log_partition(levels: RewardLevels, lam: np.ndarray) -> np.ndarray:
    r""":math:`\Lambda(\lambda) = \log \sum_j q_j e^{\lambda v_j}` for each ``lam``."""
    lam = np.asarray(lam, dtype=float)[:, None]
    shift = np.where(lam >= 0, levels.values[-1], levels.values[0])
    with np.errstate(invalid="ignore"):
        expo = levels.log_mass + lam * (levels.values - shift)
    expo = np.where(np.isneginf(levels.log_mass), -np.inf, expo)
    return (np.logaddexp.reduce(expo, axis=1) + lam[:, 0] * shift[:, 0])


def level_tilt_kl(levels: RewardLevels, lam: np.ndarray) -> np.ndarray:
    lt = level_log_tilt(levels, lam)
    with np.errstate(invalid="ignore"):
        y = lt - levels.log_mass
    return kl_from_log_ratio(levels.log_mass, np.where(np.isneginf(levels.log_mass), 0.0, y))


def level_tilt_expectation(levels: RewardLevels, lam: np.ndarray, f: np.ndarray) -> np.ndarray:
    with np.errstate(under="ignore"):
        return np.exp(level_log_tilt(levels, lam)) @ f


def _lam(beta: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(np.isinf(beta), 0.0, 1.0 / beta)


def _out(values, scalar):
    return values[0] if scalar else values


# --------------------------------------------------------------------------- public functions
def tilt(p, r, beta) -> np.ndarray:
    r"""The KL-regularized optimum :math:`p\,e^{r/\beta}/Z` (exact; zeros of ``p`` stay 0).

    ``beta``: a temperature ``> 0`` (``inf`` returns ``p``) or a 1-D array of them, giving one
    row per temperature.
    """
    levels = reward_levels(p, r)
    b, scalar = check_beta(beta)
    p_arr = np.asarray(p, dtype=float)
    p_arr = p_arr / p_arr.sum()
    with np.errstate(under="ignore"):
        lev = np.exp(level_log_tilt(levels, _lam(b)))
    return _out(expand_to_outcomes(levels, p_arr, lev), scalar)


def log_partition(p, r, beta):
    r""":math:`\log Z(\beta) = \log \mathbb E_p e^{r/\beta}`; :math:`\beta \log Z` is the optimal
    regularized value :math:`\max_\phi \mathbb E_\phi r - \beta\,\mathrm{KL}(\phi\|p)`."""
    levels = reward_levels(p, r)
    b, scalar = check_beta(beta)
    return _out(level_log_partition(levels, _lam(b)), scalar)


def tilt_kl(p, r, beta):
    r""":math:`\mathrm{KL}(\phi_\beta\|p)`, decreasing in :math:`\beta` from
    :math:`\log(1/q_{\rm top})` to 0."""
    levels = reward_levels(p, r)
    b, scalar = check_beta(beta)
    return _out(level_tilt_kl(levels, _lam(b)), scalar)


def tilt_reward(p, r, beta):
    r""":math:`\mathbb E_{\phi_\beta}[r]`, decreasing in :math:`\beta` from :math:`r_{\max}`
    to :math:`\mathbb E_p r`."""
    levels = reward_levels(p, r)
    b, scalar = check_beta(beta)
    return _out(level_tilt_expectation(levels, _lam(b), levels.values), scalar)


def tilt_win_rate(p, r, beta, *, ties: str = "half"):
    r"""Win rate of :math:`\phi_\beta` against :math:`p` (ties counted ``"half"``, ``"win"``
    or ``"loss"``), for win-rate-vs-KL comparisons with best-of-:math:`n`."""
    weight = {"half": 0.5, "win": 1.0, "loss": 0.0}.get(ties)
    if weight is None:
        raise ValueError(f"ties: expected 'half', 'win' or 'loss', got {ties!r}")
    levels = reward_levels(p, r)
    b, scalar = check_beta(beta)
    score = levels.cdf_below + weight * levels.mass
    return _out(level_tilt_expectation(levels, _lam(b), score), scalar)


def _solve_beta(levels: RewardLevels, target: float, fn, upper: float, what: str) -> float:
    """Find beta with fn(beta) = target, fn decreasing from ``upper`` (beta -> 0) to its
    beta -> inf limit 0 (after subtracting the limit). Solved in log(beta) by Brent."""
    span = levels.values[-1] - levels.values[0]
    if span == 0 or not (0 < target < upper):
        raise ValueError(f"{what}: target {target:.6g} is not attainable by a tilt; it must lie "
                         f"strictly between 0 and {upper:.6g}")

    def g(log_beta):
        return fn(np.exp(log_beta)) - target

    lo, hi = np.log(span) - 5.0, np.log(span) + 5.0
    while g(lo) < 0:
        lo -= 5.0
        if lo < np.log(span) - 800:
            raise ValueError(f"{what}: target {target:.6g} too close to its beta -> 0 limit")
    while g(hi) > 0:
        hi += 5.0
        if hi > np.log(span) + 800:
            raise ValueError(f"{what}: target {target:.6g} too close to 0")
    return float(np.exp(brentq(g, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                               maxiter=500)))


def _top_kl(levels: RewardLevels) -> float:
    finite = np.flatnonzero(np.isfinite(levels.log_mass))
    return float(-levels.log_mass[finite[-1]])


def beta_for_kl(p, r, kl):
    r"""The temperature whose tilt has :math:`\mathrm{KL}(\phi_\beta\|p) =` ``kl``.

    ``kl`` must lie in :math:`(0, \log(1/q_{\rm top}))`; one root by Brent's method in
    :math:`\log\beta` (the KL is strictly decreasing in :math:`\beta`).
    """
    levels = reward_levels(p, r)
    targets = np.atleast_1d(np.asarray(kl, dtype=float))
    upper = _top_kl(levels)

    def fn(beta):
        return float(level_tilt_kl(levels, np.array([1.0 / beta]))[0])

    out = np.array([_solve_beta(levels, t, fn, upper, "kl") for t in targets])
    return out[0] if np.ndim(kl) == 0 else out


def beta_for_reward(p, r, reward):
    r"""The temperature whose tilt has :math:`\mathbb E_{\phi_\beta} r =` ``reward``, which
    must lie strictly between :math:`\mathbb E_p r` and :math:`r_{\max}`."""
    levels = reward_levels(p, r)
    targets = np.atleast_1d(np.asarray(reward, dtype=float))
    mean = float(np.exp(levels.log_mass) @ levels.values)
    vmax = float(levels.values[np.flatnonzero(np.isfinite(levels.log_mass))[-1]])

    def fn(beta):
        return float(level_tilt_expectation(levels, np.array([1.0 / beta]), levels.values)[0]
                     - mean)

    out = np.array([_solve_beta(levels, t - mean, fn, vmax - mean, "reward") for t in targets])
    return out[0] if np.ndim(reward) == 0 else out


def matching_beta(p, r, n, *, match: str = "kl"):
    r"""The temperature :math:`\beta(n)` whose tilt matches best-of-:math:`n`.

    ``match="kl"``: same :math:`\mathrm{KL}(\cdot\|p)`; ``match="reward"``: same expected
    reward. ``n = 1`` gives ``inf``. Since the tilt is KL-optimal, at equal KL it has at least
    the reward of BoN (and at equal reward at most its KL).
    """
    if match not in ("kl", "reward"):
        raise ValueError(f"match: expected 'kl' or 'reward', got {match!r}")
    levels = reward_levels(p, r)
    n_arr, scalar = check_n(n)
    close = 1e-12
    if match == "kl":
        top = _top_kl(levels)
        targets = level_kl(levels, n_arr)
        out = [np.inf if t <= 0 else 0.0 if t >= top * (1 - close) else beta_for_kl(p, r, t)
               for t in targets]
    else:
        mean = float(np.exp(levels.log_mass) @ levels.values)
        vmax = float(levels.values[np.flatnonzero(np.isfinite(levels.log_mass))[-1]])
        targets = level_expectation(levels, n_arr, levels.values)
        out = [np.inf if t <= mean else
               0.0 if t >= vmax - close * (vmax - mean) else beta_for_reward(p, r, t)
               for t in targets]
    return _out(np.array(out, dtype=float), scalar)


def frontier(p, r, n=None, beta=None) -> pd.DataFrame:
    r"""Reward-vs-KL frontiers of best-of-:math:`n` and of the tilt, as one tidy table.

    Columns ``method`` (``"bon"`` or ``"tilt"``), ``n``, ``beta``, ``kl``, ``reward``,
    ``win_rate``. Defaults: ``n = 1, 2, 4, ..., 1024``; ``beta`` on a log grid spanning the
    rewards' scale.
    """
    levels = reward_levels(p, r)
    n_arr = check_n(2.0 ** np.arange(11) if n is None else n)[0]
    if beta is None:
        span = max(float(levels.values[-1] - levels.values[0]), 1e-300)
        beta = span * np.logspace(-3, 3, 61)
    b = check_beta(beta)[0]
    lam = _lam(b)
    bon = pd.DataFrame({
        "method": "bon", "n": n_arr, "beta": np.nan,
        "kl": level_kl(levels, n_arr),
        "reward": level_expectation(levels, n_arr, levels.values),
        "win_rate": level_win_rate(levels, n_arr),
    })
    score = levels.cdf_below + 0.5 * levels.mass
    tl = pd.DataFrame({
        "method": "tilt", "n": np.nan, "beta": b,
        "kl": level_tilt_kl(levels, lam),
        "reward": level_tilt_expectation(levels, lam, levels.values),
        "win_rate": level_tilt_expectation(levels, lam, score),
    })
    return pd.concat([bon, tl], ignore_index=True)
