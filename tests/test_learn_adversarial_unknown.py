"""UOB-REPS (adversarial MDPs, unknown transitions): Comp-UOB against a linear program and the
true occupancy, the confidence set's coverage, the projection's constraints, the learner's
runs and its bad input."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from mdplab import envs
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


def _uob_lp(pi, P_bar, eps, mu, h, s):
    """max over occupancy measures with the policy pi and kernels in the box of q_h(s, .),
    as a linear program in the triple variables (the paper's definition)."""
    H, S, A = pi.shape
    W = [cp.Variable((S * A, S), nonneg=True) for _ in range(H - 1)]
    qlast = cp.Variable(S * A, nonneg=True)
    q = [cp.sum(w, axis=1) for w in W] + [qlast]
    cons = [cp.sum(cp.reshape(q[0], (S, A), order="C"), axis=1) == mu]
    for k in range(H - 1):
        lo = np.clip(P_bar[k] - eps[k], 0, 1).reshape(S * A, S)
        hi = np.clip(P_bar[k] + eps[k], 0, 1).reshape(S * A, S)
        qk = cp.reshape(q[k], (S * A, 1), order="C")
        cons += [W[k] >= cp.multiply(lo, qk), W[k] <= cp.multiply(hi, qk)]
        cons.append(cp.sum(cp.reshape(q[k + 1], (S, A), order="C"), axis=1)
                    == cp.sum(W[k], axis=0))
    for k in range(H):
        Q = cp.reshape(q[k], (S, A), order="C")
        cons.append(Q == cp.multiply(pi[k], cp.sum(Q, axis=1, keepdims=True)
                                     @ np.ones((1, A))))
    prob = cp.Problem(cp.Maximize(cp.sum(cp.reshape(q[h], (S, A), order="C")[s, :])), cons)
    prob.solve(solver="HIGHS")
    return prob.value


def test_comp_uob_matches_the_linear_program():
    rng = np.random.default_rng(4)
    H, S, A = 3, 3, 2
    mu = np.array([0.6, 0.4, 0.0])
    for _ in range(3):
        pi = rng.dirichlet(np.ones(A), size=(H, S))
        P_bar = rng.dirichlet(np.ones(S), size=(H, S, A))
        eps = rng.uniform(0, 0.3, size=(H, S, A, S))
        u = au.upper_occupancy_bound(pi, P_bar, eps, mu)
        for h in range(H):
            for s in range(S):
                lp = _uob_lp(pi, P_bar, eps, mu, h, s)
                assert u[h, s].sum() == pytest.approx(lp, abs=1e-7)
                np.testing.assert_allclose(u[h, s], pi[h, s] * lp, atol=1e-7)


def test_comp_uob_without_width_is_the_occupancy_and_bounds_it_otherwise():
    mdp = _mdp()
    P = adv._kernel(mdp)
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    mu = np.asarray(mdp.mu, float)
    q = _occupancy(P, mu, pi)
    np.testing.assert_allclose(au.upper_occupancy_bound(pi, P, np.zeros_like(P), mu), q,
                               atol=1e-14)
    u = au.upper_occupancy_bound(pi, P, np.full_like(P, 0.1), mu)
    assert np.all(u >= q - 1e-14) and np.all(u <= 1 + 1e-12)


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


def test_uob_reps_bad_input():
    with pytest.raises(ValueError, match="delta"):
        au.UOBREPS(delta=1.0)
    with pytest.raises(ValueError, match="eta"):
        au.UOBREPS(eta=-1.0)
    with pytest.raises(ValueError, match="bandit"):
        au.UOBREPS(feedback="full")
    with pytest.raises(TypeError, match="TabularMDP"):
        adv.run_adversarial(au.UOBREPS(), "not an mdp", np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError, match="K"):
        au.uob_reps_eta(0, 3, 2, 2)


def test_claim_uob_reps_quick(tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get("uob-reps-regret"), quick=True, seed=0, out=tmp_path)
    table = run.result.table
    assert len(table) == 2 * 3 and set(table["K"]) == {100, 200, 400}
    # learning happened: below the uniform policy at every K (U1)
    assert (table["uob_reps"] < table["uniform"]).all()
