"""Numerical extremes and determinism for the learning code (issue 12).

Extremes: preference games for beta from 1e-4 to 1e4 (and reference masses down to 1e-300),
``RegularizedUCBVI`` / ``identify`` for beta from 1e-8 to 1e8, every learner with rewards at the
edges of [0, 1] and extreme hyper-parameters, behavior cloning / behavior regularization with
extreme smoothing and temperatures. Results are finite and agree with an independent
high-precision reference (mpmath at 40-50 digits) where one is cheap.

Tolerances. A KL-regularized value carries the rounding of the KL term times beta: a float
policy sums to one only within ~1e-16, so its KL (and beta * KL) is only defined to about
``beta * 1e-16`` per step; we allow ``TOL(beta) = 64 eps H (1 + beta)`` absolute on values and
regrets. The equilibrium of a preference game is checked against its certified l1 bound.

Determinism: the same seed gives bit-identical logs for every learner (int seed or Generator,
expected or Bernoulli rewards); the dense and the CSR form of the same model give bit-identical
``value`` and ``kl`` columns and regrets equal to 1e-12 (the optimum ``J*`` comes from
``solve``, whose sparse products may round differently by one ulp).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

import mdplab as ml
from mdplab.learn import demo, games, offline

EPS = np.finfo(float).eps
DPS = 50


def TOL(beta, H):
    return 64 * EPS * H * (1.0 + beta)


# ----------------------------------------------------------------------------- mp references
def _mp_model(mdp):
    H, S, A = mdp.H, mdp.S, mdp.A
    P = [[[[mp.mpf(float(mdp.transitions(h)[s * A + a, t])) for t in range(S)]
           for a in range(A)] for s in range(S)] for h in range(H)]
    R = [[[mp.mpf(float(mdp.rewards(h)[s, a])) for a in range(A)] for s in range(S)]
         for h in range(H)]
    return P, R


def _mp_ref(ref, H, S, A):
    ref = np.full((S, A), 1.0 / A) if ref is None else np.asarray(ref, dtype=float)
    ref = np.broadcast_to(ref, (H, S, A))
    out = []
    for h in range(H):
        rows = []
        for s in range(S):
            row = [mp.mpf(float(x)) for x in ref[h, s]]
            tot = mp.fsum(row)
            rows.append([x / tot for x in row])
        out.append(rows)
    return out


def mp_optimal_value(mdp, beta, ref=None):
    """``mu . V*_0`` of the beta-regularized finite-horizon problem, by backward induction."""
    with mp.workdps(DPS):
        H, S, A = mdp.H, mdp.S, mdp.A
        P, R = _mp_model(mdp)
        rf = _mp_ref(ref, H, S, A)
        b = mp.mpf(beta)
        V = [mp.mpf(0)] * S
        for h in range(H - 1, -1, -1):
            newV = []
            for s in range(S):
                q = [R[h][s][a] + mp.fsum(P[h][s][a][t] * V[t] for t in range(S))
                     for a in range(A)]
                sup = [a for a in range(A) if rf[h][s][a] > 0]
                m = max(q[a] for a in sup)
                if beta == 0:
                    newV.append(m)
                else:
                    newV.append(m + b * mp.log(mp.fsum(rf[h][s][a] * mp.exp((q[a] - m) / b)
                                                       for a in sup)))
            V = newV
        return float(mp.fsum(mp.mpf(float(m)) * v for m, v in zip(mdp.mu, V, strict=True)))


def mp_policy_value(mdp, pi, beta, ref=None):
    """``J(pi) - beta KL_traj(pi || ref)`` of the float policy ``pi`` (H, S, A), exactly."""
    with mp.workdps(DPS):
        H, S, A = mdp.H, mdp.S, mdp.A
        P, R = _mp_model(mdp)
        rf = _mp_ref(ref, H, S, A)
        d = [mp.mpf(float(m)) for m in mdp.mu]
        J = mp.mpf(0)
        for h in range(H):
            nd = [mp.mpf(0)] * S
            for s in range(S):
                for a in range(A):
                    p = mp.mpf(float(pi[h, s, a]))
                    if p == 0 or d[s] == 0:
                        continue
                    w = d[s] * p
                    J += w * (R[h][s][a] - mp.mpf(beta) * mp.log(p / rf[h][s][a]))
                    for t in range(S):
                        nd[t] += w * P[h][s][a][t]
            d = nd
        return float(J)


def mp_equilibrium(P, beta, ref, z0):
    """pi*_beta by Newton's method at 50 digits on z - log ref - P e^z / beta = c,
    sum e^z = 1 (unknowns z = log pi and c), started from the float solution ``z0``."""
    with mp.workdps(DPS):
        n = len(ref)
        Pm = mp.matrix([[mp.mpf(float(x)) for x in row] for row in P])
        lr = [mp.log(mp.mpf(float(r))) for r in ref]
        b = mp.mpf(beta)
        z = [mp.mpf(float(x)) for x in z0]
        c = mp.mpf(0)
        for _ in range(200):
            e = [mp.exp(x) for x in z]
            Pe = [mp.fsum(Pm[i, j] * e[j] for j in range(n)) for i in range(n)]
            F = [z[i] - lr[i] - Pe[i] / b - c for i in range(n)] + [mp.fsum(e) - 1]
            J = mp.matrix(n + 1, n + 1)
            for i in range(n):
                for j in range(n):
                    J[i, j] = (1 if i == j else 0) - Pm[i, j] * e[j] / b
                J[i, n] = -1
                J[n, i] = e[i]
            step = mp.lu_solve(J, mp.matrix(F))
            z = [z[i] - step[i] for i in range(n)]
            c -= step[n]
            if max(abs(x) for x in step) < mp.mpf(10) ** (-(DPS - 8)):
                break
        e = [mp.exp(x) for x in z]
        tot = mp.fsum(e)
        return [x / tot for x in e]


# ----------------------------------------------------------------------------- games
GAME_INSTANCES = {
    "perturbed-rps": (games.perturbed_rps(), None),
    "random-4": (games.random_preference(4, rng=1), None),
    "tournament-5": (games.random_tournament(5, rng=2), None),  # entries exactly 0 and 1
    "tiny-ref": (games.perturbed_rps(), np.array([1e-300, 0.5, 0.5])),
}
BETAS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4]


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("instance", list(GAME_INSTANCES))
def test_regularized_equilibrium_matches_mpmath(instance, beta):
    P, ref = GAME_INSTANCES[instance]
    n = P.shape[0]
    eq = games.regularized_equilibrium(P, beta, ref)
    assert eq.converged and np.all(np.isfinite(eq.policy)) and np.isfinite(eq.error_bound)
    floor = 16 * EPS * max(1.0, 1.0 / beta)
    assert eq.error_bound <= max(1e-12, floor)
    r = np.full(n, 1.0 / n) if ref is None else ref
    z0 = np.log(np.maximum(eq.policy, 1e-300))
    pi_mp = mp_equilibrium(P, beta, r, z0)
    with mp.workdps(DPS):
        err = float(mp.fsum(abs(mp.mpf(float(p)) - q) for p, q in zip(eq.policy, pi_mp,
                                                                     strict=True)))
    # the certified bound holds (up to the rounding of the float policy itself)
    assert err <= eq.error_bound + 4 * n * EPS


@pytest.mark.parametrize("beta", BETAS)
def test_exploitability_matches_mpmath(beta):
    rng = np.random.default_rng(3)
    P = games.random_preference(4, rng=rng)
    ref = rng.dirichlet(np.ones(4))
    for pi in (rng.dirichlet(np.ones(4)), games.regularized_equilibrium(P, beta, ref).policy):
        got = games.exploitability(P, pi, beta, ref)
        with mp.workdps(DPS):
            b = mp.mpf(beta)
            pm = [mp.mpf(float(x)) for x in pi]
            rm = [mp.mpf(float(x)) for x in ref]
            rm = [x / mp.fsum(rm) for x in rm]
            v = [mp.fsum(mp.mpf(float(P[i, j])) * pm[j] for j in range(4)) for i in range(4)]
            lse = b * mp.log(mp.fsum(rm[i] * mp.exp(v[i] / b) for i in range(4)))
            kl = mp.fsum(pm[i] * mp.log(pm[i] / rm[i]) for i in range(4) if pm[i] > 0)
            expect = float(lse + b * kl - mp.mpf(1) / 2)
        # beta * (a log-sum-exp and a KL of order one) cancels against 1/2
        assert abs(got - expect) <= 64 * EPS * max(1.0, beta)


@pytest.mark.parametrize("beta", [1e-4, 1.0, 1e4])
def test_game_iterations_are_finite_and_nash_mp_contracts_at_extreme_temperatures(beta):
    rng = np.random.default_rng(4)
    P = games.random_preference(5, rng=rng)
    ref = rng.dirichlet(np.ones(5))
    trajs = [games.nash_md(P, beta, ref, iterations=30), games.nash_mp(P, beta, ref,
                                                                       iterations=30),
             games.mmd(P, beta, ref, iterations=30),
             games.omd(P, beta, ref, eta=0.5 / beta, iterations=30),
             games.self_play(P, iterations=30), games.sppo(P, eta=1.0, iterations=30)]
    for tr in trajs:
        assert np.all(np.isfinite(tr.policies)) and np.all(tr.policies >= 0), tr.algorithm
        np.testing.assert_allclose(tr.policies.sum(-1), 1.0, atol=1e-12)
    # one Nash-MP step (eta = 2) contracts KL(pi* || .) by (1 + 2 beta)^{-1} (docstring)
    star = games.regularized_equilibrium(P, beta, ref).policy
    tr = games.nash_mp(P, beta, ref, eta=2.0, iterations=1)
    with mp.workdps(DPS):
        def kl(p, q):
            return float(mp.fsum(mp.mpf(float(a)) * mp.log(mp.mpf(float(a)) / mp.mpf(float(c)))
                                 for a, c in zip(p, q, strict=True) if a > 0))
        assert kl(star, tr.policies[1]) <= kl(star, tr.policies[0]) / (1 + 2 * beta) + 1e-15


def test_minimax_winner_on_a_tournament_with_exact_zero_one_entries():
    for seed in range(5):
        P = games.random_tournament(7, rng=seed)
        w = games.minimax_winner(P)
        assert np.all(w.policy >= 0) and w.policy.sum() == pytest.approx(1.0, abs=1e-15)
        # exploitability recomputed independently: max_y (P p)_y - 1/2 >= 0, ~0 at a winner
        assert -1e-15 <= float(np.max(P @ w.policy) - 0.5) <= 1e-9


# ----------------------------------------------------------------------------- learners
@pytest.mark.parametrize("beta", [0.0, 1e-8, 1e-4, 1.0, 1e4, 1e8])
def test_regularized_ucbvi_at_extreme_temperatures_matches_mpmath(beta):
    mdp = ml.envs.random_mdp(3, 2, horizon=3, rng=0)
    rng = np.random.default_rng(1)
    ref = rng.dirichlet(np.ones(2), size=3)
    seen = {}

    def keep(k, agent, pi):
        if k in (1, 40, 120):
            seen[k] = pi.copy()

    log = ml.learn.run(ml.learn.RegularizedUCBVI(beta=beta, ref=ref), mdp, 120, rng=0,
                       beta=beta, ref=ref, callback=keep)
    tol = TOL(beta, mdp.H)
    assert np.all(np.isfinite(log.drop(columns="seconds").to_numpy()))
    assert log["regret"].min() >= -tol
    J_star = mp_optimal_value(mdp, beta, ref)
    assert abs(log.attrs["optimal_value"] - J_star) <= tol
    for k, pi in seen.items():
        assert abs(log["value"].iloc[k - 1] - mp_policy_value(mdp, pi, beta, ref)) <= tol
    # the certified stopping rule (scale = 1): a stopped row's suboptimality is below its gap
    res = ml.learn.identify(ml.learn.RegularizedUCBVI(beta=beta, ref=ref), mdp, [1.0, 0.1],
                            rng=0, max_episodes=400)
    assert np.all(np.isfinite(res[["gap", "suboptimality"]].to_numpy()))
    for row in res.itertuples():
        assert row.suboptimality >= -tol
        if row.stopped:
            assert row.suboptimality <= row.gap + tol


LEARNERS = {
    "UCBVI-BF": ml.learn.UCBVI(), "UCBVI-CH": ml.learn.UCBVI(bonus="hoeffding", scale=0.1),
    "Q-learning": ml.learn.OptimisticQLearning(c=0.1), "PSRL": ml.learn.PSRL(),
    "eps-greedy": ml.learn.EpsilonGreedy(epsilon=0.3, decay=0.5), "greedy": ml.learn.Greedy(),
    "UCBVI-Ent": ml.learn.RegularizedUCBVI(beta=0.3), "UCBVI-BPI":
        ml.learn.RegularizedUCBVI(beta=0.0, scale=0.1),
}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_rewards_at_the_edges_of_the_unit_interval(name):
    learner = LEARNERS[name]
    base = ml.envs.random_mdp(4, 3, horizon=4, time_varying=True, rng=2)
    R = np.asarray(base.R)
    for kind in ("zeros", "ones", "zero-one"):
        Rk = {"zeros": np.zeros_like(R), "ones": np.ones_like(R),
              "zero-one": (R > 0.5).astype(float)}[kind]
        mdp = base.with_(R=Rk)
        logs = {obs: ml.learn.run(learner, mdp, 60, rng=3, rewards=obs).drop(columns="seconds")
                for obs in ("expected", "bernoulli")}
        for log in logs.values():
            assert np.all(np.isfinite(log.to_numpy()))
            assert log["regret"].min() >= -TOL(0, mdp.H)
            if kind != "zero-one":  # every policy is optimal: the regret is zero
                assert np.max(np.abs(log["regret"])) <= TOL(0, mdp.H)
        # rewards in {0, 1}: a Bernoulli draw with that mean is the mean itself
        pd.testing.assert_frame_equal(logs["expected"], logs["bernoulli"], check_exact=True)


@pytest.mark.parametrize("learner", [
    ml.learn.UCBVI(delta=1e-300), ml.learn.UCBVI(scale=1e8), ml.learn.UCBVI(scale=1e-12),
    ml.learn.OptimisticQLearning(c=1e8), ml.learn.OptimisticQLearning(delta=1e-300),
    ml.learn.PSRL(prior=1e-300), ml.learn.PSRL(prior=1e8),
    ml.learn.EpsilonGreedy(q_init=1e300), ml.learn.EpsilonGreedy(q_init=-1e300),
    ml.learn.EpsilonGreedy(epsilon=1.0, decay=1e8), ml.learn.EpsilonGreedy(epsilon=1.0,
                                                                           decay=1e-300),
    ml.learn.RegularizedUCBVI(beta=1.0, delta=1e-300), ml.learn.RegularizedUCBVI(scale=1e8),
], ids=repr)
def test_learners_with_extreme_hyper_parameters_stay_finite(learner):
    mdp = ml.envs.random_mdp(3, 2, horizon=4, rng=0)
    log = ml.learn.run(learner, mdp, 80, rng=0)
    assert np.all(np.isfinite(log.drop(columns="seconds").to_numpy()))
    assert log["regret"].min() >= -TOL(0, mdp.H)


@pytest.mark.parametrize("S, A, H", [(1, 1, 1), (1, 1, 50), (1, 3, 1), (4, 1, 3), (2, 2, 200)])
def test_degenerate_sizes(S, A, H):
    mdp = ml.envs.random_mdp(S, A, horizon=H, rng=0)
    for name, learner in LEARNERS.items():
        log = ml.learn.run(learner, mdp, 20, rng=0, beta=0.1)
        assert np.all(np.isfinite(log.drop(columns="seconds").to_numpy())), name
        assert log["regret"].min() >= -TOL(0.1, H), name
        if A == 1:  # a single policy: no regret and no KL to the (only) reference
            assert np.max(np.abs(log["regret"])) <= TOL(0.1, H), name
            assert np.all(log["kl"] == 0.0), name


# ----------------------------------------------------------------------------- demos, offline
@pytest.mark.parametrize("alpha", [1e-300, 1e-8, 1.0, 1e8, 1e300, 1e308])
def test_smoothing_at_extreme_values_matches_the_closed_form(alpha):
    mdp = ml.envs.random_mdp(3, 4, horizon=3, rng=0)
    s, a = demo.sample_trajectories(mdp, np.full((3, 4), 0.25), 7, rng=0)
    data = offline.sample_dataset(mdp, np.full((3, 4), 0.25), 7, rng=0)
    for got, (states, actions) in (
            (demo.behavior_cloning(s, a, 3, 4, smoothing=alpha), (s[:, :-1], a)),
            (offline.behavior_estimate(data, smoothing=alpha), (data.states[:, :-1],
                                                               data.actions))):
        assert np.all(np.isfinite(got)) and np.allclose(got.sum(-1), 1.0, atol=1e-15)
        with mp.workdps(DPS):
            for h in range(3):
                for st in range(3):
                    n = [int(np.sum((states[:, h] == st) & (actions[:, h] == ac)))
                         for ac in range(4)]
                    if sum(n) == 0:
                        continue  # unvisited: uniform either way
                    tot = sum(n) + 4 * mp.mpf(alpha)
                    for ac in range(4):
                        expect = float((n[ac] + mp.mpf(alpha)) / tot)
                        assert got[h, st, ac] == pytest.approx(expect, rel=4 * EPS, abs=0)


@pytest.mark.parametrize("beta", [0.0, 1e-8, 1.0, 1e8])
def test_behavior_regularization_and_pevi_at_extreme_parameters(beta):
    mdp = ml.envs.random_mdp(4, 3, horizon=3, rng=1)
    data = offline.sample_dataset(mdp, offline.behavior_policy(mdp), 40, rng=1)
    res = offline.behavior_regularized(data, beta, smoothing=0.5)
    assert np.all(np.isfinite(res.V)) and np.all(np.isfinite(res.policy))
    if beta == 1e8:  # the KL term dominates: the policy is the behavior estimate
        np.testing.assert_allclose(res.policy, offline.behavior_estimate(data, smoothing=0.5),
                                   atol=1e-7)
    for kw in ({"delta": 1e-300}, {"scale": 1e8}, {"scale": 1e-300}):
        r = offline.pevi(data, **kw)
        assert np.all(np.isfinite(r.V)) and r.V.min() >= 0
        if kw.get("scale") == 1e8:  # the penalty is H - h everywhere: nothing is trusted
            assert np.all(r.V == 0.0)


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", list(LEARNERS))
@pytest.mark.parametrize("rewards", ["expected", "bernoulli"])
def test_same_seed_gives_bit_identical_logs(name, rewards):
    learner = LEARNERS[name]
    mdp = ml.envs.random_mdp(5, 3, horizon=4, time_varying=True, rng=4)
    runs = [ml.learn.run(learner, mdp, 150, rng=seed, beta=0.2, rewards=rewards)
            for seed in (11, 11, np.random.default_rng(11))]
    a, b, c = (r.drop(columns="seconds") for r in runs)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, c, check_exact=True)


@pytest.mark.parametrize("name", list(LEARNERS))
@pytest.mark.parametrize("time_varying", [False, True])
def test_dense_and_sparse_models_give_the_same_learning_log(name, time_varying):
    learner = LEARNERS[name]
    mdp = ml.envs.random_mdp(6, 3, horizon=5, time_varying=time_varying, sparsity=3, rng=1)
    beta = getattr(learner, "beta", 0.2)
    dense = ml.learn.run(learner, mdp.dense(), 200, rng=5, beta=beta, rewards="bernoulli")
    sparse = ml.learn.run(learner, mdp.sparse(), 200, rng=5, beta=beta, rewards="bernoulli")
    for col in ("episode", "value", "kl"):
        np.testing.assert_array_equal(dense[col], sparse[col])
    scale = max(1.0, float(np.max(np.abs(dense["cum_regret"]))))
    assert np.max(np.abs(dense["cum_regret"] - sparse["cum_regret"])) <= 1e-12 * scale


def test_dense_and_sparse_models_give_the_same_identification_and_data():
    mdp = ml.envs.random_mdp(5, 2, horizon=4, sparsity=2, rng=6)
    learner = ml.learn.RegularizedUCBVI(beta=0.5)
    a = ml.learn.identify(learner, mdp.dense(), [1.0, 0.3], rng=2, max_episodes=300)
    b = ml.learn.identify(learner, mdp.sparse(), [1.0, 0.3], rng=2, max_episodes=300)
    pd.testing.assert_frame_equal(a[["epsilon", "episodes", "gap", "stopped"]],
                                  b[["epsilon", "episodes", "gap", "stopped"]], check_exact=True)
    np.testing.assert_allclose(a["suboptimality"], b["suboptimality"], rtol=0, atol=1e-12)
    behavior = offline.behavior_policy(mdp.dense(), (0.3, 0.7, 0.0))
    assert offline.sample_dataset(mdp.dense(), behavior, 30, rng=3) == \
        offline.sample_dataset(mdp.sparse(), behavior, 30, rng=3)
    for x, y in zip(demo.sample_trajectories(mdp.dense(), behavior, 20, rng=3),
                    demo.sample_trajectories(mdp.sparse(), behavior, 20, rng=3), strict=True):
        np.testing.assert_array_equal(x, y)
