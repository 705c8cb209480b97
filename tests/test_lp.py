"""The occupancy-measure programs (mdplab.solvers.lp) against independent answers.

No number is compared with itself. References: enumeration of all deterministic policies,
evaluated by a plain ``np.linalg.solve`` written here; closed forms (one-state bandits, by
``scipy.special.logsumexp``); direct maximisation of J over softmax-parametrised policies with
L-BFGS and an exact gradient; the flow constraints checked on the primal solution; and, where
it exists, the dynamic-programming solver.
"""

import itertools

import cvxpy as cp
import numpy as np
import pytest
import scipy.optimize as so
import scipy.sparse as sp
from scipy.special import logsumexp

import mdplab as ml
import mdplab.solvers.lp as lp_module
from mdplab.solvers.lp import OccupancyLP, occupancy_lp, solve_lp
from tests.conftest import make_random_mdp

# ---------------------------------------------------------------------------- independent helpers


def _dense_P(m, h=0):
    """Kernel of step h as a dense (S, A, S) array."""
    P = m.transitions(h)
    P = P.toarray() if sp.issparse(P) else np.asarray(P)
    return P.reshape(m.S, m.A, m.S)


def _model(S, A, seed, gamma=None, horizon=None, sparse=False, time_varying=False):
    """Random model with rewards of both signs (plain NumPy, independent of mdplab.envs)."""
    m = make_random_mdp(S, A, rng=seed, gamma=gamma, horizon=horizon,
                        time_varying=time_varying, sparse=sparse)
    return m.with_(R=2.0 * np.asarray(m.R) - 1.0)


def _eval_discounted(m, pi, beta=0.0, ref=None):
    """V^pi from (I - gamma P_pi) V = r_pi (KL-penalised reward when beta > 0)."""
    P = _dense_P(m)
    r = (pi * m.R).sum(1)
    if beta > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = r - beta * np.where(pi > 0, pi * np.log(pi / ref), 0.0).sum(1)
    P_pi = np.einsum("sa,sat->st", pi, P)
    return np.linalg.solve(np.eye(m.S) - m.gamma * P_pi, r)


def _brute_force_discounted(m, allowed=None):
    """V* as the elementwise max of V^pi over all deterministic stationary policies."""
    allowed = np.ones((m.S, m.A), bool) if allowed is None else allowed
    choices = [np.flatnonzero(allowed[s]) for s in range(m.S)]
    best = np.full(m.S, -np.inf)
    for acts in itertools.product(*choices):
        best = np.maximum(best, _eval_discounted(m, np.eye(m.A)[list(acts)]))
    return best


def _brute_force_finite(m):
    """V*_h(s), h = 0..H, as the max over all deterministic Markov policies, each evaluated by
    one linear solve of the stacked system (I - N) v = r over the H*S (step, state) pairs."""
    S, A, H = m.S, m.A, m.H
    P = np.stack([_dense_P(m, h) for h in range(H)])
    R = np.stack([np.asarray(m.rewards(h)) for h in range(H)])
    best = np.full((H + 1, S), -np.inf)
    best[H] = 0.0
    s_idx = np.arange(S)
    for acts in itertools.product(range(A), repeat=H * S):
        a = np.array(acts).reshape(H, S)
        N = np.zeros((H * S, H * S))
        for h in range(H - 1):
            N[h * S:(h + 1) * S, (h + 1) * S:(h + 2) * S] = P[h, s_idx, a[h]]
        r = np.concatenate([R[h, s_idx, a[h]] for h in range(H)])
        v = np.linalg.solve(np.eye(H * S) - N, r).reshape(H, S)
        best[:H] = np.maximum(best[:H], v)
    return best


def _softmax_rows(theta, support):
    logits = np.where(support, theta, -np.inf)
    pi = np.exp(logits - logits.max(-1, keepdims=True))
    return pi / pi.sum(-1, keepdims=True)


