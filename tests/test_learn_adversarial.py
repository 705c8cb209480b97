"""Adversarial MDPs: occupancy projection (Newton vs cvxpy vs plain NumPy), O-REPS, exact regret."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mdplab as ml
from mdplab.learn import adversarial as adv


def layered(S=3, A=2, H=3, seed=0, sparse_start=True):
    mdp = ml.envs.random_mdp(S, A, horizon=H, time_varying=True, rng=seed)
    if sparse_start:
        mu = np.zeros(S)
        mu[0] = 1.0
        mdp = mdp.with_(mu=mu)
    return mdp


def unreachable_mdp():
    """H = 3, S = 3, A = 2: state 2 is never reachable; state 1 unreachable at step 0."""
    P = np.zeros((3, 3, 2, 3))
    P[:, :, 0, 0] = 1.0
    P[:, :, 1, 0] = 0.3
    P[:, :, 1, 1] = 0.7
    return ml.TabularMDP(P, np.zeros((3, 3, 2)), horizon=3, mu=[1.0, 0.0, 0.0])


def occupancy_numpy(mdp, pi):
    P = np.asarray(mdp.P)
    P = np.broadcast_to(P, (mdp.H,) + P.shape[-3:]) if P.ndim == 3 else P
    d = np.asarray(mdp.mu, float)
    q = np.zeros(pi.shape)
    for h in range(mdp.H):
        q[h] = d[:, None] * pi[h]
        d = np.einsum("sa,sat->t", q[h], P[h])
    return q


def newton_numpy(mdp, logw, iters=100):
    """Plain dense Newton on the dual F(v), independent of the Numba kernel."""
    H, S, A = logw.shape
    P = np.asarray(mdp.P)
    P = np.broadcast_to(P, (H,) + P.shape[-3:]) if P.ndim == 3 else P
    n = H * S
    C = np.zeros((H * S * A, n))  # B = C v
    for h, s, a in itertools.product(range(H), range(S), range(A)):
        i = (h * S + s) * A + a
        C[i, h * S + s] = -1.0
        if h + 1 < H:
            C[i, (h + 1) * S:(h + 2) * S] = P[h, s, a]
    b = np.zeros(n)
    b[:S] = mdp.mu
    reach = adv._reachable(np.ascontiguousarray(P), np.asarray(mdp.mu))
    keep = reach.reshape(-1)
    # variables of unreachable states are forced to 0 by the flow constraints: drop them
    lw = np.where(np.repeat(keep, A), logw.reshape(-1), -np.inf)
    v = np.zeros(n)
    for _ in range(iters):
        q = np.exp(lw + C @ v)
        g = C.T @ q + b
        if np.abs(g[keep]).max() < 1e-13:
            break
        Hs = C.T @ (q[:, None] * C)
        step = np.zeros(n)
        step[keep] = np.linalg.solve(Hs[np.ix_(keep, keep)], -g[keep])
        v = v + step
    return np.exp(lw + C @ v).reshape(H, S, A)


# ------------------------------------------------------------------------ projection


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_projection_equals_cvxpy_and_lies_in_polytope(seed):
    rng = np.random.default_rng(seed)
    mdp = layered(S=3, A=2, H=3, seed=seed)
    logw = rng.normal(0, 1.5, (3, 3, 2))
    newton = adv.project_occupancy(mdp, logw=logw, method="newton")
    cvx = adv.project_occupancy(mdp, logw=logw, method="cvxpy")
    assert newton.violation <= 1e-10
    assert adv.flow_violation(mdp, newton.q) <= 1e-10
    assert newton.q.min() >= 0
    np.testing.assert_allclose(newton.q, cvx.q, rtol=0, atol=1e-8)


def test_newton_kernel_matches_plain_numpy_newton():
    rng = np.random.default_rng(5)
    for mdp in (layered(S=4, A=3, H=4, seed=3), unreachable_mdp(),
                layered(S=3, A=2, H=2, seed=4, sparse_start=False)):
        logw = rng.normal(0, 2, (mdp.H, mdp.S, mdp.A))
        got = adv.project_occupancy(mdp, logw=logw).q
        np.testing.assert_allclose(got, newton_numpy(mdp, logw), rtol=0, atol=1e-11)


def test_projection_kkt_and_unreachable_states():
    mdp = unreachable_mdp()
    logw = np.random.default_rng(0).normal(size=(3, 3, 2))
    res = adv.project_occupancy(mdp, logw=logw)
    assert np.all(res.q[:, 2] == 0) and np.all(res.q[0, 1] == 0)
    assert res.violation <= 1e-12
    P = np.asarray(mdp.P)
    # stationarity: log(q / w) = -v_h(s) + sum_s' P_h(s'|s,a) v_{h+1}(s') on the support
    for h in range(3):
        for s in range(2 if h else 1):
            nxt = P[h, s] @ res.v[h + 1] if h < 2 else 0.0
            np.testing.assert_allclose(np.log(res.q[h, s]) - logw[h, s], -res.v[h, s] + nxt,
                                       atol=1e-10)


def test_max_entropy_start_pythagoras():
    """D(u || q1) = R(u) - R(q1) for the max-entropy occupancy q1 (used in the regret bound),
    and D(u || q1) <= H log(SA)."""
    mdp = layered(S=4, A=3, H=4, seed=7)
    q1 = adv.project_occupancy(mdp, w=np.ones((4, 4, 3))).q
    rng = np.random.default_rng(1)

    def R(q):
        x = q[q > 0]
        return float(np.sum(x * np.log(x) - x))

    for _ in range(5):
        pi = rng.dirichlet(np.ones(3), size=(4, 4))
        u = occupancy_numpy(mdp, pi)
        m = q1 > 0
        assert np.all(u[~m] == 0)
        D = float(np.sum(u[m] * np.log(u[m] / q1[m]) - u[m] + q1[m]))
        assert D == pytest.approx(R(u) - R(q1), abs=1e-9)
        assert D <= 4 * np.log(12) + 1e-12


def test_omd_steps_equal_ftrl():
    mdp = layered(S=3, A=3, H=3, seed=2)
    rng = np.random.default_rng(3)
    eta = 0.7
    q = adv.project_occupancy(mdp, w=np.ones((3, 3, 3))).q
    total = np.zeros((3, 3, 3))
    for _ in range(6):
        ell = rng.random((3, 3, 3))
        total += ell
        q = adv.project_occupancy(mdp, logw=np.log(np.where(q > 0, q, 1.0)) - eta * ell).q
        ftrl = adv.project_occupancy(mdp, logw=-eta * total).q
        np.testing.assert_allclose(q, ftrl, atol=1e-10)


def test_projection_speed_target_size_converges():
    """S = 50, A = 5, H = 10 (the benchmark size): converges to 1e-12 (timing: benchmark)."""
    mdp = ml.envs.random_mdp(50, 5, horizon=10, time_varying=True, rng=0)
    logw = np.random.default_rng(0).normal(size=(10, 50, 5))
    res = adv.project_occupancy(mdp, logw=logw)
    assert res.violation <= 1e-12 and res.iterations < 30


# ------------------------------------------------------------------------ O-REPS and regret


def brute_force_best(mdp, losses):
    """Minimum total loss over all deterministic policies (enumeration)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    total = losses.sum(axis=0)
    best = np.inf
    for acts in itertools.product(range(A), repeat=H * S):
        pi = np.eye(A)[np.array(acts).reshape(H, S)]
        best = min(best, float(np.sum(occupancy_numpy(mdp, pi) * total)))
    return best


