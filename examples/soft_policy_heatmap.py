r"""Soft-optimal values and policies on a gridworld for several KL temperatures.

One panel per ``beta``: the heatmap is the optimal KL-regularized value
:math:`V^*_\beta(s)` (reference policy uniform), the arrows are the soft-optimal policy
:math:`\pi^*_\beta(a|s) \propto e^{Q^*_\beta(s,a)/\beta}`, one per action, of length
proportional to its probability. At ``beta = 0`` the policy is greedy (one arrow per cell);
as ``beta`` grows it spreads over all four actions and the value drops towards that of the
uniform random walk.

The gridworld is 7x7 with an L-shaped wall, slip 0.1, discount 0.95, and one absorbing goal
in the bottom-right corner (reward 1 on entering it, value 0 once there). All panels share one
colour scale, so the drop of the value with ``beta`` is visible.

Run from the repository root::

    python examples/soft_policy_heatmap.py   # figures/examples/soft_policy_heatmap.{pdf,png}
    python examples/soft_policy_heatmap.py --betas 0 0.02 0.1 0.5 --out /tmp/heatmap
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import mdplab as ml
from mdplab import plot
from mdplab.envs import gridworld, render_gridworld

WALLS = [(1, 3), (2, 3), (3, 3), (3, 4), (3, 5)]
DEFAULT_BETAS = (0.0, 0.01, 0.05, 0.2)
DEFAULT_OUT = Path("figures/examples/soft_policy_heatmap")


def soft_solutions(betas, slip: float = 0.1, gamma: float = 0.95):
    """The gridworld, its geometry, and ``{beta: Solution}``."""
    mdp, grid = gridworld(7, 7, walls=WALLS, slip=slip, gamma=gamma, return_grid=True)
    sols = {}
    for beta in betas:
        sol = ml.solve(mdp, beta=beta)
        if not sol.converged:  # never plot an uncertified solution
            raise RuntimeError(f"beta = {beta:g}: {sol.message}")
        sols[beta] = sol
    return mdp, grid, sols


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=list(DEFAULT_BETAS),
                        help="KL temperatures, one panel each (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output stem, without suffix (default: %(default)s)")
    args = parser.parse_args(argv)
    betas = list(args.betas)

    mdp, grid, sols = soft_solutions(betas)
    ncols = 2 if len(betas) > 1 else 1
    nrows = int(np.ceil(len(betas) / ncols))
    fig, axes = plot.new_figure("double", aspect=0.42 * nrows, nrows=nrows, ncols=ncols)
    axes = np.atleast_1d(axes).ravel()
    vmin = min(float(sol.V.min()) for sol in sols.values())
    vmax = max(float(sol.V.max()) for sol in sols.values())
    for ax, beta in zip(axes, betas, strict=False):
        sol = sols[beta]
        J = float(mdp.mu @ sol.V)
        render_gridworld(grid, values=sol.V, policy=sol.policy, ax=ax, colorbar=False,
                         title=rf"$\beta = {beta:g}$,  $J = {J:.3f}$")
        ax.images[0].set_clim(vmin, vmax)  # one colour scale for every panel
    for ax in axes[len(betas):]:
        ax.set_visible(False)
    with plot.paper_style():
        fig.colorbar(axes[0].images[0], ax=list(axes[:len(betas)]), shrink=0.8,
                     label=r"$V^*_\beta(s)$")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    paths = plot.save_figure(fig, args.out)
    for p in paths:
        print(p)
    return paths


if __name__ == "__main__":
    main()
