r"""Exact best-of-:math:`n` (BoN) distributions, their KL divergence and win rate.

Setting (Beirami et al. 2024, "Theoretical guarantees on the best-of-n alignment policy",
arXiv:2401.01879, Sec. 2-5; lemma numbering not verified here). Draw :math:`n` i.i.d. outcomes
from a reference pmf :math:`p`, return one of maximal reward :math:`r`, choosing uniformly among
tied draws. With the reward levels :math:`v_j`, their masses :math:`q_j` and the CDF
:math:`F_j = P_p(r \le v_j)`, :math:`F^-_j = P_p(r < v_j)` (see :mod:`mdplab.bon._levels`):

.. math::

    \pi_n(\text{level } j) = F_j^n - (F^-_j)^n, \qquad
    \pi_n(y) = p(y)\,\frac{F(y)^n - F^-(y)^n}{F(y) - F^-(y)}

(ties split in proportion to :math:`p`; with no ties :math:`\pi_n(y) = F(y)^n - F^-(y)^n`).
The same formula defines BoN for any real :math:`n \ge 1` (the CDF of the selected reward
is :math:`F^n`). It is evaluated as :math:`F^n (1 - e^{n \log(F^-/F)})` with ``expm1`` in log
space, exact to rounding for masses down to ``1e-300`` and :math:`n` up to ``1e300``.

Quantities (all exact, from the level pmf, ``O(K log K)`` for the sort plus ``O(K)`` per
:math:`n`):

* :math:`\mathrm{KL}(\pi_n\|p) = \sum_j \pi_n(j) \log(\pi_n(j)/q_j)` and the bound
  :math:`\log n - (n-1)/n` (Beirami et al., Sec. 3): tight only without atoms; with a top
  level of mass :math:`\varepsilon` the KL saturates at :math:`\log(1/\varepsilon)`.
* The win rate against the reference, ties counted half:
  :math:`W_n = P(r(Y) > r(Z)) + \tfrac12 P(r(Y) = r(Z)) = \sum_j \pi_n(j)(F^-_j + q_j/2)`,
  :math:`Y \sim \pi_n`, :math:`Z \sim p`, bounded by :math:`n/(n+1)` (Beirami et al., Sec. 5),
  with equality iff the reward has no atoms.
* Expected reward :math:`\sum_j \pi_n(j) v_j` and quantiles of the selected reward
  (:math:`P(r \le v_j) = F_j^n`).

Tie-breaking by a fixed rule (``tie_break="first"`` / ``"last"``: the smallest / largest
outcome index wins) refines the ranking to one level per outcome; the formulas are the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._levels import (
    RewardLevels,
    check_n,
    expand_to_outcomes,
    kl_from_log_ratio,
    reward_levels,
)

__all__ = [
    "pmf",
    "reward_pmf",
    "kl",
    "kl_bound",
    "win_rate",
    "win_rate_bound",
    "expected_reward",
    "reward_quantile",
    "summary",
]


# --------------------------------------------------------------------------- level formulas
def level_log_pmf(levels: RewardLevels, n=None, *, log_n=None) -> np.ndarray:
    r"""``(len(n), J)`` array of
    :math:`\log \pi_n(j) = n\log F_j + \log(1 - e^{n \log(F^-_j/F_j)})`.

    Give ``log_n`` instead of ``n`` for numbers of draws beyond the float range
    (:math:`n = e^{L\delta}` for long sequences).
    """
    if log_n is None:
        n = np.asarray(n, dtype=float)[:, None]
        log_n = np.log(n)
    else:
        log_n = np.asarray(log_n, dtype=float)[:, None]
        n = np.exp(np.minimum(log_n, 700.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # n log F and n log(F^-/F): the direct products while -log F and -log(F^-/F) are
        # normal doubles (or exactly 0) and n is finite; otherwise exp(log n + log(-log F)),
        # which survives 1 - F below the smallest double and n beyond the float range
        n_log_cdf = n * levels.log_cdf
        n_ratio = n * levels.log_ratio_below
        tiny = 1e-300
        fragile_cdf = (levels.log_cdf > -tiny) & np.isfinite(levels.log_tail)
        fragile_ratio = (levels.log_ratio_below > -tiny) & np.isfinite(levels.log_mass) \
            & np.isfinite(levels.log_cdf)
        if np.any(log_n >= 700) or fragile_cdf.any() or fragile_ratio.any():
            far = log_n >= 700
            n_log_cdf = np.where(far | fragile_cdf, -np.exp(log_n + levels.log_neg_log_cdf),
                                 n_log_cdf)
            n_ratio = np.where(far | fragile_ratio, -np.exp(log_n + levels.log_neg_log_ratio),
                               n_ratio)
        out = n_log_cdf + np.log(-np.expm1(n_ratio))
    return np.where(np.isneginf(levels.log_cdf) | np.isneginf(levels.log_mass), -np.inf, out)


def level_kl(levels: RewardLevels, n: np.ndarray) -> np.ndarray:
    """KL(BoN_n || p) for each ``n``, from the levels."""
    lp = level_log_pmf(levels, n)
    with np.errstate(invalid="ignore"):
        y = lp - levels.log_mass
    y = np.where(np.isneginf(levels.log_mass), 0.0, y)
    return kl_from_log_ratio(levels.log_mass, y)


def level_expectation(levels: RewardLevels, n: np.ndarray, f: np.ndarray) -> np.ndarray:
    """E[f(level)] under BoN_n for each ``n``."""
    with np.errstate(under="ignore"):
        w = np.exp(level_log_pmf(levels, n))
    return w @ f


def level_win_rate(levels: RewardLevels, n: np.ndarray, ties: str = "half") -> np.ndarray:
    weight = {"half": 0.5, "win": 1.0, "loss": 0.0}.get(ties)
    if weight is None:
        raise ValueError(f"ties: expected 'half', 'win' or 'loss', got {ties!r}")
    return level_expectation(levels, n, levels.cdf_below + weight * levels.mass)


# --------------------------------------------------------------------------- public functions
def _shape(values: np.ndarray, scalar: bool):
    return values[0] if scalar else values


def pmf(p, r, n, *, tie_break: str = "random") -> np.ndarray:
    r"""Exact pmf of best-of-:math:`n` over the outcomes.

    Parameters
    ----------
    p : (K,) reference pmf (non-negative, sums to 1; zeros allowed).
    r : (K,) finite rewards.
    n : number of draws, a real ``>= 1`` or a 1-D array of them (one row per ``n``).
    tie_break : ``"random"`` (default: uniformly among tied draws, i.e. in proportion to
        ``p``), ``"first"`` or ``"last"`` (the smallest / largest index wins).

    Returns
    -------
    ``(K,)`` for a scalar ``n``, ``(len(n), K)`` otherwise.

    Examples
    --------
    >>> import mdplab as ml
    >>> ml.bon.pmf([0.25, 0.25, 0.5], [0.0, 1.0, 1.0], 2).round(4).tolist()
    [0.0625, 0.3125, 0.625]
    """
    levels = reward_levels(p, r, tie_break=tie_break)
    n_arr, scalar = check_n(n)
    p_arr = np.asarray(p, dtype=float)
    p_arr = p_arr / p_arr.sum()
    with np.errstate(under="ignore"):
        lev = np.exp(level_log_pmf(levels, n_arr))
    out = expand_to_outcomes(levels, p_arr, lev)
    return out[0] if scalar else out


def reward_pmf(p, r, n) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of the selected reward: ``(values, probs)``, values increasing.

    ``probs`` has shape ``(J,)`` for a scalar ``n``, ``(len(n), J)`` otherwise.
    """
    levels = reward_levels(p, r)
    n_arr, scalar = check_n(n)
    with np.errstate(under="ignore"):
        probs = np.exp(level_log_pmf(levels, n_arr))
    return levels.values.copy(), (probs[0] if scalar else probs)