def test_regret_is_exact_against_brute_force():
    mdp = layered(S=2, A=2, H=3, seed=11)
    K = 40
    losses = adv.oblivious_losses(mdp, K, rng=0)
    learner = adv.OREPS(eta=0.5)
    log = adv.run_adversarial(learner, mdp, losses, rng=1)
    # replay the (deterministic, full-information) learner and evaluate with plain NumPy
    agent = learner.start(mdp, K, np.random.default_rng(0))
    played = []
    for k in range(K):
        pi = agent.policy().copy()
        played.append(float(np.sum(occupancy_numpy(mdp, pi) * losses[k])))
        agent.update(None, None, None, losses[k])
    np.testing.assert_allclose(log["loss"], played, atol=1e-12)
    best = brute_force_best(mdp, losses)
    assert log.attrs["best_loss"] == pytest.approx(best, abs=1e-10)
    assert log["cum_regret"].iloc[-1] == pytest.approx(sum(played) - best, abs=1e-9)
    # hindsight regret at k = 10 against the best policy of the first 10 episodes
    k10 = log.set_index("episode").loc[10, "hindsight_regret"]
    assert k10 == pytest.approx(sum(played[:10]) - brute_force_best(mdp, losses[:10]),
                                abs=1e-9)


def test_zero_learning_rate_plays_max_entropy_policy():
    mdp = layered(S=3, A=2, H=3, seed=1)
    losses = adv.oblivious_losses(mdp, 30, rng=2)
    log = adv.run_adversarial(adv.OREPS(eta=0.0, feedback="bandit"), mdp, losses, rng=0)
    q1 = adv.project_occupancy(mdp, w=np.ones((3, 3, 2))).q
    expected = np.einsum("hsa,khsa->k", q1, losses)
    np.testing.assert_allclose(log["loss"], expected, atol=1e-11)


