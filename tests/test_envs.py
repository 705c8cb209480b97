"""Tests of the instance generators (mdplab.envs): shapes, structure, seeding, errors."""

from __future__ import annotations

import importlib
import sys
import time
import types
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mdplab import TabularMDP, from_mdptoolbox  # noqa: E402
from mdplab.envs import (  # noqa: E402
    RIVERSWIM_VARIANTS,
    Grid,
    chain,
    forest,
    from_gymnasium,
    garnet,
    gridworld,
    random_mdp,
    render_gridworld,
    riverswim,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dense_P(mdp: TabularMDP) -> np.ndarray:
    return mdp.dense().P


def row_supports(P: sp.csr_array) -> list[np.ndarray]:
    return [P.indices[P.indptr[i]:P.indptr[i + 1]] for i in range(P.shape[0])]


# ====================================================================== random_mdp


def test_random_mdp_dense_shapes_and_rewards():
    mdp = random_mdp(7, 3, rng=0)
    assert not mdp.is_sparse
    assert mdp.P.shape == (7, 3, 7) and mdp.R.shape == (7, 3)
    assert mdp.gamma == 0.9 and mdp.horizon is None
    assert np.all(mdp.P > 0)  # Dirichlet(1) rows have full support almost surely
    assert np.all((mdp.R >= 0) & (mdp.R <= 1))
    normal = random_mdp(7, 3, rng=0, reward="normal")
    assert normal.R.min() < 0  # N(0, 1) rewards: 21 draws all >= 0 has probability 2**-21


@FAST
@given(S=st.integers(1, 60), A=st.integers(1, 4), data=st.data(), seed=st.integers(0, 2**32))
def test_random_mdp_sparse_k_distinct_successors(S, A, data, seed):
    k = data.draw(st.integers(1, S))
    mdp = random_mdp(S, A, sparsity=k, rng=seed)
    P = mdp.P
    assert isinstance(P, sp.csr_array) and P.shape == (S * A, S)
    assert np.all(np.diff(P.indptr) == k)
    for cols in row_supports(P):
        assert len(np.unique(cols)) == k
    assert np.all(P.data > 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("S, k", [(40, 3), (6, 4)])  # rejection regime / random-keys regime
def test_random_mdp_sparse_successors_are_uniform(S, k):
    """Every state is a successor equally often (a biased subset sampler would fail this)."""
    mdp = random_mdp(S, 50, sparsity=k, rng=1)
    counts = np.bincount(mdp.P.indices, minlength=S)
    n_rows = S * 50
    expected = n_rows * k / S
    sd = np.sqrt(n_rows * (k / S) * (1 - k / S))
    assert np.abs(counts - expected).max() < 5 * sd


def test_random_mdp_dirichlet_weights_are_flat():
    """With k = 2 the first weight of a row is U(0, 1): mean 1/2, variance 1/12."""
    P = random_mdp(400, 50, sparsity=2, rng=3).P
    w = P.data[P.indptr[:-1]]
    assert abs(w.mean() - 0.5) < 0.01
    assert abs(w.var() - 1 / 12) < 0.005


def test_random_mdp_seeding():
    a, b = random_mdp(30, 3, sparsity=4, rng=5), random_mdp(30, 3, sparsity=4, rng=5)
    assert (a.P != b.P).nnz == 0 and np.array_equal(a.R, b.R)
    c = random_mdp(30, 3, sparsity=4, rng=6)
    assert (a.P != c.P).nnz > 0 and not np.array_equal(a.R, c.R)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(random_mdp(5, 2, rng=g1).P, random_mdp(5, 2, rng=g2).P)
    assert not np.array_equal(random_mdp(5, 2, rng=9).P, random_mdp(5, 2, rng=10).P)


def test_random_mdp_finite_horizon_and_time_varying():
    stat = random_mdp(5, 2, horizon=4, rng=0)
    assert stat.horizon == 4 and stat.gamma is None and stat.P.shape == (5, 2, 5)
    tv = random_mdp(5, 2, horizon=4, time_varying=True, rng=0)
    assert tv.P.shape == (4, 5, 2, 5) and tv.R.shape == (4, 5, 2) and tv.time_varying
    assert not np.allclose(tv.P[0], tv.P[1])
    tvs = random_mdp(9, 2, horizon=3, time_varying=True, sparsity=3, rng=0)
    assert tvs.P.shape == (3 * 9 * 2, 9) and tvs.R.shape == (3, 9, 2)
    assert np.all(np.diff(tvs.P.indptr) == 3)


def test_random_mdp_sparse_scales():
    """A 10^5-state sparse model builds in well under the test budget (no loop over states)."""
    t = time.perf_counter()
    mdp = random_mdp(100_000, 4, sparsity=5, rng=0)
    assert time.perf_counter() - t < 5.0
    assert mdp.P.nnz == 100_000 * 4 * 5


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"S": 0, "A": 2}, ValueError, "S = 0 must be >= 1"),
        ({"S": 3, "A": 0}, ValueError, "A = 0 must be >= 1"),
        ({"S": 2.5, "A": 2}, TypeError, "S: expected an int"),
        ({"S": 5, "A": 2, "sparsity": 6}, ValueError, "sparsity = 6 must be <= 5"),
        ({"S": 5, "A": 2, "sparsity": 0}, ValueError, "sparsity = 0 must be >= 1"),
        ({"S": 5, "A": 2, "reward": "gauss"}, ValueError, "reward = 'gauss'"),
        ({"S": 5, "A": 2, "time_varying": True}, ValueError, "time_varying=True needs"),
        ({"S": 5, "A": 2, "gamma": 0.5, "horizon": 3}, ValueError, "either gamma"),
        ({"S": 5, "A": 2, "gamma": 1.5}, ValueError, "gamma = 1.5"),
        ({"S": 5, "A": 2, "rng": "seed"}, TypeError, "rng"),
    ],
)
def test_random_mdp_bad_inputs(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        random_mdp(**kwargs)


# ====================================================================== garnet


@FAST
@given(S=st.integers(1, 40), A=st.integers(1, 3), data=st.data(), seed=st.integers(0, 1000))
def test_garnet_branching(S, A, data, seed):
    b = data.draw(st.integers(1, S))
    mdp = garnet(S, A, b, rng=seed)
    P = dense_P(mdp)
    assert P.shape == (S, A, S)
    assert np.all((P > 0).sum(axis=-1) == b)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, atol=1e-12)


