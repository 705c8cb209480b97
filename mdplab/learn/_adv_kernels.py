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

UOB-REPS (:class:`mdplab.learn.adversarial_unknown.UOBREPS`): :func:`box_kl_project` (exact KL
projection onto a box within the simplex), :func:`uob_project` (the projection onto the
occupancy measures consistent with a box confidence set: damped Newton on the dual in the flow
multipliers, same block-tridiagonal solve as :func:`kl_project`; derivation in
:func:`mdplab.learn.adversarial_unknown.project_confidence_occupancy`) and :func:`comp_uob`
(the upper occupancy bound). Cross-checked against cvxpy, a HiGHS linear program and a
plain-NumPy Comp-UOB in ``tests/test_learn_adversarial_unknown.py``.
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
def _masked_violation(g, reach):
    """Zero the flow residual ``g (H, S)`` of unreachable states; return its largest
    absolute value elsewhere."""
    H, S = g.shape
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
    return _masked_violation(g, reach)


@nb.njit(**_JIT)
def _block_tridiagonal_solve(D, E, rhs, delta):
    """Solve the symmetric block-tridiagonal system (diagonal blocks ``D[h]``, upper blocks
    ``E[h]`` coupling h and h+1) in place of ``D`` and ``rhs``: block forward elimination
    :math:`U_h = D_h - E_{h-1}^\top U_{h-1}^{-1}E_{h-1}`, then back substitution."""
    H = D.shape[0]
    for h in range(1, H):
        X = np.linalg.solve(D[h - 1], E[h - 1])
        y = np.linalg.solve(D[h - 1], rhs[h - 1])
        D[h] -= E[h - 1].T @ X
        rhs[h] -= E[h - 1].T @ y
    delta[H - 1] = np.linalg.solve(D[H - 1], rhs[H - 1])
    for h in range(H - 2, -1, -1):
        delta[h] = np.linalg.solve(D[h], rhs[h] - E[h] @ delta[h + 1])


@nb.njit(**_JIT)
def _masked_solve(D, E, reach, ridge, g, delta):
    """Newton direction ``delta = -Hess^{-1} g`` from the blocks of the Hessian of a flow dual:
    the rows and columns of unreachable states are replaced by the identity (their direction
    is 0) and the others get a relative ridge."""
    H, S = g.shape
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
    rhs = -g.copy()
    _block_tridiagonal_solve(D, E, rhs, delta)
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                delta[h, s] = 0.0


@nb.njit(**_JIT)
def _descent_slope(g, delta):
    """Directional derivative ``<g, delta>``; a direction that is not a descent direction
    (rounding, a kink of the dual) is replaced by ``-g``."""
    H, S = g.shape
    slope = 0.0
    for h in range(H):
        for s in range(S):
            slope += g[h, s] * delta[h, s]
    if not slope < 0.0:
        slope = 0.0
        for h in range(H):
            for s in range(S):
                delta[h, s] = -g[h, s]
                slope -= g[h, s] * g[h, s]
    return slope


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
    _masked_solve(D, E, reach, ridge, g, delta)


@nb.njit(**_JIT)
def _trial_dual(v, delta, t, mu, v_try):
    r"""``v_try = v + t delta``; returns :math:`\langle\mu, v_{\rm try,0}\rangle` (the term of
    the dual outside the primal point)."""
    H, S = v.shape
    for h in range(H):
        for s in range(S):
            v_try[h, s] = v[h, s] + t * delta[h, s]
    mu_v = 0.0
    for s in range(S):
        mu_v += mu[s] * v_try[0, s]
    return mu_v


@nb.njit(**_JIT)
def _armijo(F_try, F, t, slope):
    """Backtracking acceptance: sufficient decrease ``F_try <= F + t slope / 4``; near the
    optimum the decrease (about ``-slope``) is below the rounding of ``F``, and the full
    Newton step is taken (quadratic convergence) as long as ``F_try`` is finite."""
    tiny = -slope <= 1e-11 * (1.0 + abs(F))
    return F_try <= F + 0.25 * t * slope or (tiny and math.isfinite(F_try))


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
        slope = _descent_slope(g, delta)
        t = 1.0
        accepted = False
        for _ in range(60):
            mu_v = _trial_dual(v, delta, t, mu, v_try)
            F_try = _dual_point(logw, P, v_try, reach, q_try) + mu_v
            if _armijo(F_try, F, t, slope):
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


