"""Tests of mdplab.learn.online and its Numba kernels: agreement with plain NumPy on random
inputs, UCBVI's optimism, sublinear regret, learner validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import mdplab as ml
from mdplab.learn import _kernels as K

# ----------------------------------------------------------------------------- NumPy references


def np_plan(N, Nsas, rsum, Ns, kind, scale, L, unvisited, Qprev, use_prev):
    """Plain NumPy UCBVI backward induction (written from the formulas, vectorised)."""
    H, S, A = N.shape
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        n = N[h]
        with np.errstate(divide="ignore", invalid="ignore"):
            Phat = Nsas[h] / n[..., None]
            rhat = rsum[h] / n
            pv = Phat @ V[h + 1]
            q = rhat + pv
            if kind == 1:
                q = q + scale * 7 * H * L / np.sqrt(n)
            elif kind == 2:
                var = np.maximum(Phat @ V[h + 1] ** 2 - pv**2, 0)
                if h + 1 < H:
                    with np.errstate(divide="ignore"):
                        g = np.minimum(1e4 * H**3 * S**2 * A * L**2 / Ns[h + 1], H**2)
                else:
                    g = np.zeros(S)
                third = np.sqrt(8 * (Phat @ g) / n)
                q = q + scale * (np.sqrt(8 * L * var / n) + 14 * H * L / (3 * n) + third)
            q = np.minimum(q, H - h)
        q = np.where(n > 0, q, unvisited[h])
        if use_prev:
            q = np.minimum(q, Qprev[h])
        Q[h] = q
        V[h] = q.max(axis=1)
    return Q, V


def random_counts(rng, H, S, A, visits):
    N = np.zeros((H, S, A))
    Nsas = np.zeros((H, S, A, S))
    rsum = np.zeros((H, S, A))
    Ns = np.zeros((H, S))
    for _ in range(visits):
        states = rng.integers(0, S, H + 1)
        actions = rng.integers(0, A, H)
        rewards = rng.random(H)
        K.update_counts(N, Nsas, rsum, Ns, states, actions, rewards)
    return N, Nsas, rsum, Ns


# ----------------------------------------------------------------------------- kernels vs NumPy


def test_update_counts_matches_numpy():
    rng = np.random.default_rng(0)
    H, S, A = 4, 5, 3
    N, Nsas, rsum, Ns = (np.zeros((H, S, A)), np.zeros((H, S, A, S)), np.zeros((H, S, A)),
                         np.zeros((H, S)))
    eN, eNsas, ersum, eNs = (x.copy() for x in (N, Nsas, rsum, Ns))
    for _ in range(50):
        st = rng.integers(0, S, H + 1)
        ac = rng.integers(0, A, H)
        r = rng.random(H)
        K.update_counts(N, Nsas, rsum, Ns, st, ac, r)
        hh = np.arange(H)
        np.add.at(eN, (hh, st[:-1], ac), 1)
        np.add.at(eNsas, (hh, st[:-1], ac, st[1:]), 1)
        np.add.at(ersum, (hh, st[:-1], ac), r)
        np.add.at(eNs, (hh, st[:-1]), 1)
    for a, b in ((N, eN), (Nsas, eNsas), (rsum, ersum), (Ns, eNs)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", [0, 1, 2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimistic_plan_matches_numpy(kind, seed):
    rng = np.random.default_rng(seed)
    H, S, A = 5, 6, 3
    N, Nsas, rsum, Ns = random_counts(rng, H, S, A, visits=int(rng.integers(5, 400)))
    scale = float(rng.choice([1.0, 0.01, 1e-4]))
    L = float(rng.uniform(1, 20))
    unvisited = H - np.arange(H, dtype=float)
    Qprev = rng.uniform(0, H, (H, S, A))
    for use_prev in (False, True):
        Q = np.zeros((H, S, A))
        V = np.zeros((H + 1, S))
        K.optimistic_plan(N, Nsas, rsum, Ns, kind, scale, L, unvisited, Qprev, use_prev, Q, V)
        Qn, Vn = np_plan(N, Nsas, rsum, Ns, kind, scale, L, unvisited, Qprev, use_prev)
        np.testing.assert_allclose(Q, Qn, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(V, Vn, rtol=1e-12, atol=1e-12)


def test_greedy_onehot_tie_rule():
    rng = np.random.default_rng(3)
    H, S, A = 3, 7, 4
    Q = rng.integers(0, 3, (H, S, A)).astype(float)  # many ties
    N = rng.integers(0, 4, (H, S, A)).astype(float)
    pi = np.empty((H, S, A))
    K.greedy_onehot(Q, N, pi)
    for h in range(H):
        for s in range(S):
            best = np.flatnonzero(Q[h, s] == Q[h, s].max())
            expect = best[np.argmin(N[h, s, best])]  # fewest visits, then lowest index
            assert pi[h, s].argmax() == expect and pi[h, s].sum() == 1.0


def test_policy_value_matches_numpy_and_evaluate():
    rng = np.random.default_rng(4)
    for time_varying in (False, True):
        mdp = ml.envs.random_mdp(6, 3, horizon=5, time_varying=time_varying, rng=rng)
        H, S, A = 5, 6, 3
        P = np.asarray(mdp.P).reshape(-1, S, A, S)
        R = np.asarray(mdp.R).reshape(-1, S, A)
        ref = rng.dirichlet(np.ones(A), size=(H, S))
        for _ in range(5):
            pi = rng.dirichlet(np.full(A, 0.3), size=(H, S))
            pi[rng.random((H, S)) < 0.3] = np.eye(A)[0]  # some deterministic rows
            J, kl = K.policy_value(P, R, mdp.mu, pi, np.log(ref))
            assert J == pytest.approx(ml.evaluate(mdp, pi).J, abs=1e-12)
            beta = 0.7
            Jb = ml.evaluate(mdp, pi, beta=beta, ref=ref).J
            assert J - beta * kl == pytest.approx(Jb, abs=1e-12)


def test_policy_value_kl_infinite_only_on_reachable_support():
    mdp = ml.envs.chain(4, horizon=3)  # starts in state 0, deterministic moves
    H, S, A = 3, 4, 2
    P = np.asarray(mdp.P).reshape(1, S, A, S)
    R = np.asarray(mdp.R).reshape(1, S, A)
    pi = np.zeros((H, S, A))
    pi[..., 1] = 1.0  # always right
    ref = np.full((1, S, A), 0.5)
    ref[0, 3] = [1.0, 0.0]  # state 3 is unreachable within 3 steps from state 0
    with np.errstate(divide="ignore"):
        logref = np.log(ref)
    _, kl = K.policy_value(P, R, mdp.mu, pi, logref)
    assert kl == pytest.approx(3 * math.log(2), abs=1e-12)
    ref[0, 1] = [1.0, 0.0]  # now a reachable state forbids the played action
    with np.errstate(divide="ignore"):
        logref = np.log(ref)
    _, kl = K.policy_value(P, R, mdp.mu, pi, logref)
    assert kl == np.inf


def test_backward_induction_matches_solve():
    rng = np.random.default_rng(5)
    mdp = ml.envs.random_mdp(7, 3, horizon=6, time_varying=True, rng=rng)
    Q = np.empty((6, 7, 3))
    V = np.empty((7, 7))
    K.backward_induction(np.asarray(mdp.P), np.asarray(mdp.R), Q, V)
    sol = ml.solve(mdp)
    np.testing.assert_allclose(V, sol.V, atol=1e-12)
    np.testing.assert_allclose(Q, sol.Q, atol=1e-12)


def plain_qlearning(Q, V, N, states, actions, rewards, c, iota):
    H = Q.shape[0]
    for h in range(H):
        s, a = states[h], actions[h]
        N[h, s, a] += 1
        t = N[h, s, a]
        alpha = (H + 1) / (H + t)
        Q[h, s, a] = (1 - alpha) * Q[h, s, a] + alpha * (
            rewards[h] + V[h + 1, states[h + 1]] + c * math.sqrt(H**3 * iota / t)
        )
        V[h, s] = min(H, Q[h, s].max())


def test_qlearning_update_matches_python():
    rng = np.random.default_rng(6)
    H, S, A = 4, 3, 2
    Q = np.full((H, S, A), float(H))
    V = np.full((H + 1, S), float(H))
    V[H] = 0
    N = np.zeros((H, S, A))
    Q2, V2, N2 = Q.copy(), V.copy(), N.copy()
    for _ in range(300):
        st = rng.integers(0, S, H + 1)
        ac = rng.integers(0, A, H)
        r = rng.random(H)
        K.qlearning_update(Q, V, N, st, ac, r, 0.3, 5.0)
        plain_qlearning(Q2, V2, N2, st, ac, r, 0.3, 5.0)
    np.testing.assert_allclose(Q, Q2, rtol=1e-13)
    np.testing.assert_allclose(V, V2, rtol=1e-13)


# ----------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("seed", range(3))
def test_ucbvi_q_upper_bounds_q_star_every_episode(seed):
    """UCBVI-BF with the paper's constants is optimistic (w.h.p.): Q_k >= Q* at every episode,
    and the check is not vacuous (Q_k falls below its cap on a growing set of pairs)."""
    mdp = ml.envs.random_mdp(3, 2, horizon=2, time_varying=True, rng=100 + seed)
    Q_star = ml.solve(mdp).Q
    cap = (mdp.H - np.arange(mdp.H))[:, None, None]
    worst, below_cap = np.inf, 0

    def cb(k, agent, pi):
        nonlocal worst, below_cap
        worst = min(worst, float(np.min(agent.Q - Q_star)))
        below_cap = max(below_cap, int(np.sum(agent.Q < cap - 1e-9)))
        # the played policy is greedy in the optimistic Q
        assert np.all(agent.Q[np.arange(mdp.H)[:, None], np.arange(mdp.S), pi.argmax(-1)]
                      == agent.Q.max(-1))

    ml.learn.run(ml.learn.UCBVI(bonus="bernstein"), mdp, episodes=3000, rng=seed, callback=cb)
    assert worst >= -1e-12
    assert below_cap >= Q_star.size // 2  # most values are real estimates, not the cap


def test_ucbvi_optimistic_value_bounds_optimal_value_hoeffding():
    mdp = ml.envs.random_mdp(3, 2, horizon=2, rng=7)
    V_star = ml.solve(mdp).V

    def cb(k, agent, pi):
        assert np.all(agent.V >= V_star - 1e-12)

    ml.learn.run(ml.learn.UCBVI(bonus="hoeffding"), mdp, episodes=500, rng=0, callback=cb)


def test_regret_sublinear_on_a_tiny_mdp():
    """Average regret falls: the last decade's mean per-episode regret is well below the first
    decade's, and cumulative regret grows slower than linearly (UCBVI-BF, paper constants)."""
    mdp = ml.envs.random_mdp(2, 2, horizon=2, rng=0)
    log = ml.learn.run(ml.learn.UCBVI(bonus="bernstein"), mdp, episodes=20_000, rng=0)
    c = log["cum_regret"].to_numpy()
    first = c[1999] / 2000
    last = (c[-1] - c[17_999]) / 2000
    assert last < 0.25 * first
    assert c[-1] / c[1999] < 0.5 * 10  # 10x the episodes, less than 5x the regret
    # greedy (no exploration) for contrast: its regret per episode does not fall
    # on riverswim, where it never swims right
    rs = ml.envs.riverswim(4, horizon=8, variant="osband")
    g = ml.learn.run(ml.learn.Greedy(), rs, episodes=2000, rng=0)["regret"].to_numpy()
    assert g[-500:].mean() > 0.9 * g[:500].mean() > 0


