"""UOB-REPS (adversarial MDPs, unknown transitions; ``mdplab.learn.adversarial_unknown``).

Every compiled piece is checked against an independent method: the box-simplex KL projection
and the confidence-set projection against cvxpy (Clarabel), the degenerate set against the
O-REPS projection (a different kernel), Comp-UOB against a linear program (HiGHS) and a
plain-Python greedy written here, the Newton learner against the cvxpy learner and, on a
deterministic kernel, against O-REPS with bandit feedback; the confidence set's coverage and
Comp-UOB's monotonicity as properties (hypothesis).
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdplab import TabularMDP, envs
from mdplab.learn import _adv_kernels as ak
from mdplab.learn import adversarial as adv
from mdplab.learn import adversarial_unknown as au


def _mdp(H=3, S=3, A=2, seed=0):
    mdp = envs.random_mdp(S, A, horizon=H, time_varying=True, rng=seed)
    mu = np.zeros(S)
    mu[0] = 1.0
    return mdp.with_(mu=mu)


def _occupancy(P, mu, pi):
    H, S, A = pi.shape
    q = np.zeros((H, S, A))
    d = mu.copy()
    for h in range(H):
        q[h] = d[:, None] * pi[h]
        if h < H - 1:
            d = np.einsum("sa,sat->t", q[h], P[h])
    return q


def _random_box(rng, H, S, A, scale=0.3):
    P_bar = rng.dirichlet(np.ones(S), size=(H - 1, S, A))
    eps = rng.uniform(0, scale, size=(H - 1, S, A, S))
    return P_bar, eps


# ----------------------------------------------------------------------------- box projection


def _box_cvxpy(c, lo, hi):
    x = cp.Variable(c.size)
    prob = cp.Problem(cp.Minimize(-cp.sum(cp.entr(x)) - c @ x),
                      [x >= lo, x <= hi, cp.sum(x) == 1])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return x.value, prob.value


@pytest.mark.parametrize("seed", range(8))
def test_box_kl_projection_matches_cvxpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    c = rng.normal(scale=3.0, size=n)
    P = rng.dirichlet(np.ones(n))
    eps = rng.uniform(0, 0.4, size=n) * (rng.random(n) < 0.8)  # some zero widths
    lo, hi = np.clip(P - eps, 0, 1), np.clip(P + eps, 0, 1)
    p, free = np.zeros(n), np.zeros(n, dtype=bool)
    val = ak.box_kl_project(c, lo, hi, p, free)
    ref, ref_val = _box_cvxpy(c, lo, hi)
    assert abs(p.sum() - 1) < 1e-12
    assert np.all(p >= lo - 1e-15) and np.all(p <= hi + 1e-15)
    np.testing.assert_allclose(p, ref, atol=2e-7)
    assert val == pytest.approx(ref_val, abs=1e-7)
    # the free coordinates are the exponential-family ones: p proportional to e^c there
    if free.sum() >= 2:
        r = np.log(p[free]) - c[free]
        assert np.ptp(r) < 1e-10


def test_box_kl_projection_degenerate_boxes():
    c = np.array([0.3, -2.0, 5.0])
    P = np.array([0.2, 0.5, 0.3])
    p, free = np.zeros(3), np.zeros(3, dtype=bool)
    # zero width: the centre
    ak.box_kl_project(c, P.copy(), P.copy(), p, free)
    np.testing.assert_allclose(p, P, atol=1e-15)
    assert not free.any()
    # the whole simplex: softmax
    ak.box_kl_project(c, np.zeros(3), np.ones(3), p, free)
    np.testing.assert_allclose(p, np.exp(c) / np.exp(c).sum(), rtol=1e-12)
    assert free.all()
    # extreme logits do not overflow
    ak.box_kl_project(np.array([900.0, -900.0, 0.0]), np.zeros(3), np.ones(3), p, free)
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0], atol=1e-300)


# ----------------------------------------------------------------------------- projection


@pytest.mark.parametrize("seed", range(6))
def test_confidence_projection_matches_cvxpy(seed):
    rng = np.random.default_rng(100 + seed)
    H, S, A = int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(1, 4))
    P_bar, eps = _random_box(rng, H, S, A, scale=[0.0, 0.05, 0.3, 2.0][seed % 4])
    mu = rng.dirichlet(np.ones(S))
    if seed % 3 == 0:
        mu = np.eye(S)[0]  # states of step 0 without mass
    logw = rng.normal(scale=2.0, size=(H - 1, S, A, S))
    log_last = rng.normal(scale=2.0, size=(S, A))
    new = au.project_confidence_occupancy(mu, P_bar, eps, logw, log_last)
    ref = au.project_confidence_occupancy(mu, P_bar, eps, logw, log_last, method="cvxpy")
    assert new.violation <= 1e-11
    assert ref.violation <= 1e-7
    np.testing.assert_allclose(new.W, ref.W, atol=1e-7)
    np.testing.assert_allclose(new.q_last, ref.q_last, atol=1e-7)
    np.testing.assert_allclose(new.q.sum(axis=(1, 2)), 1.0, atol=1e-11)


def test_confidence_projection_matches_the_cvxpy_learner_projection():
    """A third implementation: the compiled cvxpy problem of adversarial_unknown."""
    rng = np.random.default_rng(7)
    H, S, A = 3, 3, 2
    P_bar, eps = _random_box(rng, H, S, A, scale=0.2)
    mu = np.eye(S)[0]
    proj = au._Projection(H, S, A, mu, "CLARABEL")
    logw = rng.normal(size=(H - 1, S, A, S))
    log_last = rng.normal(size=(S, A))
    Pb = np.concatenate([P_bar, P_bar[:1]])
    ep = np.concatenate([eps, eps[:1]])
    w = proj(np.concatenate([logw.reshape(-1), log_last.reshape(-1)]), Pb, ep)
    new = au.project_confidence_occupancy(mu, P_bar, eps, logw, log_last)
    # that problem is solved at Clarabel's default tolerances (about 1e-8 relative gap)
    np.testing.assert_allclose(new.q, proj.occupancy(w), atol=5e-5)


def test_degenerate_set_is_the_oreps_projection():
    """eps = 0, P_bar = P: projecting e^{x(h,s,a)} P(s'|s,a) over triples is O-REPS's
    projection of e^x over pairs (the dual reduces to Zimin & Neu's), computed here by the
    O-REPS Newton kernel."""
    mdp = _mdp(H=4, S=3, A=3, seed=2)
    P = adv._kernel(mdp)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 3))
    with np.errstate(divide="ignore"):
        logw = x[:-1, :, :, None] + np.log(P[:-1])
    logw = np.where(np.isfinite(logw), logw, -745.0)
    new = au.project_confidence_occupancy(mdp.mu, P, np.zeros_like(P), logw, x[-1])
    ref = adv.project_occupancy(mdp, logw=x)
    np.testing.assert_allclose(new.q, ref.q, atol=1e-11)
    np.testing.assert_allclose(new.W, new.q[:-1, :, :, None] * P[:-1], atol=1e-12)


def test_unreachable_states_get_no_mass():
    H, S, A = 3, 3, 2
    P = np.zeros((H - 1, S, A, S))
    P[..., 0] = 0.5
    P[..., 1] = 0.5  # state 2 is never reached after step 0
    mu = np.array([1.0, 0.0, 0.0])
    r = au.project_confidence_occupancy(mu, P, np.zeros_like(P), np.zeros((H - 1, S, A, S)),
                                         np.zeros((S, A)))
    assert r.violation <= 1e-12
    assert np.all(r.q[0, 1:] == 0) and np.all(r.q[1:, 2] == 0)


def test_warm_start_and_iterations():
    rng = np.random.default_rng(3)
    H, S, A = 4, 3, 3
    P_bar, eps = _random_box(rng, H, S, A)
    mu = np.eye(S)[0]
    logw = rng.normal(size=(H - 1, S, A, S))
    last = rng.normal(size=(S, A))
    cold = au.project_confidence_occupancy(mu, P_bar, eps, logw, last)
    warm = au.project_confidence_occupancy(mu, P_bar, eps, logw, last, v0=cold.v)
    assert warm.iterations <= 1
    assert cold.iterations <= 30
    np.testing.assert_allclose(warm.W, cold.W, atol=1e-12)


# ----------------------------------------------------------------------------- Comp-UOB


def _uob_lp(pi, lo, hi, mu, h, s):
    """max over kernels in the box of Pr^pi(s_h = s): a linear program over the triple
    occupancies with the policy's proportionality constraints."""
    H, S, A = pi.shape
    W = [cp.Variable((S * A, S), nonneg=True) for _ in range(H - 1)]
    qlast = cp.Variable(S * A, nonneg=True)
    q = [cp.sum(w, axis=1) for w in W] + [qlast]
    cons = [cp.sum(cp.reshape(q[0], (S, A), order="C"), axis=1) == mu]
    for k in range(H - 1):
        qk = cp.reshape(q[k], (S * A, 1), order="C")
        cons += [W[k] >= cp.multiply(lo[k].reshape(S * A, S), qk),
                 W[k] <= cp.multiply(hi[k].reshape(S * A, S), qk),
                 cp.sum(cp.reshape(q[k + 1], (S, A), order="C"), axis=1)
                 == cp.sum(W[k], axis=0)]
    for k in range(H):
        Q = cp.reshape(q[k], (S, A), order="C")
        cons.append(Q == cp.multiply(pi[k], cp.sum(Q, axis=1, keepdims=True)
                                     @ np.ones((1, A))))
    prob = cp.Problem(cp.Maximize(cp.sum(cp.reshape(q[h], (S, A), order="C")[s, :])), cons)
    prob.solve(solver="HIGHS")
    return prob.value


def _greedy_max(lo, hi, f):
    """max <p, f> over lo <= p <= hi, sum p = 1 (last axis): lower ends, then the remaining
    mass to the largest f first."""
    order = np.argsort(-f, kind="stable")
    room = (hi - lo)[..., order]
    left = np.maximum(1.0 - lo.sum(-1), 0.0)[..., None]
    add = np.clip(left - (np.cumsum(room, axis=-1) - room), 0.0, room)
    return lo @ f + add @ f[order]


def _greedy_uob(pi, lo, hi, mu):
    """Comp-UOB in plain NumPy: a backward pass from every target (h, s)."""
    H, S, A = pi.shape
    u = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            f = np.eye(S)[s]
            for k in range(h - 1, -1, -1):
                f = np.sum(pi[k] * _greedy_max(lo[k], hi[k], f), axis=1)
            u[h, s] = (mu @ f) * pi[h, s]
    return u


@pytest.mark.parametrize("seed", range(3))
def test_comp_uob_matches_the_linear_program(seed):
    rng = np.random.default_rng(seed)
    H, S, A = 3, 3, 2
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    P_bar, eps = _random_box(rng, H, S, A, scale=0.25)
    mu = rng.dirichlet(np.ones(S))
    u = au.upper_occupancy_bound(pi, P_bar, eps, mu)
    lo, hi = np.clip(P_bar - eps, 0, 1), np.clip(P_bar + eps, 0, 1)
    for h in range(H):
        for s in range(S):
            assert u[h, s].sum() == pytest.approx(_uob_lp(pi, lo, hi, mu, h, s), abs=1e-7)
    # the plain-Python greedy (a second implementation)
    ref = _greedy_uob(pi, lo, hi, mu)
    np.testing.assert_allclose(u, ref, atol=1e-14)


def test_comp_uob_bounds_every_kernel_in_the_box():
    """u >= the occupancy under any kernel of the box (random members), = it when eps = 0."""
    rng = np.random.default_rng(5)
    H, S, A = 4, 3, 2
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    P = rng.dirichlet(np.ones(S), size=(H - 1, S, A))
    mu = np.eye(S)[0]
    np.testing.assert_allclose(au.upper_occupancy_bound(pi, P, np.zeros_like(P), mu),
                               _occupancy(np.concatenate([P, P[:1]]), mu, pi), atol=1e-15)
    eps = np.full_like(P, 0.2)
    u = au.upper_occupancy_bound(pi, P, eps, mu)
    for _ in range(50):
        # a random member: move P towards a random kernel while staying in the box
        Q = rng.dirichlet(np.ones(S), size=(H - 1, S, A))
        t = min(1.0, 0.2 / max(np.abs(Q - P).max(), 1e-12))
        Pm = P + t * (Q - P)
        q = _occupancy(np.concatenate([Pm, Pm[:1]]), mu, pi)
        assert np.all(q <= u + 1e-12)


# ----------------------------------------------------------------------------- the learner


def _drive(agents, mdp, L, seed):
    """Play several agents on the same trajectories (the first agent's policy acts); yields
    the agents' policies per episode."""
    rng = np.random.default_rng(seed)
    P = adv._kernel(mdp)
    H, S, A = mdp.H, mdp.S, mdp.A
    for k in range(L.shape[0]):
        pis = [ag.policy().copy() for ag in agents]
        yield pis
        s = rng.choice(S, p=mdp.mu)
        states, actions, obs = np.zeros(H, int), np.zeros(H, int), np.zeros(H)
        for h in range(H):
            a = rng.choice(A, p=pis[0][h, s])
            states[h], actions[h], obs[h] = s, a, L[k, h, s, a]
            if h < H - 1:
                s = rng.choice(S, p=P[h, s, a])
        for ag in agents:
            ag.update(states, actions, obs, None)


def test_learner_plays_the_cvxpy_learner_policies():
    mdp = _mdp(H=3, S=2, A=2, seed=4)
    K = 12
    L = adv.oblivious_losses(mdp, K, rng=1)
    a = au.UOBREPS().start(mdp, K, None)
    b = au.UOBREPS(projection="cvxpy").start(mdp, K, None)
    worst_q = worst_u = 0.0
    for _ in _drive([a, b], mdp, L, seed=2):
        # occupancies, not policies (a small absolute error is amplified in the policy of a
        # state with little mass). The cvxpy learner solves at Clarabel's default tolerances:
        # about 1e-5 per projection, and OMD carries the error over (1e-3 after 60 episodes)
        worst_q = max(worst_q, np.abs(a.q - b.q).max())
        worst_u = max(worst_u, np.abs(a.u - b.u).max())
    assert worst_q < 3e-4 and worst_u < 3e-4
    assert a.epochs == b.epochs > 3


def test_known_set_reduces_to_oreps_ftrl():
    """confidence='known' (eps = 0, P_bar = P): u is the exact occupancy and the iterates are
    O-REPS's FTRL iterates projected from exp(ent(P) - eta * Lhat) (the triple entropy is the
    pair entropy minus <q, ent(P)>, so only the starting point differs), by the O-REPS
    kernel."""
    mdp = _mdp(H=4, S=3, A=2, seed=6)
    P = adv._kernel(mdp)
    K, eta, gamma = 40, 0.3, 0.05
    L = adv.oblivious_losses(mdp, K, rng=3)
    agent = au.UOBREPS(eta=eta, gamma=gamma, confidence="known").start(mdp, K, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(P > 0, P * np.log(P), 0.0), axis=-1)
    ent[-1] = 0.0
    Lhat = np.zeros((mdp.H, mdp.S, mdp.A))
    rng = np.random.default_rng(0)
    for k in range(K):
        pi = agent.policy()
        ref = adv.project_occupancy(mdp, logw=ent - eta * Lhat)
        np.testing.assert_allclose(agent.q, ref.q, atol=1e-10)
        np.testing.assert_allclose(agent.u, _occupancy(P, mdp.mu, pi), atol=1e-12)
        s = rng.choice(mdp.S, p=mdp.mu)
        states, actions, obs = np.zeros(mdp.H, int), np.zeros(mdp.H, int), np.zeros(mdp.H)
        for h in range(mdp.H):
            a = rng.choice(mdp.A, p=pi[h, s])
            states[h], actions[h], obs[h] = s, a, L[k, h, s, a]
            Lhat[h, s, a] += obs[h] / (agent.u[h, s, a] + gamma)
            if h < mdp.H - 1:
                s = rng.choice(mdp.S, p=P[h, s, a])
        agent.update(states, actions, obs, None)


def test_known_deterministic_kernel_is_oreps_bandit():
    """On a deterministic kernel ent(P) = 0: UOB-REPS with the known set is O-REPS with bandit
    feedback and implicit exploration gamma -- the same exact regret, episode by episode."""
    H, S, A = 3, 3, 2
    rng = np.random.default_rng(0)
    nxt = rng.integers(0, S, size=(H, S, A))
    P = np.zeros((H, S, A, S))
    np.put_along_axis(P, nxt[..., None], 1.0, axis=-1)
    mdp = TabularMDP(P, np.zeros((H, S, A)), horizon=H, mu=np.eye(S)[0])
    L = adv.oblivious_losses(mdp, 200, rng=1)
    eta, gamma = 0.1, 0.02
    a = adv.run_adversarial(au.UOBREPS(eta=eta, gamma=gamma, confidence="known"), mdp,
                            L, rng=4)
    b = adv.run_adversarial(adv.OREPS(eta=eta, feedback="bandit", implicit=gamma), mdp, L,
                            rng=4)
    np.testing.assert_allclose(a["cum_regret"], b["cum_regret"], atol=1e-8)


def test_confidence_set_contains_the_true_kernel_in_most_seeds():
    """Bernstein widths at delta = 0.05 (the set holds P with probability >= 1 - 4 delta by
    the paper's lemma): after a run, every visited entry satisfies |P - P_bar| <= eps in at
    least 18 of 20 seeds, and at every epoch's start in most of them."""
    mdp = _mdp(H=3, S=3, A=2, seed=8)
    P = adv._kernel(mdp)[:-1]
    K = 300
    covered = 0
    for seed in range(20):
        L = adv.oblivious_losses(mdp, K, rng=seed)
        agent = au.UOBREPS().start(mdp, K, None)
        for _ in _drive([agent], mdp, L, seed=1000 + seed):
            pass
        ok = np.abs(P - agent.P_bar[:-1]) <= agent.eps[:-1] + 1e-15
        covered += bool(ok.all())
        assert agent.epochs >= 3
    assert covered >= 18


def test_uob_dominates_the_true_occupancy_along_a_run():
    mdp = _mdp(H=4, S=3, A=2, seed=9)
    P = adv._kernel(mdp)
    K = 150
    L = adv.oblivious_losses(mdp, K, rng=0)
    agent = au.UOBREPS().start(mdp, K, None)
    for (pi,) in _drive([agent], mdp, L, seed=3):
        inside = np.all(np.abs(P[:-1] - agent.P_bar[:-1]) <= agent.eps[:-1])
        if inside:
            assert np.all(agent.u >= _occupancy(P, mdp.mu, pi) - 1e-12)
    assert agent.max_violation <= 1e-10


def test_run_adversarial_interface_and_learning():
    mdp = _mdp(H=3, S=2, A=2, seed=1)
    K = 2000
    L = adv.oblivious_losses(mdp, K, rng=0)
    log = adv.run_adversarial(au.UOBREPS(), mdp, L, rng=0, record_every=100)
    assert list(log.columns) == adv.COLUMNS
    assert log.attrs["max_violation"] <= 1e-10
    assert np.isfinite(log["cum_regret"]).all()
    # learning: well below the uniform policy's regret
    q_unif = _occupancy(adv._kernel(mdp), mdp.mu, np.full((3, 2, 2), 0.5))
    uniform = float(np.sum(q_unif * L.sum(0)) - log.attrs["best_loss"])
    assert log["cum_regret"].iloc[-1] < 0.6 * uniform


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"delta": 1.0}, ValueError, "delta"),
    ({"delta": 0.0}, ValueError, "delta"),
    ({"eta": -1.0}, ValueError, "eta"),
    ({"gamma": float("nan")}, ValueError, "gamma"),
    ({"eta": True}, TypeError, "eta"),
    ({"confidence": "hoeffding"}, ValueError, "confidence"),
    ({"feedback": "full"}, ValueError, "bandit"),
    ({"tol": 0.0}, ValueError, "tol"),
    ({"projection": "lbfgs"}, ValueError, "projection"),
])
def test_learner_bad_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        au.UOBREPS(**kwargs)


