# %% [markdown]
# # Solutions to the exercises of tutorial 3

# %%
import numpy as np

import mdplab as ml

rng = np.random.default_rng(0)
p = rng.dirichlet(np.ones(200))
r = rng.normal(size=200)

# %% [markdown]
# **1.** Rounding creates a few reward levels with large mass. BoN can only reweight
# *levels*: inside a level it keeps the reference proportions, so its law is farther from a
# point mass and its KL stays well below $\log n - (n-1)/n$ (the bound needs a continuous
# reward distribution). With ties counted as half, the win rate also stays below
# $n/(n+1)$: a BoN sample ties with a reference sample with positive probability.

# %%
r_tied = np.round(r)
ns = np.array([2, 16, 256])
print("levels:", np.unique(r_tied))
print("KL with ties:   ", ml.bon.kl(p, r_tied, ns))
print("KL without ties:", ml.bon.kl(p, r, ns))
print("bound:          ", ml.bon.kl_bound(ns))
print("win rate with ties:", ml.bon.win_rate(p, r_tied, ns), " n/(n+1):", ns / (ns + 1))
assert np.all(ml.bon.kl(p, r_tied, ns) < ml.bon.kl(p, r, ns))

# %% [markdown]
# **2.** At equal reward the tilt needs less KL than BoN (the tilt is the KL-cheapest way to
# reach a given expected reward).

# %%
target = ml.bon.expected_reward(p, r, 16)
beta = ml.bon.beta_for_reward(p, r, target)
print(f"reward {target:.4f}: KL(BoN_16) = {ml.bon.kl(p, r, 16):.4f}, "
      f"KL(tilt, beta={beta:.4f}) = {ml.bon.tilt_kl(p, r, beta):.4f}")
assert ml.bon.tilt_kl(p, r, beta) <= ml.bon.kl(p, r, 16)

# %% [markdown]
# **3.** On sequences of $L$ i.i.d. tokens with a per-token KL budget $\delta$, the per-token
# reward gap between the tilt and BoN falls like $\log L / (2\lambda L)$ (Yang et al. 2024):
# the two become equivalent as sequences grow.

# %%
token_p = np.array([0.5, 0.3, 0.2])
token_r = np.array([0.0, 0.5, 1.0])
table = ml.bon.sequence_bon_vs_tilt(token_p, token_r, [4, 16, 64, 256], 0.1)
print(table[["L", "bon_reward", "tilt_reward", "reward_gap", "predicted_gap"]])
assert np.all(np.diff(table["reward_gap"].to_numpy()) < 0)
