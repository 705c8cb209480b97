"""Property-based tests (hypothesis) of the solvers on random small models."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import mdplab as ml
from tests.conftest import make_random_mdp

models = st.builds(
    make_random_mdp,
    S=st.integers(1, 6),
    A=st.integers(1, 4),
    rng=st.integers(0, 2**32 - 1),
    gamma=st.sampled_from([0.0, 0.5, 0.9, 0.97]),
    sparse=st.booleans(),
)
betas = st.sampled_from([0.0, 1e-3, 0.1, 1.0, 10.0])


@given(models, betas, st.integers(0, 2**32 - 1))
def test_value_is_monotone_in_rewards(m, beta, seed):
    bump = np.random.default_rng(seed).random((m.S, m.A))
    V = ml.solve(m, beta=beta).V
    V_more = ml.solve(m.with_(R=m.R + bump), beta=beta).V
    assert np.all(V_more >= V - 1e-9)
    # adding a constant c to every reward adds c / (1 - gamma) to every value
    V_shift = ml.solve(m.with_(R=m.R + 2.0), beta=beta).V
    np.testing.assert_allclose(V_shift, V + 2.0 / (1 - m.gamma), atol=1e-8)


@given(models)
def test_soft_value_decreases_with_beta(m):
    values = [ml.solve(m, beta=b).V for b in (0.0, 0.01, 0.1, 1.0, 10.0)]
    for hi, lo in zip(values, values[1:], strict=False):
        assert np.all(lo <= hi + 1e-9)


@given(models, betas, st.integers(0, 2**32 - 1))
def test_optimal_policy_beats_random_policies(m, beta, seed):
    rng = np.random.default_rng(seed)
    sol = ml.solve(m, beta=beta)
    J_star = ml.evaluate(m, sol.policy, beta=beta).J
    assert abs(J_star - m.mu @ sol.V) <= 1e-8
    for _ in range(5):
        pi = rng.dirichlet(np.ones(m.A), size=m.S)
        assert ml.evaluate(m, pi, beta=beta).J <= J_star + 1e-9


@given(models, betas)
def test_solution_is_a_fixed_point_of_the_soft_bellman_operator(m, beta):
    sol = ml.solve(m, beta=beta)
    TV, Q = ml.bellman_operator(m, sol.V, beta=beta)
    assert np.max(np.abs(TV - sol.V)) <= 1e-9
    np.testing.assert_allclose(Q, sol.Q, atol=1e-9)
    if beta > 0:  # closed form pi* = ref exp((Q - V)/beta) with uniform ref
        np.testing.assert_allclose(sol.policy, np.exp((Q - sol.V[:, None]) / beta) / m.A, atol=1e-8)


@given(models, st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_occupancy_sums_and_gives_the_value(m, seed, H):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(m.A), size=m.S)
    d = ml.occupancy(m, pi)
    assert d.shape == (m.S, m.A) and np.all(d >= 0)
    assert abs(d.sum() - 1 / (1 - m.gamma)) <= 1e-9 / (1 - m.gamma)
    # J = <d, R> computed two ways (flow of states forward vs values backward)
    assert abs((d * m.R).sum() - ml.evaluate(m, pi).J) <= 1e-9 / (1 - m.gamma)
    f = m.with_(horizon=H)
    dh = ml.occupancy(f, pi)
    assert dh.shape == (H, m.S, m.A) and abs(dh.sum() - H) <= 1e-9
    assert abs((dh * m.R).sum() - ml.evaluate(f, pi).J) <= 1e-9
