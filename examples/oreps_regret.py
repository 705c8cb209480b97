"""Exact regret of O-REPS (full information and bandit feedback) on an adversarial layered MDP.

For each K on a geometric grid, draws the K-dependent hard loss sequence (Bernoulli(1/2)
losses except a target policy's, lower by 0.75 sqrt(SA/K)), runs O-REPS with the learning rate
tuned for K, and plots the exact regret against the best fixed policy in hindsight, with the
fitted log-log slopes and Zimin & Neu's bounds (``oreps_regret.pdf`` / ``.png``).

    python examples/oreps_regret.py            # K up to 4000, about 10 s
    python examples/oreps_regret.py 10000      # longer
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

import mdplab as ml
from mdplab.learn import adversarial as adv
from mdplab.plot import label_axes, new_figure, paper_style, plot_loglog_fit, save_figure


def main(K_max: int = 4_000, seeds: int = 3, out: str = "oreps_regret") -> pd.DataFrame:
    H, S, A = 4, 3, 3
    mdp = ml.envs.random_mdp(S, A, horizon=H, time_varying=True, rng=0).with_(mu=[1.0, 0, 0])
    Ks = np.unique(np.geomspace(200, K_max, 6).round().astype(int))
    rows = []
    for fb in ("full", "bandit"):
        for seed in range(seeds):
            for K in Ks:
                losses = adv.hard_losses(mdp, int(K), rng=np.random.default_rng([seed, int(K)]),
                                         c=0.75)
                log = adv.run_adversarial(adv.OREPS(feedback=fb), mdp, losses, rng=seed,
                                          record_every=int(K))
                rows.append({"feedback": fb, "seed": seed, "K": int(K),
                             "regret": float(log["cum_regret"].iloc[-1])})
    table = pd.DataFrame(rows)
    with paper_style():
        fig, ax = new_figure("single", aspect=0.8)
        for fb, sub in table.groupby("feedback", sort=False):
            mean = sub.groupby("K")["regret"].mean()
            plot_loglog_fit(ax, mean.index.to_numpy(float), mean.to_numpy(), label=f"O-REPS {fb}")
            ax.plot(mean.index, adv.oreps_bound(mean.index.to_numpy(float), S, A, H, fb,
                                                paper=True), "--", lw=0.8,
                    label=f"Zimin & Neu bound ({fb})")
        label_axes(ax, "episodes $K$", "regret vs best fixed policy (exact)")
        ax.legend(fontsize=6)
    for path in save_figure(fig, out):
        print("wrote", path)
    print(table.groupby(["feedback", "K"])["regret"].mean().round(1).to_string())
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4_000)