def test_garnet_partition_and_rewards():
    mdp = garnet(300, 4, branching=2, rng=0)
    # a 2-piece uniform partition of [0, 1]: the smaller piece is U(0, 1/2)
    P = dense_P(mdp)
    small = np.sort(P, axis=-1)[..., -2]
    assert abs(small.mean() - 0.25) < 0.01
    # default rewards depend on the state only, N(0, 1)
    assert np.all(mdp.R == mdp.R[:, :1])
    assert abs(mdp.R[:, 0].mean()) < 0.25 and 0.7 < mdp.R[:, 0].std() < 1.3
    sa = garnet(300, 4, 2, rng=0, reward="state-action")
    assert not np.all(sa.R == sa.R[:, :1])
    uni = garnet(300, 4, 2, rng=0, reward="uniform")
    assert uni.R.min() >= 0 and uni.R.max() <= 1


def test_garnet_sparse_auto_and_seeding():
    big = garnet(2500, 2, 3, rng=0)
    assert big.is_sparse and np.all(np.diff(big.P.indptr) == 3)
    small = garnet(50, 2, 3, rng=0)
    assert not small.is_sparse
    forced = garnet(50, 2, 3, rng=0, sparse=True)
    assert forced.is_sparse and np.array_equal(forced.P.toarray().reshape(50, 2, 50), small.P)
    assert not np.array_equal(garnet(50, 2, 3, rng=1).P, small.P)
    assert np.array_equal(garnet(50, 2, 3, rng=0).R, small.R)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((10, 2, 0), {}, "branching = 0 must be >= 1"),
        ((10, 2, 11), {}, "branching = 11 must be <= 10"),
        ((10, 2, 3), {"reward": "normal"}, "reward = 'normal'"),
        ((10, 2, 3), {"sparse": "yes"}, "sparse"),
    ],
)
def test_garnet_bad_inputs(args, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        garnet(*args, **kwargs)


# ====================================================================== gridworld

DIRS = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}


