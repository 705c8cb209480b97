r"""Adversarial MDPs with unknown transitions: UOB-REPS's regret.

* ``uob-reps-regret`` -- Jin, Jin, Luo, Sra & Yu (2020), arXiv:1912.01192 (main theorem;
  numbering unverified): UOB-REPS has regret :math:`\tilde O(L|X|\sqrt{|A|T})` with bandit
  feedback when the transitions are unknown (:mod:`mdplab.learn.adversarial_unknown`).

Instance (constructed for the toolkit; fixed before the claim's seeds were run): a layered MDP
with :math:`H = 3` steps, :math:`S = 2` states per step, :math:`A = 2` actions, start state 0,
time-inhomogeneous Dirichlet(1) kernels (unknown to the learner), oblivious Bernoulli losses
with fixed random means. Small because every episode solves an exponential-cone projection
(cvxpy; about 4 ms here). :math:`K \in \{250, \dots, 4000\}`, 5 seeds, the paper's
:math:`\eta = \gamma`. References on the same losses: O-REPS with bandit feedback and the
*known* kernel (:mod:`mdplab.learn.adversarial`) and the uniform policy.

Pass criteria (stated before running the claim's seeds; an exploratory run on other seeds
gave a slope of 0.85 over :math:`K \le 2000`, so (U2) may fail in this pre-asymptotic range):

(U1) learning: at every :math:`K` UOB-REPS's mean regret is below the uniform policy's;
(U2) rate: the 90% bootstrap interval (over seeds) of the log-log slope of UOB-REPS's mean
regret against :math:`K` covers or lies below :math:`1/2`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from .. import envs
from .._utils import spawn
from ..learn import adversarial as adv
from ..learn.adversarial_unknown import UOBREPS, confidence_widths
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

JIN = ("Jin, Jin, Luo, Sra & Yu 2020, ICML, arXiv:1912.01192, Algorithms 1 and 3 and the main "
       "regret theorem (numbering and confidence-set constants unverified)")
H, S, A = 3, 2, 2


def _instance(instance_seed: int):
    g = np.random.default_rng(instance_seed)
    mdp = envs.random_mdp(S, A, horizon=H, time_varying=True, rng=g)
    mu = np.zeros(S)
    mu[0] = 1.0
    return mdp.with_(mu=mu), g.random((H, S, A))


def uob_repetition(Ks: list, instance_seed: int, rng) -> list[dict]:
    """One repetition: for every ``K``, one oblivious loss sequence and the exact final regret
    of UOB-REPS (unknown kernel), of O-REPS (known kernel, bandit) and of the uniform policy on
    it (rows for :func:`mdplab.sweep.sweep`)."""
    from ..learn import _adv_kernels as ak

    mdp, means = _instance(instance_seed)
    P = adv._kernel(mdp)
    q_unif = np.zeros((H, S, A))
    ak.occupancy_from_policy(P, np.asarray(mdp.mu, float), np.full((H, S, A), 1.0 / A), q_unif)
    rows = []
    for K, g in zip(Ks, spawn(rng, len(Ks)), strict=True):
        loss_rng, run_rng = spawn(g, 2)
        L = adv.oblivious_losses(mdp, K, rng=loss_rng, means=means)
        seed = int(run_rng.integers(2**63))
        uob = adv.run_adversarial(UOBREPS(), mdp, L, rng=np.random.default_rng(seed),
                                  record_every=K)
        oreps = adv.run_adversarial(adv.OREPS(feedback="bandit"), mdp, L,
                                    rng=np.random.default_rng(seed), record_every=K)
        rows.append({"K": K, "uob_reps": float(uob["cum_regret"].iloc[-1]),
                     "oreps_known_P": float(oreps["cum_regret"].iloc[-1]),
                     "uniform": float(np.sum(q_unif * L.sum(0)) - uob.attrs["best_loss"]),
                     "seconds": float(uob["seconds"].iloc[-1])})
    return rows


def _boot_slope(K, Y, rng, n_boot=1000, level=0.90):
    """Slope of the log mean over seeds (rows of ``Y``) against log K, with its percentile
    bootstrap interval over seeds stored as the fit's ``ci`` (and returned)."""
    fit = fit_loglog_slope(K, Y.mean(0))
    boots = [fit_loglog_slope(K, Y[rng.integers(len(Y), size=len(Y))].mean(0)).slope
             for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    ci = (float(lo), float(hi))
    return dataclasses.replace(fit, ci=ci, level=level), ci


@register(
    id="uob-reps-regret",
    title="UOB-REPS learns adversarial MDPs with unknown transitions; regret exponent vs 1/2",
    citation=JIN,
    statement=(
        r"UOB-REPS (OMD over occupancy measures consistent with an empirical-Bernstein "
        r"confidence set, losses inversely weighted by an upper occupancy bound) has regret "
        r"$\tilde O(H|X|\sqrt{|A|K})$ with bandit feedback and unknown transitions. On a "
        r"$H = 3$, $S = 2$, $A = 2$ layered MDP with oblivious Bernoulli losses, $K \in [250, "
        r"4000]$, 5 seeds: (U1) its mean regret is below the uniform policy's at every $K$; "
        r"(U2) the 90% bootstrap interval of its log-log slope covers or lies below $1/2$."
    ),
    budget_seconds=180,
)
def check_uob_reps(quick: bool, rng: np.random.Generator, out) -> ClaimResult:
    Ks = [100, 200, 400] if quick else [250, 500, 1000, 2000, 4000]
    n_seeds = 2 if quick else 5
    instance_seed = int(rng.integers(2**31))
    table = seed_sweep(uob_repetition, {"Ks": [Ks], "instance_seed": instance_seed}, n_seeds,
                       rng)
    table = table[["seed", "K", "uob_reps", "oreps_known_P", "uniform", "seconds"]]
    Kf = np.asarray(Ks, float)
    piv = {c: table.pivot(index="seed", columns="K", values=c)[Ks].to_numpy()
           for c in ("uob_reps", "oreps_known_P", "uniform")}
    u1 = bool(np.all(piv["uob_reps"].mean(0) < piv["uniform"].mean(0)))
    fit_u, ci_u = _boot_slope(Kf, piv["uob_reps"], rng)
    fit_o, ci_o = _boot_slope(Kf, piv["oreps_known_P"], rng)
    u2 = bool(ci_u[0] <= 0.5)
    m = piv["uob_reps"].mean(0)
    local = np.diff(np.log(m)) / np.diff(np.log(Kf))
    ratio = float(m[-1] / piv["oreps_known_P"].mean(0)[-1])
    # width of the confidence set at the end: the pre-asymptotic regime in one number
    n_pair = Ks[-1] / (S * A)
    width = float(confidence_widths(np.array([n_pair]), np.array([[0.5]]),
                                    np.log(Ks[-1] * H * S * A / 0.05))[0, 0])

    with paper_style():
        fig, ax = new_figure("single", aspect=0.75)
        for key, lab, col in (("uob_reps", "UOB-REPS (P unknown)", "C0"),
                              ("oreps_known_P", "O-REPS (P known)", "C1"),
                              ("uniform", "uniform policy", "0.4")):
            y = piv[key].mean(0)
            if key == "uniform":
                ax.loglog(Kf, y, ":", color=col, label=lab)
                continue
            fit = fit_u if key == "uob_reps" else fit_o
            plot_loglog_fit(ax, Kf, y, fit=fit, label=lab, color=col)
            half = stats.t.ppf(0.975, len(piv[key]) - 1) * piv[key].std(0, ddof=1) \
                / np.sqrt(len(piv[key]))
            # lower end clipped at y/5: with few seeds the t-band can reach 0 on a log axis
            ax.fill_between(Kf, np.maximum(y - half, y / 5), y + half, color=col, alpha=0.15,
                            lw=0)
        ax.loglog(Kf, m[0] * np.sqrt(Kf / Kf[0]), "k--", lw=0.8, label=r"$\propto\sqrt{K}$")
        value_ticks(ax, Ks)
        label_axes(ax, "episodes K", "regret vs best fixed policy (exact, mean)",
                   "Bandit feedback, unknown vs known transitions")
        ax.legend(fontsize=6)
    figs = save_figure(fig, out / "uob_reps_regret")

    summary = (
        f"{n_seeds} seeds, K in {Ks}, H = {H}, S = {S}, A = {A}. (U1) UOB-REPS mean regret "
        f"below the uniform policy's at every K: {u1} (at K = {Ks[-1]}: {m[-1]:.1f} vs "
        f"{piv['uniform'].mean(0)[-1]:.1f}). (U2) slope {fit_u.slope:.2f} (90% bootstrap CI "
        f"[{ci_u[0]:.2f}, {ci_u[1]:.2f}]; criterion covers or below 0.5) -> "
        f"{'pass' if u2 else 'FAIL'}; local slopes {np.array2string(local, precision=2)}. "
        f"O-REPS with the known kernel: slope {fit_o.slope:.2f} [{ci_o[0]:.2f}, "
        f"{ci_o[1]:.2f}]; UOB-REPS / O-REPS regret at K = {Ks[-1]}: {ratio:.2f}. Confidence "
        f"width for P = 0.5 after K/(SA) = {n_pair:.0f} visits of a pair: {width:.2f} (the "
        f"sqrt(K) regime needs it small)."
    )
    key = {"slope_uob": float(fit_u.slope), "slope_uob_ci_lo": ci_u[0],
           "slope_uob_ci_hi": ci_u[1], "slope_oreps_known": float(fit_o.slope),
           "ratio_to_oreps": ratio, "K_max": float(Ks[-1]), "seeds": float(n_seeds)}
    return ClaimResult(u1 and u2, table, figs, summary, key)
