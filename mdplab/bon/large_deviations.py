r"""Large deviations of the reward, Rényi divergences, and BoN vs tilting for long sequences.

Cumulant generating function and Cramér rate function of the reward under :math:`p`:

.. math::

    \Lambda(\lambda) = \log \mathbb E_p e^{\lambda r}, \qquad
    I(x) = \sup_\lambda\, \lambda x - \Lambda(\lambda)
         = \mathrm{KL}(p_{\lambda(x)} \| p), \quad \Lambda'(\lambda(x)) = x,

where :math:`p_\lambda = p e^{\lambda r - \Lambda(\lambda)}` is the tilt at
:math:`\beta = 1/\lambda`.
:math:`I` is convex, zero at :math:`x = \mathbb E_p r`, finite on :math:`[r_{\min}, r_{\max}]`
with :math:`I(r_{\max}) = \log(1/q_{\rm top})` (mass of the top level) and
:math:`I(r_{\min}) = \log(1/q_{\rm bottom})`, and :math:`+\infty` outside. Inside, the
supremum is attained at the root of :math:`\Lambda'(\lambda) = x` (Brent's method on a
bracket grown geometrically); :math:`I` is then summed as the divergence
:math:`\sum q\,h(\log(p_\lambda/q))` (see :mod:`mdplab.bon._levels`), which keeps its
accuracy near the mean where :math:`I(x) \approx (x-\mu)^2 / (2\sigma^2)`.

Memoryless reference and linear reward (Yang, Salamatian, Sun, Suresh & Beirami 2024,
"Asymptotics of language model alignment", arXiv:2404.01730; theorem numbers unverified here):
a sequence of :math:`L` i.i.d. tokens :math:`y_i \sim p` with reward
:math:`S_L = \sum_i r(y_i)`. :math:`S_L / L` satisfies an LDP with rate :math:`I`
(Cramér). The KL-constrained optimum with budget :math:`\Delta = L\delta` is the product of
tilted tokens :math:`p_\lambda` with :math:`\lambda\Lambda'(\lambda) - \Lambda(\lambda) = \delta`,
per-token reward :math:`x^*(\delta) = \Lambda'(\lambda)`, i.e. :math:`I(x^*) = \delta`.
Best-of-:math:`N` with :math:`N = e^{L\delta}` is asymptotically equivalent: its per-token
reward tends to :math:`x^*`, its per-token KL to :math:`\delta`, and
:math:`\mathrm{KL}(\pi_N \| \phi)/L \to 0`.

Exact computation (:func:`sequence_bon_vs_tilt`): both :math:`\pi_N` and :math:`\phi` depend
on the sequence only through :math:`S_L` and are proportional to :math:`p^{\otimes L}` on each
level of :math:`S_L` (BoN ties are split in proportion to :math:`p`), so every quantity is a
computation on the law of :math:`S_L`. For token rewards on a lattice
:math:`r = a + s k`, :math:`k \in \mathbb N`, that law is computed exactly in log space by
:math:`L` convolutions (:func:`token_sum_levels`; masses far below ``1e-308`` are kept).
Our derivation (Bahadur-Rao), not a statement of the paper: the per-token reward gap is
:math:`x^* - \mathbb E_{\pi_N}[S_L]/L \approx \log L / (2\lambda L)`.

Rényi divergence of order :math:`\alpha \in [0, \infty]`:
:math:`D_\alpha(p\|q) = \frac{1}{\alpha - 1} \log \sum_i p_i^\alpha q_i^{1-\alpha}`, with the
limits :math:`D_1 = \mathrm{KL}`, :math:`D_0 = -\log q(\mathrm{supp}\,p)`,
:math:`D_\infty = \log \max_i p_i/q_i` (van Erven & Harremoës 2014, arXiv:1206.2459).
Rényi cross entropy: :math:`H_\alpha(p, q) = \frac{1}{1-\alpha} \log \sum_i p_i q_i^{\alpha - 1}`
(one of several definitions in the literature; :math:`H_\alpha(p, p)` is the Rényi entropy and
:math:`H_1(p, q)` the Shannon cross entropy). For a tilted pair,
:math:`D_\alpha(p_\lambda\|p) = [\Lambda(\alpha\lambda) - \alpha\Lambda(\lambda)]/(\alpha - 1)`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import logsumexp

from ._levels import (
    RewardLevels,
    _as_float_1d,
    check_outcomes,
    kl_from_log_ratio,
    levels_from_log_mass,
    reward_levels,
)
from .bestofn import level_log_pmf
from .tilting import level_log_partition, level_log_tilt, level_tilt_expectation, level_tilt_kl

__all__ = [
    "cgf",
    "cgf_derivative",
    "rate_function",
    "rate_function_argmax",
    "renyi_divergence",
    "renyi_cross_entropy",
    "token_sum_levels",
    "lambda_for_rate",
    "sequence_bon_vs_tilt",
]


def _lam_array(lam):
    arr = np.asarray(lam, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"lam: expected finite real numbers, got {lam!r}")
    return np.atleast_1d(arr), arr.ndim == 0


def cgf(p, r, lam):
    r""":math:`\Lambda(\lambda) = \log \mathbb E_p e^{\lambda r}` for real ``lam`` (scalar or
    1-D array), computed with the extreme reward factored out (no overflow)."""
    levels = reward_levels(p, r)
    lam_arr, scalar = _lam_array(lam)
    out = level_log_partition(levels, lam_arr)
    return out[0] if scalar else out


def cgf_derivative(p, r, lam):
    r""":math:`\Lambda'(\lambda) = \mathbb E_{p_\lambda} r`, the mean of the tilted reward."""
    levels = reward_levels(p, r)
    lam_arr, scalar = _lam_array(lam)
    out = level_tilt_expectation(levels, lam_arr, levels.values)
    return out[0] if scalar else out


def _support(levels: RewardLevels) -> tuple[float, float, float, float]:
    pos = np.flatnonzero(np.isfinite(levels.log_mass))
    lo, hi = pos[0], pos[-1]
    return (float(levels.values[lo]), float(levels.values[hi]),
            float(levels.log_mass[lo]), float(levels.log_mass[hi]))


def _solve_lambda(levels: RewardLevels, x: float, mean: float) -> float:
    """Root of Lambda'(lam) = x for x strictly inside the support (lam has the sign of x-mean)."""
    if x == mean:
        return 0.0

    def g(lam):
        return float(level_tilt_expectation(levels, np.array([lam]), levels.values)[0]) - x

    span = float(levels.values[-1] - levels.values[0])
    step = 1.0 / span
    sign = 1.0 if x > mean else -1.0
    a, b = 0.0, sign * step
    while g(b) * sign < 0:
        a, b = b, 2.0 * b
        if abs(b) > 1e300:
            raise ValueError(f"x = {x!r} is numerically at the edge of the support")
    lo, hi = (a, b) if a < b else (b, a)
    return brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=1000)


