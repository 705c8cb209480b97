r"""Dynamic programming for standard and KL-regularized MDPs: VI, Gauss-Seidel VI, PI, modified
PI, backward induction.

The soft Bellman optimality operator with temperature :math:`\beta \ge 0` and reference
:math:`\pi_{\rm ref}` (see :mod:`mdplab.solvers.bellman`) is

.. math::

    (T V)(s) = \beta \log \sum_a \pi_{\rm ref}(a|s)\, e^{Q(s,a)/\beta},\qquad
    Q = R + \gamma P V,

and the hard maximum over the support of :math:`\pi_{\rm ref}` at :math:`\beta = 0`. It is a
:math:`\gamma`-contraction in the sup norm, monotone, and satisfies
:math:`T(V + c\mathbf 1) = TV + \gamma c \mathbf 1`; its fixed point :math:`V^*` is the optimal
KL-regularized value and :math:`\pi^*(a|s) = \pi_{\rm ref}(a|s) e^{(Q^*(s,a) - V^*(s))/\beta}`
(Neu, Jonsson & Gomez 2017, arXiv:1705.07798; Geist, Scherrer & Pietquin 2019, "A theory of
regularized Markov decision processes", arXiv:1901.11275, Sec. 2; theorem numbers not
verified here).

Methods (discounted models):

* **Value iteration** ``"vi"``: :math:`V_{k+1} = T V_k`.
* **Policy iteration** ``"pi"``: evaluate :math:`\pi_k` exactly (linear system of
  :mod:`mdplab.solvers.evaluate`), then :math:`\pi_{k+1}` = greedy / Gibbs policy of
  :math:`Q^{\pi_k}`. For :math:`\beta > 0` this is Newton's method on the smooth equation
  :math:`TV - V = 0` and converges quadratically near the solution (Puterman & Brumelle 1979 for
  the hard case as Newton-Kantorovich; Geist et al. 2019 for the regularized one); for
  :math:`\beta = 0` it terminates when the greedy policy repeats (Puterman 1994, Thm. 6.4.2).
* **Gauss-Seidel value iteration** ``"gs"``: in-place sweeps, alternately forward and
  backward over the states (Puterman 1994, §6.3.3); certified by one ordinary sweep.
* **Modified policy iteration** ``"mpi"``: improvement, then at most ``eval_sweeps`` partial
  evaluations :math:`V \leftarrow T_{\pi} V` (Puterman & Shin 1978; Puterman 1994, §6.5),
  stopped early once a sweep's increment has a span below ``EVAL_STOP_FRACTION`` (0.01) times
  the span of the improvement's increment :math:`TV - V`: the remaining evaluation error is
  then small next to what the next improvement changes, and further sweeps are wasted. The
  stopping rule of the whole method is unchanged (the bracket below), so this only affects
  speed.

Stopping rule and accuracy guarantee (McQueen 1966; Porteus 1971; Puterman 1994, Prop. 6.6.1):
for any :math:`V`, with :math:`d = TV - V` and :math:`c = \gamma/(1-\gamma)`, monotonicity and
the constant-shift property give

.. math:: TV + c \min_s d(s) \;\le\; V^* \;\le\; TV + c \max_s d(s)

elementwise. Every method returns the midpoint :math:`\hat V = TV + c(\max d + \min d)/2` of
the first such bracket whose half-width :math:`c(\max d - \min d)/2` is at most ``tol``; that
half-width is ``Solution.error_bound`` and guarantees :math:`\|\hat V - V^*\|_\infty \le`
``tol``. Rounding limits what float64 can certify to about
:math:`c \cdot \epsilon_{\rm mach} \|V\|_\infty`; a ``tol`` below that floor ends with
``converged=False`` and a warning rather than an endless loop.

``"auto"`` runs a short modified policy iteration (``beta = 0``) or value iteration
(``beta > 0``) and, when that does not converge within its budget (slow mixing: chains, grids,
``gamma`` near 1), continues with Gauss-Seidel sweeps and policy iteration from the lower end
of the bracket (see ``_auto``); with ``beta > 0`` those Newton steps share LU factorisations
(chord method, :func:`chord_policy_iteration`).

Finite-horizon models are solved exactly by backward induction (``"backward"``):
:math:`V_H = 0`, :math:`Q_h = R_h + P_h V_{h+1}`, :math:`V_h = T_h V_{h+1}`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._utils import user_stacklevel
from ..mdp import TabularMDP
from . import _kernels as K
from ._operator import StepOperator
from .bellman import _check_beta, check_ref
from .evaluate import DENSE_LIMIT, policy_system_lu, solve_policy_system
from .result import Solution

__all__ = ["solve"]

METHODS = ("auto", "vi", "gs", "pi", "mpi", "backward", "lp")
_EPS = np.finfo(float).eps
#: modified policy iteration ends a partial evaluation once a sweep's increment has a span
#: below this fraction of the span of the improvement's increment TV - V
EVAL_STOP_FRACTION = 0.01


class _Bracket:
    """McQueen-Porteus bracket of V* from a pair (V, TV).

    ``width`` is the half-width of the bracket, ``floor`` an allowance for the rounding of
    ``TV`` and ``V`` (about ``2 eps (c + 1) max|TV|``: the bracket's endpoints scale the
    rounding of ``TV - V`` by ``c``), and ``bound = width + floor`` the reported error bound.
    """

    __slots__ = ("estimate", "width", "floor", "bound", "residual", "span")

    def __init__(self, V, TV, gamma):
        d = TV - V
        lo, hi = float(d.min()), float(d.max())
        c = gamma / (1.0 - gamma)
        self.estimate = TV + c * 0.5 * (hi + lo)
        self.width = c * 0.5 * (hi - lo)
        self.floor = 2.0 * _EPS * (c + 1.0) * float(np.max(np.abs(TV)))
        self.bound = self.width + self.floor
        self.residual = max(abs(lo), abs(hi))
        self.span = hi - lo


def _check_tol(tol) -> float:
    tol = float(tol)
    if not (tol > 0.0) or not math.isfinite(tol):
        raise ValueError(f"tol = {tol!r} must be a positive finite number")
    return tol


def _default_max_iter(mdp: TabularMDP, tol: float) -> int:
    """Sweeps after which plain VI is guaranteed within tol by the sup-norm contraction bound."""
    g = mdp.gamma
    if g == 0.0:
        return 2
    span = float(np.ptp(mdp.R)) + 1.0
    n = math.log(tol * (1.0 - g) / (2.0 * span / (1.0 - g))) / math.log(g)
    return int(min(max(n, 10) + 10, 10_000_000))


def _finish(op, br, V_used, k, method, beta, tol, history, converged, msg):
    """Build the Solution from the final bracket (V-hat, Q, policy, residual)."""
    V = br.estimate
    TV, Q = op.bellman(V)
    Q = Q.copy()
    policy = op.policy(Q, TV if beta > 0 else V)
    residual = float(np.max(np.abs(TV - V)))
    if not converged:
        warnings.warn(f"{method}: {msg}", RuntimeWarning, stacklevel=user_stacklevel())
    return Solution(
        V=V,
        Q=Q,
        policy=policy,
        iterations=k,
        residual=residual,
        error_bound=br.bound,
        converged=converged,
        method=method,
        beta=beta,
        message=msg,
        history=np.asarray(history),
    )


def _stop(br, tol):
    """(stop?, converged?) for the bracket ``br``."""
    if br.bound <= tol:
        return True, True
    if br.width <= br.floor:  # the bracket is down to rounding: iterating cannot help
        return True, False
    return False, False


def _done(op, br, V, k, method, tol, history, unit):
    """The Solution if the bracket ``br`` ends the run (see :func:`_stop`), else ``None``."""
    stop, ok = _stop(br, tol)
    if not stop:
        return None
    msg = f"error bound {br.bound:.2e} <= tol after {k} {unit}" if ok else _floor_message(br, tol)
    return _finish(op, br, V, k, method, op.beta, tol, history, ok, msg)


def _floor_message(br, tol):
    return (
        f"tol = {tol:.1e} is below what float64 can certify for this problem "
        f"(error bound {br.bound:.2e} = bracket {br.width:.2e} + rounding allowance "
        f"{br.floor:.2e}); raise tol"
    )


def _initial_value(op: StepOperator, V0) -> np.ndarray:
    """V0, or the constant (min_s T0(s))/(1-gamma) for which T V0 >= V0 (monotone start)."""
    if V0 is not None:
        V0 = np.array(V0, dtype=np.float64)
        if V0.shape != (op.S,):
            raise ValueError(f"V0 has shape {V0.shape}, expected ({op.S},)")
        return V0
    T0 = np.empty(op.S)  # T 0 = soft max of R: no pass over P needed
    K.soft_max_rows(op.R, op.ref, op.beta, T0)
    return np.full(op.S, float(T0.min()) / (1.0 - op.gamma))


def value_iteration(op: StepOperator, tol: float, max_iter: int, V0=None) -> Solution:
    V = _initial_value(op, V0)
    TV = np.empty_like(V)
    history = []
    for k in range(1, max_iter + 1):
        op.bellman(V, out=TV)
        br = _Bracket(V, TV, op.gamma)
        history.append(br.residual)
        done = _done(op, br, V, k, "vi", tol, history, "sweeps")
        if done is not None:
            return done
        V, TV = TV, V
    return _finish(
        op,
        br,
        V,
        max_iter,
        "vi",
        op.beta,
        tol,
        history,
        False,
        f"max_iter = {max_iter} sweeps reached with error bound {br.bound:.2e}",
    )


def gauss_seidel_value_iteration(op: StepOperator, tol: float, max_iter: int, V0=None) -> Solution:
    """Symmetric Gauss-Seidel VI: alternate forward and backward in-place sweeps.

    Values travel across a chain or a grid row in one sweep instead of one state per sweep.
    The Gauss-Seidel operator is itself a gamma-contraction, but the certificate is the
    McQueen-Porteus bracket of one ordinary (Jacobi) sweep, computed every 4 pairs (or as soon
    as the in-place changes are tiny), so the accuracy guarantee is the same as for VI.
    """
    if not op.sparse:
        raise ValueError("method='gs' needs a sparse model (use mdp.sparse())")
    V = _initial_value(op, V0)
    TV = np.empty_like(V)
    history = []
    c = op.gamma / (1.0 - op.gamma)
    k = 0
    br = None
    while k < max_iter:
        k += 2
        op.gauss_seidel(V, True)
        change = op.gauss_seidel(V, False)
        history.append(change)
        # certify every 4 pairs, or earlier once the in-place changes are tiny
        if c * change > 0.1 * tol and k % 8 != 0 and k < max_iter:
            continue
        op.bellman(V, out=TV)
        br = _Bracket(V, TV, op.gamma)
        done = _done(op, br, V, k, "gs", tol, history, "Gauss-Seidel sweeps")
        if done is not None:
            return done
        V[:] = TV
    if br is None:
        op.bellman(V, out=TV)
        br = _Bracket(V, TV, op.gamma)
    return _finish(
        op,
        br,
        V,
        k,
        "gs",
        op.beta,
        tol,
        history,
        False,
        f"max_iter = {max_iter} sweeps reached with error bound {br.bound:.2e}",
    )


def _auto(
    op: StepOperator,
    tol: float,
    max_iter: int,
    V0=None,
    eval_sweeps: int = 20,
    budget: int = 40,
    warm_pairs: int = 10,
) -> Solution:
    """``method="auto"``: a cheap method first, policy iteration if it is slow.

    Well-mixing problems (random kernels) are solved in a few sweeps by modified policy
    iteration (``beta = 0``: partial evaluation of a deterministic policy streams through the
    compact ``P_pi``) or value iteration (``beta > 0``: evaluating a stochastic policy costs a
    full sweep, so plain sweeps are cheaper). If that has not converged after ``budget``
    improvements (``2 * budget`` sweeps), the problem mixes slowly (chains, grids, gamma near
    1): continue from its value with up to ``warm_pairs`` symmetric Gauss-Seidel sweep pairs
    (on a CSR copy of a dense kernel; values cross a chain or a grid row in one sweep) and
    policy iteration
    (exact evaluation by LU on narrow-band graphs, GMRES otherwise), which needs a handful of
    iterations from there, where cold policy iteration on a chain needs one per state.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a budget stop is not a failure here
        if op.beta == 0.0:
            first = modified_policy_iteration(op, tol, budget, V0, eval_sweeps)
        else:
            first = value_iteration(op, tol, 2 * budget, V0)
    if first.converged:
        return dataclasses.replace(first, method=f"auto ({first.method})")
    # restart from the lower end of the McQueen-Porteus bracket, V* >= V - error_bound: a lower
    # bound, from which Gauss-Seidel sweeps carry increases along chains (the midpoint of a wide
    # bracket can overshoot V* by orders of magnitude, and sweeps come down only at rate gamma)
    V = np.array(first.V) - first.error_bound
    gs = op if op.sparse else StepOperator(sp.csr_array(op.P2), op.R, op.gamma, op.beta, op.ref)
    c = op.gamma / (1.0 - op.gamma)
    for _ in range(warm_pairs):
        gs.gauss_seidel(V, True)
        if c * gs.gauss_seidel(V, False) <= tol:
            break
    # beta > 0: Newton steps that share factorisations (chord); beta = 0: policy iteration,
    # which stops as soon as the greedy policy repeats
    finish = chord_policy_iteration if op.beta > 0.0 else policy_iteration
    sol = finish(op, tol, max_iter, V)
    return dataclasses.replace(
        sol,
        method=f"auto ({first.method}, then pi)",
        iterations=first.iterations + sol.iterations,
        history=np.concatenate([first.history, sol.history]),
    )


