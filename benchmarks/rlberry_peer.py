"""rlberry's UCBVI on a model given as arrays: time per episode and realized returns.

Runs under the interpreter of a separate virtual environment (``.venv-rlberry``, made by
``make bench``): rlberry 0.7 pins gymnasium 0.29 while mdplab's dev extra uses gymnasium 1.x,
so the two cannot share one environment. This file imports neither mdplab nor anything from
the project; it reads ``P (S, A, S)``, ``R (S, A)``, ``mu (S,)`` and ``H`` from an ``.npz`` file
and prints one JSON object::

    .venv-rlberry/bin/python benchmarks/rlberry_peer.py model.npz --episodes 2000 --seed 0

The agent is ``rlberry_scool.agents.UCBVIAgent`` (Azar et al. 2017 with rlberry's "simplified
Bernstein" bonus ``scale * sqrt(1/n) + v_max/n``), full backward induction after every episode
(``real_time_dp=False``: exact UCBVI), on rlberry's ``FiniteMDP`` with the initial distribution
``mu``. rlberry does not expose the policy it plays, so its regret is the *realized* regret
``K V* - sum of episode returns`` (an unbiased estimate of the expected regret), with a
standard error from the per-episode returns.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bonus-scale", type=float, default=1.0)
    args = parser.parse_args(argv)

    import rlberry
    import rlberry_scool
    from rlberry.envs.finite_mdp import FiniteMDP
    from rlberry_scool.agents.ucbvi import UCBVIAgent

    data = np.load(args.model)
    P, R, mu, H = data["P"], data["R"], data["mu"], int(data["H"])
    env = FiniteMDP(R, P, initial_state_distribution=mu)
    agent = UCBVIAgent(env, horizon=H, gamma=1.0, bonus_scale_factor=args.bonus_scale,
                       stage_dependent=False, real_time_dp=False, seeder=args.seed)
    agent._run_episode()  # Numba compilation outside the timing
    agent.reset()
    returns = np.empty(args.episodes)
    t0 = time.perf_counter()
    for k in range(args.episodes):
        returns[k] = agent._run_episode()
    seconds = time.perf_counter() - t0
    out = {
        "episodes": args.episodes,
        "seconds": seconds,
        "ms_per_episode": 1e3 * seconds / args.episodes,
        "sum_returns": float(returns.sum()),
        "returns_std": float(returns.std(ddof=1)),
        "rlberry": rlberry.__version__,
        "rlberry_scool": getattr(rlberry_scool, "__version__", "?"),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
