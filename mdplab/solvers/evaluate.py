r"""Exact policy evaluation, occupancy measures and the KL divergence.

Policy evaluation (Puterman, *Markov Decision Processes*, 1994, §6.1). For a stationary policy
:math:`\pi` of a discounted model, with the KL-penalised reward
:math:`r_\pi(s) = \sum_a \pi(a|s)[R(s,a) - \beta \log(\pi(a|s)/\pi_{\rm ref}(a|s))]` and
:math:`P_\pi(s, s') = \sum_a \pi(a|s) P(s'|s,a)`, the value is the unique solution of the
linear system

.. math:: (I - \gamma P_\pi) V^\pi = r_\pi, \qquad Q^\pi = R + \gamma P V^\pi,

solved directly (LAPACK, or SuperLU for sparse models) or by restarted GMRES on large sparse
models, and always checked with the residual bound
:math:`\|V - V^\pi\|_\infty \le \|r_\pi + \gamma P_\pi V - V\|_\infty / (1 - \gamma)`.
With a finite horizon, :math:`V_H = 0` and :math:`V_h = r_{\pi,h} + P_{\pi,h} V_{h+1}`
(backward recursion, exact), :math:`Q_h = R_h + P_h V_{h+1}`.

Occupancy measures. The discounted state-action occupancy
:math:`d^\pi(s,a) = \sum_{t \ge 0} \gamma^t \Pr(s_t = s, a_t = a)` solves
:math:`(I - \gamma P_\pi^\top) d_S = \mu`, :math:`d^\pi(s,a) = d_S(s)\pi(a|s)`, and sums to
:math:`1/(1-\gamma)`; with a finite horizon :math:`d_h(s,a) = \Pr(s_h = s, a_h = a)`,
:math:`(H, S, A)`, summing to :math:`H`. Then :math:`J(\pi) = \sum_{s,a} d^\pi(s,a)
[R(s,a) - \beta \log(\pi(a|s)/\pi_{\rm ref}(a|s))]`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from .._utils import kl_divergence, user_stacklevel
from ..mdp import TabularMDP, check_policy
from ._operator import StepOperator
from .bellman import _check_beta, check_ref
from .result import PolicyValue

__all__ = ["evaluate", "occupancy", "kl_divergence", "solve_policy_system"]

#: Models with at most this many states are evaluated with a dense LU factorisation.
DENSE_LIMIT = 3000


def _residual(P_pi, r, gamma, V) -> float:
    return float(np.max(np.abs(r + gamma * (P_pi @ V) - V), initial=0.0))


def solve_policy_system(
    P_pi, r, gamma: float, V0=None, transpose: bool = False, rtol: float = 1e-13
) -> np.ndarray:
    r"""Solve :math:`(I - \gamma P_\pi) x = r` (or the transposed system) accurately.

    Dense LU up to :data:`DENSE_LIMIT` states. Larger sparse systems whose graph has a narrow
    band after reverse Cuthill-McKee ordering (chains, grids) use SuperLU; others (random,
    well-connected graphs, where LU fills in) use restarted GMRES warm-started at ``V0``,
    falling back to SuperLU if GMRES does not reach ``rtol`` relative accuracy.
    """
    S = r.shape[0]
    if transpose:
        P_pi = P_pi.T
    lu = policy_system_lu(P_pi, gamma)
    if lu is not None:
        return lu(r)
    P_pi = sp.csr_array(P_pi)
    M = sp.identity(S, format="csr") - gamma * P_pi
    # well-connected graphs (LU would fill in): GMRES, whose eigenvalues cluster near 1
    scale = max(1.0, float(np.max(np.abs(r))) / (1.0 - gamma))
    x0 = None if V0 is None else np.asarray(V0, dtype=np.float64)
    x, _ = spla.gmres(M, r, x0=x0, rtol=rtol, atol=0.0, restart=60, maxiter=5)
    res = float(np.max(np.abs(r - M @ x)))
    if np.isfinite(res) and res <= 1e3 * rtol * scale * (1.0 - gamma):
        return x
    return spla.splu(M.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(r)  # exact, maybe slow


def policy_system_lu(P_pi, gamma: float):
    r"""A function ``b -> (I - gamma P_pi)^{-1} b`` from an LU factorisation, or ``None``.

    Dense LU (LAPACK) up to :data:`DENSE_LIMIT` states or for a dense ``P_pi``; SuperLU for
    larger sparse systems whose graph has a narrow band after reverse Cuthill-McKee ordering
    (chains, grids); ``None`` for the others (random, well-connected graphs, where LU fills in:
    :func:`solve_policy_system` uses GMRES there). The factorisation can be reused for many
    right-hand sides (the chord steps of :mod:`mdplab.solvers.dp`).
    """
    S = P_pi.shape[0]
    if S <= DENSE_LIMIT or not sp.issparse(P_pi):
        M = P_pi.toarray() if sp.issparse(P_pi) else np.array(P_pi, dtype=np.float64)
        M *= -gamma
        M[np.diag_indices(S)] += 1.0
        factor = sla.lu_factor(M, check_finite=False)
        return lambda b: sla.lu_solve(factor, b, check_finite=False)
    P_pi = sp.csr_array(P_pi)
    if not _narrow_band(P_pi):
        return None
    M = sp.identity(S, format="csr") - gamma * P_pi
    return spla.splu(M.tocsc(), permc_spec="MMD_AT_PLUS_A").solve


def _narrow_band(P_pi) -> bool:
    """Bandwidth after reverse Cuthill-McKee ordering at most ~4 sqrt(S): LU stays sparse."""
    S = P_pi.shape[0]
    G = sp.csr_matrix(P_pi + P_pi.T)
    perm = csgraph.reverse_cuthill_mckee(G, symmetric_mode=True)
    inv = np.empty_like(perm)
    inv[perm] = np.arange(S)
    coo = P_pi.tocoo()
    band = int(np.max(np.abs(inv[coo.row] - inv[coo.col]), initial=0))
    return band <= 4 * np.sqrt(S) + 10


def evaluate(mdp: TabularMDP, policy, beta: float = 0.0, ref=None) -> PolicyValue:
    """Exact value of ``policy``: ``PolicyValue(V, Q, J)``.

    ``V`` includes the KL penalty when ``beta > 0`` (it is ``-inf`` where the policy leaves the
    support of ``ref``). Discounted: ``V (S,)``, ``Q (S, A)``; finite horizon: ``V (H+1, S)``
    with ``V[H] = 0``, ``Q (H, S, A)``. ``J = mu @ V`` (``mu @ V[0]``).
    """
    beta = _check_beta(beta)
    pi = check_policy(mdp, policy)
    ref = check_ref(mdp, ref)
    S, A = mdp.S, mdp.A
    if mdp.discounted:
        op = StepOperator(mdp.transitions(), mdp.R, mdp.gamma, beta, ref)
        r_pi = op.policy_reward(pi)
        if np.any(np.isneginf(r_pi)):
            V = np.full(S, -np.inf)
            P_pi = op.policy_matrix(pi)
            reach = _reaches(P_pi, np.isneginf(r_pi))
            ok = ~reach
            if ok.any():
                sub = (
                    P_pi[np.ix_(ok, ok)] if not sp.issparse(P_pi) else sp.csr_array(P_pi)[ok][:, ok]
                )
                V[ok] = solve_policy_system(sub, r_pi[ok], mdp.gamma)
        else:
            V = solve_policy_system(op.policy_matrix(pi), r_pi, mdp.gamma)
        with np.errstate(invalid="ignore"):
            Q = mdp.R + mdp.gamma * np.asarray(
                mdp.transitions() @ np.where(np.isfinite(V), V, 0.0)
            ).reshape(S, A)
        Q = np.where(_rows_reach(mdp.transitions(), ~np.isfinite(V)).reshape(S, A), -np.inf, Q)
        return PolicyValue(
            V=V, Q=Q, J=float(mdp.mu @ V) if np.all(np.isfinite(V[mdp.mu > 0])) else -np.inf
        )
    H = mdp.H
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for h in range(H - 1, -1, -1):
        ref_h = ref[h] if ref.ndim == 3 else ref
        op = StepOperator(mdp.transitions(h), mdp.rewards(h), 1.0, beta, ref_h)
        with np.errstate(invalid="ignore"):
            Q[h] = mdp.rewards(h) + np.asarray(mdp.transitions(h) @ V[h + 1]).reshape(S, A)
            cont = np.where(pi[h] > 0, pi[h] * (Q[h] - mdp.rewards(h)), 0.0)
            V[h] = op.policy_reward(pi[h]) + cont.sum(axis=1)
    return PolicyValue(V=V, Q=Q, J=float(mdp.mu @ V[0]))


def _reaches(P_pi, bad: np.ndarray) -> np.ndarray:
    """States from which the chain P_pi reaches a ``bad`` state with positive probability."""
    G = sp.csr_array(P_pi)
    reach = bad.copy()
    while True:
        new = reach | (np.asarray(G @ reach.astype(float)) > 0)
        if np.array_equal(new, reach):
            return reach
        reach = new


def _rows_reach(P2, bad: np.ndarray) -> np.ndarray:
    return np.asarray(P2 @ bad.astype(float)).ravel() > 0


def occupancy(mdp: TabularMDP, policy) -> np.ndarray:
    r"""State-action occupancy of ``policy`` from ``mdp.mu``.

    Discounted: :math:`d(s,a) = \sum_t \gamma^t \Pr(s_t=s, a_t=a)`, shape ``(S, A)``, summing
    to :math:`1/(1-\gamma)`. Finite horizon: :math:`d_h(s,a) = \Pr(s_h=s, a_h=a)`, shape
    ``(H, S, A)``, summing to ``H``.
    """
    pi = check_policy(mdp, policy)
    if mdp.discounted:
        op = StepOperator(mdp.transitions(), mdp.R, mdp.gamma, 0.0, np.ones_like(pi))
        d_s = solve_policy_system(op.policy_matrix(pi), mdp.mu, mdp.gamma, transpose=True)
        if np.any(d_s < -1e-9):
            warnings.warn(
                "occupancy: small negative entries from rounding were clipped",
                RuntimeWarning,
                stacklevel=user_stacklevel(),
            )
        return np.maximum(d_s, 0.0)[:, None] * pi
    H, S = mdp.H, mdp.S
    d = np.empty((H, S, mdp.A))
    d_s = np.array(mdp.mu)
    for h in range(H):
        d[h] = d_s[:, None] * pi[h]
        if h + 1 < H:
            d_s = np.asarray(mdp.transitions(h).T @ d[h].reshape(-1))
    return d
