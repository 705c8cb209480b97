r"""Claim of demonstration-regularized RLHF: KL toward the BC policy absorbs the error of a
learned reward.

Tiapkin et al. (2023), *Demonstration-regularized RL*, ICLR 2024, arXiv:2310.17303 (abstract:
"demonstration-regularized methods are provably efficient for RLHF ... we avoid pessimism
injection by employing computationally feasible regularization to handle reward estimation
uncertainty"; RLHF section, numbering unverified). Pipeline: :mod:`mdplab.learn.demo_rlhf`.

* ``demo-regularized-rlhf`` -- Instance: random time-inhomogeneous Dirichlet MDPs with
  ``S = 6``, ``A = 4``, ``H = 5`` (a new MDP per seed); :math:`N^E = 20` trajectories of the
  optimal deterministic policy; Laplace BC; :math:`N_{\rm pref}` pairs of BC trajectories
  labelled by the Bradley-Terry model on the true returns; ridge-regularized reward MLE
  (:math:`\kappa = 10^{-2}`); the exact KL-regularized optimum toward :math:`\pi^{\rm BC}` for
  :math:`\lambda` on a grid, :math:`\lambda = 0` being the plug-in (greedy for :math:`\hat r`)
  and :math:`\lambda \to \infty` BC itself. Suboptimalities are exact. :math:`\lambda` is tuned
  on the first third of the seeds and evaluated on the others (no winner's curse).
  **Criterion** (fixed before the full run): at every :math:`N_{\rm pref}`, on the held-out
  seeds, the tuned regularized policy is better than the plug-in and than BC, each by a paired
  z-score above 2; and the tuned :math:`\lambda` does not increase with :math:`N_{\rm pref}`
  and ends lower than it starts (less reward uncertainty, less regularization needed).
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd

from .. import envs
from .._utils import spawn
from ..learn.demo import behavior_cloning, sample_trajectories
from ..learn.demo_rlhf import demo_regularized_rlhf, sample_trajectory_preferences
from ..plot import label_axes, new_figure, paper_style, save_figure
from ..solvers import solve
from . import ClaimResult, register
from ._seeds import seed_sweep

TIAPKIN_RLHF = (
    "Tiapkin et al. 2023, Demonstration-regularized RL, ICLR 2024, arXiv:2310.17303 "
    "(abstract: demonstration-regularized RLHF without pessimism; RLHF section, numbering "
    "unverified)"
)

LAMBDAS = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def rlhf_repetition(S: int, A: int, H: int, n_demos: int, n_prefs: list, rng) -> list[dict]:
    """One repetition of the claim: exact suboptimalities for every preference-data size and
    every temperature of ``LAMBDAS`` (rows for :func:`mdplab.sweep.sweep`)."""
    mdp_rng, demo_rng, pref_rng = spawn(rng, 3)
    mdp = envs.random_mdp(S, A, horizon=H, time_varying=True, rng=mdp_rng)
    expert = solve(mdp).policy
    states, actions = sample_trajectories(mdp, expert, n_demos, rng=demo_rng)
    bc = behavior_cloning(states, actions, S, A)
    rows = []
    for n_pref, p_rng in zip(n_prefs, spawn(pref_rng, len(n_prefs)), strict=True):
        prefs = sample_trajectory_preferences(mdp, bc, n_pref, rng=p_rng)
        for lam in LAMBDAS:
            res = demo_regularized_rlhf(mdp, states, actions, prefs, lam, bc_policy=bc)
            rows.append({"n_pref": n_pref, "lam": lam, "suboptimality": res.suboptimality,
                         "bc_suboptimality": res.bc_suboptimality})
    return rows


def _paired_z(diff: np.ndarray) -> float:
    sd = float(np.std(diff, ddof=1))
    return float(np.mean(diff)) / (sd / np.sqrt(diff.size)) if sd > 0 else np.inf


@register(
    id="demo-regularized-rlhf",
    title="Demonstration-regularized RLHF: KL toward BC beats the plug-in and BC",
    citation=TIAPKIN_RLHF,
    statement=(
        r"With a Bradley-Terry reward $\hat r$ learned from preferences over trajectories, the "
        r"KL-regularized optimum toward the behavior-cloning policy (no pessimism) is better "
        r"than both the plug-in policy of $\hat r$ ($\lambda = 0$) and BC ($\lambda \to "
        r"\infty$), with $\lambda$ tuned on held-out seeds; the tuned $\lambda$ falls as the "
        r"preference data grow."
    ),
    budget_seconds=120,
)
def check_demo_regularized_rlhf(quick: bool, rng: np.random.Generator, out):
    S, A, H, n_demos = 6, 4, 5, 20
    grid = (500, 2000) if quick else (250, 500, 1000, 2000, 4000)
    n_seeds = 12 if quick else 30
    n_tune = n_seeds // 3
    # one repetition = one random MDP, its demonstrations and BC policy, and preference data
    # of every size (a paired design); the repetitions run through mdplab.sweep
    table = seed_sweep(rlhf_repetition, {"S": [S], "A": [A], "H": [H], "n_demos": [n_demos],
                                         "n_prefs": [list(grid)]}, n_seeds, rng)
    table = table[["seed", "n_pref", "lam", "suboptimality", "bc_suboptimality"]]
    seeds = table["seed"].unique()
    tune_seeds, test_seeds = set(seeds[:n_tune]), set(seeds[n_tune:])
    summary_rows = []
    for n_pref in grid:
        sub = table[table["n_pref"] == n_pref]
        tune = sub[sub["seed"].isin(tune_seeds)].groupby("lam")["suboptimality"].mean()
        lam_best = float(tune.idxmin())
        test = sub[sub["seed"].isin(test_seeds)].pivot(index="seed", columns="lam",
                                                      values="suboptimality")
        bc_sub = sub[sub["seed"].isin(test_seeds)].groupby("seed")["bc_suboptimality"].first()
        reg = test[lam_best]
        summary_rows.append({
            "n_pref": n_pref, "lam_tuned": lam_best,
            "reg": float(reg.mean()), "plugin": float(test[0.0].mean()),
            "bc": float(bc_sub.mean()),
            "z_vs_plugin": _paired_z((test[0.0] - reg).to_numpy()),
            "z_vs_bc": _paired_z((bc_sub.loc[reg.index] - reg).to_numpy()),
        })
    summ = pd.DataFrame(summary_rows)
    ok_beats = bool(np.all(summ["z_vs_plugin"] > 2) and np.all(summ["z_vs_bc"] > 2))
    lam_seq = summ["lam_tuned"].to_numpy()
    ok_lambda = bool(np.all(np.diff(lam_seq) <= 0) and lam_seq[-1] < lam_seq[0])
    passed = ok_beats and ok_lambda

    with paper_style():
        fig, axes = new_figure("double", ncols=2, aspect=0.42)
        ax = axes[0]
        test_rows = table[table["seed"].isin(test_seeds)]
        x = np.array([lam if lam > 0 else 0.01 for lam in LAMBDAS])
        for n_pref in grid:
            means = test_rows[test_rows["n_pref"] == n_pref].groupby("lam")["suboptimality"]
            m, se = means.mean(), means.std(ddof=1) / np.sqrt(means.count())
            line, = ax.plot(x, m.to_numpy(), marker="o", ms=2.5, label=f"$N_{{pref}}$ = {n_pref}")
            ax.fill_between(x, (m - 2 * se).to_numpy(), (m + 2 * se).to_numpy(),
                            color=line.get_color(), alpha=0.15, lw=0)
        ax.axhline(summ["bc"].iloc[0], color="k", ls=":", lw=0.8, label=r"BC ($\lambda\to\infty$)")
        ax.set_xscale("log")
        label_axes(ax, r"KL temperature $\lambda$ (0 plotted at 0.01: plug-in)",
                   r"$V^* - V^{\hat\pi}$ (return units)", "held-out seeds, mean ± 2 s.e.")
        ax.legend(fontsize=5.5)
        ax = axes[1]
        ax.plot(summ["n_pref"], summ["reg"], "o-", ms=3,
                label=r"demo-regularized (tuned $\lambda$)")
        ax.plot(summ["n_pref"], summ["plugin"], "s--", ms=3, label=r"plug-in ($\lambda = 0$)")
        ax.plot(summ["n_pref"], summ["bc"], "k:", label="behavior cloning")
        for _, r in summ.iterrows():
            ax.annotate(f"λ={r['lam_tuned']:g}", (r["n_pref"], r["reg"]), fontsize=5,
                        textcoords="offset points", xytext=(2, -8))
        ax.set_xscale("log")
        ax.set_xticks(list(grid), [str(g) for g in grid])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlim(grid[0] / 1.3, grid[-1] * 1.5)
        label_axes(ax, r"preference pairs $N_{\rm pref}$", r"$V^* - V^{\pi}$ (return units)",
                   f"S={S}, A={A}, H={H}, $N^E$={n_demos}")
        ax.legend(fontsize=5.5)
    figs = save_figure(fig, out / "demo_regularized_rlhf")
    summary = (
        f"Held-out seeds ({len(test_seeds)} of {n_seeds}), lambda tuned on the other "
        f"{n_tune}: " + "; ".join(
            f"N_pref={int(r.n_pref)}: lambda={r.lam_tuned:g}, regularized {r.reg:.3f} vs plug-in "
            f"{r.plugin:.3f} (z={r.z_vs_plugin:.1f}) vs BC {r.bc:.3f} (z={r.z_vs_bc:.1f})"
            for r in summ.itertuples()
        ) + f". Beats both with z > 2 everywhere: {ok_beats}; tuned lambda non-increasing and "
        f"falling: {ok_lambda}."
    )
    table.attrs["summary_by_n_pref"] = summ
    key = {"min_z_vs_plugin": float(summ["z_vs_plugin"].min()),
           "min_z_vs_bc": float(summ["z_vs_bc"].min()),
           "lam_first": float(lam_seq[0]), "lam_last": float(lam_seq[-1]), "seeds": n_seeds}
    return ClaimResult(bool(passed), table, figs, summary, key)
