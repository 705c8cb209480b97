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
    K.bellman_csr(P.indptr, P.indices, P.data, R, ref, V, 0.9, beta, Q, out, np.zeros(0, np.int64))
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


def _random_csr(rng, S, A, conc=0.2, cut=0.02):
    dense = rng.dirichlet(np.full(S, conc), size=(S, A))
    dense[dense < cut] = 0.0
    dense /= dense.sum(-1, keepdims=True)
    return dense, sp.csr_array(dense.reshape(S * A, S))


@pytest.mark.parametrize("build", ["serial", "parallel"])
def test_bellman_csr_records_the_greedy_actions_of_policy_from_q(build):
    """Actions recorded during the sweep = argmax on ref's support, ties to the lowest index."""
    rng = np.random.default_rng(11)
    S, A = 60, 4
    dense, _ = _random_csr(rng, S, A)
    dense[:, 2] = dense[:, 1]  # actions 1 and 2 tie exactly wherever their rewards tie
    P = sp.csr_array(dense.reshape(S * A, S))
    R = rng.integers(0, 3, size=(S, A)).astype(float)
    R[:, 2] = R[:, 1]
    ref = _ref_with_zeros(rng, S, A)
    V = rng.normal(size=S)
    Q, out, actions = np.empty((S, A)), np.empty(S), np.full(S, -7, dtype=np.int64)
    getattr(K.bellman_csr, build)(P.indptr, P.indices, P.data, R, ref, V, 0.9, 0.0, Q, out,
                                  actions)
    Q_np = np.where(ref > 0, R + 0.9 * (dense @ V), -np.inf)
    np.testing.assert_array_equal(actions, np.argmax(Q_np, axis=1))  # numpy: first maximum
    assert np.any(Q_np[:, 1] == Q_np[:, 2])  # the tie case is exercised
    greedy, r_pi = np.empty(S, dtype=np.int64), np.empty(S)
    getattr(K.greedy_actions, build)(Q, ref, R, greedy, r_pi)
    np.testing.assert_array_equal(greedy, actions)
    np.testing.assert_array_equal(r_pi, R[np.arange(S), actions])
    # beta > 0 leaves the array untouched
    actions[:] = -7
    getattr(K.bellman_csr, build)(P.indptr, P.indices, P.data, R, ref, V, 0.9, 0.5, Q, out,
                                  actions)
    assert np.all(actions == -7)


@pytest.mark.parametrize("build", ["serial", "parallel"])
def test_action_sweeps_match_numpy_on_the_chosen_rows(build):
    rng = np.random.default_rng(12)
    S, A = 30, 3
    dense, P = _random_csr(rng, S, A)
    actions = rng.integers(A, size=S)
    P_pi = dense[np.arange(S), actions]
    r = rng.random(S)
    V0 = rng.normal(size=S)
    kern = getattr(K.action_sweeps_csr, build)
    for n in (1, 2, 7):  # odd and even numbers of sweeps (the buffers alternate)
        expected = V0.copy()
        for _ in range(n):
            expected = r + 0.8 * P_pi @ expected
        V = V0.copy()
        assert kern(P.indptr, P.indices, P.data, actions, r, V, 0.8, n, np.empty(S), 0.0) == n
        np.testing.assert_allclose(V, expected, rtol=1e-13, atol=1e-13)
    # adaptive stop, against the same rule computed with numpy
    W, k_expect = V0.copy(), 0
    for k in range(1, 60):
        new = r + 0.8 * P_pi @ W
        span = np.ptp(new - W)
        W, k_expect = new, k
        if span <= 0.02:
            break
    V = V0.copy()
    done = kern(P.indptr, P.indices, P.data, actions, r, V, 0.8, 59, np.empty(S), 0.02)
    assert done == k_expect and 1 < done < 59
    np.testing.assert_allclose(V, W, rtol=1e-13, atol=1e-13)


def test_select_rows_csr_parallel_copy_on_a_large_gather():
    """Above the parallel threshold the copy runs in parallel: same arrays as SciPy indexing."""
    rng = np.random.default_rng(13)
    S, A, k = 260_000, 2, 4  # 1 040 000 stored entries of P_pi: the copy is parallel
    cols = rng.integers(S, size=(S * A, k))
    P = sp.csr_array((rng.random(S * A * k), cols.ravel(), np.arange(0, S * A * k + 1, k)),
                     shape=(S * A, S))
    actions = rng.integers(A, size=S)
    ptr, ind, dat = K.select_rows_csr(P.indptr, P.indices, P.data, A, actions)
    assert ptr[-1] >= K.PARALLEL_MIN_WORK
    expected = P[np.arange(S) * A + actions]
    np.testing.assert_array_equal(ptr, expected.indptr)
    np.testing.assert_array_equal(ind, expected.indices)
    np.testing.assert_array_equal(dat, expected.data)
