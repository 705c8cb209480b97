"""Tests of mdplab.learn.runner: exact regret against independent evaluations, determinism,
record_every, the KL-regularized regret, the sampler's law, and errors on bad input."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mdplab as ml
from mdplab.learn import _kernels as K
from mdplab.learn.runner import _dense_model, record_grid


def numpy_policy_value(P, R, mu, pi):
    """Plain NumPy backward induction for a policy of a finite-horizon model (independent of
    the runner's forward-propagation kernel). P (H, S, A, S), R (H, S, A), pi (H, S, A)."""
    H, S, A = pi.shape
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        Q = R[h] + P[h] @ V
        V = (pi[h] * Q).sum(axis=1)
    return float(mu @ V)


def numpy_optimal_value(P, R, mu):
    H = R.shape[0]
    V = np.zeros(R.shape[1])
    for h in range(H - 1, -1, -1):
        V = (R[h] + P[h] @ V).max(axis=1)
    return float(mu @ V)


def full_arrays(mdp):
    H, S, A = mdp.H, mdp.S, mdp.A
    P = np.broadcast_to(np.asarray(mdp.P).reshape(-1, S, A, S), (H, S, A, S))
    R = np.broadcast_to(np.asarray(mdp.R).reshape(-1, S, A), (H, S, A))
    return P, R


@pytest.fixture(scope="module")
def small_mdp():
    return ml.envs.random_mdp(5, 3, horizon=6, time_varying=True, rng=3)


def capture(every=1):
    seen = {}

    def cb(k, agent, pi):
        if k % every == 0 or k <= 3:
            seen[k] = pi.copy()

    return seen, cb


@pytest.mark.parametrize(
    "learner",
    [ml.learn.UCBVI(bonus="bernstein", scale=0.05), ml.learn.EpsilonGreedy(0.3),
     ml.learn.PSRL(), ml.learn.OptimisticQLearning(c=0.1)],
    ids=lambda l: type(l).__name__,
)
def test_regret_is_optimal_minus_exact_value(small_mdp, learner):
    mdp = small_mdp
    P, R = full_arrays(mdp)
    seen, cb = capture(every=7)
    log = ml.learn.run(learner, mdp, episodes=60, rng=1, callback=cb)
    J_star = numpy_optimal_value(P, R, mdp.mu)
    assert log.attrs["optimal_value"] == pytest.approx(J_star, abs=1e-12)
    rows = log.set_index("episode")
    for k, pi in seen.items():
        J_np = numpy_policy_value(P, R, mdp.mu, pi)
        J_ml = ml.evaluate(mdp, pi).J
        assert rows.loc[k, "value"] == pytest.approx(J_np, abs=1e-12)
        assert rows.loc[k, "value"] == pytest.approx(J_ml, abs=1e-12)
        assert rows.loc[k, "regret"] == pytest.approx(J_star - J_np, abs=1e-12)
    assert np.allclose(log["cum_regret"], np.cumsum(log["regret"]), atol=1e-10)
    assert (log["regret"] >= -1e-12).all()
    assert list(log.columns) == ["episode", "value", "regret", "cum_regret", "kl", "seconds"]
    assert (np.diff(log["seconds"]) >= 0).all()


def test_kl_column_and_regularized_regret(small_mdp):
    mdp = small_mdp
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(mdp.A), size=mdp.S)
    beta = 0.3
    seen, cb = capture(every=5)
    log = ml.learn.run(ml.learn.EpsilonGreedy(0.2), mdp, episodes=30, rng=2, beta=beta,
                       ref=ref, callback=cb)
    J_star = ml.solve(mdp, beta=beta, ref=ref).V[0] @ mdp.mu
    rows = log.set_index("episode")
    for k, pi in seen.items():
        # independent: occupancy-weighted KL, and the regularized value from ml.evaluate
        d = ml.occupancy(mdp, pi)  # (H, S, A)
        d_s = d.sum(axis=2)
        kl = float(np.sum(d_s * ml.kl_divergence(pi, ref[None], axis=-1)))
        assert rows.loc[k, "kl"] == pytest.approx(kl, abs=1e-12)
        J_beta = ml.evaluate(mdp, pi, beta=beta, ref=ref).J
        assert rows.loc[k, "value"] == pytest.approx(J_beta, abs=1e-12)
        assert rows.loc[k, "regret"] == pytest.approx(J_star - J_beta, abs=1e-12)
        assert rows.loc[k, "regret"] >= -1e-12