def _soft_J_discounted(m, beta, ref):
    """max_pi J(pi) by L-BFGS over logits, with J and its exact gradient from linear solves:
    dJ/dtheta(s,a) = d(s) pi(a|s) (g(s,a) - sum_b pi(b|s) g(s,b)),
    g = R + gamma P V^pi - beta log(pi/ref), d = (I - gamma P_pi^T)^{-1} mu."""
    S, A, gamma = m.S, m.A, m.gamma
    P, R, mu = _dense_P(m), np.asarray(m.R), np.asarray(m.mu)
    support = ref > 0
    safe_ref = np.where(support, ref, 1.0)

    def negJ_and_grad(theta):
        pi = _softmax_rows(theta.reshape(S, A), support)
        logratio = np.where(support, np.log(np.where(support, pi, 1.0) / safe_ref), 0.0)
        r = (pi * (R - beta * logratio)).sum(1)
        P_pi = np.einsum("sa,sat->st", pi, P)
        V = np.linalg.solve(np.eye(S) - gamma * P_pi, r)
        d = np.linalg.solve(np.eye(S) - gamma * P_pi.T, mu)
        g = R + gamma * P @ V - beta * logratio
        adv = g - (pi * g).sum(1, keepdims=True)
        grad = np.where(support, d[:, None] * pi * adv, 0.0)
        return -mu @ V, -grad.ravel()

    res = so.minimize(negJ_and_grad, np.zeros(S * A), jac=True, method="L-BFGS-B",
                      options={"maxiter": 20_000, "ftol": 0.0, "gtol": 1e-13})
    return -res.fun


def _soft_J_finite(m, beta, ref):
    """The same for a finite horizon (logits per step; J by backward recursion)."""
    S, A, H = m.S, m.A, m.H
    P = np.stack([_dense_P(m, h) for h in range(H)])
    R = np.stack([np.asarray(m.rewards(h)) for h in range(H)])
    ref = np.broadcast_to(ref, (H, S, A))
    support = ref > 0
    safe_ref = np.where(support, ref, 1.0)
    mu = np.asarray(m.mu)

    def negJ_and_grad(theta):
        pi = _softmax_rows(theta.reshape(H, S, A), support)
        logratio = np.where(support, np.log(np.where(support, pi, 1.0) / safe_ref), 0.0)
        V = np.zeros((H + 1, S))
        g = np.empty((H, S, A))
        for h in range(H - 1, -1, -1):
            g[h] = R[h] + P[h] @ V[h + 1] - beta * logratio[h]
            V[h] = (pi[h] * g[h]).sum(1)
        d = np.empty((H, S))
        d[0] = mu
        for h in range(H - 1):
            d[h + 1] = d[h] @ np.einsum("sa,sat->st", pi[h], P[h])
        adv = g - (pi * g).sum(-1, keepdims=True)
        grad = np.where(support, d[..., None] * pi * adv, 0.0)
        return -mu @ V[0], -grad.ravel()

    res = so.minimize(negJ_and_grad, np.zeros(H * S * A), jac=True, method="L-BFGS-B",
                      options={"maxiter": 20_000, "ftol": 0.0, "gtol": 1e-13})
    return -res.fun


def _random_ref(S, A, seed, zeros=()):
    ref = np.random.default_rng(seed).dirichlet(np.ones(A), size=S)
    for s, a in zeros:
        ref[s, a] = 0.0
    return ref / ref.sum(1, keepdims=True)


# ---------------------------------------------------------------------------- beta = 0: brute force


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("seed", range(3))
def test_lp_matches_brute_force_discounted(seed, gamma, sparse):
    S, A = (4, 3) if seed < 2 else (3, 2)
    m = _model(S, A, seed, gamma=gamma, sparse=sparse)
    V_star = _brute_force_discounted(m)
    sol = solve_lp(m)
    assert isinstance(sol, ml.Solution)
    assert sol.method == "lp" and sol.converged and sol.beta == 0.0
    assert np.isnan(sol.error_bound) and sol.iterations > 0 and "CLARABEL" in sol.message
    assert sol.V.shape == (S,) and sol.Q.shape == (S, A) and sol.policy.shape == (S, A)
    assert np.max(np.abs(sol.V - V_star)) <= 1e-8
    assert sol.residual <= 1e-8
    # the greedy policy read off the LP values is optimal (independent evaluation)
    assert set(np.unique(sol.policy)) <= {0.0, 1.0}
    assert np.max(np.abs(_eval_discounted(m, sol.policy) - V_star)) <= 1e-8


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("time_varying", [False, True])
def test_lp_matches_brute_force_finite_horizon(time_varying, sparse):
    S, A, H = 3, 2, 3
    m = _model(S, A, seed=11 + time_varying, horizon=H, time_varying=time_varying,
               sparse=sparse)
    V_star = _brute_force_finite(m)
    sol = solve_lp(m)
    assert sol.converged and sol.method == "lp"
    assert sol.V.shape == (H + 1, S) and sol.Q.shape == (H, S, A)
    assert sol.policy.shape == (H, S, A)
    assert np.all(sol.V[H] == 0.0)
    assert np.max(np.abs(sol.V - V_star)) <= 1e-8
    assert sol.residual <= 1e-8