def _evaluate_policy(op: StepOperator, pi, r_pi, V_guess) -> np.ndarray:
    """Exact (to rounding) value of pi; matrix-free GMRES when P_pi would be too large."""
    S = op.S
    if op.sparse and S > DENSE_LIMIT:
        nnz_rows = np.diff(op.indptr).reshape(S, op.A)
        if int(nnz_rows[pi > 0].sum()) > 30_000_000:
            buf = np.empty(S)
            zero = np.zeros(S)

            def matvec(x):
                op.policy_backup(zero, pi, np.ascontiguousarray(x), out=buf)
                return x - buf

            M = spla.LinearOperator((S, S), matvec=matvec, dtype=np.float64)
            x, _ = spla.gmres(M, r_pi, x0=V_guess, rtol=1e-13, atol=0.0, restart=50, maxiter=40)
            return x
    return solve_policy_system(op.policy_matrix(pi), r_pi, op.gamma, V0=V_guess)


def policy_iteration(op: StepOperator, tol: float, max_iter: int, V0=None) -> Solution:
    V = _initial_value(op, V0)
    TV, Q = op.bellman(V)
    history = []
    prev_actions = None
    for k in range(1, max_iter + 1):
        br = _Bracket(V, TV, op.gamma)
        history.append(br.residual)
        stop, ok = _stop(br, tol)
        repeated = False
        pi = op.policy(Q, TV)
        if op.beta == 0.0:
            actions = pi.argmax(axis=1)
            repeated = prev_actions is not None and np.array_equal(actions, prev_actions)
            prev_actions = actions
        if stop or repeated:
            ok = br.bound <= tol  # a repeated greedy policy is V* up to rounding: certify it
            if ok:
                msg = f"error bound {br.bound:.2e} after {k - 1} policy evaluations"
            elif repeated and br.width > br.floor:
                msg = (
                    f"the greedy policy repeated (V is exact up to rounding) but the error "
                    f"bound {br.bound:.2e} exceeds tol = {tol:.1e}; raise tol"
                )
            else:
                msg = _floor_message(br, tol)
            return _finish(op, br, V, k - 1, "pi", op.beta, tol, history, ok, msg)
        V = _evaluate_policy(op, pi, op.gibbs_reward(pi, Q, TV), TV)
        TV, Q = op.bellman(V)
    br = _Bracket(V, TV, op.gamma)
    return _finish(
        op,
        br,
        V,
        max_iter,
        "pi",
        op.beta,
        tol,
        history,
        False,
        f"max_iter = {max_iter} policy evaluations reached, bound {br.bound:.2e}",
    )


