r"""Adversarial MDPs with unknown transitions: UOB-REPS's regret.

* ``uob-reps-regret`` -- Jin, Jin, Luo, Sra & Yu (2020), arXiv:1912.01192 (abstract verified;
  algorithm, confidence-set constants and theorem numbering unverified): UOB-REPS has regret
  :math:`\tilde O(L|X|\sqrt{|A|T})` with high probability, bandit feedback and unknown
  transitions (:mod:`mdplab.learn.adversarial_unknown`).

Instance: the layered MDP of the O-REPS claims (:mod:`mdplab.claims.adversarial`; :math:`H =
4`, :math:`S = 3`, :math:`A = 3`, start state 0, time-inhomogeneous Dirichlet kernels unknown
to the learner) with oblivious Bernoulli losses of fixed means; :math:`K` from 250 to
:math:`10^4`, 10 seeds, the paper's :math:`\eta = \gamma`. References on the same losses and
learner seeds: O-REPS with bandit feedback and the *known* kernel, and the uniform policy.
Criteria (V1)-(V3) in the claim's statement and :func:`check_uob_reps`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._utils import spawn
from ..learn import adversarial as adv
from ..learn.adversarial_unknown import UOBREPS
from ..plot import (
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    plot_loglog_fit,
    save_figure,
    value_ticks,
)
from . import ClaimResult, register
from ._seeds import seed_sweep
from .adversarial import A, H, S, _claim_instance, _uniform_regret

JIN = ("Jin, Jin, Luo, Sra & Yu 2020, ICML, arXiv:1912.01192 (abstract verified: "
       "O~(L|X|sqrt(|A|T)) regret with high probability; algorithm, confidence set and theorem "
       "numbering unverified)")
UOB_BAND = (0.35, 0.65)
LONG_SEEDS = 4


def uob_slope_repetition(Ks: list, instance_seed: int, rng) -> list[dict]:
    """One repetition of ``uob-reps-regret``: for every ``K``, one oblivious loss sequence
    (the fixed Bernoulli means of the claims' instance) and the exact final regret of UOB-REPS
    (unknown kernel, dual Newton projection), of O-REPS with bandit feedback and the *known*
    kernel (same learner seed) and of the uniform policy; whether the final confidence set
    contains the true kernel (rows for :func:`mdplab.sweep.sweep`)."""
    mdp, benign_means = _claim_instance(instance_seed)
    P = adv._kernel(mdp)[:-1]
    rows = []
    for K, g in zip(Ks, spawn(rng, len(Ks)), strict=True):
        loss_rng, run_rng = spawn(g, 2)
        L = adv.oblivious_losses(mdp, K, rng=loss_rng, means=benign_means)
        run_seed = int(run_rng.integers(2**63))
        uob = adv.run_adversarial(UOBREPS(), mdp, L,
                                  rng=np.random.default_rng(run_seed), record_every=K)
        oreps = adv.run_adversarial(adv.OREPS(feedback="bandit"), mdp, L,
                                    rng=np.random.default_rng(run_seed), record_every=K)
        d = uob.attrs["diagnostics"]
        covered = bool(np.all(np.abs(P - d["P_bar"][:-1]) <= d["eps"][:-1]))
        rows.append({"K": K, "uob_reps": float(uob["cum_regret"].iloc[-1]),
                     "oreps_known_P": float(oreps["cum_regret"].iloc[-1]),
                     "uniform": _uniform_regret(mdp, L),
                     "max_violation": float(uob.attrs["max_violation"]),
                     "epochs": int(d["epochs"]),
                     "newton_iterations": float(d["mean_newton_iterations"]),
                     "covered": covered, "seconds": float(uob["seconds"].iloc[-1])})
    return rows


def _boot_slope_ci(K, Y, rng, n_boot=1000, level=0.90):
    """Percentile bootstrap interval (resampling seeds, the rows of ``Y``) of the slope of the
    log of the mean over seeds against log K."""
    boots = [fit_loglog_slope(K, Y[rng.integers(len(Y), size=len(Y))].mean(0)).slope
             for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@register(
    id="uob-reps-regret",
    title="UOB-REPS (unknown transitions, bandit feedback): regret exponent 1/2 up to K = 10^4",
    citation=JIN,
    statement=(
        r"UOB-REPS (OMD over the occupancy measures consistent with an empirical-Bernstein "
        r"confidence set, losses inversely weighted by the upper occupancy bound; dual Newton "
        r"projection) has regret $\tilde O(H|X|\sqrt{|A|K})$ with bandit feedback and unknown "
        r"transitions. On the O-REPS claims' layered MDP ($H = 4$, $S = 3$, $A = 3$, unknown "
        r"Dirichlet kernels) with oblivious Bernoulli losses, $K \in [250, 10^4]$, 10 seeds: "
        r"(V1) the mean regret is below the uniform policy's at every $K$; (V2) the fitted "
        r"log-log slope of the mean regret lies in $[0.35, 0.65]$; (V3) every projection "
        r"satisfies the flow constraints to $10^{-9}$."
    ),
    budget_seconds=330,
)
def check_uob_reps(quick: bool, rng: np.random.Generator, out):
    r"""**Criteria** (fixed before the claim's seeds were run). (V2) is the theorem's rate: its
    bound is :math:`\sqrt K` times logarithms (:math:`\sqrt{K\ln K}` has a local slope of
    about 0.53 here), with the O-REPS claims' tolerance of 0.15. An exploratory run on another
    instance and other seeds (instance seed 777, seeds 11-13) gave a slope of 0.71 with local
    slopes falling from 0.82 to 0.64, so (V2) may fail in this pre-asymptotic range (the
    confidence widths are still about 0.2 at :math:`K = 10^4`); it is not loosened. Added after
    the first full run failed (V2) with local slopes still falling (0.73 to 0.64): the same
    instance run by ``LONG_SEEDS`` further seeds from :math:`10^4` to :math:`10^5` episodes, its
    local slopes reported and drawn, not gated (drawn from the generator after the gated numbers,
    which do not change)."""
    if quick:
        Ks, n_seeds = [100, 200, 400], 2
    else:
        Ks, n_seeds = [int(k) for k in np.geomspace(250, 10_000, 6).round()], 10
    instance_seed = int(rng.integers(2**31))
    table = seed_sweep(uob_slope_repetition, {"Ks": [Ks], "instance_seed": instance_seed},
                       n_seeds, rng)
    table = table[["seed", "K", "uob_reps", "oreps_known_P", "uniform", "max_violation",
                   "epochs", "newton_iterations", "covered", "seconds"]]
    Kf = np.asarray(Ks, dtype=float)
    piv = {c: table.pivot(index="seed", columns="K", values=c)[Ks].to_numpy()
           for c in ("uob_reps", "oreps_known_P", "uniform")}
    m_uob, m_or, m_uni = (piv[c].mean(0) for c in ("uob_reps", "oreps_known_P", "uniform"))
    v1 = bool(np.all(m_uob < m_uni))
    fit_u = fit_loglog_slope(Kf, m_uob) if np.all(m_uob > 0) else None
    fit_o = fit_loglog_slope(Kf, m_or) if np.all(m_or > 0) else None
    slope_u = fit_u.slope if fit_u is not None else float("nan")
    slope_o = fit_o.slope if fit_o is not None else float("nan")
    v2 = bool(UOB_BAND[0] <= slope_u <= UOB_BAND[1])
    worst_violation = float(table["max_violation"].max())
    v3 = worst_violation <= 1e-9
    ci_u = _boot_slope_ci(Kf, piv["uob_reps"], rng) if fit_u is not None else (np.nan,) * 2
    local_u = np.diff(np.log(m_uob)) / np.diff(np.log(Kf))
    local_o = np.diff(np.log(m_or)) / np.diff(np.log(Kf))
    coverage = float(table["covered"].mean())
    ratio = float(m_uob[-1] / m_or[-1])
    # beyond the window (reported, not gated): is the exponent still falling? Fewer seeds,
    # the same instance, K from the window's end to 10^5 (drawn after everything above, so the
    # gated numbers do not depend on it)
    long_Ks = [] if quick else [Ks[-1], 30_000, 100_000]
    long_local, m_long = np.array([]), np.array([])
    if long_Ks:
        long = seed_sweep(uob_slope_repetition, {"Ks": [long_Ks],
                                                 "instance_seed": instance_seed},
                          LONG_SEEDS, rng)
        m_long = long.pivot(index="seed", columns="K", values="uob_reps")[long_Ks] \
            .to_numpy().mean(0)
        long_local = np.diff(np.log(m_long)) / np.diff(np.log(long_Ks))
        table = pd.concat([table.assign(run="window"),
                           long[table.columns].assign(run="long run (not gated)")],
                          ignore_index=True)

    with paper_style():
        fig, axes = new_figure("double", aspect=0.36, ncols=2)
        ax = axes[0]
        for key, lab, col, fit in (("uob_reps", "UOB-REPS ($P$ unknown)", "C0", fit_u),
                                   ("oreps_known_P", "O-REPS ($P$ known)", "C1", fit_o)):
            y = piv[key].mean(0)
            if fit is not None:
                plot_loglog_fit(ax, Kf, y, fit=fit, label=lab, color=col)
            n = len(piv[key])
            if n > 1:
                half = 1.96 * piv[key].std(0, ddof=1) / np.sqrt(n)
                ax.fill_between(Kf, np.maximum(y - half, y / 5), y + half, color=col,
                                alpha=0.15, lw=0)
        if long_Ks:
            ax.loglog(long_Ks[1:], m_long[1:], "o", mfc="none", color="C0",
                      label=f"UOB-REPS, {LONG_SEEDS} seeds beyond the window (not gated)")
        ax.loglog(Kf, m_uni, ":", color="0.3", lw=1, label="uniform policy (no learning)")
        ax.loglog(Kf, m_uob[-1] * np.sqrt(Kf / Kf[-1]), "k--", lw=0.8,
                  label=r"$\propto\sqrt{K}$ (through the last point)")
        value_ticks(ax, Ks + long_Ks[1:])
        label_axes(ax, r"episodes $K$ ($\eta = \gamma$ tuned for each $K$)",
                   "regret vs best fixed policy (exact, mean)",
                   "bandit feedback, oblivious Bernoulli losses")
        ax.legend(fontsize=5.5, loc="upper left")
        ax = axes[1]
        mids = np.sqrt(Kf[1:] * Kf[:-1])
        ax.axhspan(*UOB_BAND, color="0.85", lw=0, label="criterion band (V2)")
        ax.axhline(0.5, color="k", ls="--", lw=0.8, label="1/2")
        ax.semilogx(mids, local_u, "o-", color="C0", label="UOB-REPS")
        ax.semilogx(mids, local_o, "s-", color="C1", label="O-REPS ($P$ known)")
        ax.axhline(slope_u, color="C0", ls=":", lw=1,
                   label=f"UOB-REPS fitted slope {slope_u:.2f}")
        if long_Ks:
            lk = np.asarray(long_Ks, dtype=float)
            ax.semilogx(np.sqrt(lk[1:] * lk[:-1]), long_local, "o--", mfc="none", color="C0",
                        label=f"UOB-REPS beyond the window ({LONG_SEEDS} seeds, not gated)")
        value_ticks(ax, Ks + long_Ks[1:])
        ax.set_ylim(0, 1.1)
        label_axes(ax, "episodes $K$ (geometric midpoints)",
                   "local slope d log regret / d log K", "local exponents")
        ax.legend(fontsize=5.5, loc="lower left")
    figs = save_figure(fig, out / "uob_reps_regret")

    summary = (
        f"{n_seeds} seeds, K in {Ks}, H = {H}, S = {S}, A = {A}. (V1) UOB-REPS mean regret below "
        f"the uniform policy's at every K: {v1} (at K = {Ks[-1]}: {m_uob[-1]:.0f} vs "
        f"{m_uni[-1]:.0f}). (V2) fitted slope {slope_u:.3f} (90% bootstrap CI over seeds "
        f"[{ci_u[0]:.2f}, {ci_u[1]:.2f}]; criterion [{UOB_BAND[0]}, {UOB_BAND[1]}]) -> "
        f"{'pass' if v2 else 'FAIL'}; local slopes {np.array2string(local_u, precision=2)}. "
        f"(V3) largest flow violation {worst_violation:.1e} (criterion <= 1e-9). O-REPS with "
        f"the known kernel: slope {slope_o:.3f}, local {np.array2string(local_o, precision=2)}; "
        f"regret ratio UOB-REPS / O-REPS at K = {Ks[-1]}: {ratio:.2f}. Final confidence set "
        f"contains the true kernel in {100 * coverage:.0f}% of runs; "
        f"{table['newton_iterations'].mean():.1f} Newton iterations per projection."
        + (f" Beyond the window (not gated; {LONG_SEEDS} seeds, K = {long_Ks}): mean regret "
           f"{np.array2string(m_long, precision=0)}, local slopes "
           f"{np.array2string(long_local, precision=2)}." if long_Ks else "")
    )
    key = {"slope_uob": float(slope_u), "slope_uob_ci_lo": ci_u[0], "slope_uob_ci_hi": ci_u[1],
           "local_slope_last": float(local_u[-1]), "slope_oreps_known": float(slope_o),
           "ratio_to_oreps": ratio, "coverage": coverage, "max_violation": worst_violation,
           "K_max": Ks[-1], "seeds": n_seeds,
           "local_slope_to_1e5": float(long_local[-1]) if long_local.size else float("nan")}
    return ClaimResult(bool(v1 and v2 and v3), table, figs, summary, key)
