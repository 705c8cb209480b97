"""Exact solvers against independent answers: brute force, closed forms, scipy.optimize, limits.

No test compares a solver with itself: references are enumeration of deterministic policies
(evaluated by a plain np.linalg.solve written here), closed forms computed in high precision,
and direct numerical maximisation of J over softmax-parametrised policies.
"""

import itertools
import warnings

import mpmath
import numpy as np
import pytest
import scipy.optimize as so

import mdplab as ml
from tests.conftest import make_random_mdp

METHODS = ["vi", "pi", "mpi", "auto"]


def _dense(m):
    return m.P.toarray().reshape(m.S, m.A, m.S) if m.is_sparse else m.P


def _value_of(m, pi, beta=0.0, ref=None):
    """Independent policy evaluation: (I - gamma P_pi) V = r_pi with np.linalg.solve."""
    P = _dense(m)
    ref = np.full(pi.shape, 1 / m.A) if ref is None else ref
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(pi > 0, pi * np.log(pi / ref), 0.0).sum(1)
    r = (pi * m.R).sum(1) - beta * kl
    P_pi = np.einsum("sa,sat->st", pi, P)
    return np.linalg.solve(np.eye(m.S) - m.gamma * P_pi, r)


def _brute_force(m):
    best = np.full(m.S, -np.inf)
    for acts in itertools.product(range(m.A), repeat=m.S):
        best = np.maximum(best, _value_of(m, np.eye(m.A)[list(acts)]))
    return best


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95])
@pytest.mark.parametrize("seed", range(3))
def test_hard_optimum_matches_brute_force(seed, gamma, sparse):
    m = make_random_mdp(4, 3, rng=seed, gamma=gamma, sparse=sparse)
    V_star = _brute_force(m)
    for method in METHODS + (["gs"] if sparse else []):
        sol = ml.solve(m, method=method, tol=1e-10)
        assert sol.converged and sol.error_bound <= 1e-10
        assert np.max(np.abs(sol.V - V_star)) <= 1e-10, method
        # the returned policy is optimal too (independent evaluation)
        assert np.max(np.abs(_value_of(m, sol.policy) - V_star)) <= 1e-9, method


def test_finite_horizon_matches_brute_force_over_markov_policies():
    S, A, H = 2, 2, 3
    m = make_random_mdp(S, A, rng=5, horizon=H, time_varying=True)
    best = -np.inf
    for acts in itertools.product(range(A), repeat=S * H):
        a = np.array(acts).reshape(H, S)
        V = np.zeros(S)
        for h in range(H - 1, -1, -1):  # plain backward evaluation
            V = m.R[h][np.arange(S), a[h]] + m.P[h][np.arange(S), a[h]] @ V
        best = max(best, m.mu @ V)
    sol = ml.solve(m)
    assert sol.method == "backward" and sol.V.shape == (H + 1, S)
    assert m.mu @ sol.V[0] == pytest.approx(best, abs=1e-12)


def _soft_objective_by_optimizer(m, beta, ref):
    """max_pi J(pi) over softmax-parametrised policies with L-BFGS then Nelder-Mead (independent
    of mdplab)."""
    support = ref > 0

    def negJ(theta):
        logits = np.where(support, theta.reshape(m.S, m.A), -np.inf)
        pi = np.exp(logits - logits.max(1, keepdims=True))
        pi /= pi.sum(1, keepdims=True)
        return -m.mu @ _value_of(m, pi, beta, ref)

    best = np.inf
    for start in range(3):
        x0 = np.random.default_rng(start).normal(size=m.S * m.A)
        res = so.minimize(
            negJ, x0, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 5000}
        )
        # L-BFGS with finite-difference gradients can stop ~1e-8 short when the softmax is
        # sharp (beta = 0.05, SciPy 1.17): polish derivative-free
        res = so.minimize(negJ, res.x, method="Nelder-Mead",
                          options={"xatol": 1e-13, "fatol": 1e-16, "maxiter": 100_000,
                                   "maxfev": 100_000})
        best = min(best, res.fun)
    return -best


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0])
def test_soft_optimum_matches_direct_maximisation(beta):
    m = make_random_mdp(3, 3, rng=7, gamma=0.8)
    rng = np.random.default_rng(3)
    ref = rng.dirichlet(np.ones(3), size=3)
    ref[0, 2] = 0.0
    ref /= ref.sum(1, keepdims=True)
    J_opt = _soft_objective_by_optimizer(m, beta, ref)
    for method in ("vi", "pi", "mpi"):
        sol = ml.solve(m, beta=beta, ref=ref, method=method)
        assert m.mu @ sol.V == pytest.approx(J_opt, abs=1e-8), method
        assert sol.policy[0, 2] == 0.0
        # the Gibbs policy attains the value (independent evaluation)
        assert np.max(np.abs(_value_of(m, sol.policy, beta, ref) - sol.V)) <= 1e-9