def reference_gridworld(walls: np.ndarray, goals, slip, step_reward, goal_reward):
    """Plain-loop reference implementation of the documented dynamics."""
    n_rows, n_cols = walls.shape
    cells = [(r, c) for r in range(n_rows) for c in range(n_cols) if not walls[r, c]]
    index = {cell: i for i, cell in enumerate(cells)}
    S = len(cells)
    P = np.zeros((S, 4, S))
    R = np.zeros((S, 4))
    for s, (r, c) in enumerate(cells):
        if (r, c) in goals:
            P[s, :, s] = 1.0
            continue
        for a in range(4):
            for d, (dr, dc) in DIRS.items():
                p = 1 - slip if d == a else slip / 3
                nr, nc = r + dr, c + dc
                ok = 0 <= nr < n_rows and 0 <= nc < n_cols and not walls[nr, nc]
                t = index[(nr, nc)] if ok else s
                P[s, a, t] += p
                if ok and (nr, nc) in goals:
                    R[s, a] += goal_reward * p
            R[s, a] += step_reward
    return P, R


@settings(max_examples=30, deadline=None)
@given(
    n_rows=st.integers(1, 6), n_cols=st.integers(2, 6), data=st.data(),
    slip=st.sampled_from([0.0, 0.1, 0.75, 1.0]),
)
def test_gridworld_matches_reference(n_rows, n_cols, data, slip):
    walls = np.array(
        data.draw(st.lists(st.booleans(), min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    ).reshape(n_rows, n_cols)
    walls[0, 0] = False  # keep one free cell for the goal
    mdp, grid = gridworld(n_rows, n_cols, walls=walls, goal=(0, 0), slip=slip, step_reward=-1.0,
                          goal_reward=2.0, return_grid=True)
    P_ref, R_ref = reference_gridworld(walls, {(0, 0)}, slip, -1.0, 2.0)
    np.testing.assert_allclose(dense_P(mdp), P_ref, atol=1e-15)
    R_ref[grid.goal_states] = 0.0
    np.testing.assert_allclose(mdp.R, R_ref, atol=1e-14)
    # walls are never entered: every successor is a free cell next to (or equal to) the source
    P = dense_P(mdp)
    s, a, t = np.nonzero(P)
    assert not grid.walls[grid.cells[t, 0], grid.cells[t, 1]].any()
    assert np.all(np.abs(grid.cells[s] - grid.cells[t]).sum(axis=1) <= 1)


def test_gridworld_moves_slip_and_goal():
    mdp, grid = gridworld(3, 4, walls=[(1, 0)], goal=(2, 3), slip=0.3, step_reward=-0.1,
                          goal_reward=1.0, return_grid=True)
    assert (mdp.S, mdp.A) == (11, 4) and not mdp.is_sparse
    P = mdp.P
    s = grid.state(1, 2)  # interior cell, all four neighbours free
    for a, (dr, dc) in DIRS.items():
        assert P[s, a, grid.state(1 + dr, 2 + dc)] == pytest.approx(0.7)
        others = [grid.state(1 + r, 2 + c) for d, (r, c) in DIRS.items() if d != a]
        np.testing.assert_allclose(P[s, a, others], 0.1)
    # from (1, 1) the wall (1, 0) is to the left: left stays w.p. 0.7, right slips into it 0.1
    s = grid.state(1, 1)
    assert P[s, 3, s] == pytest.approx(0.7) and P[s, 1, s] == pytest.approx(0.1)
    # from the corner (0, 3) up and right leave the grid: stay w.p. 0.7 + 0.1
    s = grid.state(0, 3)
    assert P[s, 0, s] == pytest.approx(0.8) and P[s, 2, s] == pytest.approx(0.2)
    # goal absorbing with reward 0; entering pays once
    g = grid.state(2, 3)
    assert np.all(P[g, :, g] == 1.0) and np.all(mdp.R[g] == 0.0)
    left_of_goal = grid.state(2, 2)
    assert mdp.R[left_of_goal, 1] == pytest.approx(-0.1 + 0.7)
    assert mdp.R[grid.state(0, 0), 0] == pytest.approx(-0.1)
    # mu uniform over non-goal states
    assert mdp.mu[g] == 0 and np.allclose(mdp.mu[np.arange(11) != g], 0.1)


def test_gridworld_deterministic_and_default_goal():
    mdp, grid = gridworld(2, 3, return_grid=True)
    assert grid.goals == ((1, 2),)
    P = mdp.P
    s = grid.state(0, 0)
    assert P[s, 1, grid.state(0, 1)] == 1.0 and P[s, 0, s] == 1.0 and P[s, 3, s] == 1.0
    assert P[s, 2, grid.state(1, 0)] == 1.0
    none = gridworld(2, 3, goal=[])
    assert np.all(none.R == 0.0) and np.allclose(none.mu, 1 / 6)


def test_gridworld_grid_maps():
    _, grid = gridworld(4, 5, walls=[(0, 1), (2, 2), (3, 4)], goal=(3, 0), return_grid=True)
    assert isinstance(grid, Grid) and grid.S == 17
    assert np.array_equal(grid.state_index[grid.cells[:, 0], grid.cells[:, 1]], np.arange(17))
    assert np.all(grid.state_index[grid.walls] == -1)
    for s in range(grid.S):
        assert grid.state(*grid.cell(s)) == s
    img = grid.to_image(np.arange(17.0))
    assert np.isnan(img[2, 2]) and img[0, 0] == 0.0 and img[0, 2] == 1.0
    with pytest.raises(ValueError, match=r"cell \(2, 2\) is a wall"):
        grid.state(2, 2)
    with pytest.raises(AttributeError):
        grid.n_rows = 3  # frozen


def test_gridworld_ascii():
    layout = """
        S..#
        .#.G
        ...G
    """
    mdp, grid = gridworld.from_ascii(layout, slip=0.1, return_grid=True)
    assert (grid.n_rows, grid.n_cols) == (3, 4) and grid.S == 10
    assert grid.goals == ((1, 3), (2, 3)) and grid.start == (0, 0)
    assert mdp.mu[grid.state(0, 0)] == 1.0
    again = gridworld(layout=layout, slip=0.1)
    assert np.array_equal(again.P, mdp.P)
    same = gridworld(3, 4, walls=[(0, 3), (1, 1)], goal=[(1, 3), (2, 3)], slip=0.1, start=(0, 0))
    assert np.array_equal(same.P, mdp.P) and np.array_equal(same.R, mdp.R)
    assert np.array_equal(same.mu, mdp.mu)


@pytest.mark.parametrize(
    "layout, match",
    [
        ("S.x\n...", r"'x' at row 0, column 2"),
        ("S..\n..", "row 1 has 2 characters, expected 3"),
        ("S.S\n..G", "2 start cells"),
        ("", "layout is empty"),
    ],
)
def test_gridworld_ascii_errors(layout, match):
    with pytest.raises(ValueError, match=match):
        gridworld.from_ascii(layout)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((3, 3), {"goal": (1, 1), "walls": [(1, 1)]}, r"goal cell \(1, 1\) is a wall"),
        ((3, 3), {"goal": (3, 0)}, r"goal = \(3, 0\) is outside the 3x3 grid"),
        ((3, 3), {"walls": [(0, 5)]}, r"walls entry = \(0, 5\) is outside"),
        ((3, 3), {"walls": np.zeros((2, 2), bool)}, r"walls mask has shape \(2, 2\)"),
        ((3, 3), {"slip": 1.2}, "slip = 1.2 must be <= 1"),
        ((3, 3), {"slip": -0.1}, "slip = -0.1 must be >= 0"),
        ((0, 3), {}, "n_rows = 0 must be >= 1"),
        ((3, 3), {"start": (1,)}, "start = .*expected a .row, col. pair"),
        ((3, 3), {"layout": "S.G"}, "layout replaces"),
        ((), {}, "give n_rows and n_cols"),
    ],
)
def test_gridworld_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gridworld(*args, **kwargs)