def rate_function_argmax(p, r, x):
    r"""The maximiser :math:`\lambda(x)` of :math:`\lambda x - \Lambda(\lambda)`, i.e. the root of
    :math:`\Lambda'(\lambda) = x` (``±inf`` at the support edges, ``nan`` outside)."""
    levels = reward_levels(p, r)
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    lo, hi, _, _ = _support(levels)
    mean = float(np.exp(levels.log_mass) @ levels.values)
    out = np.empty(xs.shape)
    for i, xi in enumerate(xs):
        if not np.isfinite(xi) or xi < lo or xi > hi:
            out[i] = np.nan
        elif lo == hi:
            out[i] = 0.0
        elif xi == hi:
            out[i] = np.inf
        elif xi == lo:
            out[i] = -np.inf
        else:
            out[i] = _solve_lambda(levels, xi, mean)
    return out[0] if np.ndim(x) == 0 else out


def rate_function(p, r, x):
    r"""Cramér rate function :math:`I(x) = \sup_\lambda \lambda x - \Lambda(\lambda)` of the reward
    under :math:`p` (scalar or 1-D ``x``).

    Exact at the edges (:math:`\log(1/q)` of the extreme level), ``inf`` outside
    :math:`[r_{\min}, r_{\max}]`, 0 at the mean; inside, the divergence
    :math:`\mathrm{KL}(p_{\lambda(x)}\|p)` at the root of :math:`\Lambda'(\lambda) = x`.
    """
    levels = reward_levels(p, r)
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    if np.any(np.isnan(xs)):
        raise ValueError("x: got NaN")
    lo, hi, log_q_lo, log_q_hi = _support(levels)
    mean = float(np.exp(levels.log_mass) @ levels.values)
    out = np.empty(xs.shape)
    for i, xi in enumerate(xs):
        if xi < lo or xi > hi:
            out[i] = np.inf
        elif xi == hi:
            out[i] = -log_q_hi
        elif xi == lo:
            out[i] = -log_q_lo
        else:
            lam = _solve_lambda(levels, xi, mean)
            out[i] = float(level_tilt_kl(levels, np.array([lam]))[0])
    return out[0] if np.ndim(x) == 0 else out