def test_learner_bad_models():
    with pytest.raises(TypeError, match="TabularMDP"):
        au.UOBREPS().start("mdp", 10, None)
    with pytest.raises(ValueError, match="discounted"):
        au.UOBREPS().start(envs.random_mdp(2, 2, gamma=0.9, rng=0), 10, None)
    with pytest.raises(ValueError, match="H >= 2"):
        au.UOBREPS().start(envs.random_mdp(2, 2, horizon=1, rng=0), 10, None)
    with pytest.raises(TypeError, match="K"):
        au.UOBREPS().start(_mdp(), 2.5, None)


def test_projection_and_comp_uob_bad_input():
    H, S, A = 3, 2, 2
    P = np.full((H - 1, S, A, S), 0.5)
    eps = np.zeros_like(P)
    mu = np.array([1.0, 0.0])
    lw, ll = np.zeros((H - 1, S, A, S)), np.zeros((S, A))
    f = au.project_confidence_occupancy
    with pytest.raises(ValueError, match="logw has shape"):
        f(mu, P, eps, np.zeros((H - 1, S, A)), ll)
    with pytest.raises(ValueError, match="log_last"):
        f(mu, P, eps, lw, np.zeros(S))
    with pytest.raises(ValueError, match="finite"):
        f(mu, P, eps, np.full_like(lw, np.nan), ll)
    with pytest.raises(ValueError, match="mu"):
        f(np.array([0.5, 0.6]), P, eps, lw, ll)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        f(mu, P, -np.ones_like(P), lw, ll)
    with pytest.raises(ValueError, match="P_bar"):
        f(mu, P * 1.5, eps, lw, ll)
    with pytest.raises(ValueError, match="P_bar has shape"):
        f(mu, P[:, :, :, :1], eps, lw, ll)
    with pytest.raises(ValueError, match="method"):
        f(mu, P, eps, lw, ll, method="lbfgs")
    with pytest.raises(ValueError, match="v0"):
        f(mu, P, eps, lw, ll, v0=np.zeros(3))
    with pytest.raises(ValueError, match="tol"):
        f(mu, P, eps, lw, ll, tol=-1.0)
    pi = np.full((H, S, A), 0.5)
    with pytest.raises(ValueError, match="pi"):
        au.upper_occupancy_bound(pi * 2, P, eps, mu)
    with pytest.raises(ValueError, match="pi has shape"):
        au.upper_occupancy_bound(pi[0], P, eps, mu)
    with pytest.raises(ValueError, match="eps"):
        au.upper_occupancy_bound(pi, P, np.full_like(P, np.inf), mu)