def test_constant_losses_give_zero_regret_and_no_movement():
    mdp = layered(S=3, A=3, H=3, seed=4)
    losses = np.full((50, 3, 3, 3), 0.3)
    for fb in ("full", "bandit"):
        log = adv.run_adversarial(adv.OREPS(eta=2.0, feedback=fb), mdp, losses, rng=0)
        np.testing.assert_allclose(log["regret"], 0.0, atol=1e-12)
    learner = adv.OREPS(eta=2.0)
    agent = learner.start(mdp, 50, np.random.default_rng(0))
    q_first = None
    for _ in range(5):
        agent.policy()
        q_first = agent.q.copy() if q_first is None else q_first
        agent.update(None, None, None, losses[0])
    np.testing.assert_allclose(agent.q, q_first, atol=1e-10)


def test_full_information_regret_below_omd_bound():
    mdp = layered(S=3, A=3, H=4, seed=9)
    for make in (adv.oblivious_losses, adv.switching_losses, adv.drifting_losses):
        K = 300
        losses = make(mdp, K, rng=3)
        eta = float(np.sqrt(2 * np.log(9) / K))
        log = adv.run_adversarial(adv.OREPS(eta=eta), mdp, losses, rng=0)
        bound = float(adv.oreps_bound(K, 3, 3, 4, "full", eta=eta))
        assert log["cum_regret"].iloc[-1] <= bound
        assert log["hindsight_regret"].max() <= bound
        assert log.attrs["max_violation"] <= 1e-10


def test_bandit_runs_with_cvxpy_projection_identically():
    mdp = layered(S=2, A=2, H=2, seed=0)
    losses = adv.oblivious_losses(mdp, 6, rng=1)
    a = adv.run_adversarial(adv.OREPS(eta=0.3, feedback="bandit"), mdp, losses, rng=5)
    b = adv.run_adversarial(adv.OREPS(eta=0.3, feedback="bandit", projection="cvxpy"), mdp,
                            losses, rng=5)
    np.testing.assert_allclose(a["loss"], b["loss"], atol=1e-7)