def test_gridworld_large_is_fast_and_sparse():
    walls = [(r, 150) for r in range(299)]
    t = time.perf_counter()
    mdp, grid = gridworld(300, 300, walls=walls, slip=0.1, step_reward=-1.0, return_grid=True)
    elapsed = time.perf_counter() - t
    assert mdp.is_sparse and mdp.S == 300 * 300 - 299
    assert elapsed < 5.0
    # the only way across the wall is through row 299
    P = mdp.P
    s = grid.state(0, 149)
    cols = P.indices[P.indptr[4 * s + 1]:P.indptr[4 * s + 2]]
    assert set(grid.cells[cols, 1]) <= {148, 149}


def test_gridworld_sparse_equals_dense_and_horizon():
    d = gridworld(4, 4, walls=[(1, 2)], slip=0.2, sparse=False)
    s = gridworld(4, 4, walls=[(1, 2)], slip=0.2, sparse=True)
    assert s.is_sparse and np.array_equal(s.dense().P, d.P)
    h = gridworld(4, 4, slip=0.2, horizon=10)
    assert h.horizon == 10 and h.gamma is None


# ---------------------------------------------------------------------- rendering


def _quiver_vectors(ax):
    from matplotlib.quiver import Quiver

    qs = [c for c in ax.collections if isinstance(c, Quiver)]
    return np.concatenate([np.hypot(q.U, q.V) for q in qs]) if qs else np.array([])