# ----------------------------------------------------------------------------- UOB-REPS
#
# The KL projection onto the occupancy measures consistent with a confidence set of kernels,
# and the upper occupancy bound (Comp-UOB); see :func:`mdplab.learn.adversarial_unknown.
# project_confidence_occupancy` and :func:`mdplab.learn.adversarial_unknown.
# upper_occupancy_bound` for the maths.


@nb.njit(**_JIT)
def box_kl_project(c, lo, hi, p, free):
    r"""KL projection onto a box intersected with the simplex.

    :math:`p^\star = \arg\min\{\sum_i p_i(\log p_i - c_i) : lo \le p \le hi, \sum_i p_i = 1\}`
    (requires :math:`\sum lo \le 1 \le \sum hi`). The solution is
    :math:`p_i = \mathrm{clip}(e^{c_i - \tau}, lo_i, hi_i)` with the scalar :math:`\tau` at which
    the sum is 1; the sum is continuous and non-increasing in :math:`\tau`, piecewise
    :math:`C + e^{-\tau}Z` between the breakpoints :math:`c_i - \log hi_i \le c_i - \log lo_i`,
    so :math:`\tau` is exact: the last breakpoint where the sum is still :math:`\ge 1`, then
    the closed form on the next piece. Writes ``p`` and ``free`` (``lo < p < hi``: the
    coordinates that move with ``c``); returns :math:`\min = \sum_i p_i(\log p_i - c_i)`.
    """
    n = c.shape[0]
    bps = np.empty(2 * n)
    nb_ = 0
    for i in range(n):
        if hi[i] > 0.0:
            bps[nb_] = c[i] - math.log(hi[i])
            nb_ += 1
            if lo[i] > 0.0:
                bps[nb_] = c[i] - math.log(lo[i])
                nb_ += 1
    bps = np.sort(bps[:nb_])
    # g(tau) = sum_i clip(exp(c_i - tau), lo_i, hi_i)
    k_best = -1
    for k in range(nb_):
        tau = bps[k]
        g = 0.0
        for i in range(n):
            d = c[i] - tau
            x = hi[i] if d > 700.0 else math.exp(d)
            g += min(max(x, lo[i]), hi[i])
        if g >= 1.0:
            k_best = k
        else:
            break
    if k_best < 0:  # cannot happen when sum(hi) >= 1; all at the upper end
        for i in range(n):
            p[i] = hi[i]
            free[i] = False
    else:
        lo_t = bps[k_best]
        hi_t = bps[k_best + 1] if k_best + 1 < nb_ else lo_t + 1.0
        mid = 0.5 * (lo_t + hi_t)
        C = 0.0
        m = -np.inf
        for i in range(n):
            d = c[i] - mid
            x = np.inf if d > 700.0 else math.exp(d)
            if hi[i] <= 0.0 or x >= hi[i]:
                C += hi[i]
                free[i] = False
            elif x <= lo[i]:
                C += lo[i]
                free[i] = False
            else:
                free[i] = True
                if c[i] > m:
                    m = c[i]
        rest = 1.0 - C
        if m == -np.inf or rest <= 0.0:  # no free coordinate: the sum is flat at 1 here
            for i in range(n):
                d = c[i] - lo_t
                x = hi[i] if d > 700.0 else math.exp(d)
                p[i] = min(max(x, lo[i]), hi[i])
                free[i] = False
        else:
            Z = 0.0
            for i in range(n):
                if free[i]:
                    Z += math.exp(c[i] - m)
            tau = m + math.log(Z) - math.log(rest)
            for i in range(n):
                if free[i]:
                    x = math.exp(c[i] - tau)
                    p[i] = min(max(x, lo[i]), hi[i])
                elif hi[i] <= 0.0 or math.exp(min(c[i] - mid, 700.0)) >= hi[i]:
                    p[i] = hi[i]
                else:
                    p[i] = lo[i]
    val = 0.0
    for i in range(n):
        if p[i] > 0.0:
            val += p[i] * (math.log(p[i]) - c[i])
    return val