def kl(p, r, n, *, tie_break: str = "random"):
    r"""Exact :math:`\mathrm{KL}(\pi_n \| p)` of best-of-:math:`n` against the reference.

    Scalar for a scalar ``n``, one value per ``n`` otherwise. Never exceeds
    :func:`kl_bound` (the "analytical formula" :math:`\log n - (n-1)/n`), and tends to
    :math:`\log(1/q_{\rm top})` as :math:`n \to \infty` when the top reward level has mass
    :math:`q_{\rm top}`.
    """
    levels = reward_levels(p, r, tie_break=tie_break)
    n_arr, scalar = check_n(n)
    return _shape(level_kl(levels, n_arr), scalar)


def kl_bound(n):
    r"""The analytical formula :math:`\log n - (n-1)/n`, an upper bound on
    :math:`\mathrm{KL}(\pi_n\|p)` (Beirami et al. 2024, arXiv:2401.01879, Sec. 3)."""
    n_arr, scalar = check_n(n)
    return _shape(np.log(n_arr) - (n_arr - 1.0) / n_arr, scalar)


def win_rate(p, r, n, *, ties: str = "half", tie_break: str = "random"):
    r"""Probability that a best-of-:math:`n` draw beats a reference draw.

    :math:`W_n = P(r(Y) > r(Z)) + w\,P(r(Y) = r(Z))` with :math:`Y \sim \pi_n`,
    :math:`Z \sim p` independent; ``ties="half"`` (:math:`w = 1/2`, the convention under which
    :math:`W_n \le n/(n+1)`), ``"win"`` (:math:`w = 1`) or ``"loss"`` (:math:`w = 0`).
    Ties are judged on the reward, whatever the ``tie_break`` rule used by BoN.
    """
    n_arr, scalar = check_n(n)
    if tie_break == "random":
        return _shape(level_win_rate(reward_levels(p, r), n_arr, ties), scalar)
    # the selection uses the refined ranking, the comparison the reward only
    fine = reward_levels(p, r, tie_break=tie_break)
    coarse = reward_levels(p, r)
    weight = {"half": 0.5, "win": 1.0, "loss": 0.0}.get(ties)
    if weight is None:
        raise ValueError(f"ties: expected 'half', 'win' or 'loss', got {ties!r}")
    score_outcome = (coarse.cdf_below + weight * coarse.mass)[coarse.level_of]
    score_fine = np.empty(fine.J)
    score_fine[fine.level_of] = score_outcome
    return _shape(level_expectation(fine, n_arr, score_fine), scalar)


