"""Exact regret curves of UCBVI and baselines on RiverSwim (finite horizon).

Runs UCBVI-BF (the paper's constants and a bonus x 0.1), optimistic Q-learning, PSRL and
epsilon-greedy for K episodes on RiverSwim (Osband et al. 2013 variant, n = 6, H = 20), records
the exact per-episode regret with ``mdplab.learn.run`` and saves a log-log plot of the
cumulative regret with fitted slopes (``ucbvi_regret.pdf`` / ``.png``).

    python examples/ucbvi_regret.py            # K = 20_000, a few seconds per learner
    python examples/ucbvi_regret.py 100000     # longer
"""

from __future__ import annotations

import sys

import pandas as pd

import mdplab as ml
from mdplab.plot import label_axes, new_figure, paper_style, plot_loglog_fit, save_figure


def main(K: int = 20_000, out: str = "ucbvi_regret") -> pd.DataFrame:
    mdp = ml.envs.riverswim(6, horizon=20, variant="osband")
    learners = {
        "UCBVI-BF": ml.learn.UCBVI(bonus="bernstein"),
        "UCBVI-BF, bonus x 0.1": ml.learn.UCBVI(bonus="bernstein", scale=0.1),
        "Q-learning UCB-H (c = 0.05)": ml.learn.OptimisticQLearning(c=0.05),
        "PSRL": ml.learn.PSRL(),
        "epsilon-greedy (0.1)": ml.learn.EpsilonGreedy(0.1),
    }
    logs = []
    for name, learner in learners.items():
        log = ml.learn.run(learner, mdp, episodes=K, rng=0, record_every=K)
        logs.append(log.assign(learner=name))
        print(f"{name:28s} regret after {K} episodes: {log['cum_regret'].iloc[-1]:10.1f}")
    table = pd.concat(logs, ignore_index=True)
    with paper_style():
        fig, ax = new_figure("single", aspect=0.8)
        for name, sub in table.groupby("learner", sort=False):
            sub = sub[sub["episode"] >= K // 100]
            plot_loglog_fit(ax, sub["episode"], sub["cum_regret"], label=name)
        label_axes(ax, "episodes $K$", "cumulative regret (exact)",
                   "RiverSwim, n = 6, H = 20")
        ax.legend(fontsize=5)
    save_figure(fig, out)
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