def test_adaptive_adversary_replays_exactly():
    mdp = layered(S=2, A=3, H=3, seed=2)
    learner = adv.OREPS(eta=0.4)
    table = adv.adaptive_losses(learner, mdp, 25, rng=7)
    again = adv.adaptive_losses(learner, mdp, 25, rng=7)
    np.testing.assert_array_equal(table, again)
    assert np.all(table.sum(axis=3) == 1)
    played, _, _ = adv._play(learner, mdp, 25, lambda k, pi: table[k], 7, None)
    log = adv.run_adversarial(learner, mdp, table, rng=7)
    np.testing.assert_allclose(log["loss"], played, atol=0)
    assert log["cum_regret"].iloc[-1] > 0


def test_adversaries_shapes_ranges_and_hard_instance():
    mdp = layered(S=3, A=2, H=2, seed=0)
    for make in (adv.oblivious_losses, adv.drifting_losses, adv.switching_losses,
                 adv.hard_losses):
        L = make(mdp, 7, rng=0)
        assert L.shape == (7, 2, 3, 2) and L.min() >= 0 and L.max() <= 1
    target = np.array([[0, 1, 0], [1, 1, 0]])
    L = adv.hard_losses(mdp, 40_000, rng=0, c=1.0, target=target)
    delta = np.sqrt(6 / 40_000)
    mean = L.mean(axis=0)
    on = mean[np.arange(2)[:, None], np.arange(3)[None], target]
    assert abs(on.mean() - (0.5 - delta)) < 4 * 0.5 / np.sqrt(6 * 40_000)
    u = adv.oblivious_losses(mdp, 5, rng=0, kind="uniform")
    assert 0 <= u.min() and u.max() <= 1


def test_bad_input():
    mdp = layered()
    with pytest.raises(ValueError, match="losses span"):
        adv.run_adversarial(adv.OREPS(), mdp, np.full((2, 3, 3, 2), 1.5))
    bad = np.zeros((2, 3, 3, 2))
    bad[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"losses\[\(1, 0, 0, 0\)\] is nan"):
        adv.run_adversarial(adv.OREPS(), mdp, bad)
    with pytest.raises(ValueError, match="losses has shape"):
        adv.run_adversarial(adv.OREPS(), mdp, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="discounted"):
        adv.run_adversarial(adv.OREPS(), ml.envs.random_mdp(2, 2, rng=0), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="eta"):
        adv.OREPS(eta=-1.0)
    with pytest.raises(ValueError, match="feedback"):
        adv.OREPS(feedback="semi")
    with pytest.raises(TypeError, match="learner"):
        adv.run_adversarial(ml.learn.UCBVI(), mdp, np.zeros((1, 3, 3, 2)))
    with pytest.raises(ValueError, match="w must be finite and > 0"):
        adv.project_occupancy(mdp, w=np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="exactly one"):
        adv.project_occupancy(mdp)
    with pytest.raises(ValueError, match="method"):
        adv.project_occupancy(mdp, w=np.ones((3, 3, 2)), method="lbfgs")


# ------------------------------------------------------------------------ claims and docs


@pytest.mark.parametrize("claim_id", ["oreps-regret-bound", "oreps-sqrt-k-regret"])
def test_adversarial_claims_quick(claim_id, tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get(claim_id), quick=True, seed=0, out=tmp_path)
    assert run.error is None, run.error
    assert run.passed, run.result.summary
    assert all(p.exists() for p in run.result.figures) and len(run.result.figures) == 2


def test_docs_page_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "adversarial.md").read_text()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        exec(compile(code, "docs/adversarial.md", "exec"), namespace)


# ------------------------------------------------------------------------ policy FTRL


