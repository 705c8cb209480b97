"""Hostile input for the learning code (issue 12): the runner and the learners, ``identify``,
``demo``, ``offline`` (data sets, PEVI, PRDC, behavior regularization) and ``games``.

Random shapes, dtypes (int, float32, bool, object, complex), NaN / inf, non-contiguous and
read-only arrays, lists, out-of-range indices and bad hyper-parameters. Each input is either
accepted and handled exactly -- the same answer as the clean float64 input (for int, float32
and bool variants: the same answer as the variant converted to float64) -- or rejected with a
ValueError / TypeError whose message names the argument. Never another exception (in particular
nothing from inside Numba), never a warning (a silent cast), never a NaN.

Files: truncated, hand-edited, wrong-key and wrong-dtype data sets (``.npz``) and learner
checkpoints are rejected with a message naming the file, before anything is used; writes are
atomic (a write that fails half-way leaves the previous file and no temporary file).
"""

from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdplab as ml
from mdplab.learn import demo, games, offline

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- hostile variants
HOW = ["list", "float32", "object", "int", "bool", "complex", "nan", "inf", "fortran",
       "strided", "readonly", "wrong-shape"]
EXACT = {"list", "object", "fortran", "strided", "readonly"}  # must give the clean answer
CAST = {"int", "bool", "float32"}  # if accepted: the answer of the variant cast to float64
REJECT = {"complex", "nan", "inf"}  # must be rejected


def mangle(arr, how, rng):
    """A hostile variant of a clean array (shared with ``tests/test_hostile.py``)."""
    arr = np.asarray(arr)
    if how == "list":
        return arr.tolist()
    if how == "float32":
        return arr.astype(np.float32)
    if how == "object":
        return arr.astype(object)
    if how == "int":
        return np.round(arr).astype(np.int64)
    if how == "bool":
        return arr > 0.5
    if how == "complex":
        return arr.astype(np.complex128)
    if how in ("nan", "inf"):
        out = arr.astype(np.float64)
        out.flat[rng.integers(out.size)] = np.nan if how == "nan" else -np.inf
        return out
    if how == "fortran":
        return np.asfortranarray(arr)
    if how == "strided":
        return np.repeat(arr, 2, axis=-1)[..., ::2]
    if how == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out
    if how == "wrong-shape":
        return arr[..., :-1] if arr.shape[-1] > 1 else arr[None]
    raise AssertionError(how)


def as_float(x):
    return np.asarray(x).astype(np.float64)