# ----------------------------------------------------------------------------- the claim


def test_claim_uob_reps_quick(tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get("uob-reps-regret"), quick=True, seed=0, out=tmp_path)
    table = run.result.table
    assert len(table) == 2 * 3 and set(table["K"]) == {100, 200, 400}
    assert (table["uob_reps"] < table["uniform"]).all()  # (V1)
    assert table["max_violation"].max() <= 1e-9  # (V3)
    assert any(p.name == "uob_reps_regret.png" for p in tmp_path.rglob("*.png"))


def test_confidence_projection_converges_on_extreme_points():
    """Points spanning e^(+-90), kernels near the simplex's faces, S = 1, A = 1, boxes from a
    point to the whole simplex: the cold start (a backward pass matching outflows) keeps
    Newton within a few dozen iterations and the flow exact."""
    rng = np.random.default_rng(0)
    worst, iters = 0.0, []
    for _ in range(300):
        H, S, A = (int(x) for x in (rng.integers(2, 6), rng.integers(1, 5), rng.integers(1, 4)))
        P_bar = rng.dirichlet(np.ones(S) * rng.choice([0.1, 1.0, 10.0]), size=(H - 1, S, A))
        eps = rng.uniform(0, rng.choice([0.0, 0.01, 0.1, 1.0, 3.0]), size=(H - 1, S, A, S))
        mu = rng.dirichlet(np.ones(S) * rng.choice([0.1, 1.0]))
        scale = rng.choice([0.1, 2.0, 10.0, 30.0])
        r = au.project_confidence_occupancy(mu, P_bar, eps,
                                             rng.normal(scale=scale, size=(H - 1, S, A, S)),
                                             rng.normal(scale=scale, size=(S, A)))
        worst = max(worst, r.violation)
        iters.append(r.iterations)
    assert worst <= 1e-11
    assert max(iters) <= 40