@nb.njit(**_JIT)
def _uob_dual_point(cw, clast, lo, hi, v, reach, W, qlast, P_star, free, logq):
    """Primal point of the dual variables ``v``: ``W[h,s,a,:] = q p*`` (h < H-1), ``qlast``;
    ``P_star`` the conditional kernels, ``logq (H, S, A)``. Returns F(v) without the mu term."""
    Hm1, S, A, _ = cw.shape
    H = Hm1 + 1
    ctil = np.empty(S)
    pb = np.empty(S)
    fb = np.zeros(S, dtype=np.bool_)
    total = 0.0
    for h in range(H - 1):
        for s in range(S):
            for a in range(A):
                if not reach[h, s]:
                    for t in range(S):
                        W[h, s, a, t] = 0.0
                        P_star[h, s, a, t] = 0.0
                        free[h, s, a, t] = False
                    logq[h, s, a] = -np.inf
                    continue
                for t in range(S):
                    ctil[t] = cw[h, s, a, t] + v[h + 1, t]
                phi = box_kl_project(ctil, lo[h, s, a], hi[h, s, a], pb, fb)
                lq = -v[h, s] - phi
                logq[h, s, a] = lq
                x = math.exp(lq) if lq < 700.0 else np.inf
                total += x
                for t in range(S):
                    P_star[h, s, a, t] = pb[t]
                    free[h, s, a, t] = fb[t]
                    W[h, s, a, t] = x * pb[t]
    for s in range(S):
        for a in range(A):
            if not reach[H - 1, s]:
                qlast[s, a] = 0.0
                logq[H - 1, s, a] = -np.inf
                continue
            lq = clast[s, a] - v[H - 1, s]
            logq[H - 1, s, a] = lq
            x = math.exp(lq) if lq < 700.0 else np.inf
            qlast[s, a] = x
            total += x
    return total


@nb.njit(**_JIT)
def _uob_gradient(W, qlast, mu, reach, g):
    """g = inflow - outflow (the dual gradient); returns the largest |g| over reachable
    states."""
    Hm1, S, A, _ = W.shape
    H = Hm1 + 1
    for s in range(S):
        g[0, s] = mu[s]
    for h in range(1, H):
        for s in range(S):
            g[h, s] = 0.0
    for h in range(H - 1):
        for s in range(S):
            for a in range(A):
                for t in range(S):
                    x = W[h, s, a, t]
                    g[h, s] -= x
                    g[h + 1, t] += x
    for s in range(S):
        for a in range(A):
            g[H - 1, s] -= qlast[s, a]
    return _masked_violation(g, reach)


@nb.njit(**_JIT)
def _uob_newton_direction(W, qlast, P_star, free, reach, g, ridge, D, E, delta):
    r"""Newton direction of the confidence-set dual: the Hessian is
    :math:`\sum_b q_b\,c_bc_b^\top + q_b J_b` with :math:`c_b = -e_{h,s} + \sum_t p^\star_b(t)
    e_{h+1,t}` and :math:`J_b = \mathrm{diag}(p_F) - p_Fp_F^\top/\sum_F p` on the free
    coordinates of the box projection (zero elsewhere)."""
    Hm1, S, A, _ = W.shape
    H = Hm1 + 1
    for h in range(H):
        D[h, :, :] = 0.0
        E[h, :, :] = 0.0
    for h in range(H - 1):
        for s in range(S):
            if not reach[h, s]:
                continue
            for a in range(A):
                x = 0.0
                for t in range(S):
                    x += W[h, s, a, t]
                if x == 0.0:
                    continue
                D[h, s, s] += x
                mF = 0.0
                for t in range(S):
                    pt = P_star[h, s, a, t]
                    E[h, s, t] -= x * pt
                    if free[h, s, a, t]:
                        mF += pt
                for t in range(S):
                    pt = P_star[h, s, a, t]
                    if pt == 0.0:
                        continue
                    for t2 in range(S):
                        D[h + 1, t, t2] += x * pt * P_star[h, s, a, t2]
                    if free[h, s, a, t] and mF > 0.0:
                        D[h + 1, t, t] += x * pt
                        for t2 in range(S):
                            if free[h, s, a, t2]:
                                D[h + 1, t, t2] -= x * pt * P_star[h, s, a, t2] / mF
    for s in range(S):
        for a in range(A):
            D[H - 1, s, s] += qlast[s, a]
    _masked_solve(D, E, reach, ridge, g, delta)


