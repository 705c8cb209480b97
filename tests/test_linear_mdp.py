"""LinearMDP: validation, conversion to TabularMDP, generators' invariants."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import mdplab as ml
from mdplab.envs.linear import hard_linear_mdp, random_linear_mdp, tabular_as_linear
from mdplab.linear_mdp import LinearMDP


def test_to_tabular_matches_direct_construction():
    rng = np.random.default_rng(0)
    S, A, d, H = 5, 3, 4, 3
    phi = rng.dirichlet(np.ones(d), size=(S, A))
    psi = rng.dirichlet(np.ones(S), size=(H, d))
    theta = rng.random((H, d))
    lin = LinearMDP(phi, psi, theta, H)
    P = np.zeros((H, S, A, S))
    R = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            for a in range(A):
                for t in range(S):
                    P[h, s, a, t] = sum(phi[s, a, i] * psi[h, i, t] for i in range(d))
                R[h, s, a] = sum(phi[s, a, i] * theta[h, i] for i in range(d))
    direct = ml.TabularMDP(P, R, horizon=H)
    tab = lin.to_tabular()
    np.testing.assert_allclose(tab.P, direct.P, atol=1e-15)
    np.testing.assert_allclose(tab.R, direct.R, atol=1e-15)
    np.testing.assert_allclose(ml.solve(tab).V, ml.solve(direct).V, atol=1e-12)
    for h in range(H):
        np.testing.assert_allclose(lin.transitions(h), direct.transitions(h), atol=1e-15)
        np.testing.assert_allclose(lin.rewards(h), direct.rewards(h), atol=1e-15)


def test_stationary_parameters_broadcast():
    rng = np.random.default_rng(1)
    phi = rng.dirichlet(np.ones(2), size=(3, 2))
    psi = rng.dirichlet(np.ones(3), size=2)
    lin = LinearMDP(phi, psi, [0.2, 0.9], 4, mu=[1.0, 0.0, 0.0])
    tab = lin.to_tabular()
    assert tab.P.shape == (3, 2, 3) and tab.R.shape == (3, 2) and tab.H == 4
    np.testing.assert_array_equal(tab.mu, [1.0, 0.0, 0.0])


def test_one_hot_linear_mdp_equals_tabular_model():
    for tab in (ml.envs.random_mdp(4, 3, horizon=5, time_varying=True, rng=3),
                ml.envs.random_mdp(4, 2, horizon=3, rng=4),
                ml.envs.riverswim(5, horizon=6)):
        lin = tabular_as_linear(tab)
        assert lin.d == tab.S * tab.A
        back = lin.to_tabular()
        P = np.asarray(tab.dense().P)
        np.testing.assert_array_equal(np.broadcast_to(back.P, np.broadcast_shapes(
            back.P.shape, P.shape)), np.broadcast_to(P, np.broadcast_shapes(back.P.shape,
                                                                           P.shape)))
        np.testing.assert_allclose(ml.solve(back).V, ml.solve(tab).V, atol=1e-13)


def test_random_linear_mdp_invariants():
    lin = random_linear_mdp(30, 4, 5, horizon=3, rng=0)
    P = lin.P
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, atol=1e-12)
    assert P.min() >= 0
    for h in range(3):
        assert np.linalg.matrix_rank(lin.transitions(h), tol=1e-10) <= 5
    R = lin.R
    assert R.min() >= 0 and R.max() <= 1
    norms = lin.norms()
    assert norms["satisfied"]
    assert norms["mu"] == pytest.approx(np.sqrt(5))
    assert random_linear_mdp(30, 4, 5, horizon=3, rng=0).phi.tobytes() == lin.phi.tobytes()


def test_hard_instance_optimum_in_closed_form():
    """V*(wait, h) = (p0 + gap) (H - h - 1) + (1 - p0 - gap) V*(wait, h+1) ... by induction:
    the best action reaches the goal with p0 + gap; the goal pays 1 per remaining step."""
    H, gap, p0 = 5, 0.15, 0.4
    lin = hard_linear_mdp(5, H, gap=gap, p0=p0, rng=2)
    assert lin.A == 8
    tab = lin.to_tabular()
    sol = ml.solve(tab)
    V = np.zeros(H + 1)
    for h in range(H - 1, -1, -1):
        p = p0 + gap
        V[h] = p * (H - h - 1) + (1 - p) * V[h + 1]
    np.testing.assert_allclose(sol.V[:, 0], V, atol=1e-12)
    probs = tab.P[:, 0, :, 1]
    np.testing.assert_allclose(probs.max(axis=1), p0 + gap, atol=1e-12)
    np.testing.assert_allclose(probs.min(axis=1), p0 - gap, atol=1e-12)


def test_immutable_and_picklable():
    lin = random_linear_mdp(4, 2, 2, horizon=2, rng=0)
    with pytest.raises(AttributeError):
        lin.phi = None
    with pytest.raises(ValueError):
        lin.phi[0, 0, 0] = 1.0
    again = pickle.loads(pickle.dumps(lin))
    np.testing.assert_array_equal(again.P, lin.P)
    assert "d=2" in repr(lin)


def test_bad_input_names_the_cause():
    phi = np.full((2, 2, 2), 0.5)
    psi = np.array([[0.5, 0.5], [0.2, 0.8]])
    LinearMDP(phi, psi, [0.0, 1.0], 2)
    bad = phi.copy()
    bad[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"phi\[1, 0, 1\] is nan"):
        LinearMDP(bad, psi, [0.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"mu_feat\[0, 1\] is inf"):
        LinearMDP(phi, np.array([[0.5, np.inf], [0.2, 0.8]]), [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="phi has shape"):
        LinearMDP(np.ones((2, 2)), psi, [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="mu_feat has shape"):
        LinearMDP(phi, np.ones((3, 2)) / 2, [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="theta has shape"):
        LinearMDP(phi, psi, [0.0, 1.0, 2.0], 2)
    with pytest.raises(ValueError, match="sums to 1.1"):
        LinearMDP(phi, np.array([[0.5, 0.5], [0.2, 1.0]]), [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="is negative"):
        LinearMDP(np.array([[[1.0, 0.0]], [[3.0, -2.0]]]),
                  np.array([[0.5, 0.5], [0.9, 0.1]]), [0.0, 1.0], 2)
    with pytest.raises(TypeError, match="horizon"):
        LinearMDP(phi, psi, [0.0, 1.0], 2.5)
    with pytest.raises(ValueError, match="mu must be a distribution"):
        LinearMDP(phi, psi, [0.0, 1.0], 2, mu=[0.5, 0.6])
    with pytest.raises(TypeError, match="complex"):
        LinearMDP(phi.astype(complex), psi, [0.0, 1.0], 2)
    with pytest.raises(ValueError, match="discounted"):
        tabular_as_linear(ml.envs.random_mdp(2, 2, rng=0))
    with pytest.raises(ValueError, match="gap"):
        hard_linear_mdp(4, 3, gap=0.6)