def win_rate_bound(n):
    r""":math:`n/(n+1)`, the win rate of best-of-:math:`n` when the reward has no atoms."""
    n_arr, scalar = check_n(n)
    return _shape(n_arr / (n_arr + 1.0), scalar)


def expected_reward(p, r, n, *, tie_break: str = "random"):
    r""":math:`\mathbb E_{\pi_n}[r]`, exact."""
    levels = reward_levels(p, r, tie_break=tie_break)
    n_arr, scalar = check_n(n)
    return _shape(level_expectation(levels, n_arr, levels.values), scalar)


def reward_quantile(p, r, n, q):
    r"""Quantiles of the selected reward: the smallest :math:`v_j` with :math:`F_j^n \ge q`.

    ``q`` in ``(0, 1]`` (scalar or array); returns an array of shape
    ``(len(n), len(q))`` (squeezed for scalar inputs).
    """
    levels = reward_levels(p, r)
    n_arr, n_scalar = check_n(n)
    q_arr = np.atleast_1d(np.asarray(q, dtype=float))
    if np.any(~(q_arr > 0) | ~(q_arr <= 1)):
        raise ValueError(f"q: quantile levels must lie in (0, 1], got {q_arr}")
    # F_j^n >= q  <=>  log F_j >= log(q) / n ; log F is non-decreasing in j
    thresholds = np.log(q_arr)[None, :] / n_arr[:, None]
    idx = np.searchsorted(levels.log_cdf, thresholds - 1e-15 * np.abs(thresholds), side="left")
    out = levels.values[np.minimum(idx, levels.J - 1)]
    if n_scalar:
        out = out[0]
    if np.ndim(q) == 0:
        out = out[..., 0]
    return out


def summary(p, r, n) -> pd.DataFrame:
    """Tidy table, one row per ``n``: ``n, kl, kl_bound, win_rate, win_rate_bound,
    expected_reward``."""
    levels = reward_levels(p, r)
    n_arr, _ = check_n(n)
    return pd.DataFrame({
        "n": n_arr,
        "kl": level_kl(levels, n_arr),
        "kl_bound": np.log(n_arr) - (n_arr - 1.0) / n_arr,
        "win_rate": level_win_rate(levels, n_arr),
        "win_rate_bound": n_arr / (n_arr + 1.0),
        "expected_reward": level_expectation(levels, n_arr, levels.values),
    })