@nb.njit(**_JIT)
def uob_project(cw, clast, lo, hi, mu, reach, v, W, qlast, logq, tol, max_iter):
    r"""KL projection onto the occupancy measures consistent with a box confidence set, by
    damped Newton on the dual in the flow multipliers ``v (H, S)`` only (the confidence
    constraints are solved in closed form inside, :func:`box_kl_project`).

    ``cw (H-1, S, A, S)`` and ``clast (S, A)``: logarithm of the point projected (triples, and
    the pairs of the last step); ``lo``, ``hi (H-1, S, A, S)``: the box of every conditional
    kernel; ``mu (S,)``; ``reach (H, S)``; ``v``: warm start, receives the dual solution;
    ``W``, ``qlast``: the projection; ``logq (H, S, A)``: log of its pair occupancy. Returns
    ``(iterations, largest flow violation)``.
    """
    Hm1, S, A, _ = cw.shape
    H = Hm1 + 1
    g = np.zeros((H, S))
    D = np.zeros((H, S, S))
    E = np.zeros((H, S, S))
    delta = np.zeros((H, S))
    v_try = np.zeros((H, S))
    P_star = np.zeros((H - 1, S, A, S))
    free = np.zeros((H - 1, S, A, S), dtype=np.bool_)
    W_try = np.zeros((H - 1, S, A, S))
    q_try = np.zeros((S, A))
    P_try = np.zeros((H - 1, S, A, S))
    f_try = np.zeros((H - 1, S, A, S), dtype=np.bool_)
    lq_try = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            if not reach[h, s]:
                v[h, s] = 0.0
    mu_v = 0.0
    for s in range(S):
        mu_v += mu[s] * v[0, s]
    F = _uob_dual_point(cw, clast, lo, hi, v, reach, W, qlast, P_star, free, logq) + mu_v
    viol = _uob_gradient(W, qlast, mu, reach, g)
    it = 0
    ridge = 1e-14
    while viol > tol and it < max_iter:
        it += 1
        _uob_newton_direction(W, qlast, P_star, free, reach, g, ridge, D, E, delta)
        slope = _descent_slope(g, delta)
        t = 1.0
        accepted = False
        for _ in range(60):
            mu_v = _trial_dual(v, delta, t, mu, v_try)
            F_try = _uob_dual_point(cw, clast, lo, hi, v_try, reach, W_try, q_try, P_try,
                                    f_try, lq_try) + mu_v
            if _armijo(F_try, F, t, slope):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        v[:, :] = v_try
        W[:, :, :, :] = W_try
        qlast[:, :] = q_try
        P_star[:, :, :, :] = P_try
        free[:, :, :, :] = f_try
        logq[:, :, :] = lq_try
        F = F_try
        viol = _uob_gradient(W, qlast, mu, reach, g)
    return it, viol