@pytest.mark.parametrize("beta", [1e-8, 1e-2, 1.0, 1e3, 1e8])
@pytest.mark.parametrize("gamma", [0.0, 0.9])
def test_one_state_bandit_closed_form(beta, gamma):
    """V = beta log E_ref exp(r / beta) / (1 - gamma), evaluated with 60-digit arithmetic."""
    r = np.array([1e6, -3.0, 2.5, 1e6 - 1.0])
    ref = np.array([[0.1, 0.2, 0.0, 0.7]])
    m = ml.TabularMDP(np.ones((1, 4, 1)), r[None, :], gamma=gamma)
    mpmath.mp.dps = 60
    pairs = zip(ref[0], r, strict=True)
    Z = mpmath.fsum(mpmath.mpf(p) * mpmath.exp(mpmath.mpf(x) / beta) for p, x in pairs)
    expected = float(beta * mpmath.log(Z / mpmath.fsum(ref[0].tolist())) / (1 - gamma))
    for method in ("vi", "pi"):
        sol = ml.solve(m, beta=beta, ref=ref, method=method, tol=1e-6)
        assert sol.V[0] == pytest.approx(expected, rel=1e-13), method
        assert sol.policy[0, 2] == 0.0 and np.isfinite(sol.policy).all()
    fh = ml.TabularMDP(np.ones((1, 4, 1)), r[None, :], horizon=5)
    assert ml.solve(fh, beta=beta, ref=ref).V[0, 0] == pytest.approx(
        5 * float(beta * mpmath.log(Z / mpmath.fsum(ref[0].tolist()))), rel=1e-13
    )


def test_deterministic_chain_closed_form():
    """Chain 0 -> 1 -> ... -> n-1 (absorbing, reward 1 per step there); V(s) = g^(n-1-s)/(1-g)."""
    n, g = 30, 0.97
    P = np.zeros((n, 2, n))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        P[s, 1, min(s + 1, n - 1)] = 1.0
    R = np.zeros((n, 2))
    R[n - 1, :] = 1.0
    m = ml.TabularMDP(P, R, gamma=g)
    expected = g ** (n - 1 - np.arange(n)) / (1 - g)
    for method in METHODS + ["gs"]:
        sol = ml.solve(m.sparse(), method=method)
        np.testing.assert_allclose(sol.V, expected, atol=1e-10)
        assert np.all(sol.policy[: n - 1, 1] == 1.0)


def test_beta_limits():
    m = make_random_mdp(6, 3, rng=11, gamma=0.9)
    hard = ml.solve(m).V
    for beta in (1e-1, 1e-3, 1e-6):
        V = ml.solve(m, beta=beta).V
        # 0 <= V_0 - V_beta <= beta * log(A) / (1 - gamma)  (KL to uniform <= log A)
        assert np.all(hard - V >= -1e-10)
        assert np.all(hard - V <= beta * np.log(3) / (1 - 0.9) + 1e-10)
    # beta -> inf: the optimum tends to the reference policy and its value
    ref = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    sol = ml.solve(m, beta=1e8, ref=ref)
    np.testing.assert_allclose(sol.policy, ref, atol=1e-7)
    np.testing.assert_allclose(sol.V, _value_of(m, ref), atol=1e-6)


def _slow_chain(n=60, gamma=0.995):
    """A random walk on a line: mixing takes ~n^2 steps, so VI needs many sweeps."""
    P = np.zeros((n, 2, n))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] += 0.9
        P[s, 0, min(s + 1, n - 1)] += 0.1
        P[s, 1, min(s + 1, n - 1)] += 0.6
        P[s, 1, s] += 0.4
    R = np.zeros((n, 2))
    R[0, 0], R[-1, :] = 0.05, 1.0
    return ml.TabularMDP(P, R, gamma=gamma)


