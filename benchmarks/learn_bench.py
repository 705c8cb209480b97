"""Speed of the online-learning runner: UCBVI on S = 20, A = 4, H = 20 (issue 6 target:
K = 10^5 episodes in under 20 s on one core; rlberry's exact UCBVI, run by
``benchmarks/sections.py`` from its own environment, takes 10-14 ms/episode on this instance,
i.e. ~20 min for 10^5 episodes).

Every episode includes: planning (optimistic backward induction), sampling one trajectory, the
count update and the *exact* evaluation of the played policy (regret bookkeeping).

Usage::

    nice python benchmarks/learn_bench.py            # K = 100_000 per learner
    nice python benchmarks/learn_bench.py --episodes 10000 --learners ucbvi-bf

Numba's first call compiles (or loads the on-disk cache); a 10-episode warm-up run is excluded
from the timing. Pin to one core with ``taskset -c 0`` for the one-core figure.
"""

from __future__ import annotations

import argparse
import os
import time

import mdplab as ml

LEARNERS = {
    "ucbvi-bf": lambda: ml.learn.UCBVI(bonus="bernstein"),
    "ucbvi-ch": lambda: ml.learn.UCBVI(bonus="hoeffding"),
    "qlearning-ucb-h": lambda: ml.learn.OptimisticQLearning(),
    "eps-greedy": lambda: ml.learn.EpsilonGreedy(0.1),
    "psrl": lambda: ml.learn.PSRL(),
    "ucbvi-ent": lambda: ml.learn.RegularizedUCBVI(beta=1.0),
}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--learners", nargs="+", default=["ucbvi-bf", "ucbvi-ch"],
                        choices=sorted(LEARNERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mdp = ml.envs.random_mdp(20, 4, horizon=20, rng=args.seed)
    rows = []
    for name in args.learners:
        learner = LEARNERS[name]()
        ml.learn.run(learner, mdp, episodes=10, rng=args.seed)  # JIT warm-up
        t = time.perf_counter()
        log = ml.learn.run(learner, mdp, episodes=args.episodes, rng=args.seed, progress=False)
        sec = time.perf_counter() - t
        row = {
            "learner": name,
            "episodes": args.episodes,
            "seconds": sec,
            "us_per_episode": 1e6 * sec / args.episodes,
            "cum_regret": float(log["cum_regret"].iloc[-1]),
        }
        rows.append(row)
        print(f"{name:16s} K={args.episodes:>7d}  {sec:8.2f} s  "
              f"{row['us_per_episode']:8.1f} us/episode  regret {row['cum_regret']:.1f}",
              flush=True)
    print(f"(cores visible: {os.cpu_count()}; S=20, A=4, H=20 random_mdp)")
    return rows


if __name__ == "__main__":
    main()
