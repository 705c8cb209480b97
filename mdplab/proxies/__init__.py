r"""Small-scale LLM-policy proxies: token-level MDPs of reference LMs, solved exactly.

A proxy is a language-generation problem small enough to solve exactly and shaped like the real
one: a reference LM (:class:`NGramLM` trained on text, :class:`MemorylessLM`,
:class:`SoftmaxLinearLM`), a maximum length, an EOS token, and a reward on finished sequences
(:mod:`mdplab.proxies.rewards`: verifiable checkers, additive scores, a learned Bradley-Terry
model). :class:`TokenMDP` is the token-level MDP (state = prefix, or (time, last ``n-1``
tokens) for Markov LMs and additive rewards); :func:`kl_optimal` solves its soft Bellman
equation exactly by backward induction, and the induced sequence law equals the sequence-level
tilt :math:`\pi_{\rm ref}(y) e^{r(y)/\beta}/Z` (Rafailov, Hejna, Park & Finn 2024,
arXiv:2404.12358). Policies sample (vectorized, seeded), give exact sequence probabilities and
exact KLs (chain rule), and :func:`best_of_n` gives exact BoN on the sequence law through
:mod:`mdplab.bon`.

>>> import mdplab.proxies as px
>>> lm = px.NGramLM.default(n=2)
>>> task = px.TokenMDP(lm, horizon=3, reward=px.rewards.contains("e"))
>>> opt = px.kl_optimal(task, beta=0.5)
>>> round(opt.policy.expected_reward(), 4) > round(task.ref_policy.expected_reward(), 4)
True
"""

from . import rewards
from .distillation import OPDResult, PromptedLM, on_policy_distillation, opd_values
from .lm import BOS, EOS_SYMBOL, MemorylessLM, NGramLM, SoftmaxLinearLM, TokenLM, default_corpus
from .token_mdp import (
    PAD,
    KLOptimal,
    SequenceDistribution,
    Sequences,
    TokenMDP,
    TokenPolicy,
    best_of_n,
    fit_policy,
    kl_optimal,
    sample_best_of_n,
)

__all__ = [
    "BOS",
    "EOS_SYMBOL",
    "PAD",
    "TokenLM",
    "MemorylessLM",
    "NGramLM",
    "SoftmaxLinearLM",
    "default_corpus",
    "TokenMDP",
    "TokenPolicy",
    "Sequences",
    "SequenceDistribution",
    "KLOptimal",
    "kl_optimal",
    "best_of_n",
    "sample_best_of_n",
    "fit_policy",
    "PromptedLM",
    "OPDResult",
    "opd_values",
    "on_policy_distillation",
    "rewards",
]
