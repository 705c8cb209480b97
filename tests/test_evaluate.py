"""Policy evaluation, occupancy measures and KL divergence against independent computations."""

import numpy as np
import pytest

import mdplab as ml
from tests.conftest import make_random_mdp


def test_evaluate_matches_monte_carlo_free_truncated_series():
    """V^pi = sum_t gamma^t P_pi^t r_pi, summed explicitly to 1e-13."""
    m = make_random_mdp(6, 3, rng=0, gamma=0.8)
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(3), size=6)
    ref = rng.dirichlet(np.ones(3), size=6)
    beta = 0.7
    r = (pi * m.R).sum(1) - beta * (pi * np.log(pi / ref)).sum(1)
    P_pi = np.einsum("sa,sat->st", pi, m.P)
    V, term = np.zeros(6), r.copy()
    for _ in range(200):
        V += term
        term = m.gamma * P_pi @ term
    pv = ml.evaluate(m, pi, beta=beta, ref=ref)
    np.testing.assert_allclose(pv.V, V, atol=1e-12)
    np.testing.assert_allclose(pv.Q, m.R + m.gamma * m.P @ V, atol=1e-12)
    assert pv.J == pytest.approx(m.mu @ V, abs=1e-12)


def test_evaluate_sparse_large_uses_iterative_solver_accurately():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    S, A, k = 5000, 2, 4
    rows = np.repeat(np.arange(S * A), k)
    cols = rng.integers(0, S, size=S * A * k)
    P = sp.csr_array((np.full(S * A * k, 1.0 / k), (rows, cols)), shape=(S * A, S))
    m = ml.TabularMDP(P, rng.random((S, A)), gamma=0.95)
    pi = rng.dirichlet(np.ones(A), size=S)
    V = ml.evaluate(m, pi).V
    P_pi = sp.csr_array(P.multiply(pi.reshape(-1, 1)))
    P_pi = sp.csr_array(sp.kron(sp.identity(S), np.ones((1, A))) @ P_pi)
    resid = (pi * m.R).sum(1) + 0.95 * (P_pi @ V) - V
    assert np.max(np.abs(resid)) <= 1e-10


def test_evaluate_leaving_reference_support_is_minus_infinity():
    m = make_random_mdp(3, 2, rng=0, gamma=0.9)
    ref = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    pi = np.array([[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    pv = ml.evaluate(m, pi, beta=0.1, ref=ref)
    assert pv.V[0] == -np.inf and pv.J == -np.inf
    assert ml.evaluate(m, pi, beta=0.0, ref=ref).J > -np.inf


def test_finite_horizon_evaluation_by_enumeration():
    S, A, H = 2, 2, 3
    m = make_random_mdp(S, A, rng=3, horizon=H, time_varying=True)
    pi = np.random.default_rng(0).dirichlet(np.ones(A), size=(H, S))
    total = 0.0  # sum over all trajectories of prob * return
    for s0 in range(S):
        stack = [(0, s0, m.mu[s0], 0.0)]
        while stack:
            h, s, p, ret = stack.pop()
            if h == H:
                total += p * ret
                continue
            for a in range(A):
                for s2 in range(S):
                    stack.append(
                        (h + 1, s2, p * pi[h, s, a] * m.P[h, s, a, s2], ret + m.R[h, s, a])
                    )
    assert ml.evaluate(m, pi).J == pytest.approx(total, abs=1e-12)


def test_kl_divergence_edge_cases():
    assert ml.kl_divergence([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert ml.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert ml.kl_divergence([0.0, 1.0], [1.0, 0.0]) == np.inf
    assert ml.kl_divergence([0.0, 1.0], [0.0, 1.0]) == 0.0
    np.testing.assert_allclose(
        ml.kl_divergence(np.array([[0.2, 0.8], [1, 0]]), np.array([0.5, 0.5]), axis=-1),
        [0.2 * np.log(0.4) + 0.8 * np.log(1.6), np.log(2)],
    )
    with pytest.raises(ValueError, match="non-negative"):
        ml.kl_divergence([-0.1, 1.1], [0.5, 0.5])
