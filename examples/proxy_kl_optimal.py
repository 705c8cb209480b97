"""KL-regularized optimal character LM on the packaged corpus, exactly.

Fits a character 3-gram model on the fables shipped with mdplab, asks for lines that contain
"the" (a verifiable 0/1 reward) within H = 4 characters, and solves the token-level soft Bellman
equation exactly for several temperatures. For each beta it prints the success probability, the
KL to the reference (chain rule), the value beta log Z, and samples; then it compares with
best-of-n on the same sequence law (exact, via mdplab.bon).

Run from the repository root::

    python examples/proxy_kl_optimal.py
"""

from __future__ import annotations

import numpy as np

import mdplab.proxies as px
from mdplab.proxies import rewards


def main() -> dict[float, float]:
    lm = px.NGramLM.default(n=3)
    task = px.TokenMDP(lm, horizon=4, reward=rewards.contains("the"))
    print(task, f"-- {task.n_sequences():,} finished sequences")
    ref = task.distribution()
    p_c = float(np.exp(ref.log_prob) @ ref.reward)
    print(f"reference success probability {p_c:.4f}")
    success = {}
    for beta in (1.0, 0.3, 0.1, 0.0):
        opt = px.kl_optimal(task, beta)
        success[beta] = opt.policy.expected_reward()
        samples = opt.policy.sample(6, rng=0).texts()
        print(f"beta = {beta:4}: P(success) = {success[beta]:.4f}, KL = {opt.policy.kl():.4f}, "
              f"V(root) = {opt.value:.4f}, samples {samples}")
    for n in (4, 16, 64):
        print(f"best-of-{n}: P(success) = {px.best_of_n(task, n) @ ref.reward:.4f} "
              f"(= 1 - (1 - p_c)^n = {1 - (1 - p_c) ** n:.4f})")
    return success


if __name__ == "__main__":
    main()
