r"""Variants of best-of-:math:`n` used in practice, with exact formulas.

* **Proxy reward (over-optimization).** Select with a proxy reward :math:`\tilde r`, score with
  the true reward :math:`r`: :math:`\mathbb E_{\pi_n^{\tilde r}}[r] = \sum_j \pi_n(j)\,
  \bar r_j` with :math:`\bar r_j` the :math:`p`-average of :math:`r` over proxy level :math:`j`
  (ties in the proxy split in proportion to :math:`p`). As :math:`n` grows the proxy reward
  rises monotonically while the true reward may peak and fall (Gao, Schulman & Hilton 2023,
  "Scaling laws for reward model overoptimization", arXiv:2210.10760, Sec. 3).

* **Soft best-of-:math:`n`** (Verdun, Oesterling, Lakkaraju & Calmon 2025, arXiv:2505.03156):
  draw :math:`Y_1..Y_n \sim p`, return :math:`Y_i` with probability
  :math:`w(Y_i)/\sum_k w(Y_k)`, :math:`w = e^{r/\lambda}`. Writing
  :math:`1/x = \int_0^\infty e^{-tx}dt`,

  .. math::

      \pi^{\rm soft}_n(y) = n\,p(y)\,w(y) \int_0^\infty e^{-t\,w(y)}\, M(t)^{n-1}\,dt,
      \qquad M(t) = \mathbb E_p e^{-t\,w(Y)},

  a one-dimensional integral evaluated by Gauss-Legendre quadrature in :math:`u = \log t`
  on unit panels covering the windows where each level's integrand is not negligible
  (:math:`e^{u + \log w} \in [e^{-40}, e^{6}]`), accurate to about
  ``1e-12`` (checked against enumeration of all :math:`K^n` draws in the tests). As
  :math:`n \to \infty` it tends to the tilt :math:`p e^{r/\lambda}/Z`, with KL gap
  :math:`O(1/n)` (the paper's main theorem; numbering unverified).

* **Rejection sampling with a budget** toward the tilt :math:`\phi_\beta`: draw
  :math:`Y \sim p`, accept with probability :math:`a(Y) = e^{(r(Y) - r_{\max})/\beta}`, at most
  ``budget`` attempts, else return the last draw. With :math:`\bar a = \mathbb E_p a`,

  .. math::

      \pi(y) = (1 - (1-\bar a)^{N})\,\phi_\beta(y) + (1-\bar a)^{N}\,
      \frac{p(y)(1 - a(y))}{1 - \bar a},

  exact; the expected number of draws is :math:`(1 - (1-\bar a)^N)/\bar a`. (Statistical
  rejection sampling as used for preference data: Liu et al. 2024, arXiv:2309.06657, Sec. 3.)
"""

from __future__ import annotations

import numpy as np
from scipy.special import roots_legendre

from ._levels import check_beta, check_n, check_outcomes, expand_to_outcomes, reward_levels
from .bestofn import level_log_pmf

__all__ = ["proxy_reward", "soft_bon_pmf", "rejection_sampling_pmf"]


def proxy_reward(p, r_true, r_proxy, n):
    r"""Expected **true** reward of best-of-:math:`n` selected by ``r_proxy``.

    Returns an array with one value per ``n`` (scalar for a scalar ``n``). The proxy's own
    expected reward is :func:`mdplab.bon.expected_reward` ``(p, r_proxy, n)``.
    """
    p, r_true = check_outcomes(p, r_true, name_r="r_true")
    levels = reward_levels(p, r_proxy)
    n_arr, scalar = check_n(n)
    # p-weighted mean true reward within each proxy level
    num = np.bincount(levels.level_of, weights=p * r_true, minlength=levels.J)
    den = np.bincount(levels.level_of, weights=p, minlength=levels.J)
    mean_true = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    with np.errstate(under="ignore"):
        w = np.exp(level_log_pmf(levels, n_arr))
    out = w @ mean_true
    return out[0] if scalar else out


_NODES, _WEIGHTS = roots_legendre(16)


