# %% [markdown]
# # Tutorial 3: best-of-n sampling vs the KL-regularized optimum
#
# Best-of-$n$ (BoN) draws $n$ samples from a reference distribution $p$ over outcomes and keeps
# the one with the highest reward. The KL-regularized optimum with temperature $\beta$ is the
# exponential tilt $\pi_\beta(y) = p(y) e^{r(y)/\beta}/Z$ (Korbak, Perez & Buckley 2022,
# arXiv:2205.11275). Both trade reward for divergence from $p$; mdplab computes both exactly,
# ties included, so their reward-vs-KL frontiers can be compared without sampling noise.
#
# Facts we check (Beirami et al. 2024, arXiv:2401.01879; Yang et al. 2024, arXiv:2404.01730):
# the KL of BoN is at most $\log n - (n-1)/n$, with equality when rewards have no ties and
# the outcome space is continuous-like; its win rate against $p$ is $n/(n+1)$; and for the
# same KL the tilt earns at least as much reward as BoN (it is the KL-constrained optimum).

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab.plot import label_axes, new_figure, paper_style, save_figure

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
p = rng.dirichlet(np.ones(200))  # reference distribution over 200 outcomes
r = rng.normal(size=200)         # their rewards (no ties)

# %% [markdown]
# ## The exact law of best-of-n and its KL

# %%
ns = np.array([1, 2, 4, 8, 16, 64, 256])
kl = ml.bon.kl(p, r, ns)
print("n      KL(BoN || p)   bound log n - (n-1)/n   win rate vs p")
for n, k, b, w in zip(ns, kl, ml.bon.kl_bound(ns), ml.bon.win_rate(p, r, ns), strict=True):
    print(f"{n:4d}   {k:.6f}       {b:.6f}                {w:.6f}  (n/(n+1) = {n / (n + 1):.6f})")

# %% [markdown]
# With distinct rewards the BoN law is $\pi_n(y) = F(y)^n - F(y^-)^n$ with $F$ the reward
# CDF, so its KL is slightly *below* the bound, which is attained only in the continuous
# limit; the win rate is exactly $n/(n+1)$ (ties would be counted as half wins).

# %% [markdown]
# ## Frontiers: reward against KL

# %%
front = ml.bon.frontier(p, r, n=2 ** np.arange(0, 11), beta=np.logspace(-2, 1.5, 60))
bon, tilt = front[front.method == "bon"], front[front.method == "tilt"]
with paper_style():
    fig, ax = new_figure("single")
    ax.plot(tilt.kl, tilt.reward, label=r"KL-optimal tilt $p\,e^{r/\beta}/Z$")
    ax.plot(bon.kl, bon.reward, "o", ms=3, label="best-of-n, n = 1, 2, 4, ..., 1024")
    label_axes(ax, r"$\mathrm{KL}(\pi\,\|\,p)$ (nats)", "expected reward",
               "exact frontiers, 200 outcomes")
    ax.legend()
save_figure(fig, FIGURES / "tutorial3_frontiers")

# %% [markdown]
# At every KL the tilt's reward is at least BoN's: check it by matching each $n$ with the
# $\beta$ that has the same KL (`matching_beta`).

# %%
for n in (4, 64, 1024):
    beta = ml.bon.matching_beta(p, r, n)
    gain = ml.bon.tilt_reward(p, r, beta) - ml.bon.expected_reward(p, r, n)
    print(f"n={n:5d}: beta with the same KL = {beta:.4f}, reward(tilt) - reward(BoN) = {gain:.2e}")
    assert gain >= -1e-12

# %% [markdown]
# ## Exercises
#
# 1. Give the rewards ties: `r = np.round(r)`. What happens to the KL of BoN and to its win
#    rate (count ties as half)? Why can the KL no longer reach the bound?
# 2. For $n = 16$, find the $\beta$ whose tilt has the same *reward* as BoN
#    (`ml.bon.beta_for_reward`) and compare the two KLs.
# 3. Show numerically that the reward gap between the tilt and BoN at equal KL shrinks
#    relative to the reward gain as the outcome distribution becomes a sum of many i.i.d.
#    tokens (`ml.bon.sequence_bon_vs_tilt`; Yang et al. 2024).
#
# Solutions: `tutorials/solutions/03_best_of_n_vs_kl.py`.