def outcome(fn):
    """``("ok", result)`` or ``("error", exception)``; any warning is turned into an error
    (a complex number silently cast to real is a ``ComplexWarning``) and any exception other
    than ValueError / TypeError fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return "ok", fn()
        except (ValueError, TypeError) as exc:
            return "error", exc


def numbers(result) -> list[np.ndarray]:
    """The numeric content of a result, for comparisons and finiteness checks."""
    if isinstance(result, pd.DataFrame):
        cols = [c for c in result.columns if c != "seconds" and result[c].dtype.kind in "fiub"]
        return [result[c].to_numpy(dtype=float) for c in cols]
    if isinstance(result, tuple):
        return [a for r in result for a in numbers(r)]
    if hasattr(result, "__dataclass_fields__"):
        out = []
        for name in result.__dataclass_fields__:
            v = getattr(result, name)
            if isinstance(v, (np.ndarray, float, int, np.floating)):
                out.append(np.asarray(v, dtype=float))
        return out
    return [np.asarray(result, dtype=float)]


def assert_same(a, b):
    for x, y in zip(numbers(a), numbers(b), strict=True):
        np.testing.assert_array_equal(x, y)


def check(fn, arg_name, how, clean, cast_fn=None, must_reject=REJECT, finite=True):
    """The contract for one hostile input ``how`` given to argument ``arg_name``."""
    kind, res = outcome(fn)
    if kind == "error":
        assert arg_name in str(res), f"{how}: the message does not name {arg_name!r}: {res}"
        assert how not in EXACT, f"{how} should be accepted: {res}"
        return
    assert how not in must_reject, f"{how} was accepted for {arg_name}"
    if finite:
        for arr in numbers(res):
            assert not np.isnan(arr).any(), f"{how}: NaN in the result"
    if how in EXACT:
        assert_same(res, clean)
    elif how in CAST and cast_fn is not None:
        kind2, res2 = outcome(cast_fn)
        assert kind2 == "ok", f"{how} accepted but its float64 cast is rejected: {res2}"
        assert_same(res, res2)


def small_mdp(seed=0, S=3, A=2, H=3):
    return ml.envs.random_mdp(S, A, horizon=H, rng=seed)


def drop_seconds(log):
    return log.drop(columns="seconds")


# ----------------------------------------------------------------------------- runner + learners
@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       where=st.sampled_from(["run", "learner"]))
def test_reference_policy_of_run_and_regularized_ucbvi(seed, how, where):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 50)
    ref = rng.dirichlet(np.ones(mdp.A), size=mdp.S)
    bad = mangle(ref, how, rng)

    def go(r):
        if where == "run":
            return ml.learn.run(ml.learn.UCBVI(scale=0.1), mdp, 6, rng=seed, beta=0.3, ref=r)
        return ml.learn.run(ml.learn.RegularizedUCBVI(beta=0.3, ref=r), mdp, 6, rng=seed,
                            beta=0.3, ref=r)

    clean = drop_seconds(go(ref))
    check(lambda: drop_seconds(go(bad)), "ref", how, clean,
          cast_fn=lambda: drop_seconds(go(as_float(bad))), finite=False)


BAD_NUMBERS = [-1, float("nan"), float("inf"), -float("inf"), "0.5", None, True, 1 + 0j, [0.1],
               np.array([0.1])]
HYPER = [
    (ml.learn.UCBVI, "delta", BAD_NUMBERS + [0, 1, 2.5]),
    (ml.learn.UCBVI, "scale", BAD_NUMBERS),
    (ml.learn.UCBVI, "bonus", ["ucb", None, 1]),
    (ml.learn.OptimisticQLearning, "c", BAD_NUMBERS),
    (ml.learn.OptimisticQLearning, "delta", BAD_NUMBERS + [0, 1]),
    (ml.learn.PSRL, "prior", BAD_NUMBERS + [0]),
    (ml.learn.EpsilonGreedy, "epsilon", BAD_NUMBERS + [1.5]),
    (ml.learn.EpsilonGreedy, "decay", BAD_NUMBERS),
    (ml.learn.EpsilonGreedy, "q_init", [float("nan"), float("inf"), "0", None, True, 1j]),
    (ml.learn.RegularizedUCBVI, "beta", BAD_NUMBERS),
    (ml.learn.RegularizedUCBVI, "delta", BAD_NUMBERS + [0, 1]),
    (ml.learn.RegularizedUCBVI, "scale", BAD_NUMBERS),
]


@pytest.mark.parametrize("cls, name, values", HYPER,
                         ids=[f"{c.__name__}-{n}" for c, n, _ in HYPER])
def test_learner_hyper_parameters_are_rejected_by_name(cls, name, values):
    for v in values:
        kind, res = outcome(lambda v=v: cls(**{name: v}))
        assert kind == "error", f"{cls.__name__}({name}={v!r}) was accepted"
        assert name in str(res), f"{cls.__name__}({name}={v!r}): {res}"


@pytest.mark.parametrize("cls, name, value", [
    (ml.learn.UCBVI, "scale", np.float32(0.25)), (ml.learn.UCBVI, "delta", np.float64(0.1)),
    (ml.learn.OptimisticQLearning, "c", np.int64(2)), (ml.learn.PSRL, "prior", np.float32(0.5)),
    (ml.learn.EpsilonGreedy, "epsilon", np.float32(0.25)),
    (ml.learn.RegularizedUCBVI, "beta", np.int64(1)),
])
def test_numpy_scalar_hyper_parameters_give_the_python_float_answer(cls, name, value):
    mdp = small_mdp(1)
    a = ml.learn.run(cls(**{name: value}), mdp, 20, rng=3)
    b = ml.learn.run(cls(**{name: float(value)}), mdp, 20, rng=3)
    pd.testing.assert_frame_equal(drop_seconds(a), drop_seconds(b), check_exact=True)


RUN_BAD = [
    ("episodes", [0, -3, 2.0, "5", None, True, 1e3]),
    ("beta", [-1.0, float("nan"), float("inf"), "0.1", None, 1 + 0j, [0.1]]),
    ("record_every", [0, 1.5, True, None]),
    ("rewards", ["mean", None, 3]),
    ("checkpoint_every", [0, 2.5, None]),
    ("callback", [3, "f"]),
    ("rng", ["a", 1.5, -1]),
    ("checkpoint", [3, 2.5]),
]


@pytest.mark.parametrize("name, values", RUN_BAD, ids=[n for n, _ in RUN_BAD])
def test_run_rejects_bad_arguments_by_name(name, values):
    mdp = small_mdp()
    for v in values:
        kw = {"episodes": 4, "rng": 0, name: v}
        ep = kw.pop("episodes")
        kind, res = outcome(lambda ep=ep, kw=kw: ml.learn.run(ml.learn.UCBVI(), mdp, ep, **kw))
        assert kind == "error", f"run({name}={v!r}) was accepted"
        assert name in str(res), f"run({name}={v!r}): {res}"


def test_run_rejects_bad_models_and_learners_by_name():
    mdp = small_mdp()
    for bad, name in [((ml.learn.UCBVI, mdp), "learner"), ((ml.learn.UCBVI(), mdp.P), "mdp"),
                      ((ml.learn.UCBVI(), ml.envs.random_mdp(3, 2, rng=0)), "mdp"),
                      ((ml.learn.UCBVI(), mdp.with_(R=np.asarray(mdp.R) + 1)), "mdp.R")]:
        kind, res = outcome(lambda bad=bad: ml.learn.run(*bad, 3, rng=0))
        assert kind == "error" and name in str(res), res


class _FixedAgent:
    def __init__(self, pi):
        self.pi = pi

    def policy(self):
        return self.pi

    def update(self, states, actions, rewards):
        pass


@dataclass(frozen=True)
class _Fixed(ml.learn.Learner):
    """A user-written learner that always proposes the same (possibly hostile) policy."""

    how: str = "clean"
    seed: int = 0

    def start(self, S, A, H, K, rng):
        g = np.random.default_rng(self.seed)
        pi = g.dirichlet(np.ones(A), size=(H, S))
        if self.how == "clean":
            return _FixedAgent(pi)
        if self.how == "none":
            return _FixedAgent(None)
        if self.how == "negative":
            pi[0, 0, 0] = -0.5
            pi[0, 0, -1] += 0.5 + (A == 1)
            return _FixedAgent(pi)
        if self.how == "unnormalized":
            return _FixedAgent(pi * 1.5)
        if self.how == "zeros":
            return _FixedAgent(np.zeros_like(pi))
        if self.how == "wider":  # one action too many: the kernels would read out of bounds
            return _FixedAgent(np.full((H, S, A + 1), 1.0 / (A + 1)))
        if self.how == "stationary":
            return _FixedAgent(pi[0])
        return _FixedAgent(mangle(pi, self.how, g))


@SETTINGS
@given(seed=st.integers(0, 10_000),
       how=st.sampled_from(HOW + ["none", "negative", "unnormalized", "zeros", "wider",
                                  "stationary"]))
def test_the_runner_checks_every_policy_a_learner_proposes(seed, how):
    """A user-written learner returning a bad policy is stopped before the compiled kernels
    read it (out-of-bounds reads, NaN values): TypeError / ValueError naming the learner."""
    mdp = small_mdp(seed % 20)
    clean = drop_seconds(ml.learn.run(_Fixed("clean", seed), mdp, 5, rng=seed))
    kind, res = outcome(lambda: drop_seconds(ml.learn.run(_Fixed(how, seed), mdp, 5, rng=seed)))
    if kind == "error":
        assert "learner" in str(res) and "policy" in str(res), res
        assert how not in EXACT, f"{how} should be accepted: {res}"
        return
    assert how in EXACT | CAST, f"{how} was accepted"
    assert np.all(np.isfinite(res.drop(columns="episode").to_numpy()))
    if how in EXACT:
        pd.testing.assert_frame_equal(res, clean, check_exact=True)


@pytest.mark.parametrize("epsilon, ok", [
    ([0.5, 0.2], True), ((0.5,), True), (np.array([0.5], dtype=object), True),
    (np.float32(0.5), True), (0.0, False), (-1.0, False), (float("nan"), False),
    ([0.1, float("inf")], False), ([], False), ([[0.1]], False), ("0.1", False), (1j, False),
    (None, False),
])
def test_identify_epsilon(epsilon, ok):
    mdp = small_mdp()
    learner = ml.learn.RegularizedUCBVI(beta=0.5)
    kind, res = outcome(lambda: ml.learn.identify(learner, mdp, epsilon, rng=0, max_episodes=30))
    if not ok:
        assert kind == "error" and "epsilon" in str(res), res
        return
    assert kind == "ok", res
    clean = ml.learn.identify(learner, mdp, np.asarray(epsilon, dtype=float).ravel().tolist(),
                              rng=0, max_episodes=30)
    pd.testing.assert_frame_equal(res, clean, check_exact=True)


@pytest.mark.parametrize("kwargs, name", [
    ({"max_episodes": 0}, "max_episodes"), ({"max_episodes": 2.5}, "max_episodes"),
    ({"rewards": "x"}, "rewards"), ({"rng": "x"}, "rng"),
])
def test_identify_rejects_bad_arguments_by_name(kwargs, name):
    kind, res = outcome(lambda: ml.learn.identify(ml.learn.RegularizedUCBVI(beta=0.5),
                                                  small_mdp(), 0.1, **kwargs))
    assert kind == "error" and name in str(res), res
    kind, res = outcome(lambda: ml.learn.identify(ml.learn.UCBVI(), small_mdp(), 0.1))
    assert kind == "error" and "learner" in str(res), res


# ----------------------------------------------------------------------------- demonstrations
IDX_HOW = ["list", "object", "fortran", "strided", "readonly", "float", "float32", "bool",
           "complex", "nan", "inf", "fractional", "out-of-range", "negative", "wrong-shape",
           "strings"]
IDX_EXACT = {"list", "object", "fortran", "strided", "readonly", "float", "float32"}


def mangle_index(arr, how, rng, hi):
    arr = np.asarray(arr)
    if how == "float":
        return arr.astype(np.float64)
    if how == "fractional":
        out = arr.astype(np.float64)
        out.flat[rng.integers(out.size)] += 0.5
        return out
    if how == "out-of-range":
        out = arr.copy()
        out.flat[rng.integers(out.size)] = hi
        return out
    if how == "negative":
        out = arr.copy()
        out.flat[rng.integers(out.size)] = -1
        return out
    if how == "strings":
        return arr.astype(str)
    if how == "wrong-shape":
        return arr[:, :-1] if arr.shape[1] > 1 else arr[:, None]
    return mangle(arr, how, rng)


def check_index(fn, name, how, clean):
    kind, res = outcome(fn)
    if kind == "error":
        assert name in str(res), f"{how}: the message does not name {name!r}: {res}"
        assert how not in IDX_EXACT, f"{how} should be accepted: {res}"
        return
    assert how in IDX_EXACT or how == "wrong-shape", f"{how} was accepted for {name}"
    assert_same(res, clean)  # a final state column dropped by "wrong-shape" is never read


@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(IDX_HOW),
       which=st.sampled_from(["states", "actions"]))
def test_behavior_cloning_on_hostile_demonstrations(seed, how, which):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 30)
    states, actions = demo.sample_trajectories(mdp, np.full((mdp.S, mdp.A), 1 / mdp.A), 5,
                                               rng=seed)
    clean = demo.behavior_cloning(states, actions, mdp.S, mdp.A)
    args = {"states": states, "actions": actions}
    args[which] = mangle_index(args[which], how, rng, mdp.S if which == "states" else mdp.A)
    check_index(lambda: demo.behavior_cloning(args["states"], args["actions"], mdp.S, mdp.A),
                which, how, clean)


@pytest.mark.parametrize("name", ["S", "A"])
def test_behavior_cloning_sizes_are_checked(name):
    states, actions = np.zeros((2, 3), int), np.zeros((2, 2), int)
    for v in [0, -1, 2.5, "3", None, True]:
        kw = {"S": 3, "A": 2, name: v}
        kind, res = outcome(lambda kw=kw: demo.behavior_cloning(states, actions, **kw))
        assert kind == "error" and name in str(res), (v, res)


@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       which=st.sampled_from(["policy", "other"]))
def test_trajectory_kl_on_hostile_policies(seed, how, which):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 30)
    pols = {"policy": rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S)),
            "other": rng.dirichlet(np.ones(mdp.A), size=mdp.S)}
    clean = demo.trajectory_kl(mdp, pols["policy"], pols["other"])
    bad = dict(pols)
    bad[which] = mangle(pols[which], how, rng)
    cast = dict(pols)
    cast[which] = as_float(bad[which]) if how in CAST else bad[which]
    check(lambda: demo.trajectory_kl(mdp, bad["policy"], bad["other"]), which, how, clean,
          cast_fn=lambda: demo.trajectory_kl(mdp, cast["policy"], cast["other"]), finite=False)


def test_demo_functions_reject_bad_models_and_scalars_by_name():
    mdp = small_mdp()
    s, a = demo.sample_trajectories(mdp, np.full((3, 2), 0.5), 3, rng=0)
    cases = [
        (lambda: demo.trajectory_kl(None, np.full((3, 2), 0.5), np.full((3, 2), 0.5)), "mdp"),
        (lambda: demo.trajectory_kl(ml.envs.random_mdp(3, 2, rng=0), np.full((3, 2), 0.5),
                                    np.full((3, 2), 0.5)), "mdp"),
        (lambda: demo.sample_trajectories(mdp, np.full((3, 2), 0.5), 2.5), "n"),
        (lambda: demo.sample_trajectories(mdp, np.full((3, 2), 0.5), 0), "n"),
        (lambda: demo.demo_regularized_bpi(mdp, s, a, "0.1"), "epsilon"),
        (lambda: demo.demo_regularized_bpi(mdp, s, a, float("nan")), "epsilon"),
        (lambda: demo.demo_regularized_bpi(mdp, s, a, 0.5, c_bc=-1), "c_bc"),
        (lambda: demo.demo_regularized_bpi(mdp, s, a, 0.5, delta=1.5), "delta"),
        (lambda: demo.demo_regularized_bpi(mdp, s, a, 0.5, max_episodes=0), "max_episodes"),
        (lambda: demo.demo_regularized_bpi(mdp, s[:, :3], a[:, :2], 0.5), "actions"),
        (lambda: demo.behavior_cloning(s, a, 3, 2, smoothing=0), "smoothing"),
        (lambda: demo.behavior_cloning(s, a, 3, 2, smoothing=float("inf")), "smoothing"),
    ]
    for fn, name in cases:
        kind, res = outcome(fn)
        assert kind == "error" and name in str(res), (name, res)


# ----------------------------------------------------------------------------- offline data
@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(IDX_HOW),
       which=st.sampled_from(["states", "actions"]))
def test_offline_dataset_on_hostile_indices(seed, how, which):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 30)
    d = offline.sample_dataset(mdp, np.full((mdp.S, mdp.A), 1 / mdp.A), 6, rng=seed)
    args = {"states": d.states, "actions": d.actions}
    args[which] = mangle_index(args[which], how, rng, mdp.S if which == "states" else mdp.A)
    kind, res = outcome(lambda: offline.OfflineDataset(args["states"], args["actions"],
                                                       d.rewards, mdp.S, mdp.A))
    if kind == "error":
        assert which in str(res), f"{how}: the message does not name {which}: {res}"
        assert how not in IDX_EXACT, f"{how} should be accepted: {res}"
        return
    assert how in IDX_EXACT, f"{how} was accepted for {which}"
    assert res == d


@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(HOW))
def test_offline_dataset_and_pevi_on_hostile_rewards(seed, how):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 30)
    d = offline.sample_dataset(mdp, np.full((mdp.S, mdp.A), 1 / mdp.A), 8, rng=seed)
    bad = mangle(d.rewards, how, rng)

    def go(r):
        data = offline.OfflineDataset(d.states, d.actions, r, mdp.S, mdp.A)
        return offline.pevi(data).V, offline.behavior_regularized(data, 0.2).V

    check(lambda: go(bad), "rewards", how, go(d.rewards), cast_fn=lambda: go(as_float(bad)))


@SETTINGS
@given(seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       which=st.sampled_from(["behavior", "mu", "state_embedding", "action_embedding"]))
def test_offline_functions_on_hostile_arrays(seed, how, which):
    rng = np.random.default_rng(seed)
    mdp = small_mdp(seed % 30)
    behavior = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    d = offline.sample_dataset(mdp, behavior, 10, rng=seed)
    clean_arrays = {"behavior": behavior, "mu": rng.dirichlet(np.ones(mdp.S)),
                    "state_embedding": rng.normal(size=(mdp.S, 2)),
                    "action_embedding": rng.normal(size=(mdp.A, 2))}

    def go(x):
        if which == "behavior":
            return offline.sample_dataset(mdp, x, 10, rng=seed).rewards
        if which == "mu":
            return offline.behavior_regularized(d, 0.3, mu=x).V
        if which == "state_embedding":
            return offline.prdc(d, x).V
        return offline.prdc(d, clean_arrays["state_embedding"], action_embedding=x).V

    clean = go(clean_arrays[which])
    bad = mangle(clean_arrays[which], how, rng)
    # an embedding of another width is still an embedding: "wrong-shape" may be accepted
    reject = REJECT if which.endswith("embedding") else REJECT | {"wrong-shape"}
    check(lambda: go(bad), which, how, clean, cast_fn=lambda: go(as_float(bad)),
          must_reject=reject)


OFFLINE_BAD = [
    (lambda d: offline.pevi(d, delta=0), "delta"),
    (lambda d: offline.pevi(d, delta=1.5), "delta"),
    (lambda d: offline.pevi(d, delta=None), "delta"),
    (lambda d: offline.pevi(d, scale=-1), "scale"),
    (lambda d: offline.pevi(d, scale="1"), "scale"),
    (lambda d: offline.pevi(d, bonus="x"), "bonus"),
    (lambda d: offline.pevi([1, 2]), "dataset"),
    (lambda d: offline.prdc(d, np.arange(3.0), beta="1"), "beta"),
    (lambda d: offline.prdc(d, np.arange(3.0), beta=None), "beta"),
    (lambda d: offline.prdc(d, np.arange(3.0), beta=-np.inf), "beta"),
    (lambda d: offline.prdc(d, np.arange(3.0), beta=float("nan")), "beta"),
    (lambda d: offline.prdc(d, np.arange(3.0), alpha=0), "alpha"),
    (lambda d: offline.prdc(d, np.zeros((2, 1))), "state_embedding"),
    (lambda d: offline.behavior_regularized(d, -1.0), "beta"),
    (lambda d: offline.behavior_regularized(d, float("inf")), "beta"),
    (lambda d: offline.behavior_regularized(d, 0.1, smoothing=-1), "smoothing"),
    (lambda d: offline.behavior_estimate(d, smoothing=float("nan")), "smoothing"),
    (lambda d: offline.OfflineDataset(d.states, d.actions, d.rewards, 2.5, 2), "S"),
    (lambda d: offline.OfflineDataset(d.states, d.actions, d.rewards, 3, True), "A"),
    (lambda d: offline.OfflineDataset(d.states, d.actions, d.rewards.astype(complex), 3, 2),
     "rewards"),
    (lambda d: offline.OfflineDataset(d.states, d.actions, [["a"] * 3] * 5, 3, 2), "rewards"),
    (lambda d: offline.sample_dataset(small_mdp(), "abc", 3), "behavior"),
    (lambda d: offline.sample_dataset(small_mdp(), None, 3), "behavior"),
    (lambda d: offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 2.5), "n"),
    (lambda d: offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 3, rewards="x"),
     "rewards"),
    (lambda d: offline.load_dataset(None), "path"),
]


@pytest.mark.parametrize("fn, name", OFFLINE_BAD, ids=[n for _, n in OFFLINE_BAD])
def test_offline_functions_reject_bad_scalars_by_name(fn, name):
    d = offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 5, rng=0)
    kind, res = outcome(lambda: fn(d))
    assert kind == "error" and name in str(res), res


# ----------------------------------------------------------------------------- games
@SETTINGS
@given(n=st.integers(2, 5), seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       fn=st.sampled_from(["equilibrium", "exploitability", "minimax", "nash_md", "nash_mp",
                           "mmd", "omd", "self_play", "payoff"]))
def test_game_functions_on_a_hostile_preference_matrix(n, seed, how, fn):
    rng = np.random.default_rng(seed)
    P = games.random_preference(n, rng=rng)
    pi = rng.dirichlet(np.ones(n))
    call = {
        "equilibrium": lambda M: games.regularized_equilibrium(M, 0.2).policy,
        "exploitability": lambda M: games.exploitability(M, pi, 0.2),
        "minimax": lambda M: games.minimax_winner(M).policy,
        "nash_md": lambda M: games.nash_md(M, 0.2, iterations=4).policies,
        "nash_mp": lambda M: games.nash_mp(M, 0.2, iterations=4).policies,
        "mmd": lambda M: games.mmd(M, 0.2, iterations=4).policies,
        "omd": lambda M: games.omd(M, 0.2, eta=0.5, iterations=4).policies,
        "self_play": lambda M: games.self_play(M, iterations=4).policies,
        "payoff": lambda M: games.regularized_payoff(M, pi, pi[::-1], 0.2),
    }[fn]
    bad = mangle(P, how, rng)
    check(lambda: call(bad), "P", how, call(P), cast_fn=lambda: call(as_float(bad)),
          must_reject=REJECT | {"wrong-shape"})


@SETTINGS
@given(n=st.integers(2, 5), seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       which=st.sampled_from(["ref", "pi", "pi0", "pi2", "magnet"]))
def test_game_functions_on_hostile_policies(n, seed, how, which):
    rng = np.random.default_rng(seed)
    P = games.random_preference(n, rng=rng)
    clean = rng.dirichlet(np.ones(n))
    call = {
        "ref": lambda x: (games.regularized_equilibrium(P, 0.3, x).policy,
                          games.exploitability(P, clean, 0.3, x),
                          games.nash_mp(P, 0.3, x, iterations=3).last),
        "pi": lambda x: games.exploitability(P, x, 0.3),
        "pi0": lambda x: games.nash_md(P, 0.3, iterations=3, pi0=x).last,
        "pi2": lambda x: games.regularized_payoff(P, clean, x, 0.3),
        "magnet": lambda x: games.mmd(P, 0.3, x, iterations=3).last,
    }[which]
    bad = mangle(clean, how, rng)
    check(lambda: call(bad), which, how, call(clean), cast_fn=lambda: call(as_float(bad)),
          must_reject=REJECT | {"wrong-shape"})


@SETTINGS
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000), how=st.sampled_from(HOW),
       which=st.sampled_from(["g", "anchor", "pi", "mu", "r"]))
def test_game_helpers_on_hostile_arrays(n, seed, how, which):
    rng = np.random.default_rng(seed)
    arrays = {"g": rng.normal(size=n), "anchor": rng.dirichlet(np.ones(n)),
              "pi": rng.dirichlet(np.ones(n)), "mu": rng.dirichlet(np.ones(n)),
              "r": rng.normal(size=n)}

    def call(x):
        a = dict(arrays, **{which: x})
        if which in ("g", "anchor"):
            return games.kl_best_response(a["g"], a["anchor"], 0.5)
        if which in ("pi", "mu"):
            return games.geometric_mixture(a["pi"], a["mu"], 0.3)
        return games.bradley_terry(a["r"])

    bad = mangle(arrays[which], how, rng)
    # a shorter reward vector is another valid game; with n = 1, "wrong-shape" is a (1, 1)
    # batch of one, which broadcasts
    reject = REJECT if which == "r" or n == 1 else REJECT | {"wrong-shape"}
    check(lambda: call(bad), which, how, call(arrays[which]),
          cast_fn=lambda: call(as_float(bad)), must_reject=reject)


GAMES_BAD = [
    (lambda P: games.regularized_equilibrium(P, 0.0), "beta"),
    (lambda P: games.regularized_equilibrium(P, "0.1"), "beta"),
    (lambda P: games.regularized_equilibrium(P, 0.1, tol=0), "tol"),
    (lambda P: games.regularized_equilibrium(P, 0.1, max_iter=0), "max_iter"),
    (lambda P: games.regularized_equilibrium(P, 0.1, max_iter=2.5), "max_iter"),
    (lambda P: games.regularized_equilibrium(P, 0.1, max_iter=None), "max_iter"),
    (lambda P: games.exploitability(P, np.full(4, 0.25), -0.1), "beta"),
    (lambda P: games.minimax_winner(P, method="simplex"), "method"),
    (lambda P: games.nash_md(P, 0.1, iterations=-1), "iterations"),
    (lambda P: games.nash_md(P, 0.1, iterations=2.5), "iterations"),
    (lambda P: games.nash_md(P, 0.1, eta=100.0, iterations=2), "eta"),
    (lambda P: games.nash_md(P, 0.1, eta=float("nan"), iterations=2), "eta"),
    (lambda P: games.nash_md(P, 0.1, iterations=3, record_every=0), "record_every"),
    (lambda P: games.nash_mp(P, 0.1, eta=-1.0), "eta"),
    (lambda P: games.omd(P, 0.5, eta=3.0), "eta"),
    (lambda P: games.mmd(P, -1.0), "alpha"),
    (lambda P: games.mmd(P, 0.1, magnet=np.array([0.5, 0.5, 0.0, 0.0])), "magnet"),
    (lambda P: games.self_play(P, eta="fast"), "eta"),
    (lambda P: games.sppo(P, eta=0.0), "eta"),
    (lambda P: games.kl_best_response(np.zeros(4), np.full(4, 0.25), 0.0), "c"),
    (lambda P: games.kl_best_response(np.zeros(4), np.full(3, 1 / 3), 1.0), "anchor"),
    (lambda P: games.geometric_mixture(np.full(4, 0.25), np.full(4, 0.25), 1.5), "w"),
    (lambda P: games.geometric_mixture([1.0, 0, 0, 0], [0, 1.0, 0, 0], 0.5), "mu"),
    (lambda P: games.random_preference(0), "n"),
    (lambda P: games.random_preference(True), "n"),
    (lambda P: games.random_preference(3, batch=-1), "batch"),
    (lambda P: games.random_preference(3, batch=2.5), "batch"),
    (lambda P: games.random_tournament(2.5), "n"),
]


@pytest.mark.parametrize("fn, name", GAMES_BAD, ids=[n for _, n in GAMES_BAD])
def test_game_functions_reject_bad_scalars_by_name(fn, name):
    P = games.random_preference(4, rng=0)
    kind, res = outcome(lambda: fn(P))
    assert kind == "error" and name in str(res), res


# ----------------------------------------------------------------------------- files: data sets
def _npz_variant(path, tmp_path, name, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    out = tmp_path / f"{name}.npz"
    np.savez(out, **arrays)
    return out


def test_hand_edited_datasets_are_rejected_with_a_clear_message(tmp_path):
    d = offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 20, rng=0)
    good = d.save(tmp_path / "good.npz")
    cases = {
        "S_small": {"S": np.array(1)}, "S_negative": {"S": np.array(-2)},
        "S_float": {"S": np.array(3.0)}, "S_vector": {"S": np.array([3])},
        "version": {"version": np.array(2)}, "format_bytes": {"format": np.array(b"x")},
        "states_object": {"states": d.states.astype(object)},
        "states_3d": {"states": d.states[None]}, "states_bool": {"states": d.states > 0},
        "rewards_complex": {"rewards": d.rewards.astype(complex)},
        "rewards_nan": {"rewards": np.full_like(d.rewards, np.nan)},
        "rewards_text": {"rewards": d.rewards.astype(str)},
        "empty": {"states": np.zeros((0, 4), int), "actions": np.zeros((0, 3), int),
                  "rewards": np.zeros((0, 3))},
        "missing": {"actions": None}, "extra": {"extra": np.zeros(2)},
    }
    for name, ch in cases.items():
        p = _npz_variant(good, tmp_path, name, **ch)
        kind, res = outcome(lambda p=p: offline.load_dataset(p))
        assert kind == "error" and isinstance(res, ValueError), (name, res)
        assert str(p) in str(res) and "not a valid mdplab offline data set" in str(res), res
    # a directory, a non-zip, an empty file
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "empty.bin").write_bytes(b"")
    for p in (tmp_path / "dir.npz", tmp_path / "empty.bin"):
        with pytest.raises(ValueError, match="not a valid mdplab offline data set"):
            offline.load_dataset(p)
    # hostile-but-valid encodings load exactly
    for name, ch in {"uint8": {"states": d.states.astype(np.uint8)},
                     "big_endian": {"actions": d.actions.astype(">i8")},
                     "float32": {"rewards": d.rewards.astype(np.float32)}}.items():
        loaded = offline.load_dataset(_npz_variant(good, tmp_path, name, **ch))
        expect = offline.OfflineDataset(
            *(np.asarray(ch.get(k, getattr(d, k))) for k in ("states", "actions", "rewards")),
            d.S, d.A)
        assert loaded == expect


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_datasets_are_rejected(tmp_path, cut):
    d = offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 50, rng=0)
    raw = d.save(tmp_path / "good.npz").read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(ValueError, match="not a valid mdplab offline data set"):
        offline.load_dataset(bad)


def test_dataset_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    d = offline.sample_dataset(small_mdp(), np.full((3, 2), 0.5), 20, rng=0)
    path = d.save(tmp_path / "d.npz")
    before = path.read_bytes()

    def broken(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        d.subset(3).save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
    monkeypatch.undo()
    assert offline.load_dataset(path) == d


# ----------------------------------------------------------------------------- files: checkpoints
def _partial_checkpoint(tmp_path, learner, mdp, K=300, stop=150):
    path = tmp_path / "run.ckpt"

    class Stop(Exception):
        pass

    def cb(k, agent, pi):
        if k == stop:
            raise Stop

    with pytest.raises(Stop):
        ml.learn.run(learner, mdp, K, rng=0, checkpoint=path, checkpoint_every=64, callback=cb)
    return path


def _edit(state, **changes):
    s = dict(state)
    for k, v in changes.items():
        if v is None:
            s.pop(k)
        else:
            s[k] = v
    return s


@pytest.mark.parametrize("learner", [ml.learn.UCBVI(scale=0.1), ml.learn.PSRL(),
                                     ml.learn.RegularizedUCBVI(beta=0.5)],
                         ids=["UCBVI", "PSRL", "RegularizedUCBVI"])
def test_corrupt_checkpoints_are_rejected_and_left_untouched(tmp_path, learner):
    mdp = small_mdp()
    path = _partial_checkpoint(tmp_path, learner, mdp)
    raw = path.read_bytes()
    state = pickle.loads(raw)
    agent = state["agent"]
    first_array = next(k for k, v in vars(agent).items() if isinstance(v, np.ndarray))

    def agent_with(**attrs):
        a = pickle.loads(pickle.dumps(agent))
        for k, v in attrs.items():
            setattr(a, k, v)
        return a

    k = state["k"]
    variants = {
        "truncated": raw[: len(raw) // 2], "empty": b"", "junk": b"not a pickle",
        "list": pickle.dumps([1, 2, 3]),
        "missing_key": pickle.dumps(_edit(state, values=None)),
        "extra_key": pickle.dumps(_edit(state, note="hi")),
        "k_too_large": pickle.dumps(_edit(state, k=10**6)),
        "k_negative": pickle.dumps(_edit(state, k=-1)),
        "k_float": pickle.dumps(_edit(state, k=float(k))),
        "k_mismatch": pickle.dumps(_edit(state, k=k - 1)),
        "values_short": pickle.dumps(_edit(state, values=state["values"][:-1])),
        "values_nan": pickle.dumps(_edit(state, values=np.full(k, np.nan))),
        "values_text": pickle.dumps(_edit(state, values="x")),
        "kls_float32": pickle.dumps(_edit(state, kls=state["kls"].astype(np.float32))),
        "elapsed": pickle.dumps(_edit(state, elapsed=-1.0)),
        "env_rng": pickle.dumps(_edit(state, env_rng=3)),
        "u_block": pickle.dumps(_edit(state, u_block=state["u_block"][:3])),
        "u_block_range": pickle.dumps(_edit(state, u_block=state["u_block"] + 1.0)),
        "agent_type": pickle.dumps(_edit(state, agent="agent")),
        "agent_shape": pickle.dumps(_edit(
            state, agent=agent_with(**{first_array: getattr(agent, first_array)[None]}))),
        "agent_nan": pickle.dumps(_edit(state, agent=agent_with(
            **{first_array: np.full_like(getattr(agent, first_array), np.nan)}))),
    }
    for name, data in variants.items():
        path.write_bytes(data)
        with pytest.raises(ValueError) as exc:
            ml.learn.run(learner, mdp, 300, rng=0, checkpoint=path, checkpoint_every=64)
        assert str(path) in str(exc.value) and "checkpoint" in str(exc.value), (name, exc.value)
        assert path.read_bytes() == data, f"{name}: the rejected checkpoint was modified"
    # the intact checkpoint still resumes to the uninterrupted log
    path.write_bytes(raw)
    resumed = ml.learn.run(learner, mdp, 300, rng=0, checkpoint=path, checkpoint_every=64)
    assert resumed.attrs["resumed_from"] == k
    full = ml.learn.run(learner, mdp, 300, rng=0)
    pd.testing.assert_frame_equal(drop_seconds(resumed), drop_seconds(full), check_exact=True)


def test_checkpoint_write_is_atomic_when_it_fails(tmp_path, monkeypatch):
    mdp = small_mdp()
    learner = ml.learn.UCBVI(scale=0.1)
    path = _partial_checkpoint(tmp_path, learner, mdp)
    before = path.read_bytes()
    import mdplab.learn.runner as runner

    def broken_dump(obj, f, protocol=None):
        f.write(b"\x80\x05 torn")
        raise OSError("disk full")

    monkeypatch.setattr(runner.pickle, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        ml.learn.run(learner, mdp, 300, rng=0, checkpoint=path, checkpoint_every=64)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
