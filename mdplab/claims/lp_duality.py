r"""The occupancy-measure convex program and its dual: the dual variables are the soft values.

For a discounted MDP with temperature :math:`\beta \ge 0` the optimal KL-regularized value is
the value of the concave program over occupancy measures :math:`d \ge 0`,

.. math::

    \max_d \sum_{s,a} d(s,a) R(s,a) - \beta \sum_{s,a} d(s,a)
        \log\frac{d(s,a)}{d(s)\,\pi_{\rm ref}(a|s)}
    \quad\text{s.t.}\quad \sum_a d(s',a) = \mu(s') + \gamma \sum_{s,a} P(s'|s,a) d(s,a),

(a linear program at :math:`\beta = 0`, Puterman 1994 §6.9; an exponential-cone program for
:math:`\beta > 0`, Neu, Jonsson & Gomez 2017, arXiv:1705.07798). Strong duality holds, the
optimal :math:`d` is the occupancy of :math:`\pi^*`, and the multipliers of the flow
constraints are :math:`V^*`. The check solves the program with cvxpy/Clarabel
(:mod:`mdplab.solvers.lp`) and compares with dynamic programming (policy iteration and an
exact linear-solve occupancy), which share no code with it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .. import envs
from ..plot import label_axes, new_figure, paper_style, save_figure
from ..solvers import occupancy, solve
from ..solvers.lp import occupancy_lp
from . import ClaimResult, register


@register(
    id="lp-duality",
    title="Occupancy-measure program: strong duality, dual variables = V*, primal = d^{pi*}",
    citation=(
        "Puterman 1994, Markov Decision Processes, Sec. 6.9 (LP); Neu, Jonsson & Gomez "
        "2017, arXiv:1705.07798 (entropy-regularized program and its dual)"
    ),
    statement=(
        r"The concave program $\max_{d \ge 0} \langle d, R\rangle - \beta \sum_{s,a} d(s,a)"
        r"\log\frac{d(s,a)}{d(s)\pi_{\rm ref}(a|s)}$ under the flow constraints has value "
        r"$\mu^\top V^*$; its optimal $d$ is the discounted occupancy of $\pi^*$ and the "
        r"multipliers of the flow constraints equal the optimal (soft) values $V^*$."
    ),
    budget_seconds=120,
)
def check(quick: bool, rng: np.random.Generator, out):
    S, A = (6, 3) if quick else (20, 4)
    mdp = envs.random_mdp(S, A, gamma=0.9, rng=rng)
    ref = rng.dirichlet(np.ones(A), size=S)
    betas = [0.0, 0.1, 1.0]
    tols = (
        [1e-4, 1e-6, 1e-8, 1e-10]
        if quick
        else [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11]
    )
    rows = []
    for beta in betas:
        dp = solve(mdp, beta=beta, ref=ref, method="pi", tol=1e-12)
        d_star = occupancy(mdp, dp.policy)
        J_star = float(mdp.mu @ dp.V)
        for tol in tols:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # loose tolerances are the point
                prog = occupancy_lp(mdp, beta=beta, ref=ref, tol=tol)
            rows.append(
                {
                    "beta": beta,
                    "solver_tol": tol,
                    "dual_V_error": float(np.max(np.abs(prog.V - dp.V))),
                    "primal_d_error": float(np.max(np.abs(prog.d - d_star))),
                    "objective_gap": abs(prog.J - J_star),
                    "converged": prog.converged,
                }
            )
    table = pd.DataFrame(rows)
    tight = table[table["solver_tol"] == min(tols)]
    v_err = float(tight["dual_V_error"].max())
    j_err = float(tight["objective_gap"].max())
    d_err = float(tight["primal_d_error"].max())
    passed = bool(tight["converged"].all()) and v_err <= 1e-7 and j_err <= 1e-7 and d_err <= 1e-5

    with paper_style():
        fig, ax = new_figure()
        for i, beta in enumerate(betas):
            sub = table[table["beta"] == beta]
            ax.loglog(
                sub["solver_tol"],
                sub["dual_V_error"],
                "o-",
                ms=3,
                color=f"C{i}",
                label=rf"$\|V_{{\rm dual}} - V^*\|_\infty$, $\beta$ = {beta:g}",
            )
            ax.loglog(
                sub["solver_tol"],
                sub["primal_d_error"],
                "s:",
                ms=3,
                color=f"C{i}",
                label=rf"$\|d - d^{{\pi^*}}\|_\infty$, $\beta$ = {beta:g}",
            )
        ax.invert_xaxis()
        label_axes(
            ax,
            "solver tolerance (Clarabel)",
            "error against dynamic programming",
            f"Occupancy program, S = {S}, A = {A}, $\\gamma$ = 0.9",
        )
        ax.legend(fontsize=5, ncols=2)
    figs = save_figure(fig, out / "lp_duality")
    summary = (
        f"At solver tolerance {min(tols):g}: dual variables match V* from policy iteration "
        f"within {v_err:.1e} (criterion 1e-7), the program's value matches mu.V* within "
        f"{j_err:.1e} (1e-7) and the primal occupancy matches that of pi* within {d_err:.1e} "
        f"(1e-5; for beta > 0 the primal is accurate to about the square root of the solver "
        f"tolerance), for beta in {betas}."
    )
    return ClaimResult(
        passed,
        table,
        figs,
        summary,
        {"dual_V_error": v_err, "objective_gap": j_err, "primal_d_error": d_err},
    )
