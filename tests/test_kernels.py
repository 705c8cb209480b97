"""Every Numba kernel agrees with its plain-NumPy counterpart in mdplab.solvers.bellman."""

import mpmath
import numpy as np
import pytest
import scipy.sparse as sp

from mdplab.solvers import _kernels as K
from mdplab.solvers import bellman as B


def _ref_with_zeros(rng, S, A):
    ref = rng.random((S, A)) * (rng.random((S, A)) > 0.3)
    ref[:, 0] += 0.1  # every row keeps some support
    return ref / ref.sum(1, keepdims=True)


@pytest.mark.parametrize("beta", [0.0, 1e-8, 1e-3, 0.5, 10.0, 1e8])
def test_soft_max_rows_matches_numpy(beta):
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(50, 6)) * 10
    ref = _ref_with_zeros(rng, 50, 6)
    out = np.empty(50)
    K.soft_max_rows(Q, ref, beta, out)
    np.testing.assert_allclose(out, B.soft_max(Q, beta, ref), rtol=1e-14, atol=1e-12)


@pytest.mark.parametrize("beta", [1e-8, 1.0, 1e8])
def test_soft_max_against_high_precision(beta):
    """Independent check with 50-digit arithmetic; rewards up to 1e6 in magnitude."""
    rng = np.random.default_rng(1)
    Q = rng.uniform(-1e6, 1e6, size=(8, 4))
    ref = _ref_with_zeros(rng, 8, 4)
    out = np.empty(8)
    K.soft_max_rows(Q, ref, beta, out)
    mpmath.mp.dps = 60
    for s in range(8):
        z = mpmath.fsum(
            mpmath.mpf(ref[s, a]) * mpmath.exp(mpmath.mpf(Q[s, a]) / beta) for a in range(4)
        )
        zref = mpmath.fsum(mpmath.mpf(ref[s, a]) for a in range(4))  # normalised reference
        exact = float(beta * mpmath.log(z / zref))
        assert out[s] == pytest.approx(exact, rel=1e-14, abs=1e-9 * max(1.0, beta * 1e-8))


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_bellman_csr_and_policy_kernels(beta):
    rng = np.random.default_rng(2)
    S, A = 40, 3
    dense = rng.dirichlet(np.ones(S) * 0.2, size=(S, A))
    dense[dense < 0.02] = 0.0
    dense /= dense.sum(-1, keepdims=True)
    P = sp.csr_array(dense.reshape(S * A, S))
    R = rng.random((S, A))
    ref = _ref_with_zeros(rng, S, A)
    V = rng.normal(size=S)
    Q = np.empty((S, A))
    out = np.empty(S)
    K.bellman_csr(P.indptr, P.indices, P.data, R, ref, V, 0.9, beta, Q, out)
    Q_np = R + 0.9 * (dense @ V)
    np.testing.assert_allclose(Q, Q_np, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(out, B.soft_max(Q_np, beta, ref), rtol=1e-14, atol=1e-14)

    pi = np.empty((S, A))
    K.policy_from_q(Q, out, ref, beta, pi)
    np.testing.assert_allclose(pi, B.softmax_policy(Q_np, out, beta, ref), atol=1e-14)
    assert np.all(pi[ref == 0] == 0.0)

    r_pi = np.empty(S)
    K.policy_reward_rows(R, pi, ref, np.zeros(S), beta, r_pi)
    np.testing.assert_allclose(r_pi, B.policy_reward(R, pi, beta, ref), rtol=1e-13, atol=1e-13)

    backed = np.empty(S)
    K.policy_backup_csr(P.indptr, P.indices, P.data, r_pi, pi, V, 0.9, backed)
    P_pi = np.einsum("sa,sat->st", pi, dense)
    np.testing.assert_allclose(backed, r_pi + 0.9 * P_pi @ V, rtol=1e-13, atol=1e-13)


def test_greedy_ties_go_to_lowest_index_within_support():
    Q = np.array([[1.0, 1.0, 0.0], [5.0, 1.0, 1.0]])
    ref = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    pi = np.empty_like(Q)
    K.policy_from_q(Q, np.zeros(2), ref, 0.0, pi)
    np.testing.assert_array_equal(pi, [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(B.greedy_policy(Q, ref), pi)


@pytest.mark.parametrize("beta", [0.0, 0.4])
@pytest.mark.parametrize("forward", [True, False])
def test_gauss_seidel_sweep_matches_plain_loop(beta, forward):
    rng = np.random.default_rng(5)
    S, A = 30, 3
    dense = rng.dirichlet(np.ones(S), size=(S, A))
    P = sp.csr_array(dense.reshape(S * A, S))
    R, ref, V = rng.random((S, A)), _ref_with_zeros(rng, S, A), rng.normal(size=S)
    expected = V.copy()
    for s in range(S) if forward else range(S - 1, -1, -1):
        q = R[s] + 0.9 * dense[s] @ expected
        expected[s] = B.soft_max(q[None, :], beta, ref[s][None, :])[0]
    got = V.copy()
    change = K.gauss_seidel_csr(
        P.indptr, P.indices, P.data, R, ref, got, 0.9, beta, forward, np.empty((1, A))
    )
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    assert change == pytest.approx(np.max(np.abs(expected - V)), rel=1e-12)


def test_policy_sweeps_match_repeated_numpy_backups():
    rng = np.random.default_rng(6)
    S, A = 25, 2
    dense = rng.dirichlet(np.ones(S), size=(S, A))
    P = sp.csr_array(dense.reshape(S * A, S))
    pi = rng.dirichlet(np.ones(A), size=S)
    r = rng.random(S)
    V = rng.normal(size=S)
    P_pi = np.einsum("sa,sat->st", pi, dense)
    expected = V.copy()
    for _ in range(7):
        expected = r + 0.8 * P_pi @ expected
    V_start = V.copy()
    assert K.policy_sweeps_csr(P.indptr, P.indices, P.data, r, pi, V, 0.8, 7, np.empty(S),
                               0.0) == 7
    np.testing.assert_allclose(V, expected, rtol=1e-13, atol=1e-13)
    # adaptive: stop at the first sweep whose increment has a span <= stop_span
    stop = 0.05
    W, k_expect = V_start.copy(), 0
    for k in range(1, 50):
        new = r + 0.8 * P_pi @ W
        span = np.ptp(new - W)
        W, k_expect = new, k
        if span <= stop:
            break
    V2 = V_start.copy()
    done = K.policy_sweeps_csr(P.indptr, P.indices, P.data, r, pi, V2, 0.8, 49, np.empty(S), stop)
    assert done == k_expect and 1 < done < 49
    np.testing.assert_allclose(V2, W, rtol=1e-13, atol=1e-13)


def test_select_rows_csr_matches_scipy_row_indexing():
    rng = np.random.default_rng(4)
    S, A = 40, 3
    dense = rng.dirichlet(np.full(S, 0.2), size=(S, A))
    dense[dense < 0.02] = 0.0
    dense /= dense.sum(-1, keepdims=True)
    P = sp.csr_array(dense.reshape(S * A, S))
    actions = rng.integers(A, size=S)
    ptr, ind, dat = K.select_rows_csr(P.indptr, P.indices, P.data, A, actions)
    got = sp.csr_array((dat, ind, ptr), shape=(S, S)).toarray()
    np.testing.assert_array_equal(got, P[np.arange(S) * A + actions].toarray())
