"""Demonstration-regularized RLHF: features, preference sampling, the reward MLE and the
regularized planner, each checked against an independent computation."""

import itertools

import numpy as np
import pytest
import scipy.optimize as so

import mdplab as ml
from mdplab.learn import demo_rlhf as dr
from mdplab.learn.demo import behavior_cloning, sample_trajectories


def _instance(seed=0, S=4, A=3, H=3):
    rng = np.random.default_rng(seed)
    mdp = ml.envs.random_mdp(S, A, horizon=H, rng=rng, time_varying=True)
    return mdp, rng


def test_trajectory_features_count_visits():
    states = np.array([[0, 1, 1, 2], [2, 2, 0, 0]])
    actions = np.array([[1, 0, 0], [0, 0, 1]])
    phi = dr.trajectory_features(states, actions, 3, 2)
    expected = np.zeros((2, 3, 3, 2))
    for i in range(2):
        for h in range(3):
            expected[i, h, states[i, h], actions[i, h]] += 1
    np.testing.assert_array_equal(phi, expected.reshape(2, -1))


def test_preference_labels_follow_bradley_terry():
    """Frequency of y = 1 against the mean of sigma(r(tau1) - r(tau2)), computed here from the
    sampled trajectories and the true rewards."""
    mdp, rng = _instance(1)
    pi = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    prefs = dr.sample_trajectory_preferences(mdp, pi, 20_000, rng=rng)
    R = np.stack([np.asarray(mdp.rewards(h)) for h in range(mdp.H)])
    hh = np.arange(mdp.H)
    ret1 = R[hh, prefs.states1[:, :-1], prefs.actions1].sum(1)
    ret2 = R[hh, prefs.states2[:, :-1], prefs.actions2].sum(1)
    p = 1.0 / (1.0 + np.exp(-(ret1 - ret2)))
    se = np.sqrt(np.mean(p * (1 - p)) / len(prefs))
    assert abs(prefs.y.mean() - p.mean()) < 4 * se
    # the two members of a pair are independent draws: their returns are uncorrelated
    assert abs(np.corrcoef(ret1, ret2)[0, 1]) < 4 / np.sqrt(len(prefs))


def test_reward_mle_matches_an_independent_optimizer():
    mdp, rng = _instance(2)
    pi = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    prefs = dr.sample_trajectory_preferences(mdp, pi, 300, rng=rng)
    kappa = 0.05
    got = dr.fit_trajectory_reward(prefs, mdp.S, mdp.A, ridge=kappa)
    # the same objective written from scratch, minimized by L-BFGS
    phi1 = np.zeros((len(prefs), mdp.H, mdp.S, mdp.A))
    phi2 = np.zeros_like(phi1)
    for i, h in itertools.product(range(len(prefs)), range(mdp.H)):
        phi1[i, h, prefs.states1[i, h], prefs.actions1[i, h]] += 1
        phi2[i, h, prefs.states2[i, h], prefs.actions2[i, h]] += 1
    D = (phi1 - phi2).reshape(len(prefs), -1)
    s = np.where(prefs.y, 1.0, -1.0)

    def loss(t):
        m = s * (D @ t)
        return np.sum(np.log1p(np.exp(-m))) + 0.5 * kappa * t @ t

    def grad(t):
        m = s * (D @ t)
        return -(D.T @ (s / (1 + np.exp(m)))) + kappa * t

    ref = so.minimize(loss, np.zeros(D.shape[1]), jac=grad, method="L-BFGS-B",
                      options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000}).x
    np.testing.assert_allclose(got.ravel(), ref, atol=1e-5)
    assert loss(got.ravel()) <= loss(ref) + 1e-9


def test_reward_mle_recovers_return_differences_with_much_data():
    """Consistency: with many pairs the estimated returns order trajectories like the truth."""
    mdp, rng = _instance(3, S=3, A=2, H=2)
    pi = np.full((mdp.S, mdp.A), 0.5)
    prefs = dr.sample_trajectory_preferences(mdp, pi, 40_000, rng=rng)
    r_hat = dr.fit_trajectory_reward(prefs, mdp.S, mdp.A, ridge=1e-3)
    R = np.stack([np.asarray(mdp.rewards(h)) for h in range(mdp.H)])
    # every trajectory of length 2 through reachable states: compare centred returns
    rets_true, rets_hat = [], []
    for s0, a0, s1, a1 in itertools.product(range(3), range(2), range(3), range(2)):
        if mdp.mu[s0] > 0:
            rets_true.append(R[0, s0, a0] + R[1, s1, a1])
            rets_hat.append(r_hat[0, s0, a0] + r_hat[1, s1, a1])
    rets_true, rets_hat = np.array(rets_true), np.array(rets_hat)
    np.testing.assert_allclose(rets_hat - rets_hat.mean(), rets_true - rets_true.mean(), atol=0.15)


