"""Tests of mdplab.learn.offline_linear (linear PEVI and linear PRDC).

Cross-checks use independent code: ridge regression against ``numpy.linalg.lstsq`` on the
augmented least-squares system; with one-hot features (a tabular MDP written as a linear MDP) and
a vanishing ridge, the least-squares backups against a backward induction on counts written here
and against the tabular plug-in of :mod:`mdplab.learn.offline`; the one-hot penalty against its
closed form beta / sqrt(n + lambda); pessimism and the bounds against exact values
(``mdplab.evaluate``, ``mdplab.solve``) of the returned policy on many seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

import mdplab as ml
from mdplab.envs.linear import random_linear_mdp, tabular_as_linear
from mdplab.learn import offline as off
from mdplab.learn import offline_linear as ol


def _linear_instance(seed, S=10, A=3, d=3, H=3):
    lin = random_linear_mdp(S, A, d, horizon=H, rng=seed)
    mdp = lin.to_tabular()
    return lin, mdp, off.behavior_policy(mdp, (0.3, 0.2, 0.5), mix="action")


def _tabular_backward_unvisited_zero(data):
    """Backward induction on the empirical model by explicit loops; pairs absent from the data
    have Q = 0; Q clipped to [0, H - h]."""
    H, S, A = data.H, data.S, data.A
    n = np.zeros((H, S, A))
    rs = np.zeros((H, S, A))
    nxt = np.zeros((H, S, A, S))
    for i in range(data.N):
        for h in range(H):
            s, a = data.states[i, h], data.actions[i, h]
            n[h, s, a] += 1
            rs[h, s, a] += data.rewards[i, h]
            nxt[h, s, a, data.states[i, h + 1]] += 1
    V = np.zeros((H + 1, S))
    Q = np.zeros((H, S, A))
    for h in range(H - 1, -1, -1):
        for s in range(S):
            for a in range(A):
                if n[h, s, a] > 0:
                    m = (rs[h, s, a] + nxt[h, s, a] @ V[h + 1]) / n[h, s, a]
                    Q[h, s, a] = min(max(m, 0.0), H - h)
        V[h] = Q[h].max(1)
    return Q, V, n


# --------------------------------------------------------------------------- regression
def test_ridge_backup_matches_lstsq_on_the_augmented_system():
    lin, mdp, mu = _linear_instance(1)
    data = off.sample_dataset(mdp, mu, 200, rng=3, rewards="bernoulli")
    V_next = np.random.default_rng(0).uniform(0, 2, size=mdp.S)
    for lam in (1e-3, 1.0, 10.0):
        w, Lam = ol.ridge_backup(data, lin, 1, V_next, lam=lam)
        X = lin.phi[data.states[:, 1], data.actions[:, 1]]
        y = data.rewards[:, 1] + V_next[data.states[:, 2]]
        Xa = np.vstack([X, np.sqrt(lam) * np.eye(lin.d)])
        ya = np.concatenate([y, np.zeros(lin.d)])
        ref = np.linalg.lstsq(Xa, ya, rcond=None)[0]
        np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(Lam, X.T @ X + lam * np.eye(lin.d), rtol=1e-12)


# --------------------------------------------------------------------------- one-hot = tabular
def test_one_hot_features_recover_the_tabular_backups_on_visited_pairs():
    """Tabular MDP as a linear MDP (d = SA one-hot), beta = 0, lambda -> 0: the Q-values are the
    empirical backups (unvisited pairs: 0), computed here by loops over the trajectories."""
    tab = ml.envs.random_mdp(5, 3, horizon=4, rng=2)
    lin = tabular_as_linear(tab)
    mu = off.behavior_policy(tab, (0.2, 0.3, 0.5), mix="action")
    mu[:, :, 2] = 0.0  # action 2 never in the data: partial coverage
    mu /= mu.sum(-1, keepdims=True)
    data = off.sample_dataset(tab, mu, 80, rng=4, rewards="bernoulli")
    res = ol.linear_pevi(data, lin, beta=0.0, lam=1e-10)
    Q, V, n = _tabular_backward_unvisited_zero(data)
    assert (n == 0).any() and (n > 0).any()
    np.testing.assert_allclose(res.Q, Q, atol=1e-7)
    np.testing.assert_allclose(res.V, V, atol=1e-7)
    # the same as the tabular PEVI with a vanishing penalty (its unvisited pairs are also 0)
    tab_res = off.pevi(data, scale=1e-13)
    np.testing.assert_allclose(res.Q, tab_res.Q, atol=1e-7)
    # at the last step (no propagated values) visited pairs equal the naive plug-in's Q
    plug = off.plugin(data)
    last = n[-1] > 0
    np.testing.assert_allclose(res.Q[-1][last], plug.Q[-1][last], atol=1e-7)


def test_one_hot_full_coverage_equals_the_tabular_plugin_everywhere():
    tab = ml.envs.random_mdp(4, 2, horizon=3, rng=5)
    lin = tabular_as_linear(tab)
    data = off.sample_dataset(tab, np.full((4, 2), 0.5), 3000, rng=0, rewards="bernoulli")
    assert np.all(data.counts() > 0)
    res = ol.linear_pevi(data, lin, beta=0.0, lam=1e-10)
    plug = off.plugin(data)
    np.testing.assert_allclose(res.Q, plug.Q, atol=1e-7)
    np.testing.assert_allclose(ml.evaluate(tab, res.policy).J, ml.evaluate(tab, plug.policy).J,
                               atol=1e-12)


def test_one_hot_penalty_is_beta_over_sqrt_n_plus_lambda():
    tab = ml.envs.random_mdp(4, 3, horizon=3, rng=6)
    lin = tabular_as_linear(tab)
    data = off.sample_dataset(tab, off.behavior_policy(tab), 50, rng=1)
    for beta, lam in ((0.7, 1.0), (2.0, 0.5)):
        res = ol.linear_pevi(data, lin, beta=beta, lam=lam)
        np.testing.assert_allclose(res.penalty, beta / np.sqrt(data.counts() + lam), rtol=1e-10)


def test_step_dependent_features_equal_broadcast_ones():
    lin, mdp, mu = _linear_instance(2)
    data = off.sample_dataset(mdp, mu, 100, rng=0)
    a = ol.linear_pevi(data, lin, scale=0.1)
    b = ol.linear_pevi(data, np.broadcast_to(lin.phi, (3,) + lin.phi.shape), scale=0.1)
    np.testing.assert_allclose(a.Q, b.Q, atol=1e-12)
    c = ol.linear_pevi(data, np.asarray(lin.phi), scale=0.1)
    np.testing.assert_allclose(a.Q, c.Q, atol=1e-12)


# --------------------------------------------------------------------------- pessimism
def test_linear_pevi_is_pessimistic_on_seeds_and_the_bound_holds():
    """Low-dimensional random linear MDPs (S = 10, A = 3, d = 3, H = 3), 300 trajectories:
    V_hat <= V^pi_hat everywhere and J* - J(pi_hat) <= 2 sum_h E_pi*[Gamma_h] in >= 95% of 40
    seeds (scale c = 0.1; the paper's constant is unspecified); the estimate is not trivially
    0, and with a 5 times smaller penalty the lower bound fails on more than 5% of the seeds
    (the check has power)."""
    lower, bound, nontrivial, over = [], [], [], []
    for seed in range(40):
        lin, mdp, mu = _linear_instance(seed)
        data = off.sample_dataset(mdp, mu, 300, rng=100 + seed, rewards="bernoulli")
        res = ol.linear_pevi(data, lin, scale=0.1)
        val = ml.evaluate(mdp, res.policy)
        J_star = ml.solve(mdp).V[0] @ mdp.mu
        lower.append(bool(np.all(res.V <= val.V + 1e-12)))
        bound.append(J_star - val.J <= ol.linear_pevi_bound(lin, res) + 1e-12)
        nontrivial.append(res.estimate(mdp.mu) > 0.25 * val.J)
        small = ol.linear_pevi(data, lin, scale=0.02)
        over.append(bool(np.all(small.V <= ml.evaluate(mdp, small.policy).V + 1e-12)))
    assert np.mean(lower) >= 0.95 and np.mean(bound) >= 0.95
    assert np.mean(nontrivial) >= 0.9
    assert np.mean(over) < 0.95


def test_default_beta_is_the_papers_formula():
    lin, mdp, mu = _linear_instance(3)
    data = off.sample_dataset(mdp, mu, 64, rng=0)
    res = ol.linear_pevi(data, lin, scale=0.5, delta=0.1)
    expect = 0.5 * 3 * 3 * np.sqrt(np.log(2 * 3 * 3 * 64 / 0.1))
    assert res.params["beta"] == pytest.approx(expect, rel=1e-14)
    assert ol.linear_pevi_beta(3, 3, 64, delta=0.1, scale=0.5) == pytest.approx(expect)


# --------------------------------------------------------------------------- linear PRDC
def test_linear_prdc_full_coverage_one_hot_is_the_plugin():
    """Every pair in the data: all constraint distances are 0 and PRDC is greedy on the
    least-squares Q, i.e. the tabular plug-in for one-hot features."""
    tab = ml.envs.random_mdp(4, 2, horizon=3, rng=7)
    lin = tabular_as_linear(tab)
    data = off.sample_dataset(tab, np.full((4, 2), 0.5), 3000, rng=1)
    res = ol.linear_prdc(data, lin, np.arange(4.0), lam=1e-10)
    plug = off.plugin(data)
    assert np.all(res.penalty == 0)
    np.testing.assert_allclose(res.V, plug.V, atol=1e-7)
    np.testing.assert_allclose(ml.evaluate(tab, res.policy).J, ml.evaluate(tab, plug.policy).J,
                               atol=1e-12)


def test_linear_prdc_distances_brute_force_and_weak_constraint_limit():
    lin, mdp, mu = _linear_instance(4)
    data = off.sample_dataset(mdp, mu, 12, rng=2)
    e = np.random.default_rng(0).random((mdp.S, 2))
    n = data.counts()
    for beta in (0.0, 0.5, 2.0):
        res = ol.linear_prdc(data, lin, e, beta=beta)
        for h in range(data.H):
            keys = np.array([np.r_[beta * e[s], np.eye(mdp.A)[a]]
                             for s in range(mdp.S) for a in range(mdp.A)])
            idx = np.flatnonzero(n[h].ravel() > 0)
            D = np.linalg.norm(keys[:, None] - keys[None, idx], axis=-1).min(1)
            np.testing.assert_allclose(res.penalty[h].ravel(), D, atol=1e-12)
    # alpha -> inf: no constraint, the greedy least-squares value iteration (= beta_pevi = 0)
    weak = ol.linear_prdc(data, lin, e, alpha=1e12)
    free = ol.linear_pevi(data, lin, beta=0.0)
    np.testing.assert_allclose(weak.V, free.V, atol=1e-9)


def test_linear_prdc_bounds_hold_on_seeds():
    """The estimation-gap and performance-gap bounds are deterministic inequalities."""
    for seed in range(8):
        lin, mdp, _ = _linear_instance(seed, S=8, A=3, d=4, H=4)
        mu = off.behavior_policy(mdp, (0.2, 0.3, 0.5), mix="action")
        data = off.sample_dataset(mdp, mu, 15 + 10 * seed, rng=seed, rewards="bernoulli")
        e = np.random.default_rng(seed).random((mdp.S, 2))
        for beta in (0.0, 0.5, 2.0, np.inf):
            res = ol.linear_prdc(data, lin, e, beta=beta)
            b = ol.linear_prdc_bound(lin, data, res)
            assert b.estimation_gap <= b.estimation_bound + 1e-9
            assert b.suboptimality <= b.suboptimality_bound + 1e-9
            assert np.isfinite(b.estimation_bound)


def test_linear_prdc_bound_is_tight_without_statistical_error():
    """With the exact Bellman backup in the data's span (deterministic rewards and a huge data
    set), the residuals vanish: the estimation gap and its bound go to 0 together."""
    lin, mdp, _ = _linear_instance(9)
    data = off.sample_dataset(mdp, np.full((mdp.S, mdp.A), 1 / mdp.A), 200_000, rng=0)
    res = ol.linear_prdc(data, lin, np.arange(mdp.S, dtype=float), lam=1e-9)
    b = ol.linear_prdc_bound(lin, data, res)
    assert b.estimation_bound < 0.05
    assert b.estimation_gap <= b.estimation_bound + 1e-12


# --------------------------------------------------------------------------- bad input
def test_bad_input_messages():
    lin, mdp, mu = _linear_instance(0)
    data = off.sample_dataset(mdp, mu, 20, rng=0)
    phi = np.array(lin.phi)
    nan_phi = phi.copy()
    nan_phi[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"features\[2, 1, 0\] is nan"):
        ol.linear_pevi(data, nan_phi)
    with pytest.raises(ValueError, match="expected \\(S, A, d\\) with S = 10"):
        ol.linear_pevi(data, phi[:5])
    with pytest.raises(ValueError, match="expected \\(S, A, d\\) or \\(H, S, A, d\\)"):
        ol.linear_pevi(data, phi[:, :, 0])
    with pytest.raises(ValueError, match="H = 3"):
        ol.linear_pevi(data, np.broadcast_to(phi, (2,) + phi.shape))
    with pytest.raises(TypeError, match="features"):
        ol.linear_pevi(data, "phi")
    with pytest.raises(TypeError, match="dataset"):
        ol.linear_pevi(np.zeros((3, 3)), lin)
    with pytest.raises(ValueError, match="lam"):
        ol.linear_pevi(data, lin, lam=0.0)
    with pytest.raises(ValueError, match="beta"):
        ol.linear_pevi(data, lin, beta=-1.0)
    with pytest.raises(ValueError, match="delta"):
        ol.linear_pevi(data, lin, delta=1.0)
    with pytest.raises(ValueError, match="delta"):
        ol.linear_pevi(data, lin, beta=1.0, delta=0.0)
    bad_r = off.OfflineDataset(data.states, data.actions, data.rewards + 1.5, data.S, data.A)
    with pytest.raises(ValueError, match="rewards in"):
        ol.linear_pevi(bad_r, lin)
    with pytest.raises(ValueError, match="rewards in"):
        ol.linear_prdc(bad_r, lin, np.arange(10.0))
    with pytest.raises(ValueError, match="empty"):
        off.OfflineDataset(np.zeros((0, 4), int), np.zeros((0, 3), int), np.zeros((0, 3)),
                           10, 3)
    with pytest.raises(ValueError, match="state_embedding has shape"):
        ol.linear_prdc(data, lin, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="alpha"):
        ol.linear_prdc(data, lin, np.arange(10.0), alpha=0.0)
    with pytest.raises(ValueError, match="V_next"):
        ol.ridge_backup(data, lin, 0, np.zeros(4))
    with pytest.raises(ValueError, match="h = 3"):
        ol.ridge_backup(data, lin, 3, np.zeros(10))
    with pytest.raises(TypeError, match="linear_pevi"):
        ol.linear_pevi_bound(lin, off.pevi(data))
    with pytest.raises(TypeError, match="linear_prdc"):
        ol.linear_prdc_bound(lin, data, ol.linear_pevi(data, lin))
    res = ol.linear_prdc(data, lin, np.arange(10.0))
    with pytest.raises(ValueError, match="features differ"):
        ol.linear_prdc_bound(lin, data, res, features=phi * 2)
