"""A slippery gridworld with walls: optimal and KL-regularized policies, side by side.

Builds a 5x9 maze from an ASCII map (slip 0.1: the agent moves in one of the three other
directions with probability 0.1/3 each), solves it without regularization (``beta = 0``) and
with a KL penalty to the uniform policy (``beta > 0``), and draws both value functions with
their policies: one arrow per action, of length proportional to its probability.

Run from the repository root::

    python examples/gridworld.py --out figures/examples/gridworld --beta 0.02

It writes ``<out>.pdf`` and ``<out>.png``. The solver is :func:`mdplab.solve`; when it is
not available the script falls back to the soft value iteration below (same equations:
``V(s) = beta log sum_a ref(a|s) exp(Q(s, a) / beta)``, ``Q = R + gamma P V``).
"""

from __future__ import annotations

import argparse

import numpy as np

import mdplab
from mdplab import plot
from mdplab.envs import gridworld, render_gridworld

LAYOUT = """
    S...#....
    .##.#.##.
    .#.....#.
    .#.##.##.
    ...#....G
"""


def soft_value_iteration(mdp, beta: float, tol: float = 1e-10, max_iter: int = 100_000):
    """Soft (beta > 0) or hard (beta = 0) value iteration with a uniform reference policy."""
    S, A = mdp.S, mdp.A
    P = mdp.transitions()  # (S*A, S), dense or CSR
    V = np.zeros(S)
    for _ in range(max_iter):
        Q = mdp.R + mdp.gamma * (P @ V).reshape(S, A)
        if beta > 0:
            m = Q.max(axis=1)
            V_new = m + beta * np.log(np.mean(np.exp((Q - m[:, None]) / beta), axis=1))
        else:
            V_new = Q.max(axis=1)
        done = np.abs(V_new - V).max() <= tol * (1 - mdp.gamma) / (2 * mdp.gamma)
        V = V_new
        if done:
            break
    else:
        raise RuntimeError(f"value iteration did not converge in {max_iter} sweeps")
    Q = mdp.R + mdp.gamma * (P @ V).reshape(S, A)
    if beta > 0:
        logits = (Q - Q.max(axis=1, keepdims=True)) / beta
        pi = np.exp(logits)
    else:
        pi = (Q == Q.max(axis=1, keepdims=True)).astype(float)  # ties split evenly
    return V, pi / pi.sum(axis=1, keepdims=True)


def solve(mdp, beta: float):
    """``(V, policy)`` from :func:`mdplab.solve`, or from the NumPy fallback above."""
    if hasattr(mdplab, "solve"):
        sol = mdplab.solve(mdp, beta=beta)
        return np.asarray(sol.V), np.asarray(sol.policy)
    return soft_value_iteration(mdp, beta)


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gridworld_example", help="output stem (no suffix)")
    parser.add_argument("--beta", type=float, default=0.02, help="KL temperature of panel 2")
    parser.add_argument("--slip", type=float, default=0.1, help="slip probability")
    args = parser.parse_args(argv)

    mdp, grid = gridworld.from_ascii(
        LAYOUT, slip=args.slip, gamma=0.95, step_reward=0.0, goal_reward=1.0, return_grid=True
    )
    V0, pi0 = solve(mdp, beta=0.0)
    Vb, pib = solve(mdp, beta=args.beta)

    fig, (ax0, ax1) = plot.new_figure("double", aspect=0.3, ncols=2)
    render_gridworld(grid, values=V0, policy=pi0, ax=ax0, value_label=r"$V^*(s)$",
                     title=r"optimal, $\beta = 0$")
    render_gridworld(grid, values=Vb, policy=pib, ax=ax1, value_label=r"$V^*_\beta(s)$",
                     title=rf"KL-regularized, $\beta = {args.beta:g}$")
    paths = plot.save_figure(fig, args.out)
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