def _pair(p, q, name_p="p", name_q="q"):
    p = _as_float_1d(p, name_p)
    q = _as_float_1d(q, name_q)
    if p.shape != q.shape:
        raise ValueError(f"{name_q}: expected shape {p.shape}, got {q.shape}")
    p, _ = check_outcomes(p, np.zeros_like(p), name_p=name_p)
    q, _ = check_outcomes(q, np.zeros_like(q), name_p=name_q)
    return p, q


def renyi_divergence(p, q, alpha):
    r"""Rényi divergence :math:`D_\alpha(p\|q)` for ``alpha`` in :math:`[0, \infty]` (scalar or
    1-D array); ``alpha = 1`` is the KL divergence, ``0`` and ``inf`` their limits. ``inf`` when
    :math:`\alpha \ge 1` and :math:`p` puts mass where :math:`q` has none."""
    p, q = _pair(p, q)
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    if np.any(np.isnan(alphas) | (alphas < 0)):
        raise ValueError(f"alpha: expected orders in [0, inf], got {alpha!r}")
    with np.errstate(divide="ignore"):
        lp, lq = np.log(p), np.log(q)
    supp = p > 0
    out = np.empty(alphas.shape)
    for i, a in enumerate(alphas):
        if a == 0:
            out[i] = -math.log1p(-float(np.sum(q[~supp])))  # -log q(supp p), no rounding below 0
        elif a == 1:
            if np.any(q[supp] == 0):
                out[i] = np.inf
                continue
            pos = q > 0
            y = np.where(supp[pos], lp[pos] - lq[pos], -np.inf)
            out[i] = float(kl_from_log_ratio(lq[pos], y))
        elif np.isinf(a):
            out[i] = float(np.max(lp[supp] - lq[supp])) if np.all(q[supp] > 0) else np.inf
        else:
            if a > 1 and np.any(q[supp] == 0):
                out[i] = np.inf
                continue
            keep = supp & (q > 0)
            out[i] = float(logsumexp(a * lp[keep] + (1 - a) * lq[keep])) / (a - 1)
    return out[0] if np.ndim(alpha) == 0 else out


def renyi_cross_entropy(p, q, alpha):
    r"""Rényi cross entropy :math:`H_\alpha(p, q) = \frac{1}{1-\alpha}\log\sum_i p_i
    q_i^{\alpha-1}` (``alpha = 1``: Shannon cross entropy :math:`-\sum p \log q`)."""
    p, q = _pair(p, q)
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    if np.any(~np.isfinite(alphas) | (alphas < 0)):
        raise ValueError(f"alpha: expected finite orders >= 0, got {alpha!r}")
    supp = p > 0
    if np.any(q[supp] == 0):
        out = np.full(alphas.shape, np.inf)
    else:
        lp, lq = np.log(p[supp]), np.log(q[supp])
        out = np.array([-(p[supp] @ lq) if a == 1 else
                        float(logsumexp(lp + (a - 1) * lq)) / (1 - a) for a in alphas])
    return out[0] if np.ndim(alpha) == 0 else out


# --------------------------------------------------------------------------- sequences
def _lattice(r: np.ndarray, step) -> tuple[float, float, np.ndarray]:
    rmin = float(r.min())
    if step is None:
        diffs = np.unique(np.round(r - rmin, 12))
        diffs = diffs[diffs > 0]
        if diffs.size == 0:
            return rmin, 1.0, np.zeros(r.size, dtype=np.int64)
        step = float(diffs[0])
        for d in diffs[1:]:
            step = math.gcd(int(round(d * 1e9)), int(round(step * 1e9))) / 1e9
    step = float(step)
    if not step > 0:
        raise ValueError(f"step: expected a positive lattice step, got {step!r}")
    k = np.round((r - rmin) / step)
    if np.max(np.abs(k * step + rmin - r)) > 1e-9 * max(1.0, np.max(np.abs(r))):
        raise ValueError("r: token rewards must lie on a lattice a + step * k (k integer); "
                         "pass step= explicitly")
    if k.max() > 10_000:
        raise ValueError(f"r: the lattice has {int(k.max())} steps between the smallest and "
                         f"largest token reward; at most 10000 are supported")
    return rmin, step, k.astype(np.int64)


