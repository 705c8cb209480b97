"""LLM-policy proxies at scale (issue 5 targets): exact soft-Bellman solves of token MDPs.

* Markov-LM proxy: a random softmax-linear bigram LM over |V| = 256 tokens (EOS included),
  horizon H = 64, additive reward; state (t, last token), 257 states per level. Target: the
  exact backward induction (``kl_optimal``) in under 1 s.
* Prefix-tree proxy: a memoryless LM over 10 digits + EOS, H = 6 (1,111,111 finished
  sequences), verifiable reward "contains '34'" (vectorized checker). Target: building the
  tree (reference probabilities and rewards of every leaf) plus the exact solve in under 10 s
  and under 4 GiB (peak of NumPy allocations traced by ``tracemalloc``).

Accuracy is checked at the same time: on the tree, the token-level optimum's law over all
sequences against the sequence-level tilt ``mdplab.bon.tilt`` (max abs error), and on the
Markov proxy, the chain-rule KL against a Monte Carlo estimate from 20,000 samples.

Run: ``python -m benchmarks.proxies_bench`` (prints the markdown section).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from mdplab import bon
from mdplab.proxies import MemorylessLM, SoftmaxLinearLM, TokenMDP, kl_optimal
from mdplab.proxies import rewards as rw

MARKOV_TARGET_S = 1.0
TREE_TARGET_S = 10.0
TREE_TARGET_GIB = 4.0


def _markov(quick: bool, rng) -> dict:
    lm = SoftmaxLinearLM.random(256, order=1, dim=16, eos_bias=-3.0, rng=rng)
    task = TokenMDP(lm, 64, rw.LinearReward(rng.normal(size=256)), state="markov")
    times = []
    for _ in range(2 if quick else 5):
        t = time.perf_counter()
        opt = kl_optimal(task, 0.5)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    kl = opt.policy.kl()
    kl_s = time.perf_counter() - t
    s = opt.policy.sample(20_000, rng)
    lr = opt.policy.log_prob(s) - task.ref_policy.log_prob(s)
    return {"instance": "bigram softmax-linear LM, V = 256 tokens, H = 64 (Markov state)",
            "states": sum(task.n_states), "solve_s": min(times), "kl_s": kl_s, "kl": kl,
            "kl_mc": float(lr.mean()), "kl_mc_se": float(lr.std(ddof=1) / np.sqrt(lr.size)),
            "mean_length": float(s.lengths.mean())}


def _tree(quick: bool, rng) -> dict:
    lm = MemorylessLM(rng.dirichlet(np.ones(11)), vocab="0123456789$", eos=10)
    H = 5 if quick else 6
    tracemalloc.start()
    t = time.perf_counter()
    task = TokenMDP(lm, H, rw.contains("34"))
    build = time.perf_counter() - t
    t = time.perf_counter()
    opt = kl_optimal(task, 0.5)
    solve = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ref = task.distribution()
    law = np.exp(task.distribution(opt.policy).log_prob)
    p = np.exp(ref.log_prob)
    err = float(np.max(np.abs(law - bon.tilt(p / p.sum(), ref.reward, 0.5))))
    return {"instance": f"memoryless LM, 10 digits + EOS, H = {H} (prefix tree)",
            "leaves": task.n_sequences(), "build_s": build, "solve_s": solve,
            "peak_gib": peak / 2**30, "max_err_vs_tilt": err}


def section(quick: bool = False, seed: int = 0) -> dict:
    """Markdown section and targets for ``benchmarks/results.md``."""
    rng = np.random.default_rng(seed)
    m, tr = _markov(quick, rng), _tree(quick, rng)
    L = ["## LLM-policy proxies (`mdplab.proxies`)\n",
         "Exact soft-Bellman backward induction by level (`kl_optimal`, beta = 0.5), one core.\n",
         "| proxy | size | build | solve | check |", "|---|---|---|---|---|",
         f"| {m['instance']} | {m['states']:,} states | - | {m['solve_s']:.3f} s (best of "
         f"{2 if quick else 5}) | chain-rule KL {m['kl']:.4f} ({m['kl_s']:.3f} s) vs Monte Carlo "
         f"{m['kl_mc']:.4f} +- {m['kl_mc_se']:.4f}; mean length {m['mean_length']:.1f} |",
         f"| {tr['instance']} | {tr['leaves']:,} leaves | {tr['build_s']:.2f} s | "
         f"{tr['solve_s']:.3f} s | peak traced memory {tr['peak_gib']:.3f} GiB; law vs "
         f"sequence tilt {tr['max_err_vs_tilt']:.1e} |"]
    targets = [
        {"target": f"(proxies) Markov-LM proxy V = 256, H = 64 solved in under "
                   f"{MARKOV_TARGET_S} s", "met": m["solve_s"] < MARKOV_TARGET_S,
         "details": [f"{m['solve_s']:.3f} s"]},
        {"target": f"(proxies) prefix tree with 1e6 leaves in under {TREE_TARGET_S} s and "
                   f"{TREE_TARGET_GIB} GiB",
         "met": (tr["build_s"] + tr["solve_s"] < TREE_TARGET_S
                 and tr["peak_gib"] < TREE_TARGET_GIB and tr["leaves"] >= 1_000_000),
         "details": [f"{tr['leaves']:,} leaves, {tr['build_s'] + tr['solve_s']:.2f} s, "
                     f"{tr['peak_gib']:.3f} GiB"]},
    ]
    return {"markdown": "\n".join(L), "targets": targets, "rows": [m, tr]}


if __name__ == "__main__":
    print(section()["markdown"])