def chord_policy_iteration(op: StepOperator, tol: float, max_iter: int, V0=None,
                           refresh: float = 0.25) -> Solution:
    r"""Soft policy iteration that reuses one factorisation for several steps (``beta > 0``).

    A Newton step of soft policy iteration is :math:`V \leftarrow V + (I - \gamma
    P_{\pi_V})^{-1}(TV - V)` (equal to :math:`(I - \gamma P_{\pi_V})^{-1} r_{\pi_V}`, since
    :math:`TV = r_{\pi_V} + \gamma P_{\pi_V} V` for the Gibbs policy :math:`\pi_V`). The chord
    method (Kelley, *Iterative Methods for Linear and Nonlinear Equations*, 1995, §5.4) keeps
    the factorisation of an earlier :math:`I - \gamma P_{\pi}` for the next steps, each then
    costing one sweep and one triangular solve instead of a new LU (0.4 s on a 300 x 300
    grid); it converges linearly, at a rate that falls with the distance between the
    policies, and far from the solution it can overshoot. Here a chord step is kept only if it
    shrinks :math:`\|TV - V\|_\infty` by at least the factor ``refresh``; otherwise it is
    discarded and a new factorisation is made at the current policy (a true Newton step).
    Stopping rule and guarantee: the McQueen-Porteus bracket, as for every method. Falls back to
    :func:`policy_iteration` when the system is not factorised (large well-connected sparse
    graphs, where LU fills in and GMRES is used).
    """
    V = _initial_value(op, V0)
    TV, Q = op.bellman(V, Q=np.empty((op.S, op.A)))
    history = []
    solve = None
    for k in range(1, max_iter + 1):
        br = _Bracket(V, TV, op.gamma)
        history.append(br.residual)
        done = _done(op, br, V, k - 1, "pi", tol, history, "policy evaluations")
        if done is not None:
            return done
        if solve is not None:  # chord step, kept only if it shrinks the residual enough
            V_try = V + solve(TV - V)
            TV_try, Q_try = op.bellman(V_try, Q=np.empty((op.S, op.A)))
            if np.max(np.abs(TV_try - V_try)) <= refresh * br.residual:
                V, TV, Q = V_try, TV_try, Q_try
                continue
        # Newton step: factorise I - gamma P_pi for the Gibbs policy of V
        solve = policy_system_lu(op.policy_matrix(op.policy(Q, TV)), op.gamma)
        if solve is None:
            sol = policy_iteration(op, tol, max_iter - k + 1, V)
            return dataclasses.replace(sol, history=np.concatenate([history, sol.history]))
        V = V + solve(TV - V)
        TV, Q = op.bellman(V, Q=np.empty((op.S, op.A)))
    br = _Bracket(V, TV, op.gamma)
    return _finish(op, br, V, max_iter, "pi", op.beta, tol, history, False,
                   f"max_iter = {max_iter} policy evaluations reached, bound {br.bound:.2e}")


