r"""Online preference optimisation: XPO's exploration bonus against online DPO.

* ``xpo-exploration`` -- Xie, Foster, Krishnamurthy, Rosset, Awadallah & Rakhlin (2025),
  arXiv:2405.21046, Algorithm 1 and the main sample-complexity theorem (Sec. 3; numbering
  unverified). XPO adds the bonus :math:`\alpha\sum_{i\le t}\log\pi(\tilde y_i)`,
  :math:`\tilde y_i\sim\pi_{\rm ref}`, to the online DPO objective. With
  :math:`\alpha\propto\beta/\sqrt T` the uniform mixture :math:`\hat\pi = \frac1T\sum_t\pi^t`
  satisfies :math:`J_\beta(\pi^*_\beta) - J_\beta(\hat\pi) = \tilde O(\sqrt{1/T})` *whatever the
  reference's coverage*; online DPO, which samples only from its own policy and the reference,
  has no such guarantee: when the reference puts tiny mass on the best response and the
  current policy has settled on a decoy, the best response is (almost) never sampled.

Instance (constructed for the toolkit, **not** from the paper; fixed before the claim's seeds were
run): 6 responses, true rewards :math:`r^* = (1, 0.5, 0.3, 0.2, 0.1, 0)`, reference
:math:`\pi_{\rm ref} \propto (0.002, 0.4, 0.2, 0.15, 0.148, 0.1)` (the best response is rare, the
decoy -- reward 0.5 -- is the most likely), :math:`\beta = 0.05`, Bradley-Terry labels on
:math:`r^*`, both methods over the bounded class :math:`\{\pi_r: r\in[0,1]^6\}` of
:func:`mdplab.learn.preference.xpo`. :math:`\pi^*_\beta` puts 0.991 on the best response, so a
policy that never finds it has regularized gap about 0.23.

:math:`\alpha = c\,\beta/\sqrt T` with :math:`c = 1`: the theorem's :math:`\alpha` is
:math:`\beta/\sqrt T` times factors (:math:`R_{\max}e^{2R_{\max}}`, the log-size of the class
and its exploration coefficient) absorbed into :math:`c`. :math:`c` was chosen on an exploratory
run (seeds 0-5 and 100-105, not the claim's seeds): :math:`c \in \{1, 3\}` explored,
:math:`c = 10` over-explored, :math:`c \le 0.3` behaved like online DPO. The bonus is the
one-line change to DPO, so with :math:`\alpha` in :math:`\log\pi` units it must scale with
:math:`\beta` (the likelihood is in reward units :math:`r = \beta\log\pi/\pi_{\rm ref} + c'`).

Pass criteria (stated before running the claim's seeds):

(X1) at the largest :math:`T`, XPO's mixture has a smaller regularized gap than online DPO's
(:math:`\alpha = 0`, same rounds), with the paired (per seed) 95% t-interval of
DPO minus XPO above 0;
(X2) XPO's mean mixture gap decays at least as fast as the theorem's :math:`T^{-1/2}`: the 90%
bootstrap interval (over seeds) of its log-log slope against :math:`T` covers or lies below
:math:`-1/2`.
Reported, not gated: online DPO's slope, the last iterates, and the fraction of runs that ever
sampled the best response.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from .._utils import kl_divergence, spawn
from ..learn import preference as pref
from ..plot import (
    confidence_band,
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    save_figure,
    value_ticks,
)
from . import ClaimResult, register
from ._seeds import seed_sweep

XPO = ("Xie, Foster, Krishnamurthy, Rosset, Awadallah & Rakhlin 2025, arXiv:2405.21046, "
       "Algorithm 1 and Sec. 3 main theorem (numbering unverified)")

REWARD = (1.0, 0.5, 0.3, 0.2, 0.1, 0.0)
REF = (0.002, 0.4, 0.2, 0.15, 0.148, 0.1)
BETA = 0.05
C_ALPHA = 1.0
R_MAX = 1.0
RESTARTS = 2


def xpo_instance() -> tuple[np.ndarray, np.ndarray, float]:
    """``(r*, pi_ref, beta)`` of ``xpo-exploration``."""
    ref = np.asarray(REF)
    return np.asarray(REWARD), ref / ref.sum(), BETA


def regularized_gap(pi, r, ref, beta: float) -> np.ndarray:
    r""":math:`J_\beta(\pi^*_\beta) - J_\beta(\pi)`, :math:`J_\beta(\pi) = \mathbb E_\pi r -
    \beta\mathrm{KL}(\pi\|\pi_{\rm ref})` (last axis), with :math:`J_\beta(\pi^*_\beta) =
    \beta\log\sum_y\pi_{\rm ref}(y)e^{r(y)/\beta}`."""
    pi = np.asarray(pi, dtype=float)
    j_opt = beta * np.logaddexp.reduce(np.log(ref) + r / beta)
    return j_opt - (pi @ r - beta * kl_divergence(pi, ref))


def xpo_repetition(rounds: list, c_alpha: float, rng) -> list[dict]:
    """One repetition: XPO with ``alpha = c_alpha * beta / sqrt(T)`` for every ``T`` in
    ``rounds`` (one run each: alpha depends on T), and one online-DPO run of ``max(rounds)``
    rounds whose prefixes give its mixture at every ``T`` (rows for :func:`mdplab.sweep.sweep`).
    """
    r, ref, beta = xpo_instance()
    best = int(np.argmax(r))
    rngs = spawn(rng, len(rounds) + 1)
    rows = []
    for T, g in zip(rounds, rngs[:-1], strict=True):
        run = pref.xpo(r, beta, c_alpha * beta / np.sqrt(T), rounds=T, ref=ref, r_max=R_MAX,
                       rng=g, restarts=RESTARTS)
        pols = run.policies[1:]
        rows.append({"method": "XPO", "T": T, "alpha": run.alpha,
                     "mixture_gap": float(regularized_gap(pols.mean(0), r, ref, beta)),
                     "last_gap": float(regularized_gap(pols[-1], r, ref, beta)),
                     "found_best": bool(np.any(run.data.winner == best)
                                        or np.any(run.data.loser == best))})
    T_max = max(rounds)
    run = pref.xpo(r, beta, 0.0, rounds=T_max, ref=ref, r_max=R_MAX, rng=rngs[-1])
    pols = run.policies[1:]
    seen = (run.data.winner == best) | (run.data.loser == best)
    for T in rounds:
        rows.append({"method": "online DPO", "T": T, "alpha": 0.0,
                     "mixture_gap": float(regularized_gap(pols[:T].mean(0), r, ref, beta)),
                     "last_gap": float(regularized_gap(pols[T - 1], r, ref, beta)),
                     "found_best": bool(np.any(seen[:T]))})
    return rows


def _tci(x, level=0.95):
    x = np.asarray(x, dtype=float)
    m = x.mean()
    h = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return m, m - h, m + h


def _boot_slope(T, gaps, rng, n_boot=1000, level=0.90):
    """Slope of log mean gap vs log T and its bootstrap interval over seeds (rows of ``gaps``),
    also stored as the fit's ``ci``."""
    fit = fit_loglog_slope(T, gaps.mean(0))
    boots = []
    for _ in range(n_boot):
        m = gaps[rng.integers(len(gaps), size=len(gaps))].mean(0)
        if np.all(m > 0):
            boots.append(fit_loglog_slope(T, m).slope)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    ci = (float(lo), float(hi))
    return dataclasses.replace(fit, ci=ci, level=level), ci