def test_deterministic_given_seed(small_mdp):
    for learner in (ml.learn.UCBVI(), ml.learn.PSRL(), ml.learn.EpsilonGreedy(0.5)):
        a = ml.learn.run(learner, small_mdp, episodes=80, rng=11, rewards="bernoulli")
        b = ml.learn.run(learner, small_mdp, episodes=80, rng=11, rewards="bernoulli")
        pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
        c = ml.learn.run(learner, small_mdp, episodes=80, rng=12, rewards="bernoulli")
        if not isinstance(learner, ml.learn.UCBVI):  # UCBVI may play identically early on
            assert not np.array_equal(a["value"], c["value"])
    g = np.random.default_rng(5)
    ml.learn.run(ml.learn.PSRL(), small_mdp, episodes=5, rng=g)  # a Generator is accepted


def test_record_every_keeps_exact_cumulative_regret(small_mdp):
    full = ml.learn.run(ml.learn.EpsilonGreedy(0.2), small_mdp, episodes=500, rng=4)
    thin = ml.learn.run(ml.learn.EpsilonGreedy(0.2), small_mdp, episodes=500, rng=4,
                        record_every=50)
    assert len(thin) < len(full)
    assert thin["episode"].iloc[-1] == 500
    assert set(range(50, 501, 50)) <= set(thin["episode"])
    ref = full.set_index("episode").loc[thin["episode"]]
    np.testing.assert_array_equal(thin["cum_regret"].to_numpy(), ref["cum_regret"].to_numpy())
    np.testing.assert_array_equal(record_grid(10, 1), np.arange(1, 11))


def test_sampler_matches_exact_occupancy(small_mdp):
    """Empirical state-action frequencies of the sampler agree with ml.occupancy."""
    mdp = small_mdp
    P, R = _dense_model(mdp)
    rng = np.random.default_rng(9)
    pi = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    n = 20_000
    counts = np.zeros((mdp.H, mdp.S, mdp.A))
    states = np.empty(mdp.H + 1, dtype=np.int64)
    actions = np.empty(mdp.H, dtype=np.int64)
    obs = np.empty(mdp.H)
    Pcdf, mu_cdf = np.cumsum(P, axis=-1), np.cumsum(mdp.mu)
    for _ in range(n):
        K.sample_episode(Pcdf, R, mu_cdf, pi, rng.random(3 * mdp.H + 1), False, states,
                         actions, obs)
        counts[np.arange(mdp.H), states[:-1], actions] += 1
        np.testing.assert_array_equal(obs, R[np.arange(mdp.H), states[:-1], actions])
    d = ml.occupancy(mdp, pi)
    sd = np.sqrt(d * (1 - d) / n)
    assert np.all(np.abs(counts / n - d) <= 5 * sd + 1e-12)


def test_bernoulli_rewards_are_binary_with_the_right_mean():
    mdp = ml.envs.random_mdp(3, 2, horizon=4, rng=0)
    P, R = _dense_model(mdp)
    rng = np.random.default_rng(1)
    pi = np.full((4, 3, 2), 0.5)
    states = np.empty(5, dtype=np.int64)
    actions = np.empty(4, dtype=np.int64)
    obs = np.empty(4)
    tot = np.zeros((3, 2))
    num = np.zeros((3, 2))
    for _ in range(20_000):
        K.sample_episode(np.cumsum(P, -1), R, np.cumsum(mdp.mu), pi, rng.random(13), True,
                         states, actions, obs)
        assert set(np.unique(obs)) <= {0.0, 1.0}
        np.add.at(tot, (states[:-1], actions), obs)
        np.add.at(num, (states[:-1], actions), 1)
    mean = tot / num
    assert np.all(np.abs(mean - R[0]) <= 5 * np.sqrt(0.25 / num))


