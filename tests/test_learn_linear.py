"""LSVI-UCB: ridge regression and elliptical bonus against a plain NumPy reimplementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mdplab as ml
from mdplab.envs.linear import random_linear_mdp, tabular_as_linear
from mdplab.learn.linear import LSVIUCB, lsvi_bonus_coefficient


def plain_lsvi_q(phi, data, H, beta, lam):
    """Jin et al.'s Algorithm 1 verbatim: store every transition, build Lambda_h, invert it,
    and evaluate max_a Q_{h+1} at the stored next states."""
    S, A, d = phi.shape
    Q = np.zeros((H + 1, S, A))
    for h in range(H - 1, -1, -1):
        Lam = lam * np.eye(d)
        target = np.zeros(d)
        for states, actions, rewards in data:
            x = phi[states[h], actions[h]]
            Lam += np.outer(x, x)
            nxt = Q[h + 1, states[h + 1]].max() if h + 1 < H else 0.0
            target += x * (rewards[h] + nxt)
        Linv = np.linalg.inv(Lam)
        w = Linv @ target
        for s in range(S):
            for a in range(A):
                x = phi[s, a]
                Q[h, s, a] = min(x @ w + beta * math.sqrt(x @ Linv @ x), H - h)
    return Q[:H]


def test_regression_and_bonus_match_plain_numpy():
    lin = random_linear_mdp(6, 3, 3, horizon=4, rng=0)
    learner = LSVIUCB(lin, scale=0.3, lam=0.7)
    K = 40
    agent = learner.start(6, 3, 4, K, np.random.default_rng(0))
    beta = lsvi_bonus_coefficient(3, 4, K, 0.05, 0.3)
    assert agent.beta == pytest.approx(beta)
    rng = np.random.default_rng(1)
    data = []
    for k in range(K):
        agent.policy()
        if k in (0, 1, 7, 39):
            np.testing.assert_allclose(agent.Q, plain_lsvi_q(lin.phi, data, 4, beta, 0.7),
                                       rtol=0, atol=1e-9)
        states = rng.integers(0, 6, 5)
        actions = rng.integers(0, 3, 4)
        rewards = rng.random(4)
        data.append((states, actions, rewards))
        agent.update(states, actions, rewards)


def test_bonus_is_elliptical_norm():
    lin = random_linear_mdp(5, 2, 3, horizon=2, rng=3)
    agent = LSVIUCB(lin, bonus=2.0).start(5, 2, 2, 10, np.random.default_rng(0))
    rng = np.random.default_rng(2)
    xs = []
    for _ in range(6):
        s, a = rng.integers(0, 5, 3), rng.integers(0, 2, 2)
        agent.update(s, a, np.zeros(2))
        xs.append(lin.phi[s[0], a[0]])
    agent.policy()
    Lam = np.eye(3) + sum(np.outer(x, x) for x in xs)
    expected = 2.0 * np.sqrt(np.einsum("sai,ij,saj->sa", lin.phi, np.linalg.inv(Lam), lin.phi))
    np.testing.assert_allclose(agent.bonus[0], expected, atol=1e-12)


def test_one_hot_lsvi_is_optimistic_and_learns():
    """With one-hot features (d = SA), Q_h >= Q*_h at every episode (optimism at the paper's
    bonus), and the runner drives the learner unchanged."""
    tab = ml.envs.random_mdp(3, 2, horizon=3, time_varying=True, rng=2)
    lin = tabular_as_linear(tab)
    Qstar = ml.solve(tab).Q
    seen = []

    def check(k, agent, pi):
        seen.append(float((agent.Q - Qstar[:3]).min()))

    log = ml.learn.run(LSVIUCB(lin), tab, episodes=200, rng=0, callback=check)
    assert min(seen) >= -1e-9
    assert list(log.columns) == ["episode", "value", "regret", "cum_regret", "kl", "seconds"]


def test_lsvi_learns_on_random_linear_mdp():
    lin = random_linear_mdp(20, 3, 3, horizon=3, rng=4)
    log = ml.learn.run(LSVIUCB(lin, scale=0.05), lin.to_tabular(), episodes=1500, rng=0)
    first = log["regret"].iloc[:100].mean()
    last = log["regret"].iloc[-100:].mean()
    assert last < 0.5 * first


def test_bad_input():
    lin = random_linear_mdp(4, 2, 2, horizon=2, rng=0)
    bad = np.array(lin.phi)
    bad[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"features\[\(1, 0, 1\)\] is nan"):
        LSVIUCB(bad)
    with pytest.raises(ValueError, match="features has shape"):
        LSVIUCB(np.ones((4, 2)))
    with pytest.raises(ValueError, match="lam"):
        LSVIUCB(lin, lam=0.0)
    with pytest.raises(ValueError, match="delta"):
        LSVIUCB(lin, delta=1.5)
    with pytest.raises(ValueError, match="features are for S = 4"):
        ml.learn.run(LSVIUCB(lin), ml.envs.random_mdp(3, 2, horizon=2, rng=0), episodes=2)
    assert "d=2" in repr(LSVIUCB(lin))


def test_linear_claim_quick_runs(tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get("lsvi-ucb-beats-ucbvi"), quick=True, seed=0, out=tmp_path)
    assert run.error is None, run.error
    assert all(p.exists() for p in run.result.figures) and len(run.result.figures) == 2
    assert {"ratio_paper_constants", "ratio_scale_0.1"} <= set(run.result.key_numbers)


def test_docs_page_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "linear.md").read_text()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        exec(compile(code, "docs/linear.md", "exec"), namespace)