def test_values_everywhere_when_mu_misses_states():
    """mu = e_0 and state 2 unreachable: the multipliers of the model's own program do not pin
    V*(2) down, but solve_lp (full-support weights) returns V* at every state."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, :, 0] = [0.5, 1.0]
    P[1, 0, 1] = 0.5
    P[2, 0, 2] = 1.0
    P[2, 1, 0] = 1.0
    R = np.array([[0.1, 0.0], [0.5, -0.2], [1.0, 0.3]])
    m = ml.TabularMDP(P, R, gamma=0.9, mu=[1.0, 0.0, 0.0])
    V_star = _brute_force_discounted(m)
    sol = solve_lp(m)
    assert np.max(np.abs(sol.V - V_star)) <= 1e-8
    occ = occupancy_lp(m)
    assert occ.converged
    assert occ.J == pytest.approx(V_star[0], abs=1e-8)
    assert np.all(occ.d[2] <= 1e-9)  # never visited
    assert occ.d.sum() == pytest.approx(10.0, rel=1e-9)

    fh = ml.TabularMDP(P, R, horizon=4, mu=[1.0, 0.0, 0.0])
    sol = solve_lp(fh)
    np.testing.assert_allclose(sol.V, _brute_force_finite(fh), atol=1e-8, rtol=0)


def test_reference_support_restricts_actions_beta_zero():
    """ref(a|s) = 0 removes the action even where it has the largest reward."""
    m = _model(4, 3, seed=3, gamma=0.9)
    R = np.asarray(m.R).copy()
    R[:, 2] = 5.0  # the best action everywhere...
    m = m.with_(R=R)
    ref = _random_ref(4, 3, seed=1, zeros=[(s, 2) for s in range(3)])  # ...barred in s < 3
    allowed = ref > 0
    sol = solve_lp(m, beta=0.0, ref=ref)
    assert np.max(np.abs(sol.V - _brute_force_discounted(m, allowed))) <= 1e-8
    assert np.all(sol.policy[~allowed] == 0.0)
    assert sol.policy[3, 2] == 1.0


# ---------------------------------------------------------------------------- beta > 0


@pytest.mark.parametrize("beta", [0.01, 0.3, 1.0, 10.0])
def test_one_state_bandit_closed_form(beta):
    """One state: V = beta log sum_a ref(a) e^{R(a)/beta} / (1 - gamma) (discounted) and
    V_h = (H - h) beta log E_ref e^{R/beta} (finite horizon); pi = ref e^{R/beta} / Z."""
    R = np.array([[0.7, -0.4, 0.9, 0.2]])
    ref = np.array([[0.1, 0.5, 0.0, 0.4]])
    soft = beta * logsumexp(R[0] / beta, b=ref[0])
    pi = np.where(ref[0] > 0, ref[0] * np.exp((R[0] - soft) / beta), 0.0)
    for gamma in (0.0, 0.9):
        m = ml.TabularMDP(np.ones((1, 4, 1)), R, gamma=gamma)
        sol = solve_lp(m, beta=beta, ref=ref)
        assert sol.converged
        assert sol.V[0] == pytest.approx(soft / (1 - gamma), abs=1e-8)
        np.testing.assert_allclose(sol.policy[0], pi, atol=1e-8)
        assert sol.policy[0, 2] == 0.0
        occ = occupancy_lp(m, beta=beta, ref=ref)
        assert occ.J == pytest.approx(soft / (1 - gamma), abs=1e-8)
        np.testing.assert_allclose(occ.d[0] * (1 - gamma), pi, atol=1e-7)
    H = 4
    fh = ml.TabularMDP(np.ones((1, 4, 1)), R, horizon=H)
    sol = solve_lp(fh, beta=beta, ref=ref)
    np.testing.assert_allclose(sol.V[:, 0], (H - np.arange(H + 1)) * soft, atol=1e-8, rtol=0)
    np.testing.assert_allclose(sol.policy[:, 0], np.tile(pi, (H, 1)), atol=1e-8)


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0])
@pytest.mark.parametrize("with_zeros", [False, True])
def test_soft_value_matches_direct_maximisation_discounted(beta, with_zeros):
    S, A = 3, 3
    m = _model(S, A, seed=7, gamma=0.8)
    ref = _random_ref(S, A, seed=2, zeros=[(0, 2), (2, 0)] if with_zeros else [])
    J_opt = _soft_J_discounted(m, beta, ref)
    sol = solve_lp(m, beta=beta, ref=ref)
    assert sol.converged
    J_lp = m.mu @ sol.V
    assert J_lp == pytest.approx(J_opt, abs=1e-7)
    assert J_opt <= J_lp + 1e-9  # no policy beats the program's value
    # the Gibbs policy from the LP values attains them (independent evaluation)
    assert np.max(np.abs(_eval_discounted(m, sol.policy, beta, ref) - sol.V)) <= 1e-8
    assert np.all(sol.policy[ref == 0] == 0.0)
    assert np.all(sol.policy[ref > 0] > 0.0)


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_soft_value_matches_direct_maximisation_finite_horizon(beta):
    S, A, H = 3, 2, 3
    m = _model(S, A, seed=4, horizon=H, time_varying=True, sparse=True)
    ref = np.stack([_random_ref(S, A, seed=h) for h in range(H)])
    ref[1, 0] = [0.0, 1.0]  # a deterministic reference at one (step, state)
    J_opt = _soft_J_finite(m, beta, ref)
    sol = solve_lp(m, beta=beta, ref=ref)
    assert sol.converged
    assert m.mu @ sol.V[0] == pytest.approx(J_opt, abs=1e-7)
    assert J_opt <= m.mu @ sol.V[0] + 1e-9
    assert np.all(sol.policy[1, 0] == [0.0, 1.0])


# ---------------------------------------------------------------------------- the primal occupancy


@pytest.mark.parametrize("beta", [0.0, 0.5])
@pytest.mark.parametrize("sparse", [False, True])
def test_occupancy_is_feasible_and_normalised_discounted(beta, sparse):
    gamma = 0.9
    m = _model(4, 3, seed=5, gamma=gamma, sparse=sparse).with_(mu=[0.4, 0.3, 0.2, 0.1])
    occ = occupancy_lp(m, beta=beta)
    assert isinstance(occ, OccupancyLP) and occ.converged
    d = occ.d
    assert d.shape == (4, 3) and np.all(d >= 0)
    assert d.sum() == pytest.approx(1 / (1 - gamma), rel=1e-9)
    # flow constraints: sum_a d(s',a) = mu(s') + gamma sum_{s,a} P(s'|s,a) d(s,a)
    inflow = np.asarray(m.mu) + gamma * np.einsum("sa,sat->t", d, _dense_P(m))
    np.testing.assert_allclose(d.sum(1), inflow, atol=1e-9)
    # its value is max_pi J(pi), found independently
    J_ref = (m.mu @ _brute_force_discounted(m) if beta == 0
             else _soft_J_discounted(m, beta, np.full((4, 3), 1 / 3)))
    assert occ.J == pytest.approx(J_ref, abs=1e-7)
    # and the policy it induces is the optimal one
    pi = d / d.sum(1, keepdims=True)
    assert m.mu @ _eval_discounted(m, pi, beta, np.full((4, 3), 1 / 3)) == pytest.approx(
        J_ref, abs=1e-7)


def test_occupancy_is_feasible_and_normalised_finite_horizon():
    S, A, H = 3, 2, 3
    m = _model(S, A, seed=8, horizon=H, time_varying=True)
    occ = occupancy_lp(m, beta=0.2)
    d = occ.d
    assert d.shape == (H, S, A) and np.all(d >= 0)
    assert d.sum() == pytest.approx(H, rel=1e-9)
    np.testing.assert_allclose(d.sum((1, 2)), np.ones(H), atol=1e-9)
    np.testing.assert_allclose(d[0].sum(1), m.mu, atol=1e-9)
    for h in range(H - 1):
        np.testing.assert_allclose(d[h + 1].sum(1),
                                   np.einsum("sa,sat->t", d[h], _dense_P(m, h)), atol=1e-9)
    assert occ.J == pytest.approx(_soft_J_finite(m, 0.2, np.full((S, A), 1 / A)), abs=1e-7)
    assert occ.V.shape == (H + 1, S)


# ---------------------------------------------------------------------------- solver behaviour


def test_non_optimal_status_warns_and_is_flagged():
    m = _model(4, 3, seed=0, gamma=0.9)
    with pytest.warns(RuntimeWarning, match="did not reach an optimal status"):
        sol = solve_lp(m, beta=1.0, solver_options={"max_iter": 2})
    assert not sol.converged and "optimal" not in sol.message.split(":")[1].split("(")[0]
    with pytest.warns(RuntimeWarning, match="did not reach an optimal status"):
        occ = occupancy_lp(m, solver_options={"max_iter": 1})
    assert not occ.converged


def test_inaccurate_first_solve_is_rerun(monkeypatch):
    """The rerun logic: a first Clarabel run reported as optimal_inaccurate is repeated with
    shorter steps, and the rerun's (optimal) answer is returned and labelled."""
    real_run, calls = lp_module._run, []

    def flaky_run(problem, x, flow, name, opts):
        out = real_run(problem, x, flow, name, opts)
        calls.append(opts)
        if len(calls) == 1:
            out = {**out, "status": "optimal_inaccurate", "y": 0.0 * out["y"]}
        return out

    monkeypatch.setattr(lp_module, "_run", flaky_run)
    m = _model(4, 3, seed=2, gamma=0.9)
    sol = solve_lp(m, beta=0.3)
    assert len(calls) == 2 and calls[1]["max_step_fraction"] == 0.95
    assert sol.converged and "rerun" in sol.message
    assert m.mu @ sol.V == pytest.approx(_soft_J_discounted(m, 0.3, np.full((4, 3), 1 / 3)),
                                         abs=1e-7)