def modified_policy_iteration(
    op: StepOperator, tol: float, max_iter: int, V0=None, eval_sweeps: int = 20
) -> Solution:
    V = _initial_value(op, V0)
    TV = np.empty_like(V)
    history = []
    deterministic = op.beta == 0.0
    actions = np.zeros(op.S, dtype=np.int64) if deterministic else None
    for k in range(1, max_iter + 1):
        _, Q = op.bellman(V, out=TV, actions=actions)
        br = _Bracket(V, TV, op.gamma)
        history.append(br.residual)
        done = _done(op, br, V, k, "mpi", tol, history, "improvements")
        if done is not None:
            return done
        if deterministic:
            # greedy policy (recorded by the sweep): its P_pi is A times smaller than P
            r_pi = op.R[np.arange(op.S), actions]
            pi = None
        else:
            pi = op.policy(Q, TV)
            r_pi = op.gibbs_reward(pi, Q, TV)
        V[:] = TV
        # adaptive partial evaluation: stop once a sweep moves V by a span below
        # EVAL_STOP_FRACTION times the improvement's (the rest of the evaluation error is then
        # small next to what the next improvement changes); at most eval_sweeps sweeps
        op.policy_sweeps(r_pi, pi, V, eval_sweeps, actions=actions,
                         stop_span=EVAL_STOP_FRACTION * br.span)
    return _finish(
        op,
        br,
        V,
        max_iter,
        "mpi",
        op.beta,
        tol,
        history,
        False,
        f"max_iter = {max_iter} improvements reached, bound {br.bound:.2e}",
    )


