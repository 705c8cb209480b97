# %% [markdown]
# # Solutions to the exercises of tutorial 6

# %%
import numpy as np

import mdplab as ml
from mdplab.learn import games, offline

mdp = ml.envs.random_mdp(6, 3, horizon=4, rng=0)
J_star = float(mdp.mu @ ml.solve(mdp).V[0])

# %% [markdown]
# **1.** Larger $C^*$ means the behavior policy rarely takes what the optimal policy needs:
# at equal $N$, PEVI is more cautious and its suboptimality is larger on average.

# %%
for c_star in (1.5, 3.0, 4.0):
    behavior, _ = offline.behavior_with_concentrability(mdp, c_star)
    gaps = [J_star - ml.evaluate(mdp, offline.pevi(
        offline.sample_dataset(mdp, behavior, 3000, rng=seed, rewards="bernoulli")).policy).J
        for seed in range(10)]
    print(f"C* = {c_star}: PEVI suboptimality at N = 3000, mean of 10 = {np.mean(gaps):.4f}")

# %% [markdown]
# **2.** The minimax winner has exploitability 0 (no response beats it on average). As
# $\beta \to 0$ the regularized equilibrium approaches it.

# %%
P = games.perturbed_rps()
mw = games.minimax_winner(P)
print("minimax winner:", np.round(mw.policy, 6), " exploitability:",
      games.exploitability(P, mw.policy))
for beta in (1.0, 0.1, 0.01, 0.001):
    eq = games.regularized_equilibrium(P, beta=beta)
    print(f"beta={beta}: distance to the minimax winner "
          f"{np.abs(eq.policy - mw.policy).sum():.2e}")

# %% [markdown]
# **3.** Nash-MP (mirror prox) contracts the KL to the regularized equilibrium by at least
# $(1 + 2\beta)^{-1/2}$ per iteration (claim `nash-mp-linear-rate`).

# %%
df = games.nash_mp(P, beta=0.1, iterations=60).to_frame(P)
bound = df["kl"].iloc[0] * (1 + 2 * 0.1) ** (-df["step"] / 2)
print("KL below the linear-rate bound at every step:", bool(np.all(df["kl"] <= bound + 1e-15)))