def soft_bon_pmf(p, r, n, temperature) -> np.ndarray:
    r"""Exact pmf of soft best-of-:math:`n` at ``temperature`` :math:`\lambda > 0` (to
    quadrature accuracy, about ``1e-12``); one row per ``n`` when ``n`` is an array.

    ``n`` must be an integer ``>= 1`` here (it counts draws). ``temperature -> 0`` recovers
    best-of-:math:`n`, ``temperature = inf`` returns ``p``.
    """
    p, r = check_outcomes(p, r)
    n_arr, scalar = check_n(n)
    if np.any(n_arr != np.round(n_arr)):
        raise ValueError(f"n: soft best-of-n needs integer numbers of draws, got {n!r}")
    lam = float(check_beta(temperature, "temperature")[0][0])
    if np.isinf(lam):
        out = np.tile(p, (n_arr.size, 1))
        return out[0] if scalar else out
    levels = reward_levels(p, r)
    q = levels.mass
    keep = q > 0
    v = levels.values
    logw = (v - v[keep].max()) / lam               # log weights, max 0
    # quadrature in u = log t over [u_lo, u_hi]: below u_lo the integrand is ~ e^u (t w << 1),
    # above u_hi, e^{-t w_min} < e^{-60} for every level
    # Quadrature in u = log t. The integrand of level j, e^{u + lw_j - e^{u + lw_j}} M^{n-1},
    # is below e^{-40} of its peak outside [-lw_j - 40, -lw_j + 6], and M(t) only changes
    # inside those windows: integrate over their union with unit panels of 16 nodes.
    lw, qk = logw[keep], q[keep]
    windows = np.unique(np.round(-lw, 6))
    edges = []
    lo, hi = windows[0] - 40.0, windows[0] + 6.0
    for c in windows[1:]:
        if c - 40.0 > hi:
            edges.append(np.linspace(lo, hi, int(np.ceil(hi - lo)) + 1))
            lo = c - 40.0
        hi = c + 6.0
    edges.append(np.linspace(lo, hi, int(np.ceil(hi - lo)) + 1))
    half = np.concatenate([np.diff(e) for e in edges])[:, None] / 2
    left = np.concatenate([e[:-1] for e in edges])[:, None]
    u_all = (left + half * (_NODES[None, :] + 1)).ravel()
    du_all = (half * _WEIGHTS[None, :]).ravel()
    integral = np.zeros((n_arr.size, lw.size))
    for start in range(0, u_all.size, 2048):  # blocks of nodes bound the memory
        u, du = u_all[start:start + 2048], du_all[start:start + 2048]
        with np.errstate(under="ignore"):
            tw = np.exp(np.minimum(u[:, None] + lw[None, :], 700.0))   # t * w_j
            logM = np.log(np.maximum(np.exp(-tw) @ qk, 1e-300))          # log E_p e^{-t w}
        for i, nn in enumerate(n_arr):
            expo = u[:, None] + lw[None, :] - tw + (nn - 1.0) * logM[:, None]
            with np.errstate(under="ignore"):
                integral[i] += (np.exp(expo) * du[:, None]).sum(axis=0)
    rows = []
    for i, nn in enumerate(n_arr):
        lev = np.zeros(levels.J)
        lev[keep] = nn * qk * integral[i]
        rows.append(lev / lev.sum() if nn > 1 else q.copy())
    out = expand_to_outcomes(levels, p, np.array(rows))
    return out[0] if scalar else out


def rejection_sampling_pmf(p, r, beta, budget) -> np.ndarray:
    r"""Exact output pmf of rejection sampling toward :math:`p e^{r/\beta}/Z` with at most
    ``budget`` attempts (the last draw is returned when all are rejected)."""
    p, r = check_outcomes(p, r)
    b = float(check_beta(beta)[0][0])
    n_arr, scalar = check_n(budget, "budget")
    if np.isinf(b):
        acc = np.ones_like(p)
    else:
        acc = np.exp((r - r[p > 0].max()) / b)
    abar = float(p @ acc)
    phi = p * acc / abar
    rej = p * (1.0 - acc)
    rej_mass = 1.0 - abar
    rows = []
    for N in n_arr:
        miss = rej_mass ** N
        rows.append((1.0 - miss) * phi + (miss / rej_mass * rej if rej_mass > 0 else 0.0))
    out = np.array(rows)
    return out[0] if scalar else out
