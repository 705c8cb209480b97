"""Quickstart: solve a slippery gridworld without and with a KL penalty.

Builds a 6x6 gridworld (two walls, slip 0.1, discount 0.95, goal in the bottom-right corner),
solves it for the unregularized optimum (``beta = 0``) and for the KL-regularized optimum
against the uniform reference policy (``beta = 0.05``), and prints the expected return
``J = mu @ V`` with the convergence certificate of each solve. The soft solution is then
checked against exact policy evaluation.

Run from the repository root::

    python examples/quickstart.py
"""

from __future__ import annotations

import numpy as np

import mdplab as ml
from mdplab.envs import gridworld


def main() -> dict[float, ml.Solution]:
    mdp = gridworld(6, 6, walls=[(1, 1), (3, 2)], slip=0.1, gamma=0.95)
    print(mdp)
    solutions = {}
    for beta in (0.0, 0.05):
        sol = ml.solve(mdp, beta=beta)  # method="auto": modified policy iteration
        J = float(mdp.mu @ sol.V)
        print(f"\nbeta = {beta:g}: J = {J:.10f}")
        print(f"  method {sol.method}, {sol.iterations} iterations, converged = {sol.converged}")
        print(f"  error bound {sol.error_bound:.2e} (guaranteed max|V - V*|), "
              f"Bellman residual {sol.residual:.2e}")
        print(f"  {sol.message}")
        solutions[beta] = sol

    soft = solutions[0.05]
    pv = ml.evaluate(mdp, soft.policy, beta=0.05)  # exact: a linear solve
    print(f"\nexact value of the soft policy matches: max|V_pi - V| = "
          f"{np.max(np.abs(pv.V - soft.V)):.1e}")
    hard = solutions[0.0]
    print(f"cost of regularization at the start distribution: J_0 - J_beta = "
          f"{float(mdp.mu @ (hard.V - soft.V)):.4f}")
    return solutions


if __name__ == "__main__":
    main()