def test_soft_policy_iteration_converges_quadratically():
    m = _slow_chain(gamma=0.99)
    pi_sol = ml.solve(m, beta=0.1, method="pi", tol=1e-10)
    vi_sol = ml.solve(m, beta=0.1, method="vi", tol=1e-10)
    assert pi_sol.converged and pi_sol.iterations <= 10
    assert vi_sol.iterations >= 10 * pi_sol.iterations
    np.testing.assert_allclose(pi_sol.V, vi_sol.V, atol=2e-10)
    # Newton: e_{k+1} <= C e_k^2 in the quadratic regime, i.e. the number of correct digits
    # doubles: log e_{k+1} / log e_k >= ~2 once e_k < 1e-2
    e = pi_sol.history
    pairs = [(e[k], e[k + 1]) for k in range(len(e) - 1) if e[k] < 1e-2 and e[k + 1] > 1e-13]
    assert pairs, e
    assert all(b <= 50.0 * a * a for a, b in pairs), e
    # from the first residual below 1e-2, at most 3 Newton steps reach 1e-12 (a linear rate
    # gamma = 0.99 would need ~2000)
    first = int(np.argmax(e < 1e-2))
    assert len(e) - 1 - first <= 3, e


def test_ref_with_zeros_and_extreme_rewards_no_nan():
    rng = np.random.default_rng(4)
    m = make_random_mdp(5, 4, rng=4, gamma=0.9).with_(R=rng.uniform(-1e6, 1e6, (5, 4)))
    ref = np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 1], [0.25] * 4, [0, 0.5, 0.5, 0]])
    for beta in (0.0, 1e-8, 1.0, 1e8):
        sol = ml.solve(m, beta=beta, ref=ref, method="pi", tol=1e-3)
        assert np.isfinite(sol.V).all() and np.isfinite(sol.policy).all()
        assert np.all(sol.policy[ref == 0] == 0.0)


def test_tolerance_below_float_resolution_is_reported_not_hidden():
    m = make_random_mdp(5, 2, rng=1, gamma=0.9999).with_(R=np.full((5, 2), 1e6))
    with pytest.warns(RuntimeWarning, match="below what float64 can certify"):
        sol = ml.solve(m, method="pi", tol=1e-10)
    assert not sol.converged
    ok = ml.solve(m, method="pi", tol=10.0)
    assert ok.converged and abs(ok.V[0] - 1e6 / 1e-4) <= 10.0


def test_max_iter_warns_and_flags():
    m = make_random_mdp(5, 2, rng=1, gamma=0.99)
    with pytest.warns(RuntimeWarning, match="max_iter = 5"):
        sol = ml.solve(m, method="vi", max_iter=5)
    assert not sol.converged and sol.iterations == 5 and sol.error_bound > 1e-10


def test_error_bound_is_honest_on_slow_mixing_problem():
    """The reported bound really bounds the error (against an exact PI answer)."""
    m = _slow_chain()
    exact = _brute_force_pi(m)
    for method, tol in [("vi", 1e-4), ("mpi", 1e-6), ("vi", 1e-8), ("gs", 1e-6), ("auto", 1e-8)]:
        sol = ml.solve(m.sparse(), method=method, tol=tol)
        err = np.max(np.abs(sol.V - exact))
        # 1e-10: accuracy of the reference itself (np.linalg.solve, condition ~ 1/(1-gamma))
        assert err <= sol.error_bound + 1e-10 and sol.error_bound <= tol


def _brute_force_pi(m):
    """Plain policy iteration written here (np.linalg.solve), to convergence."""
    acts = np.zeros(m.S, dtype=int)
    while True:
        V = _value_of(m, np.eye(m.A)[acts])
        Q = m.R + m.gamma * m.P @ V
        new = np.where(Q.max(1) > Q[np.arange(m.S), acts] + 1e-13, Q.argmax(1), acts)
        if np.array_equal(new, acts):
            return V
        acts = new


