"""Model construction, validation messages, immutability, save/load and layout converters."""

import numpy as np
import pytest
import scipy.sparse as sp

import mdplab as ml
from tests.conftest import make_random_mdp


def _pr(S=3, A=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A))


def test_shapes_and_attributes():
    P, R = _pr()
    m = ml.TabularMDP(P, R, gamma=0.9)
    assert (m.S, m.A, m.gamma, m.horizon, m.discounted, m.is_sparse) == (
        3,
        2,
        0.9,
        None,
        True,
        False,
    )
    np.testing.assert_allclose(m.mu, np.full(3, 1 / 3))
    assert m.policy_shape == (3, 2)
    f = ml.TabularMDP(P, R, horizon=4)
    assert f.policy_shape == (4, 3, 2) and not f.discounted
    assert "S=3" in repr(m) and "horizon=4" in repr(f)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda P, R: (P * 0.97, R), r"P\[0, 0, :\] sums to 0.97, expected 1 within 1e-09"),
        (lambda P, R: (np.where(np.arange(3) == 0, -0.1, P), R), r"is negative"),
        (lambda P, R: (np.where(np.arange(3) == 1, np.nan, P), R), r"P\[0, 0, 1\] is nan"),
        (lambda P, R: (P, np.where(np.arange(2) == 1, np.inf, R)), r"R\[0, 1\] is inf"),
        (lambda P, R: (P[:, :, :2], R), r"expected P of shape \(3, 2, 3\)"),
        (lambda P, R: (P, R[0]), r"R has shape \(2,\)"),
    ],
)
def test_validation_messages_name_index_and_value(mutate, match):
    P, R = mutate(*_pr())
    with pytest.raises(ValueError, match=match):
        ml.TabularMDP(P, R, gamma=0.9)


def test_gamma_horizon_and_mu_errors():
    P, R = _pr()
    with pytest.raises(ValueError, match="exactly one of gamma"):
        ml.TabularMDP(P, R)
    with pytest.raises(ValueError, match="exactly one of gamma"):
        ml.TabularMDP(P, R, gamma=0.9, horizon=3)
    for g in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="outside \\[0, 1\\)"):
            ml.TabularMDP(P, R, gamma=g)
    with pytest.raises(TypeError, match="gamma"):
        ml.TabularMDP(P, R, gamma="0.9")
    with pytest.raises(ValueError, match="horizon = 0"):
        ml.TabularMDP(P, R, horizon=0)
    with pytest.raises(ValueError, match="mu sums to 0.9"):
        ml.TabularMDP(P, R, gamma=0.5, mu=[0.3, 0.3, 0.3])
    with pytest.raises(ValueError, match=r"mu has shape \(2,\)"):
        ml.TabularMDP(P, R, gamma=0.5, mu=[0.5, 0.5])
    with pytest.raises(ValueError, match="needs a finite horizon"):
        ml.TabularMDP(np.stack([P, P]), R, gamma=0.5)
    with pytest.raises(ValueError, match="P has 2 time steps but horizon = 3"):
        ml.TabularMDP(np.stack([P, P]), R, horizon=3)


def test_sparse_validation():
    P, R = _pr()
    Ps = sp.csr_array(P.reshape(6, 3))
    m = ml.TabularMDP(Ps, R, gamma=0.9)
    assert m.is_sparse and m.P.shape == (6, 3)
    with pytest.raises(ValueError, match=r"P\[1, 0, :\] \(sparse row 2\) sums to"):
        bad = Ps.tolil()
        bad[2, 0] += 0.5
        ml.TabularMDP(sp.csr_array(bad), R, gamma=0.9)
    with pytest.raises(ValueError, match="sparse P has 5 rows"):
        ml.TabularMDP(Ps[:5], R, gamma=0.9)
    neg = Ps.copy()
    neg.data[0] = -neg.data[0]
    with pytest.raises(ValueError, match="negative"):
        ml.TabularMDP(neg, R, gamma=0.9)


def test_immutable():
    P, R = _pr()
    m = ml.TabularMDP(P, R, gamma=0.9)
    with pytest.raises(AttributeError, match="immutable"):
        m.gamma = 0.5
    with pytest.raises(ValueError, match="read-only"):
        m.R[0, 0] = 3.0
    P[0, 0, 0] = 99.0  # the model holds its own copy
    assert m.P[0, 0, 0] != 99.0
    m2 = m.with_(gamma=0.5)
    assert m2.gamma == 0.5 and m.gamma == 0.9


@pytest.mark.parametrize("kind", ["dense", "sparse", "finite"])
def test_save_load_roundtrip(tmp_path, kind):
    m = make_random_mdp(
        4,
        3,
        rng=1,
        horizon=3 if kind == "finite" else None,
        time_varying=kind == "finite",
        sparse=kind == "sparse",
    )
    path = m.save(tmp_path / "model")
    assert path.suffix == ".npz"
    m2 = ml.load_mdp(path)
    assert (m2.S, m2.A, m2.gamma, m2.horizon, m2.is_sparse) == (
        m.S,
        m.A,
        m.gamma,
        m.horizon,
        m.is_sparse,
    )
    P1 = m.P.toarray() if m.is_sparse else m.P
    P2 = m2.P.toarray() if m2.is_sparse else m2.P
    np.testing.assert_array_equal(P1, P2)
    np.testing.assert_array_equal(m.R, m2.R)