def backward_induction(mdp: TabularMDP, beta: float, ref: np.ndarray) -> Solution:
    H, S, A = mdp.H, mdp.S, mdp.A
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    policy = np.empty((H, S, A))
    for h in range(H - 1, -1, -1):
        ref_h = ref[h] if ref.ndim == 3 else ref
        op = StepOperator(mdp.transitions(h), mdp.rewards(h), 1.0, beta, ref_h)
        op.bellman(V[h + 1], out=V[h], Q=Q[h])
        policy[h] = op.policy(Q[h], V[h])
    return Solution(
        V=V,
        Q=Q,
        policy=policy,
        iterations=H,
        residual=0.0,
        error_bound=0.0,
        converged=True,
        method="backward",
        beta=beta,
        message=f"exact backward induction over {H} steps",
        history=np.zeros(0),
    )


def solve(
    mdp: TabularMDP,
    beta: float = 0.0,
    ref=None,
    method: str = "auto",
    tol: float = 1e-10,
    max_iter: int | None = None,
    V0=None,
    eval_sweeps: int = 20,
) -> Solution:
    r"""Optimal (KL-regularized) values and policy of ``mdp``.

    Parameters
    ----------
    mdp : TabularMDP
    beta : float
        KL temperature :math:`\beta \ge 0`; ``0`` is the unregularized problem.
    ref : array_like, optional
        Reference policy ``(S, A)`` (or ``(H, S, A)``); ``None`` is uniform. Actions with
        ``ref = 0`` are never taken (also at ``beta = 0``, the limit :math:`\beta \to 0^+`).
    method : {"auto", "vi", "gs", "pi", "mpi", "backward", "lp"}
        ``"auto"``: backward induction with a finite horizon; otherwise a short run of modified
        policy iteration (``beta = 0``) or value iteration (``beta > 0``), continued by
        (Gauss-Seidel-warmed) policy iteration when that is slow; ``Solution.method`` says
        which, e.g. ``"auto (mpi)"`` or ``"auto (vi, then pi)"``. ``"gs"``: symmetric
        Gauss-Seidel value iteration
        (sparse models). ``"lp"`` solves the occupancy-measure convex program with cvxpy.
    tol : float
        Discounted models: guaranteed bound on :math:`\|V - V^*\|_\infty` (stopping rule above).
    max_iter : int, optional
        Iteration cap; hitting it returns ``converged=False`` with a ``RuntimeWarning``.
        Default: the number of sweeps after which VI is guaranteed within ``tol``.
    V0 : array_like, optional
        Starting value for the discounted methods.
    eval_sweeps : int
        Partial evaluation sweeps per improvement in modified policy iteration.
    """
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a TabularMDP, got {type(mdp).__name__}")
    beta = _check_beta(beta)
    tol = _check_tol(tol)
    if method not in METHODS:
        raise ValueError(f"method = {method!r}; expected one of {', '.join(METHODS)}")
    ref_arr = check_ref(mdp, ref)
    if method == "lp":
        from .lp import solve_lp

        return solve_lp(mdp, beta=beta, ref=ref, tol=tol)
    if not mdp.discounted:
        if method not in ("auto", "backward"):
            raise ValueError(
                f"method = {method!r} is for discounted models; finite-horizon models are "
                "solved exactly by backward induction: use method='auto' or 'backward'"
            )
        return backward_induction(mdp, beta, ref_arr)
    if method == "backward":
        raise ValueError("method = 'backward' needs a finite-horizon model (horizon=H)")
    if max_iter is None:
        max_iter = 1000 if method in ("pi", "auto") else _default_max_iter(mdp, tol)
    if int(max_iter) < 1:
        raise ValueError(f"max_iter = {max_iter} must be >= 1")
    if int(eval_sweeps) < 1:
        raise ValueError(f"eval_sweeps = {eval_sweeps} must be >= 1")
    op = StepOperator(mdp.transitions(), mdp.R, mdp.gamma, beta, ref_arr)
    if method == "vi":
        sol = value_iteration(op, tol, int(max_iter), V0)
    elif method == "gs":
        sol = gauss_seidel_value_iteration(op, tol, int(max_iter), V0)
    elif method == "pi":
        sol = policy_iteration(op, tol, int(max_iter), V0)
    elif method == "mpi":
        sol = modified_policy_iteration(op, tol, int(max_iter), V0, int(eval_sweeps))
    else:
        sol = _auto(op, tol, int(max_iter), V0, int(eval_sweeps))
    return sol