def test_logbarrier_and_entropy_kernels_solve_their_programs():
    from scipy.optimize import brentq

    from mdplab.learn import _adv_kernels as ak

    rng = np.random.default_rng(0)
    L = rng.normal(0, 50, (2, 3, 4))
    L[0, 0] = [-1e4, 3.0, 2.0, 5.0]  # very negative estimate
    eta = 0.05
    pi = np.zeros_like(L)
    ak.logbarrier_policy(L, eta, pi)
    for h, s in itertools.product(range(2), range(3)):
        row = L[h, s]
        nu = brentq(lambda v, row=row: np.sum(1 / (eta * (row + v))) - 1,
                    -row.min() + 1e-12, -row.min() + 10 * len(row) / eta)
        np.testing.assert_allclose(pi[h, s], 1 / (eta * (row + nu)), rtol=1e-10)
    ak.entropy_policy(L, eta, pi)
    ref = np.exp(-eta * (L - L.min(axis=2, keepdims=True)))
    np.testing.assert_allclose(pi, ref / ref.sum(axis=2, keepdims=True), rtol=1e-12)


def test_one_hot_estimator_is_unbiased_by_enumeration():
    """E[1{(s_h,a_h)=(s,a)} L_h / q_h(s,a)] = Q^pi_h(s,a) on every reachable pair (exact sum
    over all trajectories)."""
    mdp = layered(S=2, A=2, H=2, seed=5, sparse_start=False)
    P = np.asarray(mdp.P)
    ell = np.random.default_rng(1).random((2, 2, 2))
    pi = np.random.default_rng(2).dirichlet(np.ones(2), size=(2, 2))
    q = occupancy_numpy(mdp, pi)
    Q = np.zeros((2, 2, 2))
    Q[1] = ell[1]
    Q[0] = ell[0] + P[0] @ (pi[1] * Q[1]).sum(axis=1)
    expect = np.zeros((2, 2, 2))
    for s0, a0, s1, a1 in itertools.product(range(2), repeat=4):
        prob = mdp.mu[s0] * pi[0, s0, a0] * P[0, s0, a0, s1] * pi[1, s1, a1]
        togo = [ell[0, s0, a0] + ell[1, s1, a1], ell[1, s1, a1]]
        expect[0, s0, a0] += prob * togo[0] / q[0, s0, a0]
        expect[1, s1, a1] += prob * togo[1] / q[1, s1, a1]
    np.testing.assert_allclose(expect, Q, atol=1e-12)
    # and the agent adds exactly that estimate
    agent = adv.PolicyFTRL(eta=0.1).start(mdp, 10, np.random.default_rng(0))
    agent.pi[:] = pi
    agent.q[:] = q
    agent.update(np.array([1, 0, 1]), np.array([0, 1]), ell[[0, 1], [1, 0], [0, 1]], None)
    togo0 = ell[0, 1, 0] + ell[1, 0, 1]
    assert agent.Lhat[0, 1, 0] == pytest.approx(togo0 / q[0, 1, 0])
    assert agent.Lhat[1, 0, 1] == pytest.approx(ell[1, 0, 1] / q[1, 0, 1])


def test_linear_q_estimator_with_one_hot_features_equals_tabular():
    mdp = layered(S=3, A=2, H=3, seed=1)
    losses = adv.oblivious_losses(mdp, 30, rng=0)
    eye = np.eye(6).reshape(3, 2, 6)
    a = adv.run_adversarial(adv.PolicyFTRL(eta=0.2), mdp, losses, rng=3)
    b = adv.run_adversarial(adv.PolicyFTRL(eta=0.2, features=eye, ridge=0.0), mdp, losses,
                            rng=3)
    np.testing.assert_allclose(a["loss"], b["loss"], atol=1e-9)


def test_policy_ftrl_baseline_makes_estimates_negative_and_bad_input():
    mdp = layered(S=3, A=2, H=3, seed=1)
    losses = adv.oblivious_losses(mdp, 20, rng=0)
    agent = adv.PolicyFTRL(baseline="max", eta=0.1).start(mdp, 20, np.random.default_rng(0))
    for k in range(20):
        agent.policy()
        agent.update(np.zeros(4, int), np.zeros(3, int), losses[k, :, 0, 0], None)
    assert agent.min_estimate < -1 and np.all(agent.Lhat <= 0)
    with pytest.raises(ValueError, match="regularizer"):
        adv.PolicyFTRL("tsallis")
    with pytest.raises(ValueError, match="baseline"):
        adv.PolicyFTRL(baseline="mean")
    with pytest.raises(ValueError, match="eta"):
        adv.PolicyFTRL(eta=0.0)