def test_load_rejects_corrupt_and_truncated_files(tmp_path):
    m = make_random_mdp(4, 2, rng=1)
    path = m.save(tmp_path / "m.npz")
    raw = path.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a valid mdplab model"):
        ml.load_mdp(trunc)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a valid mdplab model"):
        ml.load_mdp(junk)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.ones(3))
    with pytest.raises(ValueError, match="format_version"):
        ml.load_mdp(other)
    bad = tmp_path / "bad.npz"
    with np.load(path) as f:
        arrays = dict(f)
    arrays["P"] = arrays["P"] * 0.5
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="invalid model.*sums to 0.5"):
        ml.load_mdp(bad)
    with pytest.raises(FileNotFoundError):
        ml.load_mdp(tmp_path / "missing.npz")


def test_check_mdp_on_dicts():
    P, R = _pr()
    assert ml.check_mdp({"P": P, "R": R, "gamma": 0.9}).S == 3
    with pytest.raises(ValueError, match="no 'R' entry"):
        ml.check_mdp({"P": P, "gamma": 0.9})
    with pytest.raises(ValueError, match="sums to"):
        ml.check_mdp({"P": P * 2, "R": R, "gamma": 0.9})
    with pytest.raises(TypeError):
        ml.check_mdp([P, R])


def test_policies_helpers_and_errors():
    P, R = _pr()
    m = ml.TabularMDP(P, R, gamma=0.9)
    np.testing.assert_allclose(ml.uniform_policy(m), 0.5)
    d = ml.deterministic_policy(m, np.array([0, 1, 1]))
    np.testing.assert_array_equal(d.argmax(1), [0, 1, 1])
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 1\]"):
        ml.deterministic_policy(m, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match=r"policy\[1, :\] sums to 0.5"):
        ml.check_policy(m, np.array([[1.0, 0.0], [0.25, 0.25], [0.5, 0.5]]))
    f = ml.TabularMDP(P, R, horizon=2)
    assert ml.check_policy(f, ml.uniform_policy(m)).shape == (2, 3, 2)


def test_from_mdptoolbox_forest_layout():
    mdptoolbox = pytest.importorskip(
        "hiive.mdptoolbox.example", reason="mdptoolbox-hiive not installed"
    )
    P, R = mdptoolbox.forest(S=4, r1=4, r2=2, p=0.1)
    m = ml.from_mdptoolbox(P, R, gamma=0.9)
    assert (m.S, m.A) == (4, 2)
    np.testing.assert_array_equal(m.P[:, 1, :], P[1])
    np.testing.assert_array_equal(m.R, R)


def test_from_quantecon_both_forms():
    P, R = _pr(S=3, A=2)
    m1 = ml.from_quantecon(R, P, 0.95)
    s_idx = np.repeat(np.arange(3), 2)[::-1]
    a_idx = np.tile(np.arange(2), 3)[::-1]
    Rl = R[s_idx, a_idx]
    Ql = P[s_idx, a_idx]
    m2 = ml.from_quantecon(Rl, sp.csr_array(Ql), 0.95, s_idx, a_idx)
    np.testing.assert_allclose(m2.P.toarray().reshape(3, 2, 3), m1.P)
    np.testing.assert_allclose(m2.R, m1.R)
    with pytest.raises(ValueError, match="infeasible"):
        ml.from_quantecon(np.where(R > 0.5, -np.inf, R), P, 0.9)


def test_from_gymnasium_dict_adds_absorbing_state():
    # 2 states, 2 actions; action 1 from state 1 terminates with reward 1
    Pd = {
        0: {0: [(1.0, 0, 0.0, False)], 1: [(0.5, 1, 0.0, False), (0.5, 0, 0.0, False)]},
        1: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 1.0, True)]},
    }
    m = ml.from_gymnasium_dict(Pd, gamma=0.9, mu=[1.0, 0.0])
    assert m.S == 3
    assert m.P[1, 1, 2] == 1.0 and m.R[1, 1] == 1.0
    np.testing.assert_array_equal(m.P[2, :, 2], 1.0)
    np.testing.assert_array_equal(m.mu, [1.0, 0.0, 0.0])


def test_pickle_roundtrip_for_multiprocessing():
    import pickle

    for m in (
        make_random_mdp(4, 2, rng=0),
        make_random_mdp(4, 2, rng=0, sparse=True),
        make_random_mdp(3, 2, rng=0, horizon=2, time_varying=True),
    ):
        m2 = pickle.loads(pickle.dumps(m))
        assert repr(m2) == repr(m)
        np.testing.assert_array_equal(m2.R, m.R)


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """An interrupted save keeps the previous file intact and leaves no partial file."""
    import mdplab as ml

    mdp = ml.envs.random_mdp(4, 2, gamma=0.9, rng=0)
    path = mdp.save(tmp_path / "m.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    other = ml.envs.random_mdp(4, 2, gamma=0.5, rng=1)
    with pytest.raises(KeyboardInterrupt):
        other.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    assert ml.load_mdp(path).gamma == 0.9