def token_sum_levels(p, r, L: int, *, step=None) -> RewardLevels:
    r"""Exact law of :math:`S_L = \sum_{i=1}^L r(y_i)`, :math:`y_i \sim p` i.i.d., as reward
    levels in log space (masses far below the smallest double are kept).

    Token rewards must lie on a lattice :math:`a + s k` (detected, or give ``step=s``);
    ``O(L^2 k_{\max} K)`` work by :math:`L` log-space convolutions.
    """
    p, r = check_outcomes(p, r)
    if not isinstance(L, (int, np.integer)) or L < 1:
        raise ValueError(f"L: expected an integer sequence length >= 1, got {L!r}")
    rmin, s, k = _lattice(r, step)
    kmax = int(k.max())
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    # combine tokens with equal lattice index
    log_tok = np.full(kmax + 1, -np.inf)
    for kk in range(kmax + 1):
        sel = k == kk
        if sel.any():
            log_tok[kk] = logsumexp(logp[sel])
    support = np.flatnonzero(np.isfinite(log_tok))
    dist = np.array([0.0])  # log law of S_0
    for _ in range(int(L)):
        new = np.full(dist.size + kmax, -np.inf)
        for kk in support:
            seg = new[kk:kk + dist.size]
            np.logaddexp(seg, dist + log_tok[kk], out=seg)
        dist = new
    values = L * rmin + s * np.arange(dist.size)
    keep = np.isfinite(dist)
    return levels_from_log_mass(values[keep], dist[keep])


def lambda_for_rate(p, r, delta):
    r"""The tilt :math:`\lambda > 0` with per-token KL :math:`\lambda\Lambda'(\lambda) -
    \Lambda(\lambda) = \delta`, i.e. the KL-optimal per-token policy under budget ``delta``;
    ``delta`` must lie in :math:`(0, \log(1/q_{\rm top}))`."""
    from .tilting import beta_for_kl

    beta = beta_for_kl(p, r, delta)
    return 1.0 / beta


def sequence_bon_vs_tilt(p, r, L, delta, *, step=None) -> pd.DataFrame:
    r"""Best-of-:math:`N` vs the KL-optimal policy on sequences of :math:`L` i.i.d. tokens.

    For each length :math:`L` (int or list) and per-token budget :math:`\delta`: BoN with
    :math:`N = e^{L\delta}` draws on the reward :math:`S_L`, and the product tilt
    :math:`\phi = p_\lambda^{\otimes L}` with :math:`\mathrm{KL}(\phi\|p) = L\delta`.
    Columns: ``L, delta, lam, log_n, bon_reward, tilt_reward`` (per token),
    ``reward_gap`` (tilt − BoN, per token), ``predicted_gap`` (:math:`\log L/(2\lambda L)`),
    ``bon_kl`` (:math:`\mathrm{KL}(\pi_N\|p)/L`), ``kl_bound`` ((log N − (N−1)/N)/L),
    ``kl_bon_tilt`` (:math:`\mathrm{KL}(\pi_N\|\phi)`, absolute) and ``kl_bon_tilt_per_token``.
    """
    p, r = check_outcomes(p, r)
    Ls = [int(x) for x in np.atleast_1d(L)]
    deltas = np.atleast_1d(np.asarray(delta, dtype=float))
    tok = reward_levels(p, r)
    rows = []
    sums = {n_tok: token_sum_levels(p, r, n_tok, step=step) for n_tok in Ls}
    for d in deltas:
        lam = float(lambda_for_rate(p, r, d))
        Lam = float(level_log_partition(tok, np.array([lam]))[0])
        x_star = float(level_tilt_expectation(tok, np.array([lam]), tok.values)[0])
        for n_tok in Ls:
            lev = sums[n_tok]
            log_n = n_tok * d
            lp = level_log_pmf(lev, log_n=np.array([log_n]))[0]
            with np.errstate(under="ignore"):
                w = np.exp(lp)
            log_phi = level_log_tilt(lev, np.array([lam]))[0]
            with np.errstate(invalid="ignore"):
                y_ref = np.where(np.isneginf(lp), -np.inf, lp - lev.log_mass)
                y_phi = np.where(np.isneginf(lp), -np.inf, lp - log_phi)
            kl_ref = float(kl_from_log_ratio(lev.log_mass, y_ref))
            kl_phi = float(kl_from_log_ratio(log_phi, y_phi))
            bon_reward = float(w @ lev.values) / n_tok
            n_big = math.exp(log_n) if log_n < 700 else math.inf
            bound = log_n - (1.0 - 1.0 / n_big if np.isfinite(n_big) else 1.0)
            rows.append({
                "L": n_tok, "delta": d, "lam": lam, "log_n": log_n,
                "bon_reward": bon_reward, "tilt_reward": x_star,
                "reward_gap": x_star - bon_reward,
                "predicted_gap": math.log(n_tok) / (2 * lam * n_tok),
                "bon_kl": kl_ref / n_tok, "kl_bound": bound / n_tok,
                "tilt_kl": (lam * x_star - Lam),
                "kl_bon_tilt": kl_phi, "kl_bon_tilt_per_token": kl_phi / n_tok,
            })
    return pd.DataFrame(rows)