def test_psrl_and_qlearning_learn_riverswim():
    rs = ml.envs.riverswim(4, horizon=8, variant="osband")
    for learner, n in ((ml.learn.PSRL(), 3000), (ml.learn.OptimisticQLearning(c=0.05), 10_000)):
        r = ml.learn.run(learner, rs, episodes=n, rng=1)["regret"].to_numpy()
        assert r[-300:].mean() < 0.2 * r[:300].mean(), type(learner).__name__


def test_learner_validation():
    with pytest.raises(ValueError, match="bonus = 'ucb'"):
        ml.learn.UCBVI(bonus="ucb")
    with pytest.raises(ValueError, match="delta"):
        ml.learn.UCBVI(delta=1.5)
    with pytest.raises(ValueError, match="scale"):
        ml.learn.UCBVI(scale=-1)
    with pytest.raises(TypeError, match="scale"):
        ml.learn.UCBVI(scale="big")
    with pytest.raises(ValueError, match="epsilon"):
        ml.learn.EpsilonGreedy(epsilon=2.0)
    with pytest.raises(ValueError, match="prior"):
        ml.learn.PSRL(prior=0)
    with pytest.raises(ValueError, match="c = -1"):
        ml.learn.OptimisticQLearning(c=-1)
    assert ml.learn.Greedy().epsilon == 0.0
    assert ml.learn.UCBVI("hoeffding").name == "UCBVI-CH"
    with pytest.raises(dataclasses.FrozenInstanceError):  # frozen hyper-parameter objects
        ml.learn.UCBVI().scale = 2.0