def test_missing_solver_falls_back_to_scs(monkeypatch):
    m = _model(3, 2, seed=1, gamma=0.5)
    V_star = _brute_force_discounted(m)
    without = [s for s in cp.installed_solvers() if s != "CLARABEL"]
    monkeypatch.setattr(lp_module.cp, "installed_solvers", lambda: without)
    with pytest.warns(RuntimeWarning, match="falling back to SCS"):
        sol = solve_lp(m)
    assert "SCS" in sol.message
    assert np.max(np.abs(sol.V - V_star)) <= 1e-5


def test_explicit_solvers():
    m = _model(3, 2, seed=2, gamma=0.7)
    V_star = _brute_force_discounted(m)
    if "HIGHS" in cp.installed_solvers():
        sol = solve_lp(m, solver="highs")
        assert sol.converged and "HIGHS" in sol.message
        assert np.max(np.abs(sol.V - V_star)) <= 1e-8
        with pytest.raises(ValueError, match="exponential cones"):
            solve_lp(m, beta=0.1, solver="HIGHS")
    with pytest.raises(ValueError, match="not a cvxpy solver"):
        solve_lp(m, solver="NO_SUCH_SOLVER")
    with pytest.raises(TypeError, match="solver"):
        solve_lp(m, solver=3)


def test_bad_input_is_rejected_with_clear_errors():
    m = _model(3, 2, seed=0, gamma=0.9)
    with pytest.raises(ValueError, match="beta"):
        solve_lp(m, beta=-0.1)
    with pytest.raises(TypeError, match="beta"):
        solve_lp(m, beta="1")
    with pytest.raises(ValueError, match=r"ref has shape \(2, 3\)"):
        solve_lp(m, beta=0.1, ref=np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="ref"):
        solve_lp(m, beta=0.1, ref=np.full((3, 2), 0.4))
    with pytest.raises(ValueError, match="ref"):
        occupancy_lp(m, ref=np.array([[1.5, -0.5]] * 3))
    with pytest.raises(ValueError, match="tol"):
        solve_lp(m, tol=0.0)
    with pytest.raises(TypeError, match="mdp"):
        solve_lp({"P": None})