def test_regularized_planner_matches_the_closed_form_on_a_bandit():
    """H = 1: the KL-regularized optimum toward BC is bc * exp(r_hat / lam) / Z."""
    mdp, rng = _instance(4, S=2, A=4, H=1)
    expert = ml.solve(mdp).policy
    s, a = sample_trajectories(mdp, expert, 15, rng=rng)
    bc = behavior_cloning(s, a, mdp.S, mdp.A)
    prefs = dr.sample_trajectory_preferences(mdp, bc, 200, rng=rng)
    for lam in (0.05, 0.7, 5.0):
        out = dr.demo_regularized_rlhf(mdp, s, a, prefs, lam)
        w = bc[0] * np.exp((out.reward[0] - out.reward[0].max(axis=1, keepdims=True)) / lam)
        np.testing.assert_allclose(out.policy[0], w / w.sum(1, keepdims=True), atol=1e-12)
        np.testing.assert_allclose(out.bc_policy, bc)


def test_limits_in_lambda():
    mdp, rng = _instance(5, S=3, A=2, H=3)  # 2**9 deterministic policies to enumerate
    expert = ml.solve(mdp).policy
    s, a = sample_trajectories(mdp, expert, 10, rng=rng)
    bc = behavior_cloning(s, a, mdp.S, mdp.A)
    prefs = dr.sample_trajectory_preferences(mdp, bc, 100, rng=rng)
    big = dr.demo_regularized_rlhf(mdp, s, a, prefs, 1e9)
    np.testing.assert_allclose(big.policy, bc, atol=1e-7)
    assert big.suboptimality == pytest.approx(big.bc_suboptimality, abs=1e-7)
    plug = dr.demo_regularized_rlhf(mdp, s, a, prefs, 0.0)
    # lam = 0: greedy for r_hat (BC has full support); brute force over deterministic policies
    P = np.asarray(mdp.P)  # time-inhomogeneous (H, S, A, S)
    learned = ml.TabularMDP(P, plug.reward, horizon=mdp.H, mu=mdp.mu)
    best = max(
        ml.evaluate(learned, np.eye(mdp.A)[np.array(acts).reshape(mdp.H, mdp.S)]).J
        for acts in itertools.product(range(mdp.A), repeat=mdp.H * mdp.S)
    )
    assert ml.evaluate(learned, plug.policy).J == pytest.approx(best, abs=1e-12)
    assert 0.0 <= plug.suboptimality


def test_bad_input_is_rejected_with_names():
    mdp, rng = _instance(6)
    pi = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    prefs = dr.sample_trajectory_preferences(mdp, pi, 5, rng=rng)
    s, a = sample_trajectories(mdp, pi, 3, rng=rng)
    with pytest.raises(ValueError, match="lam"):
        dr.demo_regularized_rlhf(mdp, s, a, prefs, -1.0)
    with pytest.raises(ValueError, match="lam"):
        dr.demo_regularized_rlhf(mdp, s, a, prefs, float("nan"))
    with pytest.raises(TypeError, match="prefs"):
        dr.fit_trajectory_reward([1, 2], mdp.S, mdp.A)
    with pytest.raises(ValueError, match="ridge"):
        dr.fit_trajectory_reward(prefs, mdp.S, mdp.A, ridge=0.0)
    with pytest.raises(ValueError, match="n_pairs"):
        dr.sample_trajectory_preferences(mdp, pi, 0)
    with pytest.raises(ValueError, match="reward"):
        dr.sample_trajectory_preferences(mdp, pi, 3, reward=np.zeros((1, 2)))
    with pytest.raises(ValueError, match="states"):
        dr.trajectory_features(np.array([[0, 9]]), np.array([[0]]), mdp.S, mdp.A)
    with pytest.raises(ValueError, match="H"):
        bad = dr.sample_trajectory_preferences(
            ml.envs.random_mdp(mdp.S, mdp.A, horizon=mdp.H + 1, rng=0), pi, 3, rng=0)
        dr.demo_regularized_rlhf(mdp, s, a, bad, 1.0)


def test_time_homogeneous_models_are_handled():
    mdp = ml.envs.chain(4, gamma=None, horizon=3, slip=0.2)
    pi = np.full((mdp.S, mdp.A), 0.5)
    s, a = sample_trajectories(mdp, pi, 5, rng=0)
    prefs = dr.sample_trajectory_preferences(mdp, pi, 50, rng=1)
    out = dr.demo_regularized_rlhf(mdp, s, a, prefs, 1e9)
    np.testing.assert_allclose(out.policy, out.bc_policy, atol=1e-7)
    assert out.reward.shape == (3, 4, 2)


def test_claim_runs_in_quick_mode(tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get("demo-regularized-rlhf"), quick=True, seed=0, out=tmp_path)
    assert (tmp_path / "demo_regularized_rlhf.png").exists() or any(tmp_path.rglob("*.png"))
    key = run.result.key_numbers
    assert all(np.isfinite(v) for v in key.values())
    assert run.passed  # quick mode passes with margin at seed 0 (min z > 3 in the summary)
