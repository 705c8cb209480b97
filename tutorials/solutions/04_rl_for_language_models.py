# %% [markdown]
# # Solutions to the exercises of tutorial 4

# %%
import numpy as np

import mdplab as ml
import mdplab.proxies as px
from mdplab.proxies import rewards

lm = px.NGramLM.default(n=3)
task = px.TokenMDP(lm, horizon=3, reward=rewards.contains("he"))
ref = task.distribution()
p_ref = np.exp(ref.log_prob)

# %% [markdown]
# **1.** Samples are random, but the fraction of correct sequences under the optimal LM is
# known exactly: it is the tilt's expected reward
# $\frac{p\,e^{1/\beta}}{p\,e^{1/\beta} + 1 - p}$ with $p$ the reference accuracy.

# %%
opt = px.kl_optimal(task, beta=0.1)
print("reference:", task.ref_policy.sample(5, rng=0).texts())
print("optimal:  ", opt.policy.sample(5, rng=0).texts())
p = float(p_ref @ ref.reward)
exact = p * np.exp(10.0) / (p * np.exp(10.0) + 1 - p)
print(f"exact accuracy of the optimal LM: {opt.policy.expected_reward():.6f} (closed form "
      f"{exact:.6f})")
assert abs(opt.policy.expected_reward() - exact) < 1e-12

# %% [markdown]
# **2.** The identity holds for any reward on finished sequences. With a reward that takes
# many values, best-of-$n$ is no longer a tilt: at equal KL the tilt earns more.

# %%
task_e = px.TokenMDP(lm, horizon=3, reward=rewards.LinearReward({"e": 1.0}), state="tree")
ref_e = task_e.distribution()
p_e = np.exp(ref_e.log_prob)
opt_e = px.kl_optimal(task_e, beta=0.5)
law = np.exp(task_e.distribution(opt_e.policy).log_prob)
print("max |law - tilt| =", np.abs(law - ml.bon.tilt(p_e, ref_e.reward, 0.5)).max())
for n in (4, 16):
    b = ml.bon.matching_beta(p_e, ref_e.reward, n)
    print(f"n={n}: reward BoN {ml.bon.expected_reward(p_e, ref_e.reward, n):.4f}, "
          f"tilt at the same KL {ml.bon.tilt_reward(p_e, ref_e.reward, b):.4f}")

# %% [markdown]
# **3.** As $\beta \to 0$, $p(y)e^{r(y)/\beta}/Z$ puts all its mass on the correct sequences,
# in proportion to their reference probability: behavior cloning on the correct samples
# (the OREAL observation; claim `proxy-oreal-bon-bc` of the registry).

# %%
correct = ref.reward == 1
conditioned = np.where(correct, p_ref, 0.0) / p_ref[correct].sum()
for beta in (0.1, 0.03, 0.01):
    law = np.exp(task.distribution(px.kl_optimal(task, beta=beta).policy).log_prob)
    print(f"beta={beta}: total variation to the conditioned law = "
          f"{0.5 * np.abs(law - conditioned).sum():.2e}")
