# %% [markdown]
# # Tutorial 6: offline RL and preference games
#
# Two settings where KL regularization does the work of caution.
#
# **Offline RL.** Only a fixed data set, collected by a behavior policy, is available. The
# plug-in policy (solve the empirical model) trusts estimates of rarely visited actions;
# pessimism (PEVI: Jin, Yang & Wang 2021, arXiv:2012.15085) subtracts a confidence bonus
# instead, and behavior regularization keeps the policy close to the data by a KL penalty
# toward the (estimated) behavior policy. How well any of them can do depends on the
# single-policy concentrability $C^* = \max_{h,s,a} d^{\pi^*}_h(s,a)/d^{\mu}_h(s,a)$.
#
# **Preference games.** With preferences between responses that need not come from a
# reward (they can be intransitive, like rock-paper-scissors), the natural target is a Nash
# equilibrium of the preference game, regularized toward a reference (Munos et al. 2024,
# arXiv:2312.00886).

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab.learn import games, offline
from mdplab.plot import label_axes, new_figure, paper_style, save_figure

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Offline data with a controlled coverage

# %%
mdp = ml.envs.random_mdp(6, 3, horizon=4, rng=0)
J_star = float(mdp.mu @ ml.solve(mdp).V[0])
behavior, _ = offline.behavior_with_concentrability(mdp, 3.0)   # C* = 3 exactly
print(f"C* = {offline.concentrability(mdp, behavior):.2f}")

sizes = [100, 300, 1000, 3000, 10000]
rows = []
for n in sizes:
    for seed in range(5):
        data = offline.sample_dataset(mdp, behavior, n, rng=seed, rewards="bernoulli")
        for name, res in (("PEVI", offline.pevi(data)), ("plug-in", offline.plugin(data)),
                          ("behavior-KL, beta=0.1", offline.behavior_regularized(data, 0.1))):
            rows.append((n, name, J_star - ml.evaluate(mdp, res.policy).J))

with paper_style():
    fig, ax = new_figure("single")
    for name in ("PEVI", "plug-in", "behavior-KL, beta=0.1"):
        mean = [np.mean([g for (m, nm, g) in rows if m == n and nm == name]) for n in sizes]
        ax.loglog(sizes, np.maximum(mean, 1e-4), "o-", ms=3, label=name)
    label_axes(ax, "transitions in the data set",
               r"$J^* - J(\hat\pi)$ (return units; 0 drawn at $10^{-4}$)",
               r"offline RL, $C^* = 3$ (mean of 5 data sets)")
    ax.legend()
save_figure(fig, FIGURES / "tutorial6_offline")

# %% [markdown]
# On this small instance PEVI is cautious on small data sets (its bonus dominates), then
# finds the optimal policy exactly (suboptimality 0) once every state-action pair the optimal
# policy needs is well covered; its guarantee is a $1/\sqrt{N}$ bound that grows with $C^*$
# (claims `pevi-rate-n` and `pevi-rate-coverage`). The plug-in does well here on average but
# has no guarantee on poorly covered data (claim `offline-naive-plugin-fails` builds a data
# set where it fails). Behavior regularization at a fixed $\beta$ stays biased toward the
# behavior policy however large the data set.

# %% [markdown]
# ## A preference game: regularized Nash equilibrium
#
# `perturbed_rps` is a rock-paper-scissors-like preference matrix $P(y \succ y')$: every
# response beats one and loses to another, so no response is best. Its
# $\beta$-regularized Nash equilibrium is unique and mdplab certifies it to $10^{-12}$; Nash
# mirror descent (Nash-MD) converges to it.

# %%
P = games.perturbed_rps()
eq = games.regularized_equilibrium(P, beta=0.1)
print("regularized equilibrium:", np.round(eq.policy, 6), " certified to", eq.error_bound)
traj = games.nash_md(P, beta=0.1, iterations=2000)
df = traj.to_frame(P)
print(df.tail(3))

with paper_style():
    fig, ax = new_figure("single")
    ax.loglog(df["step"] + 1, df["kl"], label=r"Nash-MD: $\mathrm{KL}(\pi^*_\beta\|\pi_t)$")
    ax.loglog(df["step"] + 1, 8 / (0.1 ** 2 * (df["step"] + 2)), "k:",
              label=r"bound $8/(\beta^2 (t+1))$")
    label_axes(ax, "iteration t", "KL (nats)", r"perturbed RPS, $\beta = 0.1$")
    ax.legend()
save_figure(fig, FIGURES / "tutorial6_nash_md")

# %% [markdown]
# ## Exercises
#
# 1. Repeat the offline experiment with $C^* = 1.5$ and $C^* = 4$. How does PEVI's
#    suboptimality at $N = 3000$ change with $C^*$?
# 2. Compute the minimax winner of `perturbed_rps()` (`games.minimax_winner`) and its
#    exploitability, and compare it with the regularized equilibrium as $\beta \to 0$.
# 3. Replace Nash-MD by Nash-MP (`games.nash_mp`) and check its linear rate
#    $(1 + 2\beta)^{-t/2}$ on the KL.
#
# Solutions: `tutorials/solutions/06_offline_and_preference_games.py`.
