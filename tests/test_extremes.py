"""Numerical extremes (issue 12): temperatures from 1e-8 to 1e8, rewards up to 1e6 in
magnitude, gamma up to 0.9999, horizons up to 1000, one state or one action, references with
zeros, best-of-n with up to 1e6 draws and masses down to 1e-300. Every result must be finite
and agree with a high-precision reference (mpmath at 60 digits, on small instances) to the
stated tolerance.

Tolerances: soft and hard discounted values to a relative 1e-9 of max|V| (the solver's
certificate is tol=1e-10 absolute on values scaled by R / (1 - gamma)); finite-horizon values to
a relative 1e-12; best-of-n quantities to a relative 1e-10.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest

import mdplab as ml

DPS = 60


# ----------------------------------------------------------------------------- references
def mp_soft_backup(P, R, gamma, beta, ref, V):
    """T_beta V in mpmath; beta = 0 is the hard max over the support of ref."""
    S, A = len(R), len(R[0])
    out = []
    for s in range(S):
        q = [R[s][a] + gamma * mp.fsum(P[s][a][t] * V[t] for t in range(S)) for a in range(A)]
        support = [a for a in range(A) if ref[s][a] > 0]
        if beta == 0:
            out.append(max(q[a] for a in support))
        else:
            m = max(q[a] for a in support)
            out.append(m + beta * mp.log(mp.fsum(ref[s][a] * mp.exp((q[a] - m) / beta)
                                                 for a in support)))
    return out


def mp_discounted_fixed_point(mdp, beta, ref, V0):
    """Newton's method on V = T_beta V (soft policy iteration), from the float solution.

    Each step evaluates the current soft-greedy policy exactly (a linear solve at 60 digits),
    so it converges quadratically and its answer does not depend on mdplab's code.
    """
    with mp.workdps(DPS):
        S, A = mdp.S, mdp.A
        P = [[[mp.mpf(float(x)) for x in mdp.P[s, a]] for a in range(A)] for s in range(S)]
        R = [[mp.mpf(float(x)) for x in mdp.R[s]] for s in range(S)]
        rf = _normalized_rows(ref)  # the float rows sum to 1 only to rounding: beta * log
        g = mp.mpf(mdp.gamma)          # of that sum would be an error of beta * 1e-16
        b = mp.mpf(beta)
        V = [mp.mpf(float(v)) for v in V0]
        for _ in range(60):
            # policy: soft-greedy (or greedy) w.r.t. Q(V); evaluate it exactly
            pis, rs = [], []
            for s in range(S):
                q = [R[s][a] + g * mp.fsum(P[s][a][t] * V[t] for t in range(S))
                     for a in range(A)]
                sup = [a for a in range(A) if rf[s][a] > 0]
                m = max(q[a] for a in sup)
                if beta == 0:
                    best = max(sup, key=lambda a, q=q: q[a])
                    pi = [mp.mpf(1) if a == best else mp.mpf(0) for a in range(A)]
                    kl = mp.mpf(0)
                else:
                    w = [rf[s][a] * mp.exp((q[a] - m) / b) if a in sup else mp.mpf(0)
                         for a in range(A)]
                    z = mp.fsum(w)
                    pi = [x / z for x in w]
                    kl = mp.fsum(pi[a] * mp.log(pi[a] / rf[s][a]) for a in sup if pi[a] > 0)
                pis.append(pi)
                rs.append(mp.fsum(pi[a] * R[s][a] for a in range(A)) - b * kl)
            M = mp.matrix(S, S)
            for s in range(S):
                for t in range(S):
                    M[s, t] = (1 if s == t else 0) - g * mp.fsum(
                        pis[s][a] * P[s][a][t] for a in range(A))
            newV = mp.lu_solve(M, mp.matrix(rs))
            newV = [newV[i] for i in range(S)]
            if max(abs(newV[i] - V[i]) for i in range(S)) < mp.mpf(10) ** (-(DPS - 10)):
                V = newV
                break
            V = newV
        return np.array([float(v) for v in V])


def _normalized_rows(ref):
    """Rows of ``ref`` in mpmath, renormalised exactly (call inside mp.workdps)."""
    rows = [[mp.mpf(float(x)) for x in row] for row in ref]
    return [[x / mp.fsum(row) for x in row] for row in rows]


def small_mdp(S, A, gamma, scale, seed, zeros_in_ref=False):
    rng = np.random.default_rng(seed)
    mdp = ml.envs.random_mdp(S, A, gamma=gamma, rng=rng)
    mdp = mdp.with_(R=np.asarray(mdp.R) * scale)
    ref = rng.dirichlet(np.ones(A), size=S)
    if zeros_in_ref and A > 1:
        ref[:, 0] = 0.0
        ref /= ref.sum(1, keepdims=True)
    return mdp, ref


# ----------------------------------------------------------------------------- solvers
@pytest.mark.parametrize("beta", [0.0, 1e-8, 1e-2, 1.0, 1e3, 1e8])
@pytest.mark.parametrize("scale", [1.0, 1e6])
@pytest.mark.parametrize("gamma", [0.5, 0.99, 0.9999])
def test_discounted_solve_matches_mpmath(beta, scale, gamma):
    mdp, ref = small_mdp(3, 2, gamma, scale, seed=7, zeros_in_ref=(beta == 1.0))
    sol = ml.solve(mdp, beta=beta, ref=ref, tol=1e-10 * scale / (1 - gamma))
    assert sol.converged and np.all(np.isfinite(sol.V)) and np.all(np.isfinite(sol.policy))
    V_ref = mp_discounted_fixed_point(mdp, beta, ref, sol.V)
    scale_v = max(1.0, np.max(np.abs(V_ref)))
    assert np.max(np.abs(sol.V - V_ref)) <= 1e-9 * scale_v
    assert np.all(sol.policy[ref == 0] == 0.0)  # actions the reference never takes


@pytest.mark.parametrize("method", ["vi", "pi", "mpi", "gs"])
def test_every_method_at_gamma_0_9999(method):
    mdp, ref = small_mdp(4, 3, 0.9999, 1.0, seed=3)
    model = mdp.sparse() if method == "gs" else mdp  # Gauss-Seidel runs on the CSR form
    sol = ml.solve(model, beta=0.1, ref=ref, method=method, tol=1e-6)
    V_ref = mp_discounted_fixed_point(mdp, 0.1, ref, sol.V)
    assert sol.converged and np.max(np.abs(sol.V - V_ref)) <= 1e-6


@pytest.mark.parametrize("beta", [0.0, 1e-8, 1.0, 1e8])
def test_finite_horizon_1000_matches_mpmath(beta):
    H = 1000
    rng = np.random.default_rng(11)
    base = ml.envs.random_mdp(2, 2, gamma=0.9, rng=rng)
    mdp = ml.TabularMDP(np.asarray(base.P), np.asarray(base.R) * 1e3, horizon=H)
    ref = np.array([[0.3, 0.7], [0.5, 0.5]])
    sol = ml.solve(mdp, beta=beta, ref=ref)
    with mp.workdps(DPS):
        P = [[[mp.mpf(float(x)) for x in mdp.P[s, a]] for a in range(2)] for s in range(2)]
        R = [[mp.mpf(float(x)) for x in mdp.R[s]] for s in range(2)]
        rf = _normalized_rows(ref)
        V = [mp.mpf(0), mp.mpf(0)]
        for _ in range(H):
            V = mp_soft_backup(P, R, 1, mp.mpf(beta), rf, V)
        V_ref = np.array([float(v) for v in V])
    V0 = sol.V[0] if sol.V.ndim == 2 else sol.V
    assert np.all(np.isfinite(sol.V))
    np.testing.assert_allclose(V0, V_ref, rtol=1e-12)


def test_one_state_one_action_and_bandit_closed_form():
    one = ml.TabularMDP(np.ones((1, 1, 1)), np.array([[2.5]]), gamma=0.9999)
    for beta in (0.0, 1e-8, 1e8):
        sol = ml.solve(one, beta=beta, tol=1e-6)  # V = 25000: 1e-10 is below float64
        assert sol.V[0] == pytest.approx(2.5 / 1e-4, rel=1e-9)
        np.testing.assert_array_equal(sol.policy, [[1.0]])
    # one state, three actions: V = beta log E_ref e^{r/beta} / (1 - gamma)
    r = np.array([[1e6, -1e6, 3.0]])
    ref = np.array([[0.2, 0.3, 0.5]])
    bandit = ml.TabularMDP(np.ones((1, 3, 1)), r, gamma=0.9)
    for beta in (1e-8, 1.0, 1e8):
        sol = ml.solve(bandit, beta=beta, ref=ref, tol=1e-6)
        with mp.workdps(DPS):
            b = mp.mpf(beta)
            lse = b * mp.log(mp.fsum(p * mp.exp(mp.mpf(x) / b)
                                     for p, x in zip(_normalized_rows(ref)[0], r[0],
                                                     strict=True)))
            expect = float(lse / (1 - mp.mpf(0.9)))
        assert sol.V[0] == pytest.approx(expect, rel=1e-9)


def test_evaluate_extremes_match_a_linear_solve():
    mdp, ref = small_mdp(3, 2, 0.9999, 1e6, seed=5)
    pi = ref
    for beta in (0.0, 1e-8, 1e8):
        pv = ml.evaluate(mdp, pi, beta=beta, ref=ref)
        Ppi = np.einsum("sa,sat->st", pi, np.asarray(mdp.P))
        rpi = (pi * np.asarray(mdp.R)).sum(1)
        with mp.workdps(DPS):
            M = mp.matrix([[(1 if s == t else 0) - 0.9999 * mp.mpf(float(Ppi[s, t]))
                            for t in range(3)] for s in range(3)])
            v = mp.lu_solve(M, mp.matrix([mp.mpf(float(x)) for x in rpi]))
            expect = np.array([float(v[i]) for i in range(3)])
        # pi = ref, so the KL term is zero for every beta
        np.testing.assert_allclose(pv.V, expect, rtol=1e-9)


# ----------------------------------------------------------------------------- best-of-n
def mp_bon_kl_levels(q, n):
    with mp.workdps(400):
        q = [mp.mpf(x) for x in q]
        tot = mp.fsum(q)
        q = [x / tot for x in q]
        F, out = mp.mpf(0), mp.mpf(0)
        for qi in q:
            Fm, F = F, F + qi
            pi = F**n - Fm**n
            if pi > 0:
                out += pi * mp.log(pi / qi)
        return out


@pytest.mark.parametrize("n", [1e3, 1e6, 1e12])
def test_bon_with_many_draws_and_tiny_masses(n):
    q = np.array([0.999999, 1e-6 - 2e-300, 1e-300, 1e-300])
    r = np.arange(4.0)
    pmf = ml.bon.pmf(q, r, n)
    assert np.all(np.isfinite(pmf)) and pmf.sum() == pytest.approx(1.0, abs=1e-14)
    assert ml.bon.kl(q, r, n) == pytest.approx(float(mp_bon_kl_levels(q, mp.mpf(n))), rel=1e-10)
    assert ml.bon.win_rate(q, r, n) <= ml.bon.win_rate_bound(n) + 1e-15


@pytest.mark.parametrize("beta", [1e-8, 1e-3, 1.0, 1e4, 1e8])
def test_tilt_at_extreme_temperatures_and_rewards(beta):
    p = np.array([1e-300, 0.25, 0.25, 0.5 - 1e-300, 0.0])
    r = np.array([1e6, -1e6, 0.0, 1.0, 5e5])
    phi = ml.bon.tilt(p, r, beta)
    kl = ml.bon.tilt_kl(p, r, beta)
    assert np.all(np.isfinite(phi)) and np.isfinite(kl) and phi[4] == 0.0
    with mp.workdps(DPS):
        pm = [mp.mpf(x) for x in p]
        s = mp.fsum(pm)
        pm = [x / s for x in pm]
        w = [x * mp.exp(mp.mpf(ri) / beta) for x, ri in zip(pm, r, strict=True)]
        z = mp.fsum(w)
        kl_ref = mp.fsum((x / z) * mp.log((x / z) / pi) for x, pi in zip(w, pm, strict=True)
                         if x > 0)
    assert kl == pytest.approx(float(kl_ref), rel=1e-9, abs=1e-300)


def test_rate_function_at_the_support_edges():
    p = np.array([1e-300, 1 - 2e-300, 1e-300])
    r = np.array([-1.0, 0.0, 1.0])
    assert ml.bon.rate_function(p, r, 1.0) == pytest.approx(300 * np.log(10), rel=1e-12)
    assert ml.bon.rate_function(p, r, 0.0) == 0.0 or ml.bon.rate_function(p, r, 0.0) < 1e-290
    vals = ml.bon.rate_function(p, r, np.linspace(-0.999, 0.999, 21))
    assert np.all(np.isfinite(vals)) and np.all(vals >= 0)


# ----------------------------------------------------------------------------- determinism
def test_dense_and_sparse_representations_agree():
    """Same model, dense and CSR: policy iteration (exact evaluation) gives values equal to
    a relative 1e-12 and the same policy."""
    for beta, gamma in itertools.product((0.0, 0.1), (0.9, 0.999)):
        mdp, ref = small_mdp(30, 4, gamma, 1.0, seed=2)
        dense = ml.solve(mdp, beta=beta, ref=ref, method="pi", tol=1e-8)
        sparse = ml.solve(mdp.sparse(), beta=beta, ref=ref, method="pi", tol=1e-8)
        assert np.max(np.abs(dense.V - sparse.V)) <= 1e-12 * max(1, np.max(np.abs(dense.V)))
        np.testing.assert_allclose(dense.policy, sparse.policy, atol=1e-12)


def test_same_seed_bit_identical():
    a = ml.envs.random_mdp(50, 3, gamma=0.95, sparsity=5, rng=123)
    b = ml.envs.random_mdp(50, 3, gamma=0.95, sparsity=5, rng=123)
    sa, sb = ml.solve(a, beta=0.2), ml.solve(b, beta=0.2)
    assert np.array_equal(sa.V, sb.V) and np.array_equal(sa.policy, sb.policy)