# ----------------------------------------------------------------------------- more properties



def test_confidence_set_contains_the_true_kernel():
    """Counts from episodes of the uniform policy: the true kernel lies in the box in (far)
    more than a 1 - 4 delta fraction of the repetitions."""
    mdp = _mdp(H=3, S=3, A=2)
    P = adv._kernel(mdp)
    inside = 0
    reps = 40
    for r in range(reps):
        g = np.random.default_rng(r)
        N = np.zeros((3, 3, 2))
        M = np.zeros((3, 3, 2, 3))
        for _ in range(200):
            s = 0
            for h in range(2):
                a = int(g.integers(2))
                t = int(g.choice(3, p=P[h, s, a]))
                N[h, s, a] += 1
                M[h, s, a, t] += 1
                s = t
        P_bar = np.where(N[..., None] > 0, M / np.maximum(N, 1)[..., None], 1 / 3)
        eps = au.confidence_widths(N, P_bar, np.log(200 * 9 * 2 / 0.05))
        inside += bool(np.all(np.abs(P[:2] - P_bar[:2]) <= eps[:2]))
    assert inside >= reps - 1



def test_projection_respects_flow_and_confidence_constraints():
    mdp = _mdp()
    H, S, A = mdp.H, mdp.S, mdp.A
    rng = np.random.default_rng(2)
    P_bar = rng.dirichlet(np.ones(S), size=(H, S, A))
    eps = np.full((H, S, A, S), 0.05)
    proj = au._Projection(H, S, A, np.asarray(mdp.mu, float), "CLARABEL")
    w = proj(rng.normal(size=proj.w.size), P_bar, eps)
    q = proj.occupancy(w)
    W = w[:proj.n_w].reshape(H - 1, S, A, S)
    np.testing.assert_allclose(q[0].sum(-1), mdp.mu, atol=1e-7)
    for h in range(H - 1):
        np.testing.assert_allclose(q[h + 1].sum(-1), W[h].sum((0, 1)), atol=1e-7)
        assert np.all(np.abs(W[h] - P_bar[h] * q[h][..., None])
                      <= eps[h] * q[h][..., None] + 1e-7)



