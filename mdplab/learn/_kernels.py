r"""Numba kernels of the online learners (the only compiled code of :mod:`mdplab.learn`).

Every kernel has a plain-NumPy counterpart in ``tests/test_learn_online.py`` /
``tests/test_learn_runner.py`` and an agreement test on random inputs. Compiled with
``cache=True`` and ``fastmath=False`` (fixed summation order: reproducible results).

Array layout (finite horizon, steps :math:`h = 0, \dots, H-1`, time-inhomogeneous):

* true model: ``P (Hp, S, A, S)`` and ``R (Hr, S, A)`` with ``Hp, Hr in {1, H}`` (a leading
  axis of length 1 means "the same at every step"); step ``h`` reads index ``min(h, Hp - 1)``;
* a policy: ``pi (H, S, A)`` (rows are distributions);
* learner statistics: visit counts ``N (H, S, A)``, transition counts ``Nsas (H, S, A, S)``,
  reward sums ``rsum (H, S, A)`` (all float64 so that ratios need no casts).

Kernels
-------
:func:`sample_episode`
    One trajectory :math:`s_0 \sim \mu`, :math:`a_h \sim \pi_h(\cdot|s_h)`,
    :math:`s_{h+1} \sim P_h(\cdot|s_h, a_h)`, from pre-drawn uniforms (inverse-CDF sampling
    on cumulative sums), so the NumPy generator stays the only source of randomness.
:func:`policy_value`
    Exact value and trajectory KL of a policy by forward propagation of the state
    distribution :math:`d_0 = \mu`, :math:`d_{h+1}(s') = \sum_{s,a} d_h(s)\pi_h(a|s)P_h(s'|s,a)`:

    .. math::

        J^\pi = \sum_h \sum_{s,a} d_h(s)\pi_h(a|s) R_h(s,a), \qquad
        \mathrm{KL}^\pi = \sum_h \sum_s d_h(s)\,\mathrm{KL}(\pi_h(\cdot|s)\,\|\,
        \pi_{\rm ref,h}(\cdot|s)),

    :math:`O(H S^2 \bar A)` where :math:`\bar A` is the number of actions in the policy's
    support (1 for a deterministic policy). States with :math:`d_h(s) = 0` are skipped, so a
    KL of :math:`+\infty` off the reachable set does not contaminate the sum.
:func:`first_invalid_row`
    Index of the first row of a policy ``(H, S, A)`` that is not a probability distribution
    (the runner checks every policy a learner proposes before sampling from it).
:func:`update_counts`
    Adds one trajectory to ``N, Nsas, rsum`` (and the per-step state counts ``Ns (H, S)``).
:func:`optimistic_plan`
    Optimistic backward induction of UCBVI (Azar, Osband & Munos 2017, arXiv:1703.05449):
    :math:`Q_h(s,a) = \min\{Q^{\rm prev}_h(s,a),\ H - h,\ \hat r_h(s,a) + \hat P_h V_{h+1}(s,a)
    + b_h(s,a)\}`, :math:`V_h(s) = \max_a Q_h(s,a)`, with bonus ``kind`` 0 (none: certainty
    equivalence), 1 (Hoeffding) or 2 (Bernstein-Freedman); see :mod:`mdplab.learn.online` for
    the formulas. Unvisited pairs get ``unvisited[h]``.
:func:`greedy_onehot`
    Deterministic greedy policy as a one-hot ``(H, S, A)``; ties go to the least visited
    action, then to the lowest index.
:func:`backward_induction`
    Plain finite-horizon value iteration on a given model (used by PSRL on sampled models).
:func:`soft_optimistic_plan`
    Upper/lower soft backward induction, soft-greedy policy and certified gap of
    :class:`mdplab.learn.RegularizedUCBVI` (formulas in :mod:`mdplab.learn.regularized`).
:func:`qlearning_update`
    The per-step update of Q-learning with UCB-Hoeffding bonus (Jin et al. 2018,
    arXiv:1807.03765, Algorithm 1), applied in step order :math:`h = 0, \dots, H-1` (the same
    result as updating online during the episode: step :math:`h` reads :math:`V_{h+1}` before
    step :math:`h+1` updates it).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_JIT = dict(cache=True, fastmath=False, nogil=True)


@nb.njit(**_JIT)
def _draw(cdf_row, u):
    """Smallest index i with cdf_row[i] > u (inverse-CDF draw; zero-mass entries skipped)."""
    n = cdf_row.shape[0]
    for i in range(n):
        if cdf_row[i] > u:
            return i
    # u >= last cumulative sum (rounding): the last entry with positive mass
    for i in range(n - 1, 0, -1):
        if cdf_row[i] > cdf_row[i - 1]:
            return i
    return 0


@nb.njit(**_JIT)
def sample_episode(Pcdf, R, mu_cdf, pi, u, bernoulli, states, actions, rewards):
    """Sample one episode into ``states (H+1,)``, ``actions (H,)``, ``rewards (H,)``.

    ``Pcdf (Hp, S, A, S)``: cumulative sums of the kernel over next states; ``u (3H + 1,)``:
    uniforms in [0, 1) (``u[0]`` initial state, then per step: action, next state, reward
    noise). ``bernoulli``: observed reward ~ Bernoulli(R) instead of R itself.
    """
    H = pi.shape[0]
    A = pi.shape[2]
    Hp = Pcdf.shape[0]
    Hr = R.shape[0]
    s = _draw(mu_cdf, u[0])
    states[0] = s
    for h in range(H):
        # action: inverse CDF of pi[h, s, :]
        ua = u[1 + 3 * h]
        c = 0.0
        a = -1
        last = 0
        for b in range(A):
            p = pi[h, s, b]
            if p > 0.0:
                last = b
                c += p
                if ua < c:
                    a = b
                    break
        if a < 0:
            a = last
        actions[h] = a
        r = R[h if Hr > 1 else 0, s, a]
        if bernoulli:
            r = 1.0 if u[3 + 3 * h] < r else 0.0
        rewards[h] = r
        s = _draw(Pcdf[h if Hp > 1 else 0, s, a], u[2 + 3 * h])
        states[h + 1] = s


@nb.njit(**_JIT)
def policy_value(P, R, mu, pi, logref):
    """Exact ``(J, KL)`` of policy ``pi (H, S, A)`` from ``mu`` (forward propagation).

    ``logref (Hf, S, A)``, ``Hf in {1, H}``: log of the reference policy of the KL term
    (``-inf`` where the reference puts no mass).
    """
    H, S, A = pi.shape
    Hp = P.shape[0]
    Hr = R.shape[0]
    Hf = logref.shape[0]
    d = mu.copy()
    d_next = np.zeros(S)
    J = 0.0
    kl = 0.0
    for h in range(H):
        hp = h if Hp > 1 else 0
        hr = h if Hr > 1 else 0
        hf = h if Hf > 1 else 0
        d_next[:] = 0.0
        for s in range(S):
            ds = d[s]
            if ds == 0.0:
                continue
            for a in range(A):
                p = pi[h, s, a]
                if p <= 0.0:
                    continue
                w = ds * p
                J += w * R[hr, s, a]
                lp = 0.0 if p == 1.0 else math.log(p)
                kl += w * (lp - logref[hf, s, a])
                if h + 1 < H:
                    row = P[hp, s, a]
                    for j in range(S):
                        d_next[j] += w * row[j]
        d, d_next = d_next, d
    return J, kl


@nb.njit(**_JIT)
def first_invalid_row(pi, tol):
    """Flat index ``h * S + s`` of the first row ``pi[h, s, :]`` of ``pi (H, S, A)`` with an
    entry outside ``[0, 1]`` (NaN included) or a sum off 1 by more than ``tol``; ``-1`` if every
    row is a distribution."""
    H, S, A = pi.shape
    for h in range(H):
        for s in range(S):
            tot = 0.0
            for a in range(A):
                p = pi[h, s, a]
                if not (p >= 0.0 and p <= 1.0 + tol):
                    return h * S + s
                tot += p
            if abs(tot - 1.0) > tol:
                return h * S + s
    return -1


@nb.njit(**_JIT)
def update_counts(N, Nsas, rsum, Ns, states, actions, rewards):
    """Add one trajectory: ``N[h,s,a] += 1``, ``Nsas[h,s,a,s'] += 1``, ``rsum += r``,
    ``Ns[h, s] += 1`` (visits of state ``s`` at step ``h``)."""
    H = actions.shape[0]
    for h in range(H):
        s = states[h]
        a = actions[h]
        N[h, s, a] += 1.0
        Nsas[h, s, a, states[h + 1]] += 1.0
        rsum[h, s, a] += rewards[h]
        Ns[h, s] += 1.0


@nb.njit(**_JIT)
def optimistic_plan(N, Nsas, rsum, Ns, kind, scale, L, unvisited, Qprev, use_prev, Q, V):
    """Optimistic backward induction (UCBVI); writes ``Q (H, S, A)`` and ``V (H+1, S)``.

    ``kind``: 0 no bonus, 1 Hoeffding ``7 H L / sqrt(n)``, 2 Bernstein-Freedman
    ``sqrt(8 L Var / n) + 14 H L / (3 n) + sqrt(8 sum_y P(y) min(1e4 H^3 S^2 A L^2 / Ns', H^2)
    / n)``; the bonus is multiplied by ``scale``. ``Q`` is capped at ``H - h`` (the largest
    value from step ``h`` with rewards in [0, 1]) and, when ``use_prev``, at ``Qprev``.
    ``Q`` and ``Qprev`` may be the same array.
    """
    H, S, A = N.shape
    Hf = float(H)
    c3 = 1e4 * Hf**3 * S * S * A * L * L
    g = np.empty(S)
    v2 = np.empty(S)
    for j in range(S):
        V[H, j] = 0.0
    for h in range(H - 1, -1, -1):
        cap = Hf - h
        Vn = V[h + 1]
        if kind == 2:
            for j in range(S):
                v2[j] = Vn[j] * Vn[j]
                if h + 1 == H:
                    g[j] = 0.0  # V_H = 0 is known exactly: no correction at the last step
                elif Ns[h + 1, j] > 0.0:
                    g[j] = min(c3 / Ns[h + 1, j], Hf * Hf)
                else:
                    g[j] = Hf * Hf
        for s in range(S):
            best = -np.inf
            for a in range(A):
                n = N[h, s, a]
                if n <= 0.0:
                    q = unvisited[h]
                else:
                    inv = 1.0 / n
                    row = Nsas[h, s, a]
                    pv = 0.0
                    for j in range(S):
                        pv += row[j] * Vn[j]
                    pv *= inv
                    q = rsum[h, s, a] * inv + pv
                    if kind == 1:
                        q += scale * 7.0 * Hf * L * math.sqrt(inv)
                    elif kind == 2:
                        pv2 = 0.0
                        pg = 0.0
                        for j in range(S):
                            pv2 += row[j] * v2[j]
                            pg += row[j] * g[j]
                        var = max(pv2 * inv - pv * pv, 0.0)
                        b = (
                            math.sqrt(8.0 * L * var * inv)
                            + 14.0 * Hf * L * inv / 3.0
                            + math.sqrt(8.0 * pg * inv * inv)
                        )
                        q += scale * b
                    if q > cap:
                        q = cap
                if use_prev and Qprev[h, s, a] < q:
                    q = Qprev[h, s, a]
                Q[h, s, a] = q
                if q > best:
                    best = q
            V[h, s] = best


@nb.njit(**_JIT)
def greedy_onehot(Q, N, pi):
    """``pi[h, s] = e_{argmax_a Q[h, s, a]}``; ties go to the action with the fewest visits
    ``N[h, s, a]``, then to the lowest index.

    Visit counts break ties because optimistic values are clipped (at ``H - h``): early on many
    actions sit at the cap, and a lowest-index rule would then never try the others.
    """
    H, S, A = Q.shape
    for h in range(H):
        for s in range(S):
            best = 0
            for a in range(1, A):
                q = Q[h, s, a]
                qb = Q[h, s, best]
                if q > qb or (q == qb and N[h, s, a] < N[h, s, best]):
                    best = a
            for a in range(A):
                pi[h, s, a] = 0.0
            pi[h, s, best] = 1.0


@nb.njit(**_JIT)
def backward_induction(P, R, Q, V):
    """``Q_h = R_h + P_h V_{h+1}``, ``V_h = max_a Q_h``, ``V_H = 0`` for ``P (H, S, A, S)``."""
    H, S, A = R.shape
    for j in range(S):
        V[H, j] = 0.0
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -np.inf
            for a in range(A):
                q = R[h, s, a]
                if h + 1 < H:
                    for j in range(S):
                        q += P[h, s, a, j] * V[h + 1, j]
                Q[h, s, a] = q
                if q > best:
                    best = q
            V[h, s] = best


@nb.njit(**_JIT)
def qlearning_update(Q, V, N, states, actions, rewards, c, iota):
    """Q-learning with UCB-Hoeffding (Jin et al. 2018, Alg. 1) on one trajectory.

    ``t = N[h,s,a] += 1``, ``alpha_t = (H + 1) / (H + t)``, ``b_t = c sqrt(H^3 iota / t)``,
    ``Q[h,s,a] <- (1 - alpha_t) Q[h,s,a] + alpha_t (r + V[h+1, s'] + b_t)``,
    ``V[h, s] <- min(H, max_a Q[h, s, a])``; ``V (H+1, S)`` with ``V[H] = 0``.
    """
    H, S, A = Q.shape
    Hf = float(H)
    for h in range(H):
        s = states[h]
        a = actions[h]
        N[h, s, a] += 1.0
        t = N[h, s, a]
        alpha = (Hf + 1.0) / (Hf + t)
        b = c * math.sqrt(Hf**3 * iota / t)
        Q[h, s, a] = (1.0 - alpha) * Q[h, s, a] + alpha * (rewards[h] + V[h + 1, states[h + 1]] + b)
        m = Q[h, s, 0]
        for b2 in range(1, A):
            if Q[h, s, b2] > m:
                m = Q[h, s, b2]
        V[h, s] = min(Hf, m)


@nb.njit(**_JIT)
def _g_second_order(x):
    """``(e^x - 1 - x) / x^2`` (= ``int_0^1 (1 - t) e^{t x} dt``), stable near 0."""
    if x < 1e-4:
        return 0.5 + x / 6.0 + x * x / 24.0
    return (math.expm1(x) - x) / (x * x)


@nb.njit(**_JIT)
def soft_optimistic_plan(N, Nsas, rsum, Ns, beta, ref, logref, scale, c_hoef, c_l1, Qup, Qlo,
                         Vup, Vlo, pi, W, cost):
    """Upper/lower soft backward induction and the certified gap of UCBVI-Ent-style
    regularized best-policy identification (see :mod:`mdplab.learn.regularized`).

    Writes ``Qup, Qlo, pi (H, S, A)``, ``Vup, Vlo, W (H+1, S)``, ``cost (H, S)`` and returns
    the certified bound on ``J*_beta - J_beta(pi)`` from the empirical initial distribution.

    ``beta`` = 0: ``Vup = max Qup`` (greedy ``pi``, ties to the least visited action then the
    lowest index), ``Vlo = max Qlo``; ``beta > 0``: ``V = beta log sum_a ref e^{Q / beta}`` and
    ``pi = ref e^{(Qup - Vup) / beta}``. Bonuses (count ``n``, step ``h``, range ``H - h``):
    ``b = scale (H - h) sqrt((c_hoef + log(n (n + 1))) / (2 n))`` on ``Q``;
    ``l1(n) = scale sqrt(2 (S log 2 + c_l1 + log(n (n + 1))) / n)`` on the propagation of
    ``W``. ``ref (Hf, S, A)``, ``logref = log(ref)`` (``-inf`` off the support).
    """
    H, S, A = N.shape
    Hf = ref.shape[0]
    ln2S = S * math.log(2.0)
    for j in range(S):
        Vup[H, j] = 0.0
        Vlo[H, j] = 0.0
        W[H, j] = 0.0
    D = np.empty(A)
    for h in range(H - 1, -1, -1):
        hf = h if Hf > 1 else 0
        rng_h = float(H - h)
        Wn = W[h + 1]
        wmax = Wn[0]
        wmin = Wn[0]
        for j in range(1, S):
            if Wn[j] > wmax:
                wmax = Wn[j]
            if Wn[j] < wmin:
                wmin = Wn[j]
        half_osc = 0.5 * (wmax - wmin)
        for s in range(S):
            # --- upper and lower Q
            for a in range(A):
                n = N[h, s, a]
                if n <= 0.0:
                    Qup[h, s, a] = rng_h
                    Qlo[h, s, a] = 0.0
                    continue
                inv = 1.0 / n
                row = Nsas[h, s, a]
                pu = 0.0
                pl = 0.0
                for j in range(S):
                    pu += row[j] * Vup[h + 1, j]
                    pl += row[j] * Vlo[h + 1, j]
                rhat = rsum[h, s, a] * inv
                b = scale * rng_h * math.sqrt((c_hoef + math.log(n * (n + 1.0))) * 0.5 * inv)
                qu = rhat + pu * inv + b
                ql = rhat + pl * inv - b
                Qup[h, s, a] = qu if qu < rng_h else rng_h
                Qlo[h, s, a] = ql if ql > 0.0 else 0.0
            # --- values and policy
            if beta == 0.0:
                best = -1
                lo = -np.inf
                for a in range(A):
                    if ref[hf, s, a] <= 0.0:
                        continue
                    if Qlo[h, s, a] > lo:
                        lo = Qlo[h, s, a]
                    if best < 0:
                        best = a
                    else:
                        q = Qup[h, s, a]
                        qb = Qup[h, s, best]
                        if q > qb or (q == qb and N[h, s, a] < N[h, s, best]):
                            best = a
                for a in range(A):
                    pi[h, s, a] = 0.0
                pi[h, s, best] = 1.0
                Vup[h, s] = Qup[h, s, best]
                Vlo[h, s] = lo
            else:
                mu_ = -np.inf
                ml = -np.inf
                for a in range(A):
                    if ref[hf, s, a] > 0.0:
                        if Qup[h, s, a] > mu_:
                            mu_ = Qup[h, s, a]
                        if Qlo[h, s, a] > ml:
                            ml = Qlo[h, s, a]
                zu = 0.0
                zl = 0.0
                for a in range(A):
                    if ref[hf, s, a] > 0.0:
                        e = math.exp((Qup[h, s, a] - mu_) / beta + logref[hf, s, a])
                        pi[h, s, a] = e
                        zu += e
                        zl += math.exp((Qlo[h, s, a] - ml) / beta + logref[hf, s, a])
                    else:
                        pi[h, s, a] = 0.0
                for a in range(A):
                    pi[h, s, a] /= zu
                Vup[h, s] = mu_ + beta * math.log(zu)
                Vlo[h, s] = ml + beta * math.log(zl)
            # --- per-state cost: bound on the (regularized) suboptimality incurred at (h, s)
            first = 0.0
            sq = 0.0
            M = 0.0
            for a in range(A):
                p = pi[h, s, a]
                if ref[hf, s, a] <= 0.0:
                    continue
                d = Qup[h, s, a] - Qlo[h, s, a]
                if d < 0.0:
                    d = 0.0
                D[a] = d
                if d > M:
                    M = d
                first += p * d
                sq += p * d * d
            c = first
            if beta > 0.0:
                second = M * M / (8.0 * beta)
                third = sq * _g_second_order(M / beta) / beta
                if second < c:
                    c = second
                if third < c:
                    c = third
            cost[h, s] = c
            # --- optimistic evaluation of the expected cost under the true dynamics
            acc = 0.0
            for a in range(A):
                p = pi[h, s, a]
                if p <= 0.0:
                    continue
                n = N[h, s, a]
                if n <= 0.0:
                    term = wmax
                else:
                    inv = 1.0 / n
                    row = Nsas[h, s, a]
                    pw = 0.0
                    for j in range(S):
                        pw += row[j] * Wn[j]
                    l1 = scale * math.sqrt(2.0 * (ln2S + c_l1 + math.log(n * (n + 1.0))) * inv)
                    term = pw * inv + l1 * half_osc
                    if term > wmax:
                        term = wmax
                acc += p * term
            W[h, s] = c + acc
    # --- initial distribution: empirical, plus an L1 confidence term
    t = 0.0
    for j in range(S):
        t += Ns[0, j]
    w0max = W[0, 0]
    w0min = W[0, 0]
    for j in range(1, S):
        if W[0, j] > w0max:
            w0max = W[0, j]
        if W[0, j] < w0min:
            w0min = W[0, j]
    if t <= 0.0:
        return w0max
    g = 0.0
    for j in range(S):
        g += Ns[0, j] * W[0, j]
    g /= t
    g += scale * math.sqrt(2.0 * (ln2S + c_l1 + math.log(t * (t + 1.0))) / t) * 0.5 * (
        w0max - w0min)
    return g if g < w0max else w0max