@nb.njit(**_JIT)
def comp_uob(pi, lo, hi, mu, u):
    r"""Comp-UOB: ``u[h, s, a]`` :math:`= \pi_h(a|s)\max_{\hat P}\Pr^{\hat P,\pi}(s_h = s)` over
    the kernels whose rows lie in the boxes ``[lo, hi] (H-1, S, A, S)`` intersected with the
    simplex, one backward pass per target ``(h, s)``:
    :math:`f_h = e_s`, :math:`f_k(x) = \sum_a \pi_k(a|x)\max_{p\in B_k(x,a)}\langle p,
    f_{k+1}\rangle`, the inner maximum greedy (every coordinate at its lower end, then the
    remaining mass to the largest :math:`f` first), :math:`u_h(s,a) = \pi_h(a|s)\langle\mu,
    f_0\rangle`."""
    H, S, A = pi.shape
    f = np.empty(S)
    fn = np.empty(S)
    for h in range(H):
        for s in range(S):
            for x in range(S):
                f[x] = 0.0
            f[s] = 1.0
            for k in range(h - 1, -1, -1):
                order = np.argsort(-f)
                for x in range(S):
                    acc = 0.0
                    for a in range(A):
                        pa = pi[k, x, a]
                        if pa == 0.0:
                            continue
                        base = 0.0
                        left = 1.0
                        for t in range(S):
                            base += lo[k, x, a, t] * f[t]
                            left -= lo[k, x, a, t]
                        if left < 0.0:
                            left = 0.0
                        for j in range(S):
                            if left <= 0.0:
                                break
                            t = order[j]
                            room = hi[k, x, a, t] - lo[k, x, a, t]
                            add = room if room < left else left
                            base += add * f[t]
                            left -= add
                        acc += pa * base
                    fn[x] = acc
                for x in range(S):
                    f[x] = fn[x]
            m = 0.0
            for x in range(S):
                m += mu[x] * f[x]
            for a in range(A):
                u[h, s, a] = m * pi[h, s, a]


@nb.njit(**_JIT)
def uob_initial_v(cw, clast, lo, hi, mu, reach, v):
    r"""Cold start of :func:`uob_project`: a backward pass choosing :math:`v_h(s)` so that the
    outflow :math:`\sum_a q_h(s,a)` of every reachable state equals :math:`\mu(s)` at
    :math:`h = 0` and :math:`1/|\text{reachable states}|` later, given :math:`v_{h+1}`. Only the
    inflows are then off, by factors of order :math:`S`, whatever the scale of the point
    (Newton from :math:`v = 0` needs about :math:`\max|c|` damped steps)."""
    Hm1, S, A, _ = cw.shape
    H = Hm1 + 1
    ctil = np.empty(S)
    pb = np.empty(S)
    fb = np.zeros(S, dtype=np.bool_)
    e = np.empty(A)
    for h in range(H - 1, -1, -1):
        n_reach = 0
        for s in range(S):
            if reach[h, s]:
                n_reach += 1
        for s in range(S):
            if not reach[h, s]:
                v[h, s] = 0.0
                continue
            target = mu[s] if h == 0 else 1.0 / n_reach
            if target <= 0.0:
                v[h, s] = 0.0
                continue
            m = -np.inf
            for a in range(A):
                if h == H - 1:
                    e[a] = clast[s, a]
                else:
                    for t in range(S):
                        ctil[t] = cw[h, s, a, t] + v[h + 1, t]
                    e[a] = -box_kl_project(ctil, lo[h, s, a], hi[h, s, a], pb, fb)
                if e[a] > m:
                    m = e[a]
            z = 0.0
            for a in range(A):
                z += math.exp(e[a] - m)
            v[h, s] = m + math.log(z) - math.log(target)


@nb.njit(**_JIT)
def oreps_initial_v(logw, P, mu, reach, v):
    r"""Cold start of :func:`kl_project` (as :func:`uob_initial_v`): backward in :math:`h`,
    :math:`v_h(s) = \log\sum_a w_h(s,a)e^{(P_hv_{h+1})(s,a)} - \log m_h(s)` with the target
    outflow :math:`m_0 = \mu`, :math:`m_h = 1/|\text{reachable states}|`."""
    H, S, A = logw.shape
    e = np.empty(A)
    for h in range(H - 1, -1, -1):
        n_reach = 0
        for s in range(S):
            if reach[h, s]:
                n_reach += 1
        for s in range(S):
            target = mu[s] if h == 0 else 1.0 / max(n_reach, 1)
            if not reach[h, s] or target <= 0.0:
                v[h, s] = 0.0
                continue
            m = -np.inf
            for a in range(A):
                b = logw[h, s, a]
                if h + 1 < H:
                    for t in range(S):
                        p = P[h, s, a, t]
                        if p != 0.0:
                            b += p * v[h + 1, t]
                e[a] = b
                if b > m:
                    m = b
            z = 0.0
            for a in range(A):
                z += math.exp(e[a] - m)
            v[h, s] = m + math.log(z) - math.log(target)
