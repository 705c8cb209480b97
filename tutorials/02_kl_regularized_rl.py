# %% [markdown]
# # Tutorial 2: KL-regularized RL and the soft Bellman equation
#
# KL-regularized RL maximizes reward minus $\beta$ times the KL divergence to a reference
# policy $\pi_{\rm ref}$ in every visited state:
#
# $$ V^*(s) = \max_\pi \mathbb E_\pi\Big[\sum_t \gamma^t \big(R(s_t,a_t)
#    - \beta\,\mathrm{KL}(\pi(\cdot|s_t)\,\|\,\pi_{\rm ref}(\cdot|s_t))\big)\Big]. $$
#
# Its Bellman operator replaces the max by a *soft* max,
# $(TV)(s) = \beta \log \sum_a \pi_{\rm ref}(a|s) e^{Q(s,a)/\beta}$ with
# $Q = R + \gamma P V$, and the optimal policy has a closed form,
#
# $$ \pi^*(a|s) = \pi_{\rm ref}(a|s)\, e^{(Q^*(s,a) - V^*(s))/\beta} $$
#
# (Neu, Jonsson & Gómez 2017, arXiv:1705.07798; Geist, Scherrer & Pietquin 2019,
# arXiv:1901.11275). We check the closed form, watch $\pi^*$ move from the reference
# ($\beta \to \infty$) to the greedy policy ($\beta \to 0$), and see why policy iteration
# converges quadratically here.

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab.plot import fit_loglog_slope, label_axes, new_figure, paper_style, save_figure

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
mdp = ml.envs.random_mdp(8, 3, gamma=0.9, rng=0)
ref = np.full((mdp.S, mdp.A), 1.0 / mdp.A)  # the uniform reference (the default)

# %% [markdown]
# ## The closed form
#
# `ml.solve(mdp, beta=...)` solves the soft Bellman equation. Its policy is exactly the
# tilt of the reference by the soft advantage, and evaluating that policy (with the KL
# penalty) returns $V^*$ again.

# %%
beta = 0.5
sol = ml.solve(mdp, beta=beta, tol=1e-12)
tilt = ref * np.exp((sol.Q - sol.V[:, None]) / beta)
print("closed form vs solver policy:", np.max(np.abs(tilt - sol.policy)))
value = ml.evaluate(mdp, sol.policy, beta=beta)
print("evaluate(pi*) vs V*:", np.max(np.abs(value.V - sol.V)))

# %% [markdown]
# ## From the reference to the greedy policy
#
# As $\beta$ grows, $\pi^*$ approaches $\pi_{\rm ref}$; as $\beta \to 0$ it approaches the
# optimal deterministic policy and $V^*_\beta$ increases to the unregularized $V^*$.
# We measure both limits.

# %%
hard = ml.solve(mdp)
betas = np.logspace(-3, 3, 25)
gap_to_hard, kl_to_ref = [], []
for b in betas:
    s = ml.solve(mdp, beta=b, tol=1e-12)
    gap_to_hard.append(float(mdp.mu @ (hard.V - s.V)))
    kl_to_ref.append(float(mdp.mu @ ml.kl_divergence(s.policy, ref)))

small, large = betas <= 1e-2, betas >= 10
slope_gap = fit_loglog_slope(betas[small], np.array(gap_to_hard)[small]).slope
slope_kl = fit_loglog_slope(betas[large], np.array(kl_to_ref)[large]).slope
with paper_style():
    fig, ax = new_figure("single")
    ax.loglog(betas, gap_to_hard, "o-", ms=3,
              label=rf"$J^* - J^*_\beta$ (slope {slope_gap:.2f} for $\beta \leq 0.01$)")
    ax.loglog(betas, kl_to_ref, "s-", ms=3,
              label=rf"$\mathbb{{E}}_\mu\,\mathrm{{KL}}(\pi^*_\beta\|\pi_{{\rm ref}})$ "
                    rf"(slope {slope_kl:.2f} for $\beta \geq 10$)")
    label_axes(ax, r"temperature $\beta$", "gap (return units) / KL (nats)",
               r"the two limits of $\pi^*_\beta$")
    ax.legend()
save_figure(fig, FIGURES / "tutorial2_beta_limits")
print(f"fitted slopes: gap {slope_gap:.3f} (small beta), KL {slope_kl:.3f} (large beta)")

# %% [markdown]
# For small $\beta$ the gap is at most $\beta \log A/(1-\gamma)$ (the KL of any policy to
# the uniform reference is at most $\log A$); for large $\beta$ the KL falls like
# $1/\beta^2$. Both show as straight lines on the log-log plot.

# %%
bound = betas * np.log(mdp.A) / (1 - mdp.gamma)
print("gap below beta log A / (1 - gamma) everywhere:",
      bool(np.all(np.array(gap_to_hard) <= bound + 1e-12)))

# %% [markdown]
# ## Soft policy iteration is Newton's method
#
# The soft Bellman operator is smooth, and policy iteration on it is Newton's method on
# $TV - V = 0$: near the solution the number of correct digits doubles at every step.

# %%
pi_run = ml.solve(mdp, beta=0.05, method="pi", tol=1e-13)
vi_run = ml.solve(mdp, beta=0.05, method="vi", tol=1e-13)
print("policy iteration residuals:", np.array2string(pi_run.history, precision=1))
print(f"value iteration needs {vi_run.iterations} sweeps for the same accuracy")

# %% [markdown]
# ## Exercises
#
# 1. Use a non-uniform reference that forbids action 2 in every state (`ref[:, 2] = 0`,
#    renormalized). Check that the optimal policy never takes action 2, for every $\beta$,
#    including $\beta = 0$.
# 2. The regularized performance-difference identity: for any policy $\pi$,
#    $J^*_\beta - J_\beta(\pi) = \beta \sum_s d^\pi(s)\,
#    \mathrm{KL}(\pi(\cdot|s)\,\|\,\pi^*(\cdot|s))$, with $d^\pi(s)$ the discounted state
#    occupancy. Derive it (hint: $Q^* - V^* = \beta \log(\pi^*/\pi_{\rm ref})$) and check it
#    on a random policy with `ml.occupancy` and `ml.evaluate`.
# 3. How does the number of policy-iteration steps change when $\beta$ goes from 1 to 0.001?
#
# Solutions: `tutorials/solutions/02_kl_regularized_rl.py`.