# ---------------------------------------------------------------------------- against dp


def _dp_solve():
    try:
        from mdplab.solvers.dp import solve
    except ImportError:  # pragma: no cover - dp is written in parallel
        pytest.skip("mdplab.solvers.dp is not available")
    return solve


@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("sparse", [False, True])
def test_agrees_with_dynamic_programming_on_larger_models(beta, sparse):
    solve = _dp_solve()
    m = _model(50, 4, seed=21, gamma=0.95, sparse=sparse)
    ref = _random_ref(50, 4, seed=3, zeros=[(s, s % 4) for s in range(0, 50, 7)])
    sol_lp = solve_lp(m, beta=beta, ref=ref)
    sol_dp = solve(m, beta=beta, ref=ref, method="pi", tol=1e-11)
    assert sol_lp.converged
    assert np.max(np.abs(sol_lp.V - sol_dp.V)) <= 1e-8
    if beta > 0:
        assert np.max(np.abs(sol_lp.policy - sol_dp.policy)) <= 1e-8
    fh = _model(20, 3, seed=22, horizon=6, time_varying=True, sparse=sparse)
    assert np.max(np.abs(solve_lp(fh, beta=beta).V - solve(fh, beta=beta).V)) <= 1e-8


def test_dispatcher_method_lp():
    _dp_solve()
    m = _model(4, 3, seed=1, gamma=0.9)
    sol = ml.solve(m, beta=0.0, method="lp")
    assert sol.method == "lp"
    assert np.max(np.abs(sol.V - _brute_force_discounted(m))) <= 1e-8
