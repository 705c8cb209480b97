"""Tests of mdplab.learn.regularized (soft optimistic planning, certified gap, BPI) and
mdplab.learn.demo (behavior cloning, trajectory KL, demonstration-regularized BPI), against
plain NumPy / mdplab.solvers computations written from the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mdplab as ml
from mdplab.learn import _kernels as K
from mdplab.learn import demo

# ----------------------------------------------------------------------------- references


def np_soft_plan(N, Nsas, rsum, Ns, beta, ref, scale, c_hoef, c_l1):
    """Plain NumPy version of the kernel, written from the module docstring."""
    H, S, A = N.shape
    ref = np.broadcast_to(ref, (H, S, A))
    Vu = np.zeros((H + 1, S))
    Vl = np.zeros((H + 1, S))
    W = np.zeros((H + 1, S))
    Qu = np.empty((H, S, A))
    Ql = np.empty((H, S, A))
    pi = np.empty((H, S, A))
    for h in range(H - 1, -1, -1):
        r = H - h
        n = N[h]
        with np.errstate(divide="ignore", invalid="ignore"):
            Ph = Nsas[h] / n[..., None]
            b = scale * r * np.sqrt((c_hoef + np.log(n * (n + 1))) / (2 * n))
            qu = np.minimum(rsum[h] / n + Ph @ Vu[h + 1] + b, r)
            ql = np.maximum(rsum[h] / n + Ph @ Vl[h + 1] - b, 0)
        Qu[h] = np.where(n > 0, qu, r)
        Ql[h] = np.where(n > 0, ql, 0)
        sup = ref[h] > 0
        if beta == 0:
            for s in range(S):
                cand = np.flatnonzero(sup[s])
                best = cand[Qu[h, s, cand] == Qu[h, s, cand].max()]
                a = best[np.argmin(N[h, s, best])]
                pi[h, s] = np.eye(A)[a]
            Vu[h] = (pi[h] * Qu[h]).sum(-1)
            Vl[h] = np.where(sup, Ql[h], -np.inf).max(-1)
        else:
            Vu[h] = ml.solvers.soft_max(Qu[h], beta, ref[h])
            Vl[h] = ml.solvers.soft_max(Ql[h], beta, ref[h])
            pi[h] = ml.solvers.softmax_policy(Qu[h], Vu[h], beta, ref[h])
        D = np.where(sup, np.maximum(Qu[h] - Ql[h], 0), 0)
        c = (pi[h] * D).sum(-1)
        if beta > 0:
            M = D.max(-1)
            x = M / beta
            g = np.where(x < 1e-4, 0.5 + x / 6 + x * x / 24,
                         (np.expm1(x) - x) / np.where(x > 0, x * x, 1))
            c = np.minimum.reduce([c, M**2 / (8 * beta), (pi[h] * D**2).sum(-1) * g / beta])
        Wn = W[h + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            l1 = scale * np.sqrt(2 * (S * math.log(2) + c_l1 + np.log(n * (n + 1))) / n)
            term = np.minimum(Ph @ Wn + l1 * (Wn.max() - Wn.min()) / 2, Wn.max())
        term = np.where(n > 0, term, Wn.max())
        W[h] = c + np.where(pi[h] > 0, pi[h] * term, 0).sum(-1)
    t = Ns[0].sum()
    if t == 0:
        return W[0].max(), Qu, Ql, Vu, Vl, W, pi
    gap = Ns[0] @ W[0] / t + scale * math.sqrt(
        2 * (S * math.log(2) + c_l1 + math.log(t * (t + 1))) / t) * (W[0].max() - W[0].min()) / 2
    return min(gap, W[0].max()), Qu, Ql, Vu, Vl, W, pi


def random_counts(rng, H, S, A, visits):
    N, Nsas, rsum, Ns = (np.zeros((H, S, A)), np.zeros((H, S, A, S)), np.zeros((H, S, A)),
                         np.zeros((H, S)))
    for _ in range(visits):
        K.update_counts(N, Nsas, rsum, Ns, rng.integers(0, S, H + 1), rng.integers(0, A, H),
                        rng.random(H))
    return N, Nsas, rsum, Ns


@pytest.mark.parametrize("beta", [0.0, 0.05, 0.7, 5.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_optimistic_plan_matches_numpy(beta, seed):
    rng = np.random.default_rng(seed)
    H, S, A = 4, 5, 3
    N, Nsas, rsum, Ns = random_counts(rng, H, S, A, int(rng.integers(0, 300)))
    ref = rng.dirichlet(np.ones(A), size=(1 if seed else H, S))
    ref[..., 0, 1] = 0.0  # an action outside the support
    ref /= ref.sum(-1, keepdims=True)
    scale = float(rng.choice([1.0, 0.1]))
    c_hoef, c_l1 = float(rng.uniform(1, 8)), float(rng.uniform(1, 8))
    out = [np.zeros((H, S, A)), np.zeros((H, S, A)), np.zeros((H + 1, S)),
           np.zeros((H + 1, S)), np.zeros((H, S, A)), np.zeros((H + 1, S)), np.zeros((H, S))]
    with np.errstate(divide="ignore"):
        logref = np.log(ref)
    gap = K.soft_optimistic_plan(N, Nsas, rsum, Ns, beta, ref, logref, scale, c_hoef, c_l1,
                                 *out)
    ref_out = np_soft_plan(N, Nsas, rsum, Ns, beta, ref, scale, c_hoef, c_l1)
    assert gap == pytest.approx(ref_out[0], rel=1e-10, abs=1e-12)
    for a, b in zip((out[0], out[1], out[2], out[3], out[5], out[4]), ref_out[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_bounds_bracket_q_star_and_gap_bounds_true_suboptimality(beta):
    """On the high-probability event: Qlo <= Q*_beta <= Qup at every episode, and the certified
    gap upper-bounds the exact regularized suboptimality of the played policy; not vacuous:
    the gap falls well below its initial value."""
    mdp = ml.envs.random_mdp(3, 2, horizon=3, time_varying=True, rng=11)
    ref = np.random.default_rng(0).dirichlet(np.ones(2), size=3)
    sol = ml.solve(mdp, beta=beta, ref=ref)
    J_star = float(mdp.mu @ sol.V[0])
    gaps, worst = [], np.inf

    def cb(k, agent, pi):
        nonlocal worst
        assert np.all(agent.Qup >= sol.Q - 1e-12) and np.all(agent.Qlo <= sol.Q + 1e-12)
        sub = J_star - ml.evaluate(mdp, pi, beta=beta, ref=ref).J
        worst = min(worst, agent.gap - sub)
        gaps.append(agent.gap)

    ml.learn.run(ml.learn.RegularizedUCBVI(beta=beta, ref=ref), mdp, 3000, rng=1, beta=beta,
                 ref=ref, callback=cb)
    assert worst >= -1e-12
    assert gaps[-1] < 0.5 * gaps[0]  # the certificate tightens (slowly at beta = 0)


def test_regularized_learner_plays_soft_greedy_policy_and_regret_falls():
    mdp = ml.envs.random_mdp(4, 2, horizon=3, rng=0)
    beta = 0.5

    def cb(k, agent, pi):
        exp = ml.solvers.softmax_policy(agent.Qup, agent.Vup[:-1], beta, np.full((4, 2), 0.5))
        np.testing.assert_allclose(pi, exp, atol=1e-12)

    log = ml.learn.run(ml.learn.RegularizedUCBVI(beta=beta), mdp, 2000, rng=0, beta=beta,
                       callback=cb)
    r = log["regret"].to_numpy()
    assert r[-200:].mean() < 0.2 * r[:50].mean()


def test_identify_certified_and_faster_with_regularization():
    mdp = ml.envs.random_mdp(3, 2, horizon=2, time_varying=True, rng=4)
    eps = [0.5, 0.25]
    reg = ml.learn.identify(ml.learn.RegularizedUCBVI(beta=0.5), mdp, eps, rng=0)
    unreg = ml.learn.identify(ml.learn.RegularizedUCBVI(beta=0.0), mdp, eps, rng=0)
    for res in (reg, unreg):
        assert res["stopped"].all()
        assert (res["suboptimality"] <= res["epsilon"]).all()
        assert (res["gap"] <= res["epsilon"]).all()
        assert res["episodes"].is_monotonic_increasing
        # the exact suboptimality reported is that of the returned policy
        b = res.attrs["beta"]
        for pi, sub in zip(res.attrs["policies"], res["suboptimality"], strict=True):
            J = ml.evaluate(mdp, pi, beta=b).J
            assert sub == pytest.approx(res.attrs["optimal_value"] - J, abs=1e-12)
    assert (reg["episodes"] < unreg["episodes"]).all()


def test_identify_gives_up_after_max_episodes():
    mdp = ml.envs.random_mdp(3, 2, horizon=2, rng=0)
    res = ml.learn.identify(ml.learn.RegularizedUCBVI(beta=0.0), mdp, 1e-6, rng=0,
                            max_episodes=50)
    assert not res["stopped"].iloc[0] and res["episodes"].iloc[0] == 50


def test_regularized_validation():
    with pytest.raises(ValueError, match="beta"):
        ml.learn.RegularizedUCBVI(beta=-1)
    with pytest.raises(ValueError, match="delta"):
        ml.learn.RegularizedUCBVI(delta=0)
    mdp = ml.envs.random_mdp(3, 2, horizon=2, rng=0)
    with pytest.raises(ValueError, match="ref has shape"):
        ml.learn.run(ml.learn.RegularizedUCBVI(ref=np.full((4, 2), 0.5)), mdp, 5)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        ml.learn.run(ml.learn.RegularizedUCBVI(ref=np.full((3, 2), 0.3)), mdp, 5)
    with pytest.raises(TypeError, match="RegularizedUCBVI"):
        ml.learn.identify(ml.learn.UCBVI(), mdp, 0.1)
    with pytest.raises(ValueError, match="epsilon"):
        ml.learn.identify(ml.learn.RegularizedUCBVI(), mdp, [0.1, -1])
    with pytest.raises(ValueError, match="discounted"):
        ml.learn.identify(ml.learn.RegularizedUCBVI(), ml.envs.random_mdp(3, 2, rng=0), 0.1)
    assert "array(3, 2)" in repr(ml.learn.RegularizedUCBVI(ref=np.full((3, 2), 0.5)))


# ----------------------------------------------------------------------------- demo


def test_behavior_cloning_counts_by_hand():
    states = np.array([[0, 1, 1], [0, 2, 0], [1, 1, 2]])
    actions = np.array([[1, 0], [1, 1], [0, 0]])
    pi = demo.behavior_cloning(states, actions, S=3, A=2)
    assert pi.shape == (2, 3, 2)
    np.testing.assert_allclose(pi[0, 0], [1 / 4, 3 / 4])  # two visits, both action 1
    np.testing.assert_allclose(pi[0, 1], [2 / 3, 1 / 3])
    np.testing.assert_allclose(pi[0, 2], [0.5, 0.5])  # unvisited: uniform
    np.testing.assert_allclose(pi[1, 1], [3 / 4, 1 / 4])
    np.testing.assert_allclose(pi[1, 2], [1 / 3, 2 / 3])
    np.testing.assert_allclose(pi.sum(-1), 1.0)


def test_sample_trajectories_law_and_bc_consistency():
    mdp = ml.envs.random_mdp(4, 3, horizon=3, time_varying=True, rng=2)
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(3), size=(3, 4))
    states, actions = demo.sample_trajectories(mdp, pi, 40_000, rng=1)
    assert states.shape == (40_000, 4) and actions.shape == (40_000, 3)
    d = ml.occupancy(mdp, pi)
    freq = np.zeros_like(d)
    np.add.at(freq, (np.broadcast_to(np.arange(3), actions.shape), states[:, :3], actions), 1)
    freq /= 40_000
    assert np.all(np.abs(freq - d) <= 5 * np.sqrt(d * (1 - d) / 40_000) + 1e-12)
    bc = demo.behavior_cloning(states, actions, 4, 3)
    seen = d.sum(-1) > 0.05
    assert np.max(np.abs(bc - pi)[seen]) < 0.05


def test_trajectory_kl_matches_occupancy_formula_and_path_law():
    mdp = ml.envs.random_mdp(3, 2, horizon=3, time_varying=True, rng=5)
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(2), size=(2, 3, 3))
    d = ml.occupancy(mdp, p).sum(-1)
    expect = float(np.sum(d * ml.kl_divergence(p, q, axis=-1)))
    assert demo.trajectory_kl(mdp, p, q) == pytest.approx(expect, abs=1e-12)
    # brute force: KL between the laws of whole trajectories (enumerate all paths)
    P = np.asarray(mdp.P)
    kl = 0.0
    import itertools
    for path in itertools.product(range(3), range(2), range(3), range(2), range(3), range(2)):
        s0, a0, s1, a1, s2, a2 = path
        lp = mdp.mu[s0] * p[0, s0, a0] * P[0, s0, a0, s1] * p[1, s1, a1] * P[1, s1, a1, s2] \
            * p[2, s2, a2]
        lq = mdp.mu[s0] * q[0, s0, a0] * P[0, s0, a0, s1] * q[1, s1, a1] * P[1, s1, a1, s2] \
            * q[2, s2, a2]
        if lp > 0:
            kl += lp * math.log(lp / lq)
    assert demo.trajectory_kl(mdp, p, q) == pytest.approx(kl, abs=1e-12)


def test_expected_bc_kl_closed_form_against_simulation():
    from mdplab.claims.demonstrations import expected_bc_kl

    mdp = ml.envs.random_mdp(3, 3, horizon=2, time_varying=True, rng=7)
    expert = ml.solve(mdp).policy
    d = ml.occupancy(mdp, expert).sum(-1)
    N = 12
    kls = [demo.trajectory_kl(mdp, expert, demo.behavior_cloning(
        *demo.sample_trajectories(mdp, expert, N, rng=i), 3, 3)) for i in range(3000)]
    exact = expected_bc_kl(d, 3, N)
    se = np.std(kls) / np.sqrt(len(kls))
    assert abs(np.mean(kls) - exact) < 4 * se
    assert exact <= 2 * np.sum(d > 0) / (N + 1)


def test_demo_regularized_bpi_uses_lambda_star_and_is_certified():
    mdp = ml.envs.random_mdp(3, 2, horizon=2, time_varying=True, rng=3)
    expert = ml.solve(mdp).policy
    states, actions = demo.sample_trajectories(mdp, expert, 400, rng=0)
    res = demo.demo_regularized_bpi(mdp, states, actions, 0.1, rng=0)
    assert res.lam == pytest.approx(0.1 * 400 / (3 * 3 * 2 * 2))
    assert res.lam == demo.demo_regularized_lambda(0.1, 400, 12)
    np.testing.assert_allclose(res.bc_policy, demo.behavior_cloning(states, actions, 3, 2))
    assert res.stopped and res.gap <= 0.1 / 3
    v_star = ml.solve(mdp).V[0] @ mdp.mu
    assert res.suboptimality == pytest.approx(v_star - ml.evaluate(mdp, res.policy).J)
    assert res.suboptimality <= 0.1


def test_demo_bad_input():
    mdp = ml.envs.random_mdp(3, 2, horizon=2, rng=0)
    s = np.zeros((4, 3), dtype=int)
    a = np.zeros((4, 2), dtype=int)
    with pytest.raises(ValueError, match=r"states: index 3 out of range \[0, 2\]"):
        demo.behavior_cloning(s + 3, a, 3, 2)
    with pytest.raises(ValueError, match=r"actions: index -1 out of range"):
        demo.behavior_cloning(s, a - 1, 3, 2)
    with pytest.raises(ValueError, match="expected integer"):
        demo.behavior_cloning(s + 0.5, a, 3, 2)
    with pytest.raises(ValueError, match="horizon H = 2"):
        demo.demo_regularized_bpi(mdp, np.zeros((4, 4), int), np.zeros((4, 3), int), 0.1)
    with pytest.raises(ValueError, match="states has shape"):
        demo.behavior_cloning(np.zeros((5, 3), int), a, 3, 2)
    with pytest.raises(ValueError, match="epsilon"):
        demo.demo_regularized_bpi(mdp, s, a, 0.0)
    with pytest.raises(ValueError, match="n = 0"):
        demo.sample_trajectories(mdp, np.full((3, 2), 0.5), 0)