def test_sparse_and_stationary_models_run():
    mdp = ml.envs.riverswim(5, horizon=8, variant="osband")
    a = ml.learn.run(ml.learn.UCBVI(), mdp, episodes=20, rng=0)
    b = ml.learn.run(ml.learn.UCBVI(), mdp.sparse(), episodes=20, rng=0)
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))


def test_quiet_by_default(small_mdp, capsys):
    ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, rng=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_bar_when_asked(small_mdp, capsys):
    ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, rng=0, progress=True)
    assert "10/10" in capsys.readouterr().out


def test_bad_input(small_mdp):
    disc = ml.envs.random_mdp(4, 2, gamma=0.9, rng=0)
    with pytest.raises(ValueError, match="discounted.*horizon"):
        ml.learn.run(ml.learn.UCBVI(), disc, episodes=10)
    with pytest.raises(ValueError, match="episodes = 0 must be >= 1"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=0)
    with pytest.raises(ValueError, match="episodes = -3"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=-3)
    with pytest.raises(TypeError, match="episodes: expected an int"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10.0)
    with pytest.raises(TypeError, match="learner"):
        ml.learn.run("UCBVI", small_mdp, episodes=10)
    with pytest.raises(TypeError, match="mdp: expected a TabularMDP"):
        ml.learn.run(ml.learn.UCBVI(), np.zeros((2, 2, 2)), episodes=10)
    big = small_mdp.with_(R=2.0 * np.asarray(small_mdp.R))
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        ml.learn.run(ml.learn.UCBVI(), big, episodes=10)
    with pytest.raises(ValueError, match="rewards = 'noisy'"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, rewards="noisy")
    with pytest.raises(ValueError, match="record_every = 0"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, record_every=0)
    with pytest.raises(ValueError, match="beta"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, beta=-1.0)
    with pytest.raises(TypeError, match="callback"):
        ml.learn.run(ml.learn.UCBVI(), small_mdp, episodes=10, callback=3)


# ----------------------------------------------------------------------------- docs, example, claim
ROOT = Path(__file__).resolve().parents[1]