def test_bad_inputs_raise_clear_errors(small_mdp):
    with pytest.raises(ValueError, match="beta = -1.0 must be"):
        ml.solve(small_mdp, beta=-1.0)
    with pytest.raises(ValueError, match="method = 'newton'"):
        ml.solve(small_mdp, method="newton")
    with pytest.raises(ValueError, match=r"ref has shape \(2, 3\)"):
        ml.solve(small_mdp, beta=1.0, ref=np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"ref\[0, :\] sums to"):
        ml.solve(small_mdp, beta=1.0, ref=np.full((5, 3), 0.5))
    with pytest.raises(ValueError, match="tol"):
        ml.solve(small_mdp, tol=0.0)
    with pytest.raises(ValueError, match=r"V0 has shape"):
        ml.solve(small_mdp, V0=np.zeros(3))
    with pytest.raises(TypeError, match="TabularMDP"):
        ml.solve("model")
    fh = make_random_mdp(3, 2, rng=0, horizon=3)
    with pytest.raises(ValueError, match="backward induction"):
        ml.solve(fh, method="pi")
    with pytest.raises(ValueError, match="finite-horizon model"):
        ml.solve(small_mdp, method="backward")


def test_solution_is_frozen_and_readable(small_mdp):
    sol = ml.solve(small_mdp)
    with pytest.raises(AttributeError):
        sol.V = None
    text = repr(sol)
    assert "V=array(5,)" in text and "converged=True" in text


def test_no_warnings_on_normal_solves(small_mdp):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for beta in (0.0, 0.3):
            for method in METHODS:
                ml.solve(small_mdp, beta=beta, method=method)


def test_gauss_seidel_needs_sparse_and_auto_reports_its_route(small_mdp):
    with pytest.raises(ValueError, match="needs a sparse model"):
        ml.solve(small_mdp, method="gs")
    assert ml.solve(small_mdp).method == "auto (mpi)"
    assert ml.solve(small_mdp, beta=0.5).method == "auto (vi)"
    # a long deterministic chain: information crosses one state per MPI improvement
    for slow, beta in [
        (ml.envs.chain(2000, gamma=0.999).sparse(), 0.0),
        (ml.envs.chain(2000, gamma=0.999).sparse(), 0.5),
        (ml.envs.chain(300, gamma=0.999).dense(), 0.0),
    ]:
        sol = ml.solve(slow, beta=beta, tol=1e-8)  # 1e-10 is below float64's floor at 0.999
        assert sol.method.startswith("auto (") and sol.method.endswith("then pi)")
        assert sol.converged and sol.error_bound <= 1e-8


@pytest.mark.parametrize("beta", [0.05, 1.0])
def test_chord_policy_iteration_reuses_factorisations_and_matches_newton(beta, monkeypatch):
    """The chord steps land on the same V* as Newton (method="pi", independent of the chord
    code) with fewer LU factorisations; the bracket certifies both."""
    from mdplab.solvers import dp
    from mdplab.solvers._operator import StepOperator

    mdp = ml.envs.gridworld(40, 40, slip=0.1, gamma=0.999)
    newton = ml.solve(mdp, beta=beta, method="pi", tol=1e-10)
    calls = []
    real = dp.policy_system_lu
    monkeypatch.setattr(dp, "policy_system_lu", lambda *a: calls.append(1) or real(*a))
    ref = np.full((mdp.S, mdp.A), 1.0 / mdp.A)
    op = StepOperator(mdp.transitions(), mdp.R, mdp.gamma, beta, ref)
    chord = dp.chord_policy_iteration(op, 1e-10, 100)
    assert chord.converged and chord.error_bound <= 1e-10
    np.testing.assert_allclose(chord.V, newton.V, rtol=0, atol=2e-10)
    np.testing.assert_allclose(chord.policy, newton.policy, atol=1e-9)
    assert 1 <= len(calls) < newton.iterations
    # "auto" takes this route on slow-mixing models and gives the same answer
    auto = ml.solve(mdp, beta=beta, tol=1e-10)
    np.testing.assert_allclose(auto.V, newton.V, rtol=0, atol=2e-10)


def test_chord_policy_iteration_falls_back_without_a_factorisation(monkeypatch):
    from mdplab.solvers import dp
    from mdplab.solvers._operator import StepOperator

    mdp = make_random_mdp(30, 3, 3, gamma=0.95)
    monkeypatch.setattr(dp, "policy_system_lu", lambda *a: None)  # as for large random graphs
    op = StepOperator(mdp.transitions(), mdp.R, mdp.gamma, 0.2, np.full((30, 3), 1 / 3))
    sol = dp.chord_policy_iteration(op, 1e-10, 100)
    ref = ml.solve(mdp, beta=0.2, method="vi", tol=1e-11)
    assert sol.converged
    np.testing.assert_allclose(sol.V, ref.V, atol=3e-10)
