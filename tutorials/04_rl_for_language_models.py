# %% [markdown]
# # Tutorial 4: RL for language models, exactly, on a small proxy
#
# A language model generating a sequence is an MDP: the state is the prefix, the action is
# the next token, transitions are deterministic, and the episode ends with an
# end-of-sequence token or after $H$ tokens. KL-regularized fine-tuning of a reference LM
# with a reward on finished sequences is then the soft Bellman equation of tutorial 2 on this
# token-level MDP, and its solution is the tilted sequence law
# $\pi^*(y) = \pi_{\rm ref}(y)\,e^{r(y)/\beta}/Z$ (Rafailov, Hejna, Park & Finn 2024,
# arXiv:2404.12358; Korbak, Perez & Buckley 2022, arXiv:2205.11275).
#
# `mdplab.proxies` builds such problems small enough to enumerate every sequence, so we can
# check these statements exactly, and compare KL-regularized RL with best-of-n sampling.

# %%
import os
from pathlib import Path

import numpy as np

import mdplab as ml
import mdplab.proxies as px
from mdplab.plot import label_axes, new_figure, paper_style, save_figure
from mdplab.proxies import rewards

FIGURES = Path(os.environ.get("MDPLAB_TUTORIAL_FIGURES", "tutorial_figures"))
FIGURES.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## A reference LM and a verifiable reward
#
# A character 3-gram model trained on the small corpus that ships with mdplab, sequences of
# at most 3 characters, and a verifiable reward: 1 if the text contains "he", else 0.

# %%
lm = px.NGramLM.default(n=3)
task = px.TokenMDP(lm, horizon=3, reward=rewards.contains("he"))
ref = task.distribution()               # the law of the reference LM over all sequences
p_ref = np.exp(ref.log_prob)
print(task)
print("number of sequences:", len(p_ref), " reference accuracy:", float(p_ref @ ref.reward))

# %% [markdown]
# ## Token-level soft Bellman = sequence-level tilt
#
# `kl_optimal` solves the token-level problem by backward induction. The law of the resulting
# LM over whole sequences equals the tilt of the reference law, and its value at the root is
# $\beta \log Z$.

# %%
beta = 0.5
opt = px.kl_optimal(task, beta=beta)
law = np.exp(task.distribution(opt.policy).log_prob)
tilt = ml.bon.tilt(p_ref, ref.reward, beta)
print("max |token-level law - sequence tilt| =", np.abs(law - tilt).max())
print("V*(root) =", opt.value, " beta log Z =", beta * np.log(p_ref @ np.exp(ref.reward / beta)))

# %% [markdown]
# The sequence KL is the sum over steps of the expected per-token KLs (the chain rule), which
# is what a token-level RL algorithm actually penalizes.

# %%
seq_kl = float(np.sum(law * (np.log(law) - ref.log_prob)))
print("sequence KL:", seq_kl, " sum of per-token KLs:", opt.policy.kl())

# %% [markdown]
# ## Accuracy against KL: RL vs best-of-n
#
# With a binary reward, best-of-$n$ keeps a correct sample if any of the $n$ draws is
# correct. Both methods raise the accuracy at the price of a KL to the reference; the exact
# frontiers show which is more efficient.

# %%
betas = np.logspace(-1.5, 1.5, 30)
rl = [(ml.bon.tilt_kl(p_ref, ref.reward, b), ml.bon.tilt_reward(p_ref, ref.reward, b))
      for b in betas]
ns = 2 ** np.arange(0, 9)
bon = [(ml.bon.kl(p_ref, ref.reward, n), ml.bon.expected_reward(p_ref, ref.reward, n))
       for n in ns]
with paper_style():
    fig, ax = new_figure("single")
    ax.plot(*zip(*rl, strict=True), label=r"KL-regularized RL ($\beta$ from 30 to 0.03)")
    ax.plot(*zip(*bon, strict=True), "o", ms=3, label="best-of-n, n = 1, 2, ..., 256")
    label_axes(ax, r"$\mathrm{KL}(\pi\,\|\,\pi_{\rm ref})$ (nats)", "accuracy (contains 'he')",
               "3-gram proxy, H = 3")
    ax.legend()
save_figure(fig, FIGURES / "tutorial4_accuracy_vs_kl")

# %% [markdown]
# With a binary reward the two frontiers coincide: best-of-$n$ with a 0/1 reward reweights
# only two levels (correct, incorrect), exactly like a tilt (the claim
# `bon-binary-reward-is-tilt` of the registry).

# %%
for n in (4, 64):
    b = ml.bon.matching_beta(p_ref, ref.reward, n)
    print(f"n={n}: accuracy BoN {ml.bon.expected_reward(p_ref, ref.reward, n):.6f}, "
          f"tilt at the same KL {ml.bon.tilt_reward(p_ref, ref.reward, b):.6f}")

# %% [markdown]
# ## Exercises
#
# 1. Sample 5 sequences from the reference LM and from the KL-optimal LM at $\beta = 0.1$
#    (`policy.sample(5, rng=0).texts()`). What fraction of the optimal LM's samples is
#    correct, exactly?
# 2. Replace the verifiable reward by an additive one, `rewards.LinearReward({"e": 1.0})`
#    (one point per "e"), and check again that the token-level optimum is the sequence tilt.
#    Do best-of-n and the tilt still have the same frontier?
# 3. As $\beta \to 0$ the KL-optimal LM becomes behavior cloning on the correct sequences
#    (the reference law conditioned on being correct). Check it numerically.
#
# Solutions: `tutorials/solutions/04_rl_for_language_models.py`.