def test_render_gridworld_values_and_soft_policy():
    mdp, grid = gridworld(3, 4, walls=[(1, 1)], goal=(0, 3), return_grid=True)
    values = np.linspace(0, 1, grid.S)
    policy = np.full((grid.S, 4), 0.25)
    policy[0] = [0.0, 1.0, 0.0, 0.0]
    ax = render_gridworld(grid, values=values, policy=policy)
    try:
        data = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
        np.testing.assert_array_equal(data, grid.to_image(values))
        lengths = _quiver_vectors(ax)
        # 10 non-goal states: 9 with four arrows at 0.25, state 0 with one arrow (prob. 1)
        assert len(lengths) == 9 * 4 + 1
        assert np.isclose(lengths.max(), 0.45) and np.isclose(lengths.min(), 0.45 * 0.25)
        assert any(t.get_text() == "G" for t in ax.texts)
    finally:
        plt.close(ax.figure)


def test_render_gridworld_on_given_ax_and_errors():
    _, grid = gridworld(2, 2, return_grid=True)
    fig, ax = plt.subplots()
    try:
        assert render_gridworld(grid, ax=ax, policy=np.full((1, 4, 4), 0.25)) is ax
        with pytest.raises(ValueError, match=r"policy has shape \(3, 2\)"):
            render_gridworld(grid, policy=np.full((3, 2), 0.5), ax=ax)
        with pytest.raises(TypeError, match="expected a Grid"):
            render_gridworld("grid", ax=ax)
    finally:
        plt.close(fig)


# ====================================================================== chain


def test_chain_structure():
    n = 6
    mdp = chain(n, sparse=False)
    P = mdp.P
    for s in range(n):
        assert P[s, 0, max(s - 1, 0)] == 1.0
        assert P[s, 1, min(s + 1, n - 1)] == 1.0
    expected_R = np.zeros((n, 2))
    expected_R[n - 1] = 1.0
    assert np.array_equal(mdp.R, expected_R)
    assert mdp.mu[0] == 1.0

    slippery = chain(n, slip=0.2, left_reward=0.1).P
    assert slippery[3, 1, 4] == pytest.approx(0.8) and slippery[3, 1, 2] == pytest.approx(0.2)
    assert slippery[3, 0, 2] == pytest.approx(0.8) and slippery[3, 0, 4] == pytest.approx(0.2)
    assert slippery[0, 0, 0] == pytest.approx(0.8) and slippery[0, 0, 1] == pytest.approx(0.2)
    assert chain(n, left_reward=0.1).R[0, 0] == pytest.approx(0.1)