def test_policy_ftrl_claim_quick(tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get("policy-ftrl-log-barrier"), quick=True, seed=0, out=tmp_path)
    assert run.error is None, run.error
    assert all(p.exists() for p in run.result.figures) and len(run.result.figures) == 2


def test_projection_cold_start_converges_on_extreme_points():
    """Points spanning e^(+-90): from v = 0 damped Newton needs about max|log w| steps (it
    used to stop at 100 iterations with flow violations up to 0.3); the backward-pass cold
    start (``oreps_initial_v``) converges in a few. Optimality is certified by the KKT
    conditions: primal feasibility (the flow violation) and stationarity,
    log q - log w = -v_h(s) + (P_h v_{h+1})(s,a) on every pair with mass (cvxpy itself is
    unreliable over this dynamic range, so it is compared at a moderate scale)."""
    rng = np.random.default_rng(0)
    worst, iters = 0.0, []
    for i in range(200):
        H, S, A = (int(x) for x in (rng.integers(2, 6), rng.integers(1, 5), rng.integers(1, 4)))
        mdp = ml.envs.random_mdp(S, A, horizon=H, time_varying=True,
                                 rng=int(rng.integers(1000)))
        logw = rng.normal(scale=30.0, size=(H, S, A))
        r = adv.project_occupancy(mdp, logw=logw)
        worst = max(worst, r.violation)
        iters.append(r.iterations)
        P = adv._kernel(mdp)
        B = -r.v[:, :, None] + np.concatenate(
            [np.einsum("hsat,ht->hsa", P[:-1], r.v[1:]), np.zeros((1, S, A))])
        mass = r.q > 1e-250
        np.testing.assert_allclose(np.log(r.q[mass]) - logw[mass], B[mass], atol=1e-8)
        if i < 3:
            small = logw / 30.0
            ref = adv.project_occupancy(mdp, logw=small, method="cvxpy")
            np.testing.assert_allclose(adv.project_occupancy(mdp, logw=small).q, ref.q,
                                       atol=1e-7)
    assert worst <= 1e-11
    assert max(iters) <= 20


def test_fixed_policy_regret_against_exact_evaluation():
    """R_k of a fixed policy: its last value is J(pi*) - J(pi) for the reward -sum_k l_k
    (exact evaluation by mdplab's backward policy evaluation), the best policy in hindsight
    has R_K = 0, and the increments are the per-episode loss differences."""
    mdp = ml.envs.random_mdp(3, 2, horizon=4, time_varying=True, rng=2)
    L = adv.oblivious_losses(mdp, 50, rng=3)
    rng = np.random.default_rng(4)
    pi = rng.dirichlet(np.ones(2), size=(4, 3))
    pi_star, best = adv.best_policy_in_hindsight(mdp, L)
    R = adv.fixed_policy_regret(mdp, pi, L)
    assert R.shape == (50,)
    total = mdp.with_(R=-L.sum(0))
    J_pi = ml.evaluate(total, pi).J
    assert R[-1] == pytest.approx(-J_pi - best, abs=1e-10)
    assert adv.fixed_policy_regret(mdp, pi_star, L)[-1] == pytest.approx(0.0, abs=1e-10)
    first = mdp.with_(R=-L[0])
    assert R[0] == pytest.approx(ml.evaluate(first, pi_star).J - ml.evaluate(first, pi).J,
                                 abs=1e-12)
    with pytest.raises(ValueError, match="policy has shape"):
        adv.fixed_policy_regret(mdp, pi[0], L)
    with pytest.raises(ValueError, match="probability"):
        adv.fixed_policy_regret(mdp, 2 * pi, L)
