# %% [markdown]
# # Solutions to the exercises of tutorial 2

# %%
import numpy as np

import mdplab as ml

mdp = ml.envs.random_mdp(8, 3, gamma=0.9, rng=0)

# %% [markdown]
# **1.** Actions with zero reference probability get zero probability in the tilt
# $\pi_{\rm ref} e^{(Q-V)/\beta}$, for every $\beta > 0$; at $\beta = 0$ mdplab maximizes over
# the support of the reference (the limit $\beta \to 0^+$), so the forbidden action stays
# forbidden there too.

# %%
ref = np.full((mdp.S, mdp.A), 1.0)
ref[:, 2] = 0.0
ref /= ref.sum(axis=1, keepdims=True)
for beta in (0.0, 1e-3, 0.5, 100.0):
    sol = ml.solve(mdp, beta=beta, ref=ref)
    assert np.all(sol.policy[:, 2] == 0.0), beta
    print(f"beta={beta}: largest probability of action 2 = {sol.policy[:, 2].max()}")

# %% [markdown]
# **2.** From $\pi^* = \pi_{\rm ref} e^{(Q^* - V^*)/\beta}$, for any $\pi$:
# $\sum_a \pi(a|s)\,[Q^*(s,a) - \beta\log\frac{\pi(a|s)}{\pi_{\rm ref}(a|s)}]
#  = V^*(s) - \beta\,\mathrm{KL}(\pi(\cdot|s)\|\pi^*(\cdot|s))$. Unrolling
# $V^* - V^\pi$ along the trajectories of $\pi$ (the performance-difference lemma) gives
# $J^*_\beta - J_\beta(\pi) = \beta \sum_s d^\pi(s)\,\mathrm{KL}(\pi(\cdot|s)\|\pi^*(\cdot|s))$.

# %%
beta = 0.5
star = ml.solve(mdp, beta=beta, tol=1e-13)
pi = np.random.default_rng(1).dirichlet(np.ones(mdp.A), size=mdp.S)
gap = float(mdp.mu @ star.V) - ml.evaluate(mdp, pi, beta=beta).J
d_states = ml.occupancy(mdp, pi).sum(axis=1)
rhs = beta * float(d_states @ ml.kl_divergence(pi, star.policy))
print(f"J* - J(pi) = {gap:.12f},  beta * sum_s d(s) KL = {rhs:.12f}")
assert abs(gap - rhs) < 1e-10

# %% [markdown]
# **3.** It hardly changes, and here it even falls as $\beta \to 0$: the Gibbs policy is then
# almost the greedy one, whose greedy improvement stabilizes after one or two exact
# evaluations on this small random MDP (hard policy iteration stops when the greedy policy
# repeats), so the first evaluation already lands within the tolerance. In between,
# Newton's quadratic convergence keeps the count at a handful for every $\beta$.

# %%
for beta in (1.0, 0.1, 0.01, 0.001):
    run = ml.solve(mdp, beta=beta, method="pi", tol=1e-12)
    print(f"beta={beta}: {run.iterations} policy-iteration steps")
