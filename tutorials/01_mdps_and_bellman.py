# %% [markdown]
# # Tutorial 1: MDPs and the Bellman equation
#
# A discounted MDP is a transition kernel $P(s'|s,a)$, rewards $R(s,a)$ and a discount
# $\gamma < 1$. The optimal value is the unique fixed point of the Bellman optimality operator
#
# $$ (TV)(s) = \max_a \Big[ R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s') \Big], $$
#
# a $\gamma$-contraction in the sup norm (Puterman, *Markov Decision Processes*, 1994, §6.2).
# In this tutorial we build a gridworld, solve it with value iteration (VI) and policy
# iteration (PI), look at what each method certifies, and compute the occupancy measure of
# the optimal policy.
#
# This file is a Python script in the jupytext "percent" format: run it with
# `python tutorials/01_mdps_and_bellman.py`, or open it as a notebook with jupytext.
# Figures go to the folder named by `MDPLAB_TUTORIAL_FIGURES` (default `tutorial_figures/`).

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab.plot import label_axes, new_figure, paper_style, save_figure

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## A gridworld
#
# `gridworld` builds a grid with walls and a goal; with `slip=0.1` every move goes in a
# random other direction with probability 0.1. Reaching the goal pays 1.

# %%
mdp, grid = ml.envs.gridworld(
    layout="""
    ........
    .##.....
    ...#.##.
    .#.#...G
    """,
    slip=0.1, gamma=0.95, return_grid=True,
)
print(mdp)

# %% [markdown]
# ## Value iteration and policy iteration
#
# Both methods stop on the McQueen-Porteus bracket: for any $V$, with $d = TV - V$ and
# $c = \gamma/(1-\gamma)$, $\;TV + c\min d \le V^* \le TV + c \max d$. The returned
# `error_bound` is a certificate: $\|V - V^*\|_\infty \le$ `error_bound` $\le$ `tol`.

# %%
vi = ml.solve(mdp, method="vi", tol=1e-10)
pi = ml.solve(mdp, method="pi", tol=1e-10)
print(f"VI: {vi.iterations} sweeps, certified error {vi.error_bound:.1e}")
print(f"PI: {pi.iterations} policy evaluations, certified error {pi.error_bound:.1e}")
print("largest difference between the two values:", np.max(np.abs(vi.V - pi.V)))

# %% [markdown]
# Value iteration contracts the residual $\|TV_k - V_k\|_\infty$ geometrically; policy
# iteration evaluates each policy exactly and stops when the greedy policy repeats. The
# residual histories show the difference.

# %%
with paper_style():
    fig, ax = new_figure("single")
    ax.semilogy(np.arange(1, len(vi.history) + 1), vi.history, label="value iteration")
    ax.semilogy(np.arange(1, len(pi.history) + 1), pi.history, "o-", label="policy iteration")
    ax.semilogy(np.arange(1, len(vi.history) + 1), vi.history[0] * mdp.gamma ** np.arange(
        len(vi.history)), "k:", lw=0.8, label=r"$\gamma^k$ (contraction rate)")
    label_axes(ax, "iteration", r"residual $\|TV - V\|_\infty$", "VI vs PI on the gridworld")
    ax.legend()
save_figure(fig, FIGURES / "tutorial1_residuals")

# %% [markdown]
# ## The optimal policy on the grid

# %%
with paper_style():
    fig, ax = new_figure("single", aspect=0.6)
    ml.envs.render_gridworld(grid, values=pi.V, policy=pi.policy, ax=ax,
                             title="optimal value and policy")
save_figure(fig, FIGURES / "tutorial1_policy")

# %% [markdown]
# ## Occupancy measures
#
# The discounted occupancy $d^\pi(s,a) = \sum_t \gamma^t \Pr(s_t = s, a_t = a)$ sums to
# $1/(1-\gamma)$ and turns the value into a linear function: $J(\pi) = \sum_{s,a} d^\pi(s,a)
# R(s,a)$. This is the variable of the linear-programming view of MDPs
# (`method="lp"`, see the solvers page).

# %%
d = ml.occupancy(mdp, pi.policy)
print("total occupancy:", d.sum(), "= 1/(1-gamma) =", 1 / (1 - mdp.gamma))
print("J from the occupancy:", float((d * mdp.R).sum()),
      " J from the value:", float(mdp.mu @ pi.V))

# %% [markdown]
# ## Exercises
#
# 1. Raise the discount to `gamma=0.99`. How many sweeps does value iteration need now, and
#    how many evaluations does policy iteration need? Explain with the contraction rate.
# 2. Set `slip=0.3`. Does any optimal action change? Where does the value fall the most, and
#    why there?
# 3. Check the linear-program view: solve with `method="lp"` and compare the value with
#    policy iteration's.
#
# Solutions: `tutorials/solutions/01_mdps_and_bellman.py`.