def test_chain_large_is_sparse_and_instant():
    t = time.perf_counter()
    mdp = chain(10_000)
    assert time.perf_counter() - t < 1.0
    assert mdp.is_sparse and mdp.P.shape == (20_000, 10_000) and mdp.P.nnz == 20_000
    # successors are neighbours only
    rows = np.repeat(np.arange(20_000) // 2, np.diff(mdp.P.indptr))
    assert np.abs(mdp.P.indices - rows).max() == 1


def test_chain_bad_inputs():
    with pytest.raises(ValueError, match="n = 1 must be >= 2"):
        chain(1)
    with pytest.raises(ValueError, match="slip = 2.0 must be <= 1"):
        chain(5, slip=2.0)


# ====================================================================== riverswim


def test_riverswim_strehl_littman():
    mdp = riverswim()
    assert (mdp.S, mdp.A, mdp.gamma) == (6, 2, 0.95)
    right = np.array([
        [0.7, 0.3, 0, 0, 0, 0],
        [0.1, 0.6, 0.3, 0, 0, 0],
        [0, 0.1, 0.6, 0.3, 0, 0],
        [0, 0, 0.1, 0.6, 0.3, 0],
        [0, 0, 0, 0.1, 0.6, 0.3],
        [0, 0, 0, 0, 0.7, 0.3],
    ])
    np.testing.assert_allclose(mdp.P[:, 1], right)
    np.testing.assert_array_equal(mdp.P[:, 0], np.eye(6)[[0, 0, 1, 2, 3, 4]])
    expected_R = np.zeros((6, 2))
    expected_R[0, 0], expected_R[5, 1] = 5.0, 0.3 * 10000.0
    np.testing.assert_allclose(mdp.R, expected_R)
    np.testing.assert_allclose(mdp.mu, [0, 0.5, 0.5, 0, 0, 0])


def test_riverswim_osband_and_sizes():
    mdp = riverswim(variant="osband", horizon=20)
    assert mdp.horizon == 20
    np.testing.assert_allclose(mdp.P[0, 1, :2], [0.4, 0.6])
    np.testing.assert_allclose(mdp.P[2, 1, 1:4], [0.05, 0.6, 0.35])
    np.testing.assert_allclose(mdp.P[5, 1, 4:], [0.4, 0.6])
    assert mdp.R[0, 0] == pytest.approx(0.005) and mdp.R[5, 1] == pytest.approx(0.6)
    assert mdp.mu[0] == 1.0
    two = riverswim(2)
    np.testing.assert_allclose(two.P[:, 1], [[0.7, 0.3], [0.7, 0.3]])
    big = riverswim(5000)
    assert big.is_sparse and big.P.nnz == 5000 + 3 * 5000 - 2
    assert set(RIVERSWIM_VARIANTS) == {"strehl-littman", "osband"}
    with pytest.raises(ValueError, match="variant = 'fast'"):
        riverswim(variant="fast")
    with pytest.raises(ValueError, match="n = 1 must be >= 2"):
        riverswim(1)


# ====================================================================== forest


def _mdptoolbox_example():
    for name in ("mdptoolbox.example", "hiive.mdptoolbox.example"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    pytest.skip("pymdptoolbox is not importable (neither mdptoolbox nor hiive.mdptoolbox): "
                "pip install mdptoolbox-hiive to compare forest() with it")


@pytest.mark.parametrize("S, r1, r2, p", [(3, 4, 2, 0.1), (2, 1, 1, 0.5), (10, 7.5, 0.5, 0.0),
                                          (25, 3, 9, 1.0)])
def test_forest_matches_mdptoolbox(S, r1, r2, p):
    example = _mdptoolbox_example()
    P_tb, R_tb = example.forest(S=S, r1=r1, r2=r2, p=p)
    ref = from_mdptoolbox(P_tb, R_tb, gamma=0.9)
    mdp = forest(S, r1, r2, p)
    np.testing.assert_array_equal(mdp.P, ref.P)
    np.testing.assert_array_equal(mdp.R, ref.R)
    np.testing.assert_array_equal(mdp.P.transpose(1, 0, 2), P_tb)
    sparse = forest(S, r1, r2, p, sparse=True)
    np.testing.assert_array_equal(sparse.dense().P, mdp.P)


def test_forest_structure_without_mdptoolbox():
    mdp = forest(4, r1=5, r2=3, p=0.2)
    np.testing.assert_allclose(mdp.P[:, 1, 0], 1.0)
    np.testing.assert_allclose(mdp.P[:, 0, 0], 0.2)
    np.testing.assert_allclose(mdp.P[[0, 1, 2, 3], 0, [1, 2, 3, 3]], 0.8)
    np.testing.assert_array_equal(mdp.R, [[0, 0], [0, 1], [0, 1], [5, 3]])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"S": 1}, "S = 1 must be >= 2"), ({"r1": 0}, "r1 = 0.0 must be > 0"),
     ({"r2": -1}, "r2 = -1.0 must be > 0"), ({"p": 1.5}, "p = 1.5 must be <= 1")],
)
def test_forest_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        forest(**kwargs)


# ====================================================================== from_gymnasium


