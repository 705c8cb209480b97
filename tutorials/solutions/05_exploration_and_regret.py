# %% [markdown]
# # Solutions to the exercises of tutorial 5

# %%
import numpy as np

import mdplab as ml
from mdplab.learn import demo
from mdplab.plot import fit_loglog_slope

mdp = ml.envs.riverswim(6, horizon=20, variant="osband")

# %% [markdown]
# **1.** Five seeds per learner; the band is the mean $\pm 2$ standard errors. Differences
# larger than the sum of the two half-widths are significant (roughly, at the 5% level).

# %%
K = 3000
for name, make in {"PSRL": ml.learn.PSRL, "UCBVI (x0.01)": lambda: ml.learn.UCBVI(scale=0.01),
                   "greedy": ml.learn.Greedy}.items():
    final = [ml.learn.run(make(), mdp, episodes=K, rng=seed, progress=False,
                          record_every=K)["cum_regret"].iloc[-1] for seed in range(5)]
    m, se = np.mean(final), np.std(final, ddof=1) / np.sqrt(len(final))
    print(f"{name:14s} regret at K={K}: {m:8.1f} +- {2 * se:.1f}")

# %% [markdown]
# **2.** A longer river delays the first visit to the rewarding end exponentially in its
# length for undirected exploration; PSRL's regret grows but it still learns.

# %%
hard = ml.envs.riverswim(10, horizon=30, variant="osband")
for m in (mdp, hard):
    log = ml.learn.run(ml.learn.PSRL(), m, episodes=K, rng=0, progress=False, record_every=K)
    print(f"S={m.S}, H={m.H}: PSRL regret after {K} episodes {log['cum_regret'].iloc[-1]:.1f}")

# %% [markdown]
# **3.** The fitted slope of the mean KL against $N^E$ is close to $-1$, a little flatter
# here because at small $N^E$ some states the expert rarely visits are still unseen (their
# KL term is capped at $\log A$ instead of falling like $1/N^E$). The claim `bc-kl-rate`
# checks the rate against the closed-form expectation.

# %%
expert = ml.solve(mdp).policy
grid = np.array([20, 50, 100, 200, 500, 1000])
mean_kl = []
for n in grid:
    kls = []
    for seed in range(10):
        s, a = demo.sample_trajectories(mdp, expert, int(n), rng=seed)
        kls.append(demo.trajectory_kl(mdp, expert, demo.behavior_cloning(s, a, mdp.S, mdp.A)))
    mean_kl.append(np.mean(kls))
fit = fit_loglog_slope(grid, np.array(mean_kl))
print(f"slope {fit.slope:.3f} (95% CI [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}])")