def test_docs_page_examples_run(tmp_path, monkeypatch):
    """The ```python blocks of docs/learn.md run in order (until tests/test_docs.py runs them)."""
    import re

    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "learn.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 2
    ns = {"__name__": "docs_learn"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for code in blocks:
            exec(compile(code, "docs/learn.md", "exec"), ns)
    assert ns["log"]["episode"].iloc[-1] == 1_000


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(str(ROOT / "examples" / "ucbvi_regret.py"), run_name="example")["main"]
    table = main(K=300, out=str(tmp_path / "fig"))
    assert (tmp_path / "fig.png").is_file() and (tmp_path / "fig.pdf").is_file()
    assert set(table["learner"]) >= {"UCBVI-BF", "PSRL"}
    assert "regret after 300 episodes" in capsys.readouterr().out


def test_regret_claim_quick_mode_runs(tmp_path):
    from mdplab import claims

    run = claims.run_claim(claims.get("ucbvi-sqrt-k-regret"), quick=True, seed=0, out=tmp_path)
    assert run.error is None
    res = run.result
    assert all(p.is_file() for p in res.figures) and len(res.figures) == 2
    assert {"slope_bf_riverswim", "slope_bf_random"} <= set(res.key_numbers)
    # the verdict follows the stated criterion (whatever it is on this seed)
    slopes_ok = all(0.4 <= res.key_numbers[k] <= 0.6
                    for k in ("slope_bf_riverswim", "slope_bf_random"))
    assert res.passed == (slopes_ok and "below the Thm. 1 bound: True" in res.summary)
    assert set(res.table["learner"]) == {"UCBVI-BF", "UCBVI-CH", "UCBVI-BF, bonus x 0.1"}
    assert res.table.groupby(["instance", "learner"])["seed"].nunique().min() >= 3


# ----------------------------------------------------------------------------- checkpoint / resume
_CKPT_SCRIPT = r"""
import sys, time
import mdplab as ml

def slow(k, agent, pi):  # slows the run down so that it can be killed mid-way
    time.sleep(0.002)

mdp = ml.envs.random_mdp(5, 3, horizon=6, time_varying=True, rng=3)
log = ml.learn.run(ml.learn.{learner}, mdp, episodes={K}, rng=7, checkpoint=sys.argv[1],
                   checkpoint_every=100, callback=slow if sys.argv[2] == "slow" else None)
log.to_pickle(sys.argv[3])
"""


@pytest.mark.parametrize("learner", ["UCBVI(bonus='bernstein', scale=0.1)", "PSRL()",
                                     "RegularizedUCBVI(beta=0.3)"])
def test_checkpoint_survives_sigkill_and_resumes_bit_identically(tmp_path, learner):
    """A real subprocess is killed (SIGKILL) mid-run; running again with the same arguments
    resumes from its last checkpoint and gives the uninterrupted run's log exactly."""
    import os
    import pickle
    import signal
    import subprocess
    import sys
    import time

    K = 3000
    script = tmp_path / "run.py"
    script.write_text(_CKPT_SCRIPT.format(learner=learner, K=K))
    ckpt = tmp_path / "run.ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), "slow",
                             str(tmp_path / "killed.pkl")], env=env)
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and done < 300:
            time.sleep(0.05)
            if ckpt.exists():
                with open(ckpt, "rb") as f:
                    done = pickle.load(f)["k"]
        assert done >= 300, "no checkpoint written"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.pkl").exists()
    with open(ckpt, "rb") as f:
        k_saved = pickle.load(f)["k"]
    assert 0 < k_saved < K and k_saved % 100 == 0
    # resume in a fresh process, then an uninterrupted reference run without checkpoint
    subprocess.run([sys.executable, str(script), str(ckpt), "fast", str(tmp_path / "res.pkl")],
                   env=env, check=True, timeout=300)
    resumed = pd.read_pickle(tmp_path / "res.pkl")
    assert resumed.attrs["resumed_from"] >= k_saved
    mdp = ml.envs.random_mdp(5, 3, horizon=6, time_varying=True, rng=3)
    ref = ml.learn.run(eval(f"ml.learn.{learner}"), mdp, episodes=K, rng=7)
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"), ref.drop(columns="seconds"),
                                  check_exact=True)
    assert (np.diff(resumed["seconds"]) >= 0).all()


def test_checkpoint_in_process_and_argument_mismatch(tmp_path, small_mdp):
    ckpt = tmp_path / "c.pkl"
    learner = ml.learn.UCBVI(scale=0.1)
    a = ml.learn.run(learner, small_mdp, episodes=250, rng=0, checkpoint=ckpt,
                     checkpoint_every=64)
    assert a.attrs["resumed_from"] == 0 and ckpt.exists()
    b = ml.learn.run(learner, small_mdp, episodes=250, rng=0, checkpoint=ckpt)  # complete
    assert b.attrs["resumed_from"] == 250
    pd.testing.assert_frame_equal(a, b)
    for kwargs in ({"rng": 1}, {"beta": 0.1}, {"rewards": "bernoulli"}):
        with pytest.raises(ValueError, match="different arguments"):
            ml.learn.run(learner, small_mdp, episodes=250, checkpoint=ckpt,
                         **{"rng": 0, **kwargs})
    with pytest.raises(ValueError, match="different arguments"):
        ml.learn.run(ml.learn.UCBVI(scale=0.2), small_mdp, episodes=250, rng=0, checkpoint=ckpt)
    with pytest.raises(ValueError, match="does not exist"):
        ml.learn.run(learner, small_mdp, 10, checkpoint=tmp_path / "no" / "c.pkl")
    with pytest.raises(TypeError, match="checkpoint: expected a path"):
        ml.learn.run(learner, small_mdp, 10, checkpoint=3)
    with pytest.raises(ValueError, match="checkpoint_every = 0"):
        ml.learn.run(learner, small_mdp, 10, checkpoint=ckpt, checkpoint_every=0)