def _fake_env(wrapped: bool = False):
    """A 3-state toy_text-like env: state 2 terminates; action 1 from 1 reaches it w.p. 0.5."""
    P = {
        0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, -1.0, False)]},
        1: {0: [(1.0, 0, 0.0, False)], 1: [(0.5, 2, 10.0, True), (0.5, 1, -1.0, False)]},
        2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)]},
    }
    base = types.SimpleNamespace(
        P=P, observation_space=types.SimpleNamespace(n=3),
        action_space=types.SimpleNamespace(n=2), initial_state_distrib=np.array([1.0, 0, 0]),
    )
    return types.SimpleNamespace(unwrapped=base) if wrapped else base


@pytest.mark.parametrize("wrapped", [False, True])
def test_from_gymnasium_fake_env(wrapped):
    mdp = from_gymnasium(_fake_env(wrapped), gamma=0.9)
    assert (mdp.S, mdp.A) == (4, 2)  # one absorbing state appended
    np.testing.assert_allclose(mdp.P[1, 1], [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(mdp.P[2, :, 3], 1.0)
    np.testing.assert_allclose(mdp.P[3, :, 3], 1.0)
    np.testing.assert_allclose(mdp.R[1, 1], 0.5 * 10 - 0.5)
    np.testing.assert_allclose(mdp.mu, [1, 0, 0, 0])
    fh = from_gymnasium(_fake_env(wrapped), horizon=5)
    assert fh.horizon == 5


def test_from_gymnasium_errors(monkeypatch):
    with pytest.raises(TypeError, match="has no transition dict P"):
        from_gymnasium(types.SimpleNamespace(observation_space=None))
    with pytest.raises(TypeError, match="only used with an environment name"):
        from_gymnasium(_fake_env(), is_slippery=False)
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # import gymnasium -> ImportError
    with pytest.raises(ImportError, match="pip install gymnasium"):
        from_gymnasium("FrozenLake-v1")


def test_from_gymnasium_real_frozenlake():
    gymnasium = pytest.importorskip("gymnasium")
    mdp = from_gymnasium("FrozenLake-v1", is_slippery=False)
    assert (mdp.S, mdp.A) == (17, 4)
    assert mdp.R[14, 2] == 1.0  # right from the cell left of the goal
    def latest(name):  # Taxi-v3 became Taxi-v4 in gymnasium 1.x: take what is registered
        ids = [k for k in gymnasium.envs.registry if k.split("-v")[0] == name]
        return max(ids, key=lambda k: int(k.rsplit("-v", 1)[1]))

    taxi = from_gymnasium(gymnasium.make(latest("Taxi")))
    assert (taxi.S, taxi.A) == (501, 6)  # 500 states and the absorbing terminal state
    cliff = from_gymnasium(latest("CliffWalking"))
    assert cliff.A == 4 and cliff.S >= 48
    import mdplab as ml

    assert ml.solve(taxi).converged


def test_from_gymnasium_legacy_gym_env_object():
    """Any object with the toy_text P dict works, e.g. a legacy ``gym`` environment."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym = pytest.importorskip("gym")
        try:
            env = gym.make("FrozenLake-v1", is_slippery=True)
        except Exception as exc:  # pragma: no cover - depends on the installed gym
            pytest.skip(f"legacy gym cannot create FrozenLake here: {exc}")
    mdp = from_gymnasium(env, gamma=0.95)
    assert (mdp.S, mdp.A) == (17, 4)
    # slippery: from state 14 action right (2) reaches the goal w.p. 1/3 (reward 1, terminal)
    assert mdp.R[14, 2] == pytest.approx(1 / 3)
    assert mdp.P[14, 2, 16] == pytest.approx(1 / 3)
    assert mdp.mu[0] == 1.0 and mdp.mu[16] == 0.0


def test_dense_model_too_large_for_memory_is_refused_up_front():
    """A dense kernel that cannot fit is refused before allocating, with the sparse hint."""
    import mdplab as ml

    with pytest.raises(MemoryError, match="sparsity=k"):
        ml.envs.random_mdp(1_000_000, 10, gamma=0.9, rng=0)
    big = ml.envs.random_mdp(300_000, 4, gamma=0.9, sparsity=2, rng=0)
    with pytest.raises(MemoryError, match="keep the sparse form"):
        big.dense()
