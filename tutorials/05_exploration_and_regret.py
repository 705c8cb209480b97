# %% [markdown]
# # Tutorial 5: exploration, regret and demonstrations
#
# An online learner plays a policy $\pi_k$ in episode $k = 1, \dots, K$ of a finite-horizon
# MDP it does not know, observes the trajectory, and updates. Its regret is
# $\mathrm{Regret}(K) = \sum_{k \le K} \big(J^* - J(\pi_k)\big)$. Optimism in the face of
# uncertainty (UCBVI: Azar, Osband & Munos 2017, arXiv:1703.05449) gives
# $\tilde O(\sqrt{H^3 S A K})$ regret; posterior sampling (PSRL: Osband, Russo & Van Roy 2013,
# arXiv:1306.0940) does as well in practice.
#
# mdplab's runner evaluates every played policy **exactly**, so a regret curve carries no
# Monte Carlo noise from evaluation: the only randomness is the learner's data.

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab.learn import demo
from mdplab.plot import fit_loglog_slope, label_axes, new_figure, paper_style, save_figure

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
mdp = ml.envs.riverswim(6, horizon=20, variant="osband")
print(mdp)

# %% [markdown]
# ## Regret curves
#
# RiverSwim is a classic hard-exploration chain: the reward at the far right end is only found
# by swimming against the current. We compare PSRL, UCBVI (Bernstein bonus) at the paper's
# constants and at 1% of them, and the greedy certainty-equivalence learner, which does not
# explore at all. With the paper's constants the bonus exceeds the largest possible value
# until each state-action pair has been visited very often, so UCBVI explores almost uniformly
# for many episodes (the claim `ucbvi-sqrt-k-regret` measures this over $10^5$ episodes).

# %%
K = 3000
learners = {"PSRL": ml.learn.PSRL(), "UCBVI": ml.learn.UCBVI(),
            "UCBVI (bonus x 0.01)": ml.learn.UCBVI(scale=0.01), "greedy": ml.learn.Greedy()}
logs = {name: ml.learn.run(learner, mdp, episodes=K, rng=0, progress=False)
        for name, learner in learners.items()}
for name, log in logs.items():
    print(f"{name:20s} regret after {K} episodes: {log['cum_regret'].iloc[-1]:8.1f}")

# %%
with paper_style():
    fig, ax = new_figure("single")
    for name, log in logs.items():
        k, reg = log["episode"].to_numpy(), log["cum_regret"].to_numpy()
        tail = k >= 1000
        slope = fit_loglog_slope(k[tail], np.maximum(reg[tail], 1e-12)).slope
        ax.loglog(k, np.maximum(reg, 1e-3), label=f"{name} (slope {slope:.2f} for k ≥ 1000)")
    label_axes(ax, "episode k", "cumulative regret (return units)", "RiverSwim, S = 6, H = 20")
    ax.legend(fontsize=6)
save_figure(fig, FIGURES / "tutorial5_regret")

# %% [markdown]
# A slope of 1 on the log-log plot is linear regret (the learner keeps making the same
# mistake: greedy); a slope below 1 means it learns. The $\sqrt K$ rate is a worst-case upper
# bound: on a fixed instance with a gap between the best and second-best policies, a good
# learner's regret grows only logarithmically once it has found the optimal policy.

# %% [markdown]
# ## Demonstrations: behavior cloning as a prior
#
# With $N^E$ trajectories of an expert, behavior cloning (BC) gives a policy whose trajectory
# KL to the expert falls like $1/N^E$ (Tiapkin et al. 2023, arXiv:2310.17303). Regularizing
# toward the BC policy then makes the remaining online learning cheaper.

# %%
expert = ml.solve(mdp).policy
for n_demos in (10, 100, 1000):
    states, actions = demo.sample_trajectories(mdp, expert, n_demos, rng=1)
    bc = demo.behavior_cloning(states, actions, mdp.S, mdp.A)
    gap = float(mdp.mu @ ml.solve(mdp).V[0]) - ml.evaluate(mdp, bc).J
    print(f"N^E = {n_demos:5d}: KL_traj(expert || BC) = {demo.trajectory_kl(mdp, expert, bc):.4f},"
          f" suboptimality of BC = {gap:.4f}")

# %% [markdown]
# ## Exercises
#
# 1. Run each learner with 5 different seeds and draw the mean regret with a band of
#    $\pm 2$ standard errors. Which differences are significant at $K = 3000$?
# 2. Make the problem harder: `ml.envs.riverswim(10, horizon=30, variant="osband")`. How does
#    PSRL's regret after 3000 episodes change?
# 3. Check the $1/N^E$ rate of the behavior-cloning KL: fit the log-log slope of
#    `trajectory_kl` against $N^E$ over 10 seeds.
#
# Solutions: `tutorials/solutions/05_exploration_and_regret.py`.
