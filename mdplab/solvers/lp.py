r"""Occupancy-measure programs: the LP (``beta = 0``) and its KL-regularized convex version.

This is the independent cross-check of the dynamic-programming solvers of
:mod:`mdplab.solvers.dp`: the optimal values are the Lagrange multipliers of a convex program
solved by an interior-point method (Clarabel, through cvxpy); no Bellman operator is iterated.

**Discounted problems** (Puterman, *Markov Decision Processes*, Wiley 1994, §6.9). Let
:math:`d(s,a) = \sum_{t\ge0}\gamma^t \Pr(s_t=s, a_t=a)` be the unnormalised discounted
state-action occupancy and :math:`d_S(s) = \sum_a d(s,a)`. The occupancies of the stationary
policies started from a distribution :math:`\alpha` are exactly the non-negative solutions of
the *flow constraints* (the constraints (6.9.2) of Puterman's dual LP, Theorem 6.9.1)

.. math::

    \sum_a d(s', a) \;=\; \alpha(s') + \gamma \sum_{s,a} P(s'|s,a)\, d(s,a)
    \qquad \forall s',                                                     \tag{F}

so :math:`\sum_{s,a} d(s,a) = 1/(1-\gamma)`, and :math:`d` is the occupancy of
:math:`\pi_d(a|s) = d(s,a)/d_S(s)`. With :math:`\beta \ge 0` and a reference policy
:math:`\pi_{\rm ref}` the program is

.. math::

    \max_{d \ge 0}\ \sum_{s,a} d(s,a)\, R(s,a)
      \;-\; \beta \sum_{s,a} d(s,a) \log\frac{d(s,a)}{d_S(s)\,\pi_{\rm ref}(a|s)}
    \qquad\text{subject to (F)}.                                            \tag{P}

Its objective is :math:`J(\pi_d) = \mathbb{E}[\sum_t \gamma^t (R(s_t,a_t) - \beta\,
\mathrm{KL}(\pi_d(\cdot|s_t)\|\pi_{\rm ref}(\cdot|s_t)))]` from :math:`s_0 \sim \alpha`. The
penalty is the relative *conditional* entropy of :math:`d` with respect to
:math:`d_S \otimes \pi_{\rm ref}`; each term :math:`x\log(x/y)` is jointly convex (the
perspective of :math:`-\log`), so (P) is a concave maximisation, written with
``cvxpy.rel_entr(d, d_S * ref)`` (exponential cones). For :math:`\beta = 0`, (P) is Puterman's
dual LP and its dual is his primal LP :math:`\min_V \sum_s \alpha(s) V(s)` subject to
:math:`V(s) \ge R(s,a) + \gamma \sum_{s'} P(s'|s,a) V(s')` for all :math:`(s, a)`.

(P) is the discounted form of the regularized LP of Neu, Jonsson & Gómez, "A unified view of
entropy-regularized Markov decision processes", arXiv:1705.07798 (2017), with their
conditional-entropy regularizer (they treat the average-reward criterion: no :math:`\alpha`
in (F), :math:`\sum d = 1` and a gain variable instead). Their duality argument carries over
verbatim: the Lagrangian :math:`\sum_{s,a} d\,(R + \gamma P V - V) - \beta\,(\ldots) +
\alpha^\top V`, maximised over :math:`d(\cdot|s)`, gives the Gibbs policy and the dual

.. math::

    \min_V \sum_s \alpha(s) V(s) \quad\text{s.t.}\quad
    V(s) \ge \beta \log \sum_a \pi_{\rm ref}(a|s)\,
      \exp\!\Big(\frac{R(s,a) + \gamma \sum_{s'}P(s'|s,a)V(s')}{\beta}\Big),   \tag{D}

tight at every state the optimal occupancy visits. So **the multipliers of (F) are the optimal
soft values** :math:`V^*` and :math:`\pi^*(a|s) = \pi_{\rm ref}(a|s)\,
e^{(Q^*(s,a)-V^*(s))/\beta}`: the soft Bellman equation of :mod:`mdplab.solvers.bellman`
(the hard max over the support of :math:`\pi_{\rm ref}` at :math:`\beta = 0`). Strong duality
holds (Slater: any policy with the support of :math:`\pi_{\rm ref}` gives a strictly positive
feasible :math:`d`), so :math:`\max (P) = \alpha^\top V^*`.

**Finite horizon** (undiscounted; :math:`P_h, R_h, \pi_{{\rm ref},h}` may depend on the step).
One occupancy per step, :math:`d_h(s,a) = \Pr(s_h=s, a_h=a)`, :math:`h = 0, \dots, H-1`, with
the flow constraints

.. math::

    \sum_a d_0(s,a) = \alpha_0(s), \qquad
    \sum_a d_{h+1}(s',a) = \alpha_{h+1}(s') + \sum_{s,a} P_h(s'|s,a)\, d_h(s,a),

and the objective :math:`\sum_h \sum_{s,a} d_h (R_h - \beta \log(d_h / (d_{h,S}\,
\pi_{{\rm ref},h})))`. The multiplier of the step-:math:`h` constraint is :math:`V_h^*`
(:math:`V_H = 0`). The model's program is :math:`\alpha = (\mu, 0, \dots, 0)`; its occupancy
sums to 1 at every step, :math:`H` in all.

**Initial weights.** :math:`V^*` does not depend on :math:`\alpha`, but the multipliers
determine it only where the optimal occupancy is positive (hence Puterman's
:math:`\alpha > 0`). :func:`solve_lp` therefore uses :math:`\alpha = \mu` when every
:math:`\mu(s) \ge 1/(100 S)` and :math:`\alpha = (\mu + 1/S)/2` otherwise, and with a finite
horizon also :math:`\alpha_h = 1/S` at the later steps: every state of every step carries mass,
and the returned :math:`V` is :math:`V^*` everywhere. :func:`occupancy_lp` solves the model's
own program and returns the optimal occupancy and :math:`J^* = \mu^\top V_0^*`.

**Numerics.** Actions with :math:`\pi_{\rm ref}(a|s) = 0` get no variable (probability exactly
0, also at :math:`\beta = 0`). Constraint matrices are ``scipy.sparse`` and a sparse ``P``
stays sparse. Rewards (and :math:`\beta`) are divided by :math:`c = \max|R|` and the
multipliers multiplied back. The multipliers' error is amplified by the effective horizon
:math:`k = 1/(1-\gamma)` (or :math:`H`), so Clarabel runs with ``tol_gap_abs = tol_gap_rel =
tol_feas = tol / k``, clipped to :math:`[10^{-12}, 10^{-4}]`; with the default ``tol = 1e-10``
the tests measure :math:`\max|V - V^*| \lesssim 10^{-9}\,c` for :math:`\gamma \le 0.99`,
:math:`H \le 20`, :math:`\beta \le 10`. Clarabel occasionally stalls just short of such
tolerances (status ``optimal_inaccurate``); it is then rerun once with shorter steps. Clarabel
not installed: SCS with a warning (first order, about :math:`10^{-6}` to :math:`10^{-9}`).
A final status other than ``optimal`` gives ``converged = False`` and a ``RuntimeWarning``; no
solution at all raises ``RuntimeError``. ``error_bound`` is ``nan`` (the accuracy is the
solver's); ``residual`` is the Bellman residual :math:`\max|T V - V|` of the returned values,
an a-posteriori check (for discounted models :math:`\max|V - V^*| \le` ``residual``
:math:`/(1-\gamma)`).

Cost: interior-point iterations factor a sparse KKT system. Random kernels (expander-like)
fill in, so ``S*A`` of a few thousand takes seconds; a 50x50 gridworld (``S*A = 10^4``) about
one second. ``S = 50, A = 4``: a few hundredths of a second (``docs/solvers-lp.md``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .._utils import user_stacklevel
from ..mdp import TabularMDP
from .bellman import _check_beta, bellman_operator, check_ref, softmax_policy
from .result import Solution, _Repr

__all__ = ["solve_lp", "occupancy_lp", "OccupancyLP"]

#: Clarabel tolerances are clipped to this range (below 1e-12 it stalls on rounding errors).
_TOL_RANGE = (1e-12, 1e-4)


@dataclass(frozen=True, repr=False)
class OccupancyLP(_Repr):
    r"""Optimal occupancy measure of the program with the model's own ``mu``.

    Attributes
    ----------
    d : ndarray
        Optimal occupancy, ``(S, A)`` discounted (sums to :math:`1/(1-\gamma)`) or ``(H, S, A)``
        finite horizon (each step sums to 1, total ``H``); exactly 0 where ``ref`` is 0.
    J : float
        Optimal objective :math:`\max_\pi J(\pi) = \mu^\top V^*` (the program's value).
    V : ndarray
        Multipliers of the flow constraints, ``(S,)`` or ``(H+1, S)``: equal to :math:`V^*` where
        the optimal occupancy is positive, not determined elsewhere (use :func:`solve_lp`).
    converged : bool
        The solver reported ``optimal``.
    message : str
        Solver name and status.
    """

    d: np.ndarray
    J: float
    V: np.ndarray
    converged: bool
    message: str = ""


# ---------------------------------------------------------------------------- building blocks


class _Program:
    """Sparse data of the occupancy program over the support of ``ref`` (private).

    Variables are stacked step by step; within a step, the support pairs ``(s, a)`` in row-major
    order. ``B`` is the number of steps (1 when discounted).
    """

    def __init__(self, mdp: TabularMDP, ref: np.ndarray, weights: np.ndarray):
        S, A = mdp.S, mdp.A
        B = 1 if mdp.discounted else mdp.H
        self.S, self.A, self.B = S, A, B
        flat, rows_E, rewards, refs, offsets = [], [], [], [], [0]
        for h in range(B):
            ref_h = ref[h] if ref.ndim == 3 else ref
            f = np.flatnonzero(ref_h.reshape(-1) > 0)
            flat.append(f)
            rows_E.append(h * S + f // A)
            rewards.append(mdp.rewards(h).reshape(-1)[f])
            refs.append(ref_h.reshape(-1)[f])
            offsets.append(offsets[-1] + f.size)
        N = offsets[-1]
        self.N, self.flat, self.offsets = N, flat, offsets
        cols = np.arange(N)
        self.E = sp.csr_array((np.ones(N), (np.concatenate(rows_E), cols)), shape=(B * S, N))
        if mdp.discounted:
            Pt = mdp.gamma * _rows(mdp.transitions(0), flat[0]).T
            T = sp.csr_array(Pt)
        else:
            blocks = []
            for h in range(B - 1):
                Pt = _rows(mdp.transitions(h), flat[h]).T.tocoo()
                blocks.append(((h + 1) * S + Pt.row, offsets[h] + Pt.col, Pt.data))
            if blocks:
                r_, c_, v_ = (np.concatenate(z) for z in zip(*blocks, strict=True))
            else:
                r_, c_, v_ = np.empty(0, int), np.empty(0, int), np.empty(0)
            T = sp.csr_array((v_, (r_, c_)), shape=(B * S, N))
        self.M = (self.E - T).tocsr()
        self.r = np.concatenate(rewards)
        self.ref = np.concatenate(refs)
        self.w = np.asarray(weights, dtype=np.float64).reshape(-1)

    def objective(self, x: np.ndarray, beta: float) -> float:
        """Value of the program at a non-negative ``x`` (``0 log 0 = 0``), in reward units."""
        value = float(self.r @ x)
        if beta > 0:
            y = self.ref * (self.E.T @ (self.E @ x))
            pos = x > 0
            value -= beta * float(np.sum(x[pos] * np.log(x[pos] / y[pos])))
        return value

    def unflatten(self, x: np.ndarray) -> np.ndarray:
        """Occupancy vector -> ``(S, A)`` or ``(H, S, A)`` with zeros off the support."""
        S, A, B = self.S, self.A, self.B
        d = np.zeros((B, S * A))
        for h in range(B):
            d[h, self.flat[h]] = x[self.offsets[h]:self.offsets[h + 1]]
        d = d.reshape(B, S, A)
        return d[0] if B == 1 else d


def _rows(P2, idx):
    """Rows ``idx`` of a dense or CSR ``(S*A, S)`` kernel, as CSR."""
    return sp.csr_array(P2[idx])


def _full_support_weights(mdp: TabularMDP) -> np.ndarray:
    S = mdp.S
    mu = np.asarray(mdp.mu, dtype=np.float64)
    w0 = mu if mu.min() >= 0.01 / S else 0.5 * (mu + 1.0 / S)
    if mdp.discounted:
        return w0
    w = np.full((mdp.H, S), 1.0 / S)
    w[0] = w0
    return w


def _model_weights(mdp: TabularMDP) -> np.ndarray:
    mu = np.asarray(mdp.mu, dtype=np.float64)
    if mdp.discounted:
        return mu
    w = np.zeros((mdp.H, mdp.S))
    w[0] = mu
    return w


def _pick_solver(solver, beta: float) -> str:
    installed = cp.installed_solvers()
    if solver is None:
        name = "CLARABEL"
    else:
        if not isinstance(solver, str):
            raise TypeError(f"solver: expected a cvxpy solver name (str), got "
                            f"{type(solver).__name__}")
        name = solver.upper()
        if name not in cp.settings.SOLVERS:
            raise ValueError(f"solver = {solver!r} is not a cvxpy solver; installed: "
                             f"{', '.join(installed)}")
    if name not in installed:
        if "SCS" not in installed:
            raise RuntimeError(f"occupancy program: neither {name} nor SCS is installed "
                               f"(installed cvxpy solvers: {', '.join(installed)})")
        warnings.warn(f"occupancy program: solver {name} is not installed; falling back to SCS "
                      "(first order: expect about 1e-6 to 1e-9 accuracy)",
                      RuntimeWarning, stacklevel=user_stacklevel())
        name = "SCS"
    if beta > 0 and cp.constraints.ExpCone not in _cones(name):
        raise ValueError(f"solver = {name!r} cannot handle exponential cones, which beta = "
                         f"{beta:g} > 0 needs; use CLARABEL, SCS or ECOS")
    return name


def _cones(name: str):
    from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC

    s = SOLVER_MAP_CONIC.get(name)
    return () if s is None else s.SUPPORTED_CONSTRAINTS


def _solver_tol(mdp: TabularMDP, tol: float) -> float:
    """Solver tolerance for a target ``tol`` on ``V`` (relative to ``max|R|``).

    Errors in the multipliers are amplified by the effective horizon (``1/(1-gamma)`` or ``H``),
    so the solver runs at ``tol / horizon``, clipped to ``_TOL_RANGE``.
    """
    horizon = 1.0 / (1.0 - mdp.gamma) if mdp.discounted else float(mdp.H)
    return float(np.clip(tol / horizon, *_TOL_RANGE))


def _default_options(name: str, t: float) -> dict:
    if name == "CLARABEL":
        return dict(tol_gap_abs=t, tol_gap_rel=t, tol_feas=t, tol_ktratio=min(1e-6, 1e2 * t),
                    max_iter=500)
    if name == "SCS":
        return dict(eps_abs=max(t, 1e-9), eps_rel=max(t, 1e-9), max_iters=200_000)
    if name == "ECOS":
        return dict(abstol=max(t, 1e-10), reltol=max(t, 1e-10), feastol=max(t, 1e-10),
                    max_iters=500)
    return {}


#: Clarabel occasionally stalls a few iterations short of tolerances near 1e-11 (status
#: ``optimal_inaccurate``, about 2% of 400 random models); one rerun with shorter steps
#: reached them in every case.
_CLARABEL_RETRY = dict(max_step_fraction=0.95)


def _run(problem: cp.Problem, x: cp.Variable, flow, name: str, opts: dict) -> dict:
    """Solve once; return status, primal, multipliers, value and iteration count."""
    with warnings.catch_warnings():
        # cvxpy's own "Solution may be inaccurate" UserWarning: we warn with the context instead
        warnings.filterwarnings("ignore", message="Solution may be inaccurate",
                                category=UserWarning)
        try:
            problem.solve(solver=name, **opts)
        except cp.error.SolverError as exc:
            return dict(status=f"solver error ({exc})", x=None, y=None, iters=0)
    stats = problem.solver_stats
    iters = int(stats.num_iters) if stats is not None and stats.num_iters else 0
    return dict(status=problem.status, x=x.value, y=flow.dual_value, iters=iters)


def _solve_program(mdp: TabularMDP, beta: float, ref: np.ndarray, weights: np.ndarray,
                   tol: float, solver, solver_options):
    """Build and solve the program; returns (d, V, objective, status, iterations, message)."""
    prog = _Program(mdp, ref, weights)
    # values are bounded by max|R| times the horizon: divide the rewards by it
    scale = float(np.max(np.abs(prog.r), initial=0.0))
    scale = scale if scale > 0 else 1.0
    name = _pick_solver(solver, beta)
    # beta > 0: rel_entr's domain already gives x >= 0, and a redundant non-negative cone on
    # top of the exponential cones measurably hurts Clarabel's accuracy.
    x = cp.Variable(prog.N, nonneg=beta == 0)
    objective = (prog.r / scale) @ x
    if beta > 0:
        G = (prog.E.T @ prog.E).tocsr()  # x -> d_S(s) of each variable's state
        objective = objective - (beta / scale) * cp.sum(
            cp.rel_entr(x, cp.multiply(prog.ref, G @ x)))
    flow = prog.M @ x == prog.w
    problem = cp.Problem(cp.Maximize(objective), [flow])
    t = _solver_tol(mdp, tol)
    opts = {**_default_options(name, t), **(solver_options or {})}
    run = _run(problem, x, flow, name, opts)
    note = ""
    if name == "CLARABEL" and run["status"] != cp.OPTIMAL:
        retry = {**opts, **{k: v for k, v in _CLARABEL_RETRY.items()
                            if k not in (solver_options or {})}}
        if retry != opts:
            second = _run(problem, x, flow, name, retry)
            second["iters"] += run["iters"]
            note = " (after a rerun with " + ", ".join(
                f"{k}={v}" for k, v in _CLARABEL_RETRY.items()) + ")"
            if second["status"] == cp.OPTIMAL or run["y"] is None:
                run = second
    status = run["status"]
    message = f"{name}: {status}{note}; solver tolerance {t:.0e}"
    if run["x"] is None or run["y"] is None:
        raise RuntimeError(f"occupancy program: no solution ({message})")
    # cvxpy's multiplier of ``M x == w`` here is V itself: the Lagrangian of the maximisation is
    # f(x) + V^T (w - M x), and cvxpy reports the multiplier of the problem as posed (checked in
    # the tests against brute force). Scale back to reward units.
    V = scale * np.asarray(run["y"], dtype=np.float64).reshape(prog.B, prog.S)
    xv = np.maximum(np.asarray(run["x"], dtype=np.float64), 0.0)  # clip rounding below 0
    return prog.unflatten(xv), V, prog.objective(xv, beta), status, run["iters"], message


def _prepare(mdp, beta, ref, tol):
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a TabularMDP, got {type(mdp).__name__}")
    beta = _check_beta(beta)
    ref = check_ref(mdp, ref)
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol: expected a positive float, got {type(tol).__name__}")
    tol = float(tol)
    if not (tol > 0) or not np.isfinite(tol):
        raise ValueError(f"tol = {tol!r} must be a finite number > 0")
    return beta, ref, tol


def _warn_status(fn: str, message: str) -> None:
    warnings.warn(f"{fn}: the solver did not reach an optimal status ({message}); "
                  "results are not certified", RuntimeWarning, stacklevel=user_stacklevel())


# ---------------------------------------------------------------------------- public functions


def solve_lp(mdp: TabularMDP, beta: float = 0.0, ref=None, tol: float = 1e-10,
             solver: str | None = None, *, solver_options: dict | None = None) -> Solution:
    r"""Optimal (soft) values and policy from the occupancy-measure program.

    Solves the program of the module docstring (an LP for ``beta = 0``, exponential cones for
    ``beta > 0``) with full-support initial weights, reads :math:`V^*` off the multipliers of
    the flow constraints, and derives ``Q = R + gamma P V`` and the greedy / Gibbs policy from
    it with the NumPy building blocks of :mod:`mdplab.solvers.bellman`.

    Parameters
    ----------
    mdp : TabularMDP
        Discounted or finite-horizon model (dense or sparse ``P``).
    beta : float
        KL temperature ``>= 0``.
    ref : array_like, optional
        Reference policy ``(S, A)`` (or ``(H, S, A)`` with a finite horizon); uniform if None.
        Actions with ``ref = 0`` are excluded and get probability exactly 0.
    tol : float
        Target accuracy of ``V`` relative to ``max|R|``: Clarabel's ``tol_gap_abs``,
        ``tol_gap_rel`` and ``tol_feas`` are ``tol * (1 - gamma)`` (``tol / H``), clipped to
        ``[1e-12, 1e-4]``. Not a guarantee: the accuracy is the solver's.
    solver : str, optional
        A cvxpy solver name; default ``"CLARABEL"``. A solver that is not installed falls back to
        SCS with a warning; ``beta > 0`` needs one with exponential cones.
    solver_options : dict, optional
        Extra keyword arguments for the solver (override the defaults above), e.g.
        ``{"max_iter": 50}`` or ``{"verbose": True}``.

    Returns
    -------
    Solution
        ``V`` ``(S,)`` or ``(H+1, S)`` (``V[H] = 0``), ``Q``, ``policy``, ``iterations`` (solver
        iterations), ``residual = max|T V - V|``, ``error_bound = nan``, ``converged`` (solver
        status ``optimal``), ``method = "lp"``, ``message`` (solver and status).

    Examples
    --------
    >>> import numpy as np, mdplab as ml
    >>> from mdplab.solvers.lp import solve_lp
    >>> mdp = ml.TabularMDP(np.ones((1, 2, 1)), [[0.0, 1.0]], gamma=0.5)
    >>> sol = solve_lp(mdp)
    >>> round(float(sol.V[0]), 8), sol.policy.tolist()
    (2.0, [[0.0, 1.0]])
    """
    beta, ref, tol = _prepare(mdp, beta, ref, tol)
    _, V, _, status, iterations, message = _solve_program(
        mdp, beta, ref, _full_support_weights(mdp), tol, solver, solver_options)
    converged = status == cp.OPTIMAL
    if not converged:
        _warn_status("solve_lp", message)
    if mdp.discounted:
        V = V[0]
        TV, Q = bellman_operator(mdp, V, beta, ref)
        residual = float(np.max(np.abs(TV - V)))
        policy = softmax_policy(Q, V, beta, ref)
    else:
        H, S = mdp.H, mdp.S
        V = np.vstack([V, np.zeros((1, S))])
        Q = np.empty((H, S, mdp.A))
        residual = 0.0
        for h in range(H):
            TV, Q[h] = bellman_operator(mdp, V[h + 1], beta, ref, h)
            residual = max(residual, float(np.max(np.abs(TV - V[h]))))
        policy = softmax_policy(Q, V[:H], beta, ref)
    return Solution(V=V, Q=Q, policy=policy, iterations=iterations, residual=residual,
                    error_bound=float("nan"), converged=converged, method="lp", beta=beta,
                    message=message)


def occupancy_lp(mdp: TabularMDP, beta: float = 0.0, ref=None, tol: float = 1e-12,
                 solver: str | None = None, *, solver_options: dict | None = None
                 ) -> OccupancyLP:
    r"""Solve the occupancy program with the model's own ``mu`` and return its primal solution.

    The optimal occupancy ``d`` (``(S, A)``, summing to :math:`1/(1-\gamma)`, or ``(H, S, A)``,
    summing to ``H``), the optimal value :math:`J^* = \max_\pi J(\pi)` (the objective at ``d``)
    and the multipliers. The optimal policy is :math:`d(s,a)/\sum_b d(s,b)` where the state is
    visited. Parameters as in :func:`solve_lp`, but the default ``tol`` is ``1e-12``: the flow
    constraints hold to the solver tolerance, while along the directions in which the
    objective is flat (``beta > 0``) the primal is determined only to about the square root of
    the solver's optimality gap (``1e-6`` at ``tol = 1e-10``, ``1e-9`` at the default).
    """
    beta, ref, tol = _prepare(mdp, beta, ref, tol)
    d, V, value, status, _, message = _solve_program(
        mdp, beta, ref, _model_weights(mdp), tol, solver, solver_options)
    converged = status == cp.OPTIMAL
    if not converged:
        _warn_status("occupancy_lp", message)
    V = V[0] if mdp.discounted else np.vstack([V, np.zeros((1, mdp.S))])
    return OccupancyLP(d=d, J=value, V=V, converged=converged, message=message)
