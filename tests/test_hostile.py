"""Hostile input (issue 12): random shapes, dtypes, NaN / inf, non-contiguous and read-only
arrays, sparse matrices with explicit zeros or duplicates, lists. Each input is either
accepted and handled exactly (same answer as the clean float64 input) or rejected with a
ValueError / TypeError that names the argument; never another exception, never a NaN."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_learn import EXACT, HOW, mangle  # one definition of the variants

import mdplab as ml

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def clean_model(S, A, seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.normal(size=(S, A))
    return P, R



@SETTINGS
@given(S=st.integers(1, 5), A=st.integers(1, 3), seed=st.integers(0, 10_000),
       which=st.sampled_from(["P", "R"]), how=st.sampled_from(HOW))
def test_tabular_mdp_and_solve_on_hostile_arrays(S, A, seed, which, how):
    P, R = clean_model(S, A, seed)
    rng = np.random.default_rng(seed)
    clean = ml.solve(ml.TabularMDP(P, R, gamma=0.9), beta=0.1)
    args = {"P": P, "R": R}
    args[which] = mangle(args[which], how, rng)
    try:
        mdp = ml.TabularMDP(args["P"], args["R"], gamma=0.9)
        sol = ml.solve(mdp, beta=0.1)
    except (ValueError, TypeError) as exc:
        assert which in str(exc), f"{how}: the message does not name {which}: {exc}"
        assert how not in EXACT, f"{how} should be accepted: {exc}"
        return
    assert np.all(np.isfinite(sol.V)) and np.all(np.isfinite(sol.policy))
    if how in EXACT:
        np.testing.assert_array_equal(sol.V, clean.V)
    assert how not in {"nan", "inf", "complex", "wrong-shape"}, f"{how} was accepted"


@SETTINGS
@given(S=st.integers(2, 6), A=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_sparse_with_explicit_zeros_and_duplicates_equals_dense(S, A, seed):
    P, R = clean_model(S, A, seed)
    rng = np.random.default_rng(seed)
    P[P < 0.15] = 0.0
    P /= P.sum(-1, keepdims=True)
    dense = P.reshape(S * A, S)
    rows, cols = np.nonzero(dense)
    data = dense[rows, cols]
    # split every entry into two duplicates and add explicit zeros
    split = rng.random(data.size)
    rows2 = np.concatenate([rows, rows, rng.integers(S * A, size=3)])
    cols2 = np.concatenate([cols, cols, rng.integers(S, size=3)])
    data2 = np.concatenate([data * split, data * (1 - split), np.zeros(3)])
    M = sp.coo_array((data2, (rows2, cols2)), shape=(S * A, S)).tocsr()
    a = ml.solve(ml.TabularMDP(P, R, gamma=0.9), beta=0.1, method="pi")
    b = ml.solve(ml.TabularMDP(M, R, gamma=0.9), beta=0.1, method="pi")
    np.testing.assert_allclose(a.V, b.V, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(K=st.integers(1, 8), seed=st.integers(0, 10_000), which=st.sampled_from(["p", "r"]),
       how=st.sampled_from(HOW))
def test_bon_functions_on_hostile_arrays(K, seed, which, how):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(K))
    r = rng.normal(size=K)
    clean = ml.bon.kl(p, r, 4)
    args = {"p": p, "r": r}
    args[which] = mangle(args[which], how, rng)
    for fn in (lambda: ml.bon.kl(args["p"], args["r"], 4),
               lambda: ml.bon.tilt(args["p"], args["r"], 0.5),
               lambda: ml.bon.win_rate(args["p"], args["r"], 3)):
        try:
            out = fn()
        except (ValueError, TypeError) as exc:
            assert which in str(exc), f"{how}: the message does not name {which}: {exc}"
            assert how not in EXACT, f"{how} should be accepted: {exc}"
            continue
        assert np.all(np.isfinite(out))
        assert how not in {"nan", "inf", "complex", "wrong-shape"} or K == 1 and \
            how == "wrong-shape", f"{how} was accepted"
    if how in EXACT:
        assert ml.bon.kl(args["p"], args["r"], 4) == clean


@pytest.mark.parametrize("bad, match", [
    ({"beta": -1.0}, "beta"), ({"beta": float("nan")}, "beta"), ({"tol": 0.0}, "tol"),
    ({"method": "magic"}, "method"), ({"ref": np.full((3, 2), 0.7)}, "ref"),
    ({"ref": np.zeros((3, 2))}, "ref"),
])
def test_solve_rejects_bad_arguments_by_name(bad, match):
    P, R = clean_model(3, 2, 0)
    with pytest.raises((ValueError, TypeError), match=match):
        ml.solve(ml.TabularMDP(P, R, gamma=0.9), **{"beta": 0.1, **bad})
