"""Tests of mdplab.learn.offline and mdplab.learn.offline_data.

Cross-checks use independent code: the empirical model and counts are rebuilt by explicit
loops; the concentrability coefficient is recomputed by enumerating every trajectory of a tiny
MDP; the plug-in's backward induction is compared with ``mdplab.solve`` on the empirical MDP;
PRDC's nearest neighbours with a brute-force search.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mdplab as ml
from mdplab.learn import offline as off

ROOT = Path(__file__).resolve().parents[1]


def _mdp(S=4, A=3, H=3, seed=0):
    return ml.envs.random_mdp(S, A, horizon=H, rng=seed)


# --------------------------------------------------------------------------- data sets
def test_same_seed_same_dataset_and_different_seed_differs():
    mdp = _mdp()
    mu = off.behavior_policy(mdp, (0.3, 0.5, 0.2))
    a = off.sample_dataset(mdp, mu, 300, rng=7, rewards="bernoulli")
    b = off.sample_dataset(mdp, mu, 300, rng=np.random.default_rng(7), rewards="bernoulli")
    c = off.sample_dataset(mdp, mu, 300, rng=8, rewards="bernoulli")
    assert a == b
    assert not a == c
    assert a.states.dtype == np.int64 and a.rewards.dtype == np.float64


def test_sampled_dataset_is_consistent_with_the_model_and_the_behavior():
    mdp = _mdp(S=3, A=2, H=2, seed=3)
    mu = off.behavior_policy(mdp, (0.2, 0.8, 0.0))
    data = off.sample_dataset(mdp, mu, 40_000, rng=0)
    off.check_dataset(data, mdp)  # no impossible transition
    # empirical state-action frequencies against the exact occupancy (4-sigma binomial band)
    d = ml.occupancy(mdp, mu)
    freq = data.counts() / data.N
    sd = np.sqrt(d * (1 - d) / data.N)
    assert np.all(np.abs(freq - d) <= 4 * sd + 1e-12)
    # deterministic rewards equal R
    R = np.asarray(mdp.R)
    assert np.array_equal(data.rewards, R[data.states[:, :-1], data.actions])


def test_empirical_model_matches_direct_count_construction():
    mdp = _mdp(S=4, A=2, H=3, seed=1)
    data = off.sample_dataset(mdp, off.behavior_policy(mdp), 250, rng=2, rewards="bernoulli")
    H, S, A = data.H, data.S, data.A
    cnt = np.zeros((H, S, A))
    trans = np.zeros((H, S, A, S))
    rsum = np.zeros((H, S, A))
    for i in range(data.N):  # independent: plain loops
        for h in range(H):
            s, a, s2 = data.states[i, h], data.actions[i, h], data.states[i, h + 1]
            cnt[h, s, a] += 1
            trans[h, s, a, s2] += 1
            rsum[h, s, a] += data.rewards[i, h]
    model = off.empirical_model(data)
    np.testing.assert_array_equal(model.counts, cnt)
    np.testing.assert_array_equal(data.counts(), cnt)
    for h, s, a in itertools.product(range(H), range(S), range(A)):
        if cnt[h, s, a]:
            np.testing.assert_allclose(model.P[h, s, a], trans[h, s, a] / cnt[h, s, a], atol=0)
            assert model.R[h, s, a] == pytest.approx(rsum[h, s, a] / cnt[h, s, a], abs=1e-15)
        else:
            assert not model.P[h, s, a].any() and model.R[h, s, a] == 0
    np.testing.assert_allclose(model.mu, np.bincount(data.states[:, 0], minlength=S) / data.N)
    emp = model.mdp()  # a valid TabularMDP (unseen pairs completed by self-loops)
    assert emp.H == H


def _brute_force_occupancy(P, mu, pi):
    """d_h(s, a) by enumerating every trajectory (s_0, a_0, ..., s_{H-1}, a_{H-1})."""
    H, S, A = pi.shape
    d = np.zeros((H, S, A))
    for traj in itertools.product(range(S), range(A), repeat=H):
        prob = mu[traj[0]]
        for h in range(H):
            s, a = traj[2 * h], traj[2 * h + 1]
            prob *= pi[h, s, a]
            if h + 1 < H:
                prob *= P[h, s, a, traj[2 * h + 2]]
            if prob == 0:
                break
        if prob:
            for h in range(H):
                d[h, traj[2 * h], traj[2 * h + 1]] += prob
    return d


def test_concentrability_two_ways_on_a_tiny_instance():
    H, S, A = 3, 2, 2
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.ones(S), size=(H, S, A))
    P[1, 0, 1] = [1.0, 0.0]  # some exact zeros
    mdp = ml.TabularMDP(P, rng.random((H, S, A)), horizon=H, mu=[0.7, 0.3])
    pi_star = ml.solve(mdp).policy
    for weights in [(0.5, 0.5, 0.0), (0.1, 0.3, 0.6), (0.0, 0.2, 0.8)]:
        for mix in ("occupancy", "action"):
            mu = off.behavior_policy(mdp, weights, mix=mix)
            d_star = _brute_force_occupancy(P, mdp.mu, pi_star)
            d_mu = _brute_force_occupancy(P, mdp.mu, mu)
            pos = d_star > 1e-15
            expect = np.inf if np.any(pos & (d_mu <= 1e-15)) else np.max(d_star[pos] / d_mu[pos])
            got = off.concentrability(mdp, mu)
            assert got == pytest.approx(expect, rel=1e-9), (weights, mix)
    # occupancy mixture: C* <= 1 / w_opt
    mu = off.behavior_policy(mdp, (0.25, 0.75, 0.0))
    assert off.concentrability(mdp, mu) <= 4 + 1e-9


def test_occupancy_mixture_has_the_mixed_occupancy():
    mdp = _mdp(S=5, A=3, H=4, seed=2)
    w = (0.2, 0.5, 0.3)
    mu = off.behavior_policy(mdp, w)
    pis = [ml.solve(mdp).policy, np.full((4, 5, 3), 1 / 3), off.adversarial_policy(mdp)]
    expect = sum(wi * ml.occupancy(mdp, p) for wi, p in zip(w, pis, strict=True))
    np.testing.assert_allclose(ml.occupancy(mdp, mu), expect, atol=1e-12)
    # the adversarial policy minimises the value: no random policy is worse
    J_bad = ml.evaluate(mdp, pis[2]).J
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert ml.evaluate(mdp, rng.dirichlet(np.ones(3), size=(4, 5))).J >= J_bad - 1e-12


@pytest.mark.parametrize("C", [1.0, 1.5, 3.0, 7.0])
def test_behavior_with_concentrability_reaches_the_target(C):
    mdp = _mdp(S=5, A=3, H=4, seed=4)
    mu, w = off.behavior_with_concentrability(mdp, C, uniform_share=0.5)
    assert 0 <= w <= 1
    assert off.concentrability(mdp, mu) == pytest.approx(C, rel=1e-6)


def test_empirical_concentrability_approaches_the_population_value():
    mdp = _mdp(S=3, A=2, H=2, seed=6)
    mu, _ = off.behavior_with_concentrability(mdp, 2.5)
    cov = off.coverage(off.sample_dataset(mdp, mu, 200_000, rng=1), mdp)
    assert cov.C_star == pytest.approx(2.5, rel=0.05)
    assert cov.missing_mass == 0 and cov.covered_pairs == 1.0
    np.testing.assert_array_equal(cov.state_counts, cov.counts.sum(-1))


# --------------------------------------------------------------------------- files
def test_save_load_round_trip_and_atomic_write(tmp_path):
    mdp = _mdp()
    data = off.sample_dataset(mdp, off.behavior_policy(mdp), 50, rng=0, rewards="bernoulli")
    path = data.save(tmp_path / "d")
    assert path.name == "d.npz" and path.is_file()
    assert off.load_dataset(path) == data
    assert off.OfflineDataset.load(path) == data
    data.subset(10).save(path)  # overwrite
    assert off.load_dataset(path) == data.subset(10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]  # no temporary file left


def _rewrite(path, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(path, **arrays)


def test_corrupted_files_are_rejected(tmp_path):
    mdp = _mdp()
    data = off.sample_dataset(mdp, off.behavior_policy(mdp), 200, rng=0)
    good = data.save(tmp_path / "good.npz")
    raw = good.read_bytes()

    cases = {}
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    cases[trunc] = "truncated or corrupted"
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    cases[junk] = "truncated or corrupted"
    for name, change, msg in [
        ("nokey", {"rewards": None}, "missing ['rewards']"),
        ("extra", {"weights": np.ones(3)}, "unexpected ['weights']"),
        ("fdtype", {"states": data.states.astype(np.float64)}, "'states' has dtype float64"),
        ("rdtype", {"rewards": data.rewards.astype(np.int64)}, "'rewards' has dtype int64"),
        ("format", {"format": np.array("something else")}, "'format' entry"),
        ("range", {"actions": data.actions + 5}, "out of range"),
        ("shape", {"rewards": data.rewards[:, :-1]}, "rewards has shape"),
    ]:
        p = tmp_path / f"{name}.npz"
        p.write_bytes(raw)
        _rewrite(p, **change)
        cases[p] = msg
    for p, msg in cases.items():
        with pytest.raises(ValueError, match=re.escape(msg)) as exc:
            off.load_dataset(p)
        assert str(p) in str(exc.value)
    with pytest.raises(FileNotFoundError):
        off.load_dataset(tmp_path / "missing.npz")
    # a corrupted member (bit flip inside the compressed data) is caught by the CRC check
    flipped = bytearray(raw)
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("states.npy")
    k = info.header_offset + 30 + len(info.filename) + 20
    flipped[k] ^= 0xFF
    bad = tmp_path / "flip.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a valid mdplab offline data set"):
        off.load_dataset(bad)


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    mdp = _mdp(S=4, A=2, H=3)
    with pytest.raises(ValueError, match="empty"):
        off.OfflineDataset(np.zeros((0, 4), int), np.zeros((0, 3), int), np.zeros((0, 3)), 4, 2)
    with pytest.raises(ValueError, match=r"states\[0, 2\] = 9 is out of range"):
        off.OfflineDataset([[0, 1, 9, 0]], [[0, 1, 0]], [[0, 0, 0]], 4, 2)
    with pytest.raises(ValueError, match=r"actions\[0, 1\] = -1 is out of range"):
        off.OfflineDataset([[0, 1, 2, 0]], [[0, -1, 0]], [[0, 0, 0]], 4, 2)
    with pytest.raises(ValueError, match="not an integer index"):
        off.OfflineDataset([[0, 1.5, 2, 0]], [[0, 1, 0]], [[0, 0, 0]], 4, 2)
    with pytest.raises(ValueError, match="expected \\(1, 4\\)"):
        off.OfflineDataset([[0, 1, 2]], [[0, 1, 0]], [[0, 0, 0]], 4, 2)
    with pytest.raises(ValueError, match="finite"):
        off.OfflineDataset([[0, 1, 2, 0]], [[0, 1, 0]], [[0, np.nan, 0]], 4, 2)
    with pytest.raises(ValueError, match="at least one trajectory"):
        off.sample_dataset(mdp, off.behavior_policy(mdp), 0, rng=0)
    with pytest.raises(ValueError, match="finite-horizon"):
        off.sample_dataset(ml.envs.random_mdp(4, 2, rng=0), np.full((4, 2), 0.5), 5, rng=0)
    # a transition the model says is impossible
    P = np.zeros((3, 4, 2, 4))
    P[..., 0] = 1.0  # every step goes to state 0
    det = ml.TabularMDP(P, np.zeros((3, 4, 2)), horizon=3)
    data = off.OfflineDataset([[0, 0, 3, 0]], [[0, 1, 0]], [[0, 0, 0]], 4, 2)
    with pytest.raises(ValueError, match=r"trajectory 0, step 1: the transition \(s=0, a=1\) "
                                         r"-> s'=3 has probability 0"):
        off.check_dataset(data, det)
    with pytest.raises(ValueError, match="probability 0"):
        off.coverage(data, det)
    with pytest.raises(ValueError, match="but mdp has S=4, A=2, H=2"):
        off.check_dataset(data.subset(1), ml.TabularMDP(P[:2], np.zeros((2, 4, 2)), horizon=2))
    bad_r = off.OfflineDataset([[0, 0, 0, 0]], [[0, 1, 0]], [[0, 2.0, 0]], 4, 2)
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        off.pevi(bad_r)
    with pytest.raises(ValueError, match="C = 50 is not reachable"):
        off.behavior_with_concentrability(mdp, 50)
    with pytest.raises(ValueError, match="weights"):
        off.behavior_policy(mdp, (0.5, 0.6, 0.0))
    with pytest.raises(TypeError, match="dataset"):
        off.pevi(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="state_embedding has shape"):
        off.prdc(data, np.zeros((3, 2)))


# --------------------------------------------------------------------------- PEVI
def _partial_instance(seed):
    mdp = ml.envs.random_mdp(6, 3, horizon=4, rng=seed)
    mu = off.behavior_policy(mdp, (0.3, 0.2, 0.5), mix="action")
    return mdp, mu


def test_pevi_value_is_a_lower_bound_and_the_data_dependent_bound_holds():
    """Theory (module docstring): with probability >= 1 - delta (delta = 0.05), V_hat <= V^pi_hat
    everywhere and J* - J(pi_hat) <= 2 sum_h E_pi*[Gamma_h]. Checked on 40 seeds: the fraction
    of seeds where each holds must be >= 0.95."""
    lower, bound, gaps = [], [], []
    for seed in range(40):
        mdp, mu = _partial_instance(seed)
        data = off.sample_dataset(mdp, mu, 60, rng=1000 + seed, rewards="bernoulli")
        res = off.pevi(data, delta=0.05)
        val = ml.evaluate(mdp, res.policy)
        J_star = ml.solve(mdp).V[0] @ mdp.mu
        lower.append(bool(np.all(res.V <= val.V + 1e-12)))
        gap = J_star - val.J
        bound.append(gap <= off.pevi_bound(mdp, res) + 1e-12)
        gaps.append(gap)
    assert np.mean(lower) >= 0.95 and np.mean(bound) >= 0.95
    assert max(gaps) > 0  # the instances are not trivial for 60 trajectories


def test_pevi_hoeffding_lower_bound_on_seeds():
    ok = []
    for seed in range(20):
        mdp, mu = _partial_instance(seed)
        data = off.sample_dataset(mdp, mu, 200, rng=seed, rewards="bernoulli")
        res = off.pevi(data, bonus="hoeffding")
        ok.append(res.estimate(mdp.mu) <= ml.evaluate(mdp, res.policy).J + 1e-12)
    assert np.mean(ok) >= 0.95


def test_pevi_recovers_v_star_with_full_coverage():
    mdp = ml.envs.random_mdp(4, 2, horizon=3, rng=11)
    sol = ml.solve(mdp)
    uniform = np.full((3, 4, 2), 0.5)
    big = off.sample_dataset(mdp, uniform, 400_000, rng=0, rewards="bernoulli")
    errs = []
    for n in (1_000, 10_000, 100_000, 400_000):
        res = off.pevi(big.subset(n))
        errs.append(float(np.max(np.abs(res.V[:3] - sol.V[:3]))))
        # the error is at most the sum of the penalties along both policies (PEVI analysis):
        assert errs[-1] <= 2 * 3 * res.penalty.max() + 1e-12
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False))
    assert errs[-1] < 0.1
    res = off.pevi(big)
    np.testing.assert_allclose(ml.evaluate(mdp, res.policy).V, sol.V, atol=1e-12)


def test_pevi_bonus_formula():
    n = np.array([[[0.0, 1.0, 100.0]]])
    g = off.pevi_bonus(n, S=4, N=100, delta=0.1)
    log_d = np.log(2 * 1 * 4 * 3 * 100 / 0.1)
    expect = np.sqrt((np.log(2) + log_d) / 200) + 0 * np.sqrt(2 * (4 * np.log(2) + log_d) / 100)
    assert g[0, 0, 0] == 1.0 and g[0, 0, 1] == 1.0  # capped at H - h = 1
    assert g[0, 0, 2] == pytest.approx(expect, rel=1e-14)
    b = off.pevi_coverage_bound(S=4, H=3, A=2, N=100, C_star=2.0)
    assert b > 0 and off.pevi_coverage_bound(S=4, H=3, A=2, N=400, C_star=2.0) < b


# --------------------------------------------------------------------------- plug-in, KL
def test_plugin_equals_solve_on_the_empirical_mdp():
    mdp, mu = _partial_instance(3)
    data = off.sample_dataset(mdp, mu, 30, rng=0, rewards="bernoulli")
    res = off.plugin(data)
    sol = ml.solve(off.empirical_model(data).mdp())
    np.testing.assert_allclose(res.V, sol.V, atol=1e-12)
    np.testing.assert_allclose(res.Q, sol.Q, atol=1e-12)
    opt = off.plugin(data, unvisited="optimistic")
    assert np.all(opt.V >= res.V - 1e-12)


def test_behavior_regularization_limits():
    mdp, mu = _partial_instance(4)
    data = off.sample_dataset(mdp, mu, 100, rng=0)
    mu_hat = off.behavior_estimate(data)
    big = off.behavior_regularized(data, 1e6)
    np.testing.assert_allclose(big.policy, mu_hat, atol=1e-4)
    small = off.behavior_regularized(data, 0.0)
    # beta = 0: greedy within the support of mu_hat on the empirical model
    seen = data.counts() > 0
    visited = seen.any(-1)
    chosen = small.policy.argmax(-1)
    assert np.all(seen[visited.nonzero() + (chosen[visited],)])


# --------------------------------------------------------------------------- PRDC
def test_prdc_nearest_neighbours_brute_force():
    mdp, mu = _partial_instance(5)
    data = off.sample_dataset(mdp, mu, 15, rng=2)
    e = np.random.default_rng(0).random((mdp.S, 2))
    for beta in (0.0, 0.5, 2.0, 10.0):
        res = off.prdc(data, e, beta=beta)
        n = data.counts()
        for h in range(data.H):
            keys = np.array([np.r_[beta * e[s], np.eye(mdp.A)[a]]
                             for s in range(mdp.S) for a in range(mdp.A)])
            data_idx = np.flatnonzero(n[h].ravel() > 0)
            D = np.linalg.norm(keys[:, None] - keys[None, data_idx], axis=-1).min(1)
            np.testing.assert_allclose(res.penalty[h].ravel(), D, atol=1e-12)


def test_prdc_infinite_beta_is_the_support_constraint():
    mdp = ml.envs.random_mdp(5, 3, horizon=3, rng=8)
    behavior = np.zeros((3, 5, 3))
    behavior[..., :2] = 0.5  # action 2 never in the data
    data = off.sample_dataset(mdp, behavior, 3000, rng=0)
    assert np.all(data.counts()[..., :2] > 0)
    res = off.prdc(data, np.arange(5.0), beta=np.inf)
    ref = off.behavior_regularized(data, 0.0)
    np.testing.assert_array_equal(res.policy, ref.policy)
    np.testing.assert_allclose(res.V, ref.V, atol=1e-12)


def test_prdc_bounds_hold_on_seeds():
    """The estimation-gap and performance-gap bounds are deterministic inequalities."""
    mdp = ml.envs.gridworld(3, 3, horizon=6, slip=0.1)
    cells = np.array([[i // 3, i % 3] for i in range(9)], float)
    for seed in range(6):
        mu = off.behavior_policy(mdp, (0.2, 0.3, 0.5), mix="action")
        data = off.sample_dataset(mdp, mu, 20 + 10 * seed, rng=seed)
        for beta in (0.5, 2.0, 8.0):
            res = off.prdc(data, cells / 3, beta=beta)
            b = off.prdc_bound(mdp, data, res, cells / 3)
            assert b.estimation_gap <= b.estimation_bound + 1e-9
            assert b.suboptimality <= b.suboptimality_bound + 1e-9


# --------------------------------------------------------------------------- docs
def test_docs_page_runs():
    page = (ROOT / "docs" / "offline.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert blocks
    ns: dict = {}
    for code in blocks:
        exec(compile(code, "docs/offline.md", "exec"), ns)
