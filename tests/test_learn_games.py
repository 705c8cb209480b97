"""Tests of mdplab.learn.games: equilibria by independent methods, exploitability properties,
minimax winners by two LP solvers, published ground truth, the iterative solvers' rates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdplab._utils import kl_divergence
from mdplab.learn import games as g

# Third-party ground truth: the pre-computed QREs of ssokota/mmd, examples/nfg/perturbed_rps.py
# (Sokota et al., arXiv:2206.05825), uniform magnet; stored to 8 decimals.
MMD_QRES = {
    0.05: (0.1517447, 0.46794775, 0.38030755),
    0.1: (0.17347803, 0.48630324, 0.34021873),
    0.2: (0.22364492, 0.47798817, 0.29836691),
    0.5: (0.29813319, 0.41382045, 0.28804635),
}


def plain_mirror_prox(P, beta, ref, iters):
    """Reference implementation written independently of the module (probability space)."""
    pi = ref.copy()
    for _ in range(iters):
        h = (pi * ref**beta * np.exp(P @ pi)) ** (1 / (1 + beta))
        h /= h.sum()
        pi = (pi * ref**beta * np.exp(P @ h)) ** (1 / (1 + beta))
        pi /= pi.sum()
    return pi


def random_instance(seed, n):
    rng = np.random.default_rng(seed)
    P = g.random_preference(n, rng)
    ref = rng.dirichlet(np.ones(n))
    ref = 0.9 * ref + 0.1 / n
    return P, ref


# ---------------------------------------------------------------- validation and instances


def test_bad_inputs_raise_clear_errors():
    P = g.perturbed_rps()
    Q = P.copy()
    Q[0, 1] = 0.3  # P + P^T != 1
    with pytest.raises(ValueError, match=r"P \+ P\^T = 1"):
        g.regularized_equilibrium(Q, 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        g.exploitability(P * 2 - 0.5, np.ones(3) / 3)
    with pytest.raises(ValueError, match="square"):
        g.minimax_winner(np.ones((2, 3)) / 2)
    with pytest.raises(ValueError, match="beta = 0.0 must be > 0"):
        g.regularized_equilibrium(P, 0.0)
    with pytest.raises(ValueError, match="beta = -1.0"):
        g.regularized_equilibrium(P, -1.0)
    with pytest.raises(ValueError, match="beta"):
        g.nash_mp(P, 0.0)
    with pytest.raises(ValueError, match="beta = -0.1 must be >= 0"):
        g.exploitability(P, np.ones(3) / 3, beta=-0.1)
    with pytest.raises(TypeError, match="beta"):
        g.regularized_equilibrium(P, "0.1")
    with pytest.raises(ValueError, match="sums to"):
        g.exploitability(P, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="finite"):
        g.check_preference_matrix(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="shape"):
        g.regularized_equilibrium(P, 0.1, ref=[0.5, 0.5])
    with pytest.raises(ValueError, match="eta_0"):
        g.nash_md(P, 0.1, eta=20.0, iterations=2)


def test_instances_are_valid_preference_matrices():
    rng = np.random.default_rng(0)
    for P in (g.perturbed_rps(), g.condorcet_cycle(), g.random_tournament(7, rng),
              g.random_preference(6, rng), g.bradley_terry(rng.normal(size=5)),
              g.random_preference(4, rng, batch=3), g.bradley_terry(rng.normal(size=(2, 5)))):
        g.check_preference_matrix(P, atol=1e-15)
    r = np.array([0.0, 1.0, -2.0])
    P = g.bradley_terry(r)
    assert P[1, 0] == pytest.approx(1 / (1 + np.exp(-1.0)), abs=1e-15)
    assert P[0, 2] == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-15)


# ---------------------------------------------------------------- regularized equilibrium


@pytest.mark.parametrize("beta", sorted(MMD_QRES))
def test_rps_matches_published_qres(beta):
    eq = g.regularized_equilibrium(g.perturbed_rps(), beta)
    assert eq.converged and eq.error_bound <= 1e-12
    assert np.max(np.abs(eq.policy - np.array(MMD_QRES[beta]))) <= 1e-8


def test_condorcet_catalogue_values_with_nonuniform_ref():
    # catalogue I2 (values computed by the catalogue author, independently of this module)
    P, ref = g.condorcet_cycle(), np.array([0.6, 0.3, 0.1])
    expected = {0.1: (0.603040220, 0.173805927, 0.223153853),
                1.0: (0.618119987, 0.275856427, 0.106023586)}
    for beta, val in expected.items():
        eq = g.regularized_equilibrium(P, beta, ref)
        assert np.max(np.abs(eq.policy - val)) <= 1e-8
    # with a uniform reference the cyclic symmetry forces the uniform equilibrium
    for beta in (1e-3, 0.1, 10.0):
        assert np.allclose(g.regularized_equilibrium(P, beta).policy, 1 / 3, atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_equilibrium_agrees_with_cvxpy_concave_program(seed):
    """pi* = argmax_p  -beta log sum ref exp(-(P^T p)/beta) - beta KL(p||ref): a concave
    program (the row player's guaranteed payoff), solved by cvxpy with the exponential cone."""
    cp = pytest.importorskip("cvxpy")
    P, ref = random_instance(seed, 6)
    beta = [0.05, 0.2, 1.0, 3.0][seed]
    p = cp.Variable(6)
    obj = (-beta * cp.log_sum_exp(np.log(ref) - (P.T @ p) / beta)
           + beta * cp.sum(cp.entr(p)) + beta * (np.log(ref) @ p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate" at tight tolerances
        cp.Problem(cp.Maximize(obj), [cp.sum(p) == 1, p >= 0]).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    eq = g.regularized_equilibrium(P, beta, ref)
    assert np.max(np.abs(eq.policy - p.value)) <= 1e-7


@pytest.mark.parametrize("seed", range(3))
def test_two_player_equilibrium_is_symmetric(seed):
    """Solve the two-player first-order conditions x ~ ref e^{Py/beta}, y ~ ref e^{-P^T x/beta}
    as a 2n-dimensional root problem with scipy (no symmetry assumed): x = y = pi*."""
    from scipy.optimize import root

    P, ref = random_instance(10 + seed, 5)
    beta = 0.3
    n = 5

    def F(v):
        u, w = v[:n], v[n:]
        x, y = np.exp(u), np.exp(w)
        dx = u - np.log(ref) - P @ (y / y.sum()) / beta  # constant at the row best reply
        dy = w - np.log(ref) + P.T @ (x / x.sum()) / beta  # constant at the column best reply
        return np.concatenate([dx[1:] - dx[0], [np.log(x.sum())], dy[1:] - dy[0],
                               [np.log(y.sum())]])

    rng = np.random.default_rng(seed)
    sol = root(F, rng.normal(size=2 * n), tol=1e-14)
    x = np.exp(sol.x[:n])
    y = np.exp(sol.x[n:])
    x, y = x / x.sum(), y / y.sum()
    eq = g.regularized_equilibrium(P, beta, ref)
    assert np.max(np.abs(x - y)) <= 1e-10
    assert np.max(np.abs(x - eq.policy)) <= 1e-10


def test_agrees_with_plain_mirror_prox_and_first_order_conditions():
    P, ref = random_instance(3, 8)
    beta = 0.5
    eq = g.regularized_equilibrium(P, beta, ref)
    ref_pi = plain_mirror_prox(P, beta, ref, 400)  # contraction (1 + beta)^-1 per step
    assert np.max(np.abs(eq.policy - ref_pi)) <= 1e-12
    # first-order conditions: log(pi/ref) - P pi / beta is constant
    gvec = np.log(eq.policy / ref) - P @ eq.policy / beta
    assert np.ptp(gvec) <= 1e-12


def test_permutation_symmetry_is_inherited():
    """If sigma leaves P and ref invariant, pi* is sigma-invariant (uniqueness)."""
    rng = np.random.default_rng(5)
    # a circulant tournament-like matrix on 5 responses: invariant under cyclic shifts
    n = 5
    c = np.array([0.5, 0.8, 0.35, 0.65, 0.2])
    P = np.array([[c[(j - i) % n] for j in range(n)] for i in range(n)])
    g.check_preference_matrix(P)
    for beta in (0.01, 0.2):
        assert np.allclose(g.regularized_equilibrium(P, beta).policy, 1 / n, atol=1e-12)
    # reflection symmetry: swap responses 1 and 2 in a matrix built to be invariant
    P = g.random_preference(4, rng)
    perm = np.array([0, 2, 1, 3])
    P = 0.5 * (P + P[np.ix_(perm, perm)])
    ref = np.array([0.4, 0.25, 0.25, 0.1])
    pi = g.regularized_equilibrium(P, 0.1, ref).policy
    assert abs(pi[1] - pi[2]) <= 1e-13


def test_batch_over_prompts_equals_loop_and_zero_reference_entries():
    rng = np.random.default_rng(1)
    P = g.random_preference(5, rng, batch=4)
    ref = rng.dirichlet(np.ones(5), size=4)
    ref[2, 3] = 0.0
    ref[2] /= ref[2].sum()
    eq = g.regularized_equilibrium(P, 0.2, ref)
    assert eq.policy.shape == (4, 5) and eq.converged
    for x in range(4):
        one = g.regularized_equilibrium(P[x], 0.2, ref[x])
        assert np.max(np.abs(one.policy - eq.policy[x])) <= 1e-13
    assert eq.policy[2, 3] == 0.0
    s = [0, 1, 2, 4]
    sub = g.regularized_equilibrium(P[2][np.ix_(s, s)], 0.2, ref[2, s] / ref[2, s].sum())
    assert np.max(np.abs(sub.policy - eq.policy[2, s])) <= 1e-13
    assert np.allclose(g.exploitability(P, eq.policy, 0.2, ref), 0, atol=1e-14)


@pytest.mark.parametrize("beta", [1e-4, 1e-3, 1e-2, 1.0, 1e2, 1e4])
def test_wide_range_of_temperatures(beta):
    P = g.random_tournament(12, np.random.default_rng(2))
    eq = g.regularized_equilibrium(P, beta)
    assert eq.converged and eq.error_bound <= 1e-12
    # KL(pi*||ref) <= 1/beta: log(pi*/ref) varies over an interval of length <= 1/beta
    kl = float(kl_divergence(eq.policy, np.full(12, 1 / 12)))
    assert kl <= 1 / beta + 1e-12


def test_result_type():
    eq = g.regularized_equilibrium(g.perturbed_rps(), 0.1)
    assert np.asarray(eq).shape == (3,)
    with pytest.raises(AttributeError):
        eq.beta = 1.0  # frozen


# ---------------------------------------------------------------- exploitability


@given(seed=st.integers(0, 10_000), n=st.integers(2, 7),
       beta=st.sampled_from([0.0, 0.01, 0.1, 1.0, 10.0]))
def test_exploitability_properties(seed, n, beta):
    rng = np.random.default_rng(seed)
    P = g.random_preference(n, rng)
    ref = 0.8 * rng.dirichlet(np.ones(n)) + 0.2 / n
    pi = rng.dirichlet(np.ones(n) * 0.5)
    pi = 0.99 * pi + 0.01 / n
    e = g.exploitability(P, pi, beta, ref)
    assert e >= -1e-14
    if beta == 0:
        # brute force: best pure reply
        assert e == pytest.approx(max(P[y] @ pi for y in range(n)) - 0.5, abs=1e-15)
        return
    # the best response in closed form, evaluated with the regularized payoff
    q = ref * np.exp(P @ pi / beta)
    q /= q.sum()
    assert e == pytest.approx(g.regularized_payoff(P, q, pi, beta, ref) - 0.5, abs=1e-12)
    for _ in range(5):  # no other reply does better
        other = rng.dirichlet(np.ones(n))
        assert g.regularized_payoff(P, other, pi, beta, ref) - 0.5 <= e + 1e-12
    eq = g.regularized_equilibrium(P, beta, ref)
    assert abs(eq.exploitability) <= 1e-13
    # strong monotonicity: Exp >= beta/2 ||pi - pi*||_1^2
    assert e >= beta / 2 * np.abs(pi - eq.policy).sum() ** 2 - 1e-13


def test_exploitability_catalogue_numbers():
    P = g.perturbed_rps()
    u = np.ones(3) / 3
    assert g.exploitability(P, u, 0.1) == pytest.approx(0.037545, abs=5e-7)
    assert g.exploitability(P, u, 0.01) == pytest.approx(0.100125, abs=5e-7)
    assert g.duality_gap(P, u, 0.1) == pytest.approx(2 * 0.037545, abs=1e-6)


# ---------------------------------------------------------------- minimax winner


def test_minimax_winner_rps_and_condorcet_winner():
    mw = g.minimax_winner(g.perturbed_rps())
    assert np.max(np.abs(mw.policy - np.array([1, 3, 3]) / 7)) <= 1e-14
    assert abs(mw.exploitability) <= 1e-15
    r = np.array([0.3, 2.0, -1.0, 0.5])
    mw = g.minimax_winner(g.bradley_terry(r))  # a Condorcet winner is the unique MW
    assert np.array_equal(mw.policy, np.eye(4)[1])


@pytest.mark.parametrize("seed", range(5))
def test_minimax_winner_value_matches_cvxpy(seed):
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(seed)
    P = g.random_tournament(9, rng) if seed % 2 else g.random_preference(9, rng)
    S = P - P.T
    p, v = cp.Variable(9), cp.Variable()
    cp.Problem(cp.Maximize(v), [S.T @ p >= v, cp.sum(p) == 1, p >= 0]).solve(solver=cp.CLARABEL)
    mw = g.minimax_winner(P)
    assert abs(v.value) <= 1e-7  # game value 0
    # both are optimal: min_q p^T S q >= 0 (up to the LP tolerance)
    assert np.min(S.T @ mw.policy) >= -1e-12
    assert g.exploitability(P, mw.policy) <= 1e-12
    if np.min(p.value) > 1e-6 or np.linalg.matrix_rank(S) == 8:  # unique interior MW
        assert np.max(np.abs(mw.policy - p.value)) <= 1e-6


def test_minimax_winner_batch():
    P = g.random_preference(5, np.random.default_rng(3), batch=3)
    mw = g.minimax_winner(P)
    for x in range(3):
        assert np.allclose(mw.policy[x], g.minimax_winner(P[x]).policy, atol=1e-15)


def test_small_beta_equilibrium_approaches_minimax_winner():
    P = g.perturbed_rps()
    d = [np.abs(g.regularized_equilibrium(P, b).policy - np.array([1, 3, 3]) / 7).sum()
         for b in (1e-2, 1e-3, 1e-4)]
    assert d[0] > d[1] > d[2] and d[2] < 1e-3


# ---------------------------------------------------------------- iterative solvers


def test_nash_md_matches_catalogue_and_bound():
    # catalogue E1.1 (perturbed RPS, uniform ref, beta = 0.1): KL at T = 10 / 100 / 1000
    P = g.perturbed_rps()
    tr = g.nash_md(P, 0.1, iterations=1000)
    star = g.regularized_equilibrium(P, 0.1).policy
    kl = kl_divergence(star, tr.policies)
    assert kl[10] == pytest.approx(4.8e-4, rel=0.02)
    assert kl[100] == pytest.approx(3.2e-5, rel=0.02)
    assert kl[1000] == pytest.approx(2.6e-7, rel=0.02)
    assert np.all(kl <= 8 / (0.01 * (tr.steps + 1)))


def test_nash_md_constant_step_fixed_point_is_shifted_equilibrium():
    P, ref = g.perturbed_rps(), np.array([0.5, 0.3, 0.2])
    tr = g.nash_md(P, 0.1, ref, eta=2.0, iterations=20_000, record_every=20_000)
    shifted = g.regularized_equilibrium(P, 0.1 / (1 - 0.2), ref).policy
    assert np.max(np.abs(tr.mixtures[-1] - shifted)) <= 1e-10
    assert np.max(np.abs(tr.mixtures[-1] - [0.18419515, 0.56136144, 0.25444341])) <= 5e-9


def test_nash_mp_contraction_and_independent_implementation():
    rng = np.random.default_rng(4)
    P, ref = g.random_tournament(8, rng), None
    beta = 0.2
    tr = g.nash_mp(P, beta, ref, eta=1.0, iterations=60)
    u = np.full(8, 1 / 8)
    assert np.max(np.abs(tr.last - plain_mirror_prox(P * 1.0, beta, u, 60))) <= 1e-13
    star = g.regularized_equilibrium(P, beta).policy
    kl = kl_divergence(star, tr.policies)
    assert np.all(kl[1:] <= kl[0] * (1 + beta) ** -tr.steps[1:] * (1 + 1e-9))
    assert np.array_equal(tr.queries, 2 * tr.steps)


def test_mmd_matches_mmd_repository_update_and_omd_equivalence():
    """ssokota/mmd's update: project((pi * exp(lr * payoffs) * magnet**(lr*temp))**(1/(1+lr*temp)))
    with payoffs P pi in self-play; OMD(eta) == MMD(eta / (1 - eta beta))."""
    P = g.perturbed_rps()
    alpha = lr = 0.1
    pi, mag = np.ones(3) / 3, np.ones(3) / 3
    for _ in range(50):
        pi = (pi * np.exp(lr * (P @ pi)) * mag ** (lr * alpha)) ** (1 / (1 + lr * alpha))
        pi /= pi.sum()
    tr = g.mmd(P, alpha, iterations=50)
    assert np.max(np.abs(tr.last - pi)) <= 1e-14
    eta, beta = 0.5, 0.3
    a = g.omd(P, beta, eta=eta, iterations=40, pi0=[0.2, 0.5, 0.3])
    b = g.mmd(P, beta, eta=eta / (1 - eta * beta), iterations=40, pi0=[0.2, 0.5, 0.3])
    assert np.max(np.abs(a.policies - b.policies)) <= 1e-13


def test_self_play_average_regret_bound_and_sppo_identity():
    P = g.perturbed_rps()
    for T in (100, 1000):
        tr = g.self_play(P, iterations=T, record_every=T)
        assert g.exploitability(P, tr.average) <= np.sqrt(np.log(3) / (2 * T))
    # catalogue E6.1: lr 0.05 from (.6, .3, .1), 2e4 steps: average -> MW, last iterate cycles
    a = g.self_play(P, eta=0.05, iterations=20_000, pi0=[0.6, 0.3, 0.1], record_every=100)
    b = g.sppo(P, eta=0.05, iterations=20_000, pi0=[0.6, 0.3, 0.1], record_every=100)
    assert np.max(np.abs(a.policies - b.policies)) <= 1e-12
    assert np.max(np.abs(a.average - np.array([1, 3, 3]) / 7)) <= 0.01
    assert g.exploitability(P, a.last) > 0.1


def test_batched_iterations_equal_per_prompt_and_frames():
    P = g.random_preference(4, np.random.default_rng(6), batch=3)
    tr = g.nash_mp(P, 0.3, iterations=20, record_every=5)
    assert tr.policies.shape == (5, 3, 4)
    for x in range(3):
        one = g.nash_mp(P[x], 0.3, iterations=20, record_every=5)
        assert np.max(np.abs(one.policies - tr.policies[:, x])) <= 1e-14
    df = tr.to_frame(P)
    assert set(df.columns) >= {"step", "queries", "kl", "exploitability", "prompt"}
    assert len(df) == 15 and (df["exploitability"] >= -1e-14).all()


# ---------------------------------------------------------------- claims (quick mode)


@pytest.mark.parametrize("cid", ["nlhf-rps-regularized-equilibrium", "nash-mp-linear-rate",
                                 "nash-md-rate", "mmd-linear-rate", "spo-minimax-winner"])
def test_claims_quick(cid, tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get(cid), quick=True, seed=0, out=tmp_path)
    assert run.passed, run.result.summary
    assert all(f.exists() for f in run.result.figures)
