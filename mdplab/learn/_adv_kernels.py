r"""Numba kernels of the adversarial-MDP learners (:mod:`mdplab.learn.adversarial`).

Compiled with ``cache=True``, ``fastmath=False``; each kernel has a plain-NumPy (or cvxpy)
counterpart in ``tests/test_learn_adversarial.py`` and an agreement test.

:func:`kl_project` -- the entropic projection onto the occupancy polytope by Newton's method on
its dual. For a finite-horizon MDP with known kernels :math:`P_h` and initial distribution
:math:`\mu`, and a positive point :math:`w = e^{\log w}` of shape ``(H, S, A)``, it solves

.. math::

    q^\star = \arg\min_{q \in \Delta(P)} \sum_{h,s,a} q_h(s,a)\log\frac{q_h(s,a)}{w_h(s,a)}
              - q_h(s,a), \qquad
    \Delta(P) = \Big\{q \ge 0:\ \sum_a q_0(s,a) = \mu(s),\ \
        \sum_a q_{h+1}(s',a) = \sum_{s,a} P_h(s'|s,a)\, q_h(s,a)\Big\}.

The Lagrangian gives :math:`q_h(s,a) = w_h(s,a)\exp(B^v_h(s,a))` with
:math:`B^v_h(s,a) = -v_h(s) + \sum_{s'} P_h(s'|s,a) v_{h+1}(s')` (:math:`v_H = 0`), and the
multipliers :math:`v \in \mathbb R^{H \times S}` minimise the smooth convex dual

.. math::

    F(v) = \sum_{h,s,a} w_h(s,a)\, e^{B^v_h(s,a)} + \sum_s \mu(s) v_0(s),

whose gradient is minus the flow violation of :math:`q(v)`
(:math:`\partial F/\partial v_h(s) = \text{inflow}_h(s) - \sum_a q_h(s,a)`, inflow
:math:`\mu` at :math:`h = 0`) and whose Hessian :math:`\sum_{h,s,a} q_h(s,a)\, c c^\top`,
:math:`c = -e_{h,s} + \sum_{s'}P_h(s'|s,a)e_{h+1,s'}`, is block tridiagonal in :math:`h`
(blocks :math:`S \times S`). Damped Newton (Armijo backtracking, parameter 1/4) with a block
Cholesky-free block-tridiagonal solve, :math:`O(H S^2 A + H S^3)` per iteration, stops when the
largest flow violation is :math:`\le` ``tol``. States unreachable from :math:`\mu` under any
policy (``reach = False``) carry no mass and keep :math:`v = 0`. This is the projection step of
O-REPS (Zimin & Neu 2013; see :mod:`mdplab.learn.adversarial`), where the catalogue suggests
L-BFGS on the same dual; Newton reaches the rounding floor in a handful of iterations.

:func:`occupancy_from_policy` -- forward propagation :math:`q_h(s,a) = d_h(s)\pi_h(a|s)`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_JIT = dict(cache=True, fastmath=False, nogil=True)


@nb.njit(**_JIT)
def _dual_point(logw, P, v, reach, q):
    """q = w exp(B^v) in place; returns F(v) without the mu term."""
    H, S, A = logw.shape
    total = 0.0
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                for a in range(A):
                    q[h, s, a] = 0.0
                continue
            for a in range(A):
                b = -v[h, s]
                if h + 1 < H:
                    for t in range(S):
                        p = P[h, s, a, t]
                        if p != 0.0:
                            b += p * v[h + 1, t]
                x = math.exp(logw[h, s, a] + b)
                q[h, s, a] = x
                total += x
    return total


@nb.njit(**_JIT)
def _gradient(q, P, mu, reach, g):
    """g = inflow - outflow (dF/dv); returns max |g| over reachable states."""
    H, S, A = q.shape
    for s in range(S):
        g[0, s] = mu[s]
    for h in range(1, H):
        for s in range(S):
            g[h, s] = 0.0
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                continue
            out = 0.0
            for a in range(A):
                out += q[h, s, a]
                if h + 1 < H:
                    x = q[h, s, a]
                    if x != 0.0:
                        for t in range(S):
                            g[h + 1, t] += x * P[h, s, a, t]
            g[h, s] -= out
    worst = 0.0
    for h in range(H):
        for s in range(S):
            if reach[h, s]:
                if abs(g[h, s]) > worst:
                    worst = abs(g[h, s])
            else:
                g[h, s] = 0.0
    return worst


@nb.njit(**_JIT)
def _newton_direction(q, P, reach, g, ridge, D, E, delta):
    """Solve Hess * delta = -g (block tridiagonal: diagonal blocks D[h], upper blocks E[h])."""
    H, S, A = q.shape
    for h in range(H):
        D[h, :, :] = 0.0
        E[h, :, :] = 0.0
    M = np.empty((S * A, S))
    for h in range(H):
        for s in range(S):
            for a in range(A):
                x = q[h, s, a]
                D[h, s, s] += x
                if h + 1 < H:
                    r = math.sqrt(x)
                    for t in range(S):
                        pt = P[h, s, a, t]
                        E[h, s, t] -= x * pt
                        M[s * A + a, t] = r * pt
        if h + 1 < H:
            D[h + 1] += M.T @ M  # sum_{s,a} q P(.|s,a) P(.|s,a)^T (BLAS)
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                for t in range(S):
                    D[h, s, t] = 0.0
                    D[h, t, s] = 0.0
                    E[h, s, t] = 0.0
                    if h > 0:
                        E[h - 1, t, s] = 0.0
                D[h, s, s] = 1.0
            else:
                D[h, s, s] += ridge * (1.0 + D[h, s, s])
    # block forward elimination: U_h = D_h - E_{h-1}^T U_{h-1}^{-1} E_{h-1}
    rhs = -g.copy()
    for h in range(1, H):
        X = np.linalg.solve(D[h - 1], E[h - 1])          # U^{-1} E
        y = np.linalg.solve(D[h - 1], rhs[h - 1])        # U^{-1} y
        D[h] -= E[h - 1].T @ X
        rhs[h] -= E[h - 1].T @ y
    delta[H - 1] = np.linalg.solve(D[H - 1], rhs[H - 1])
    for h in range(H - 2, -1, -1):
        delta[h] = np.linalg.solve(D[h], rhs[h] - E[h] @ delta[h + 1])
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                delta[h, s] = 0.0


@nb.njit(**_JIT)
def kl_project(logw, P, mu, reach, v, q, tol, max_iter):
    """Entropic projection of ``exp(logw)`` onto the occupancy polytope (module docstring).

    ``logw (H, S, A)``, ``P (H, S, A, S)``, ``mu (S,)``, ``reach (H, S)`` boolean; ``v (H, S)``
    is the warm start and receives the dual solution, ``q (H, S, A)`` the projection. Returns
    ``(iterations, max flow violation)``.
    """
    H, S, A = logw.shape
    g = np.zeros((H, S))
    D = np.zeros((H, S, S))
    E = np.zeros((H, S, S))
    delta = np.zeros((H, S))
    v_try = np.zeros((H, S))
    q_try = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                v[h, s] = 0.0
    mu_v = 0.0
    for s in range(S):
        mu_v += mu[s] * v[0, s]
    F = _dual_point(logw, P, v, reach, q) + mu_v
    viol = _gradient(q, P, mu, reach, g)
    it = 0
    ridge = 1e-14
    while viol > tol and it < max_iter:
        it += 1
        _newton_direction(q, P, reach, g, ridge, D, E, delta)
        slope = 0.0
        for h in range(H):
            for s in range(S):
                slope += g[h, s] * delta[h, s]
        if not slope < 0.0:  # not a descent direction (rounding): fall back to gradient
            for h in range(H):
                for s in range(S):
                    delta[h, s] = -g[h, s]
            slope = 0.0
            for h in range(H):
                for s in range(S):
                    slope -= g[h, s] * g[h, s]
        t = 1.0
        accepted = False
        for _ in range(60):
            for h in range(H):
                for s in range(S):
                    v_try[h, s] = v[h, s] + t * delta[h, s]
            mu_v = 0.0
            for s in range(S):
                mu_v += mu[s] * v_try[0, s]
            F_try = _dual_point(logw, P, v_try, reach, q_try) + mu_v
            # near the optimum the decrease (~ -slope) is below the rounding of F: take the
            # full Newton step (quadratic convergence) as long as F stays finite
            tiny = -slope <= 1e-11 * (1.0 + abs(F))
            if F_try <= F + 0.25 * t * slope or (tiny and math.isfinite(F_try)):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break  # no further progress possible at this precision
        v[:, :] = v_try
        q[:, :, :] = q_try
        F = F_try
        viol = _gradient(q, P, mu, reach, g)
    return it, viol


@nb.njit(**_JIT)
def occupancy_from_policy(P, mu, pi, q):
    """``q_h(s,a) = d_h(s) pi_h(a|s)`` by forward propagation (``P (H, S, A, S)``)."""
    H, S, A = pi.shape
    d = mu.copy()
    for h in range(H):
        nxt = np.zeros(S)
        for s in range(S):
            for a in range(A):
                x = d[s] * pi[h, s, a]
                q[h, s, a] = x
                if h + 1 < H and x != 0.0:
                    for t in range(S):
                        nxt[t] += x * P[h, s, a, t]
        d = nxt


@nb.njit(**_JIT)
def logbarrier_policy(L, eta, pi):
    r"""Per-state log-barrier FTRL: for every ``(h, s)``,
    :math:`\pi(\cdot) = \arg\min_{p\in\Delta_A} \langle p, L\rangle - \frac1\eta\sum_a\log p(a)`,
    i.e. :math:`p(a) = 1/(\eta(L(a) + \nu))` with the unique :math:`\nu > -\min_a L(a)` such that
    :math:`\sum_a p(a) = 1` (Newton from the left of the root: :math:`f(\nu) = \sum_a p(a) - 1`
    is convex and decreasing, so the iterates increase monotonically to the root)."""
    H, S, A = L.shape
    for h in range(H):
        for s in range(S):
            m = L[h, s, 0]
            for a in range(1, A):
                if L[h, s, a] < m:
                    m = L[h, s, a]
            nu = -m + 1.0 / eta
            for _ in range(200):
                f = -1.0
                df = 0.0
                for a in range(A):
                    x = 1.0 / (eta * (L[h, s, a] + nu))
                    f += x
                    df -= eta * x * x
                if f <= 1e-15:
                    break
                nu -= f / df
            total = 0.0
            for a in range(A):
                x = 1.0 / (eta * (L[h, s, a] + nu))
                pi[h, s, a] = x
                total += x
            for a in range(A):
                pi[h, s, a] /= total


@nb.njit(**_JIT)
def entropy_policy(L, eta, pi):
    r"""Per-state entropic FTRL (exponential weights): :math:`\pi \propto e^{-\eta L}`."""
    H, S, A = L.shape
    for h in range(H):
        for s in range(S):
            m = L[h, s, 0]
            for a in range(1, A):
                if L[h, s, a] < m:
                    m = L[h, s, a]
            total = 0.0
            for a in range(A):
                x = math.exp(-eta * (L[h, s, a] - m))
                pi[h, s, a] = x
                total += x
            for a in range(A):
                pi[h, s, a] /= total