@register(
    id="xpo-exploration",
    title="XPO's exploration bonus finds a response the reference barely covers; online DPO not",
    citation=XPO,
    statement=(
        r"With $\alpha \propto \beta/\sqrt T$, XPO's mixture policy has regularized gap "
        r"$J_\beta(\pi^*_\beta) - J_\beta(\hat\pi) = \tilde O(T^{-1/2})$ regardless of the "
        r"reference's coverage. On 6 responses whose best has reference mass 0.002 "
        r"($\beta = 0.05$, $\alpha = \beta/\sqrt T$): (X1) at the largest $T$ XPO's mixture gap "
        r"is below online DPO's (paired 95% CI of the difference above 0); (X2) the 90% "
        r"bootstrap interval of XPO's log-log slope against $T$ covers or lies below $-1/2$."
    ),
    budget_seconds=150,
)
def check_xpo_exploration(quick: bool, rng: np.random.Generator, out) -> ClaimResult:
    rounds = [50, 100, 200] if quick else [100, 200, 400, 800]
    n_seeds = 4 if quick else 10
    table = seed_sweep(xpo_repetition, {"rounds": [rounds], "c_alpha": C_ALPHA}, n_seeds, rng)
    table = table.sort_values(["method", "seed", "T"]).reset_index(drop=True)[
        ["method", "seed", "T", "alpha", "mixture_gap", "last_gap", "found_best"]]
    T = np.asarray(rounds, dtype=float)
    gaps = {m: table[table["method"] == m].pivot(index="seed", columns="T",
                                                 values="mixture_gap")[rounds].to_numpy()
            for m in ("XPO", "online DPO")}
    d, dlo, dhi = _tci(gaps["online DPO"][:, -1] - gaps["XPO"][:, -1])
    x1 = bool(dlo > 0)
    fit_x, ci_x = _boot_slope(T, gaps["XPO"], rng)
    fit_d, ci_d = _boot_slope(T, gaps["online DPO"], rng)
    x2 = bool(ci_x[0] <= -0.5)
    found = table.groupby(["method", "T"])["found_best"].mean()
    last = table.groupby(["method", "T"])["last_gap"].mean()

    with paper_style():
        fig, axes = new_figure("double", aspect=0.38, ncols=2)
        ax = axes[0]
        for m, col, fit in (("XPO", "C0", fit_x), ("online DPO", "C1", fit_d)):
            g = gaps[m]
            mean = g.mean(0)
            half = stats.t.ppf(0.975, len(g) - 1) * g.std(0, ddof=1) / np.sqrt(len(g))
            ax.loglog(T, mean, "o-", color=col, label=f"{m} (slope {fit.slope:.2f})")
            # lower end clipped at mean/5: with few seeds the band can reach 0 on a log axis
            confidence_band(ax, T, np.maximum(mean - half, mean / 5), mean + half, color=col)
        ax.loglog(T, gaps["XPO"].mean(0)[0] * np.sqrt(T[0] / T), "k:", lw=0.8,
                  label=r"$\propto T^{-1/2}$")
        value_ticks(ax, rounds)
        label_axes(ax, "rounds T (preference queries)",
                   r"$J_\beta(\pi^*_\beta) - J_\beta(\hat\pi_T)$ (reward units)",
                   "Mixture policy (mean, 95% band)")
        ax.legend(fontsize=6)
        ax = axes[1]
        for m, col in (("XPO", "C0"), ("online DPO", "C1")):
            ax.plot(T, [found[(m, t)] for t in rounds], "o-", color=col, label=m)
        ax.set_xscale("log")
        value_ticks(ax, rounds)
        ax.set_ylim(-0.05, 1.05)
        label_axes(ax, "rounds T", "fraction of runs", "Best response ever sampled")
        ax.legend(fontsize=6)
    figs = save_figure(fig, out / "xpo_exploration")

    T_max = rounds[-1]
    summary = (
        f"{n_seeds} seeds, T in {rounds}, beta = {BETA}, alpha = {C_ALPHA:g} beta / sqrt(T). "
        f"(X1) mixture gap at T = {T_max}: XPO {gaps['XPO'][:, -1].mean():.3f}, online DPO "
        f"{gaps['online DPO'][:, -1].mean():.3f}; DPO - XPO {d:.3f} (95% CI [{dlo:.3f}, "
        f"{dhi:.3f}]) -> {'pass' if x1 else 'FAIL'}. (X2) XPO slope {fit_x.slope:.2f} (90% "
        f"bootstrap CI [{ci_x[0]:.2f}, {ci_x[1]:.2f}]; criterion covers or below -0.5) -> "
        f"{'pass' if x2 else 'FAIL'}. Online DPO slope {fit_d.slope:.2f} [{ci_d[0]:.2f}, "
        f"{ci_d[1]:.2f}] (reported). Last iterate at T = {T_max}: XPO "
        f"{last[('XPO', T_max)]:.3f}, online DPO {last[('online DPO', T_max)]:.3f}. Best "
        f"response ever sampled: XPO {found[('XPO', T_max)]:.0%}, online DPO "
        f"{found[('online DPO', T_max)]:.0%} of runs."
    )
    key = {"gap_xpo": float(gaps["XPO"][:, -1].mean()),
           "gap_dpo": float(gaps["online DPO"][:, -1].mean()),
           "diff_ci_lo": float(dlo), "slope_xpo": float(fit_x.slope),
           "slope_xpo_ci_lo": ci_x[0], "slope_xpo_ci_hi": ci_x[1],
           "slope_dpo": float(fit_d.slope), "T_max": float(T_max), "seeds": float(n_seeds)}
    return ClaimResult(x1 and x2, table, figs, summary, key)