def test_uob_reps_runs_learns_and_is_reproducible():
    mdp = _mdp(H=3, S=2, A=2, seed=3)
    K = 300
    L = adv.oblivious_losses(mdp, K, rng=5)
    log = adv.run_adversarial(au.UOBREPS(), mdp, L, rng=7, record_every=K)
    again = adv.run_adversarial(au.UOBREPS(), mdp, L, rng=7, record_every=K)
    assert log["cum_regret"].iloc[-1] == again["cum_regret"].iloc[-1]
    # better than the uniform policy on Bernoulli losses with fixed means
    P = adv._kernel(mdp)
    q_unif = _occupancy(P, np.asarray(mdp.mu, float), np.full((3, 2, 2), 0.5))
    uniform = float(np.sum(q_unif * L.sum(0)) - log.attrs["best_loss"])
    assert log["cum_regret"].iloc[-1] < uniform



@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_comp_uob_is_monotone_in_the_width_and_a_probability(seed, w1, w2):
    """A larger box never lowers the upper occupancy bound; u lies in [0, 1] and the bound of a
    layer sums to at least the true occupancy mass (1) over its states and actions."""
    rng = np.random.default_rng(seed)
    H, S, A = 3, 3, 2
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    P_bar = rng.dirichlet(np.ones(S), size=(H, S, A))
    mu = rng.dirichlet(np.ones(S))
    lo_w, hi_w = min(w1, w2), max(w1, w2)
    u_lo = au.upper_occupancy_bound(pi, P_bar, np.full((H, S, A, S), lo_w), mu)
    u_hi = au.upper_occupancy_bound(pi, P_bar, np.full((H, S, A, S), hi_w), mu)
    assert np.all(u_hi >= u_lo - 1e-12)
    assert np.all(u_lo >= -1e-15) and np.all(u_hi <= 1 + 1e-12)
    assert np.all(u_lo.sum(axis=(1, 2)) >= 1 - 1e-12)
