r"""Adversarial MDPs with **unknown** transitions and bandit feedback: UOB-REPS.

Jin, Jin, Luo, Sra & Yu (2020), *Learning adversarial Markov decision processes with bandit
feedback and unknown transition*, ICML, arXiv:1912.01192 (Algorithm 1 "UOB-REPS", Algorithm 3
"Comp-UOB"; equation numbers and the constants of the confidence set as recalled, unverified).
Regret :math:`\tilde O(L|X|\sqrt{|A|T})` with high probability (:math:`L` layers, :math:`|X|`
states in all, :math:`T` episodes).

Setting. The episodic model of :mod:`mdplab.learn.adversarial` read as a layered MDP: layer
:math:`h` holds the states :math:`(h, s)`; the learner knows the initial distribution
:math:`\mu`, the sizes and nothing of :math:`P_h(s'|s,a)`; after each episode it sees the
visited states and the losses of the visited pairs only.

Epochs and confidence sets. Counts :math:`N_h(s,a)`, :math:`M_h(s,a,s')` are frozen at the
start of each epoch; a new epoch starts when some count has doubled since. With
:math:`\bar P_h = M_h / \max(1, N_h)` and :math:`\iota = \ln(T|X||A|/\delta)`,
:math:`|X| = HS`, the set :math:`\mathcal P_i` holds the kernels with

.. math::

    |P_h(s'|s,a) - \bar P_h(s'|s,a)| \le \epsilon_h(s'|s,a) =
    2\sqrt{\frac{\bar P_h(s'|s,a)\,\iota}{\max(1, N_h(s,a) - 1)}}
    + \frac{14\,\iota}{3\max(1, N_h(s,a) - 1)}

(empirical Bernstein; it contains the true kernel with probability :math:`\ge 1 - 4\delta`).

Occupancy measures over triples. :math:`w_h(s,a,s')` for :math:`h < H-1` and
:math:`q_{H-1}(s,a)`; :math:`q_h(s,a) = \sum_{s'} w_h(s,a,s')`. The set
:math:`\Delta(\mathcal P_i)`: :math:`\sum_a q_0(s,a) = \mu(s)`, the flow
:math:`\sum_a q_{h+1}(s',a) = \sum_{s,a} w_h(s,a,s')`, :math:`w \ge 0`, and
:math:`|w_h(s,a,s') - \bar P_h(s'|s,a)\,q_h(s,a)| \le \epsilon_h(s'|s,a)\,q_h(s,a)`.

Update (online mirror descent with the unnormalised KL over the triples):
:math:`\hat q_{t+1} = \arg\min_{q\in\Delta(\mathcal P_i)} \eta\langle q, \hat\ell_t\rangle +
D(q\|\hat q_t)`, i.e. the KL projection of :math:`\hat q_t e^{-\eta\hat\ell_t}`
(:func:`project_confidence_occupancy`): by default Newton's method on a dual in the
:math:`H\times S` flow multipliers only, the confidence box handled in closed form per
:math:`(h, s, a)` (compiled, about 1 ms at :math:`H = 4`, :math:`S = A = 3`); or
(``projection="cvxpy"``) the exponential-cone program compiled once and re-solved with new
parameters, the cross-check (the two learners play the same policies, tested).
:math:`\hat q_1` is the projection of the uniform triple measure. Policy
:math:`\pi_t(a|s) \propto \hat q_{t,h}(s,a)`.

Loss estimator with the **upper occupancy bound**:
:math:`\hat\ell_t(h,s,a) = \ell_t(h,s,a)\,\mathbb 1\{(s_h,a_h) = (s,a)\} / (u_t(h,s,a) +
\gamma)`, :math:`u_t(h,s,a) = \max_{\hat P\in\mathcal P_i} q^{\hat P,\pi_t}_h(s,a)` computed by
Comp-UOB (:func:`upper_occupancy_bound`, compiled): for each target :math:`(h, s)`, a backward pass
:math:`f_k(x) = \sum_a\pi_t(a|x)\max_{\hat P(\cdot|x,a)}\sum_{x'}\hat P(x'|x,a)f_{k+1}(x')`,
:math:`f_h = \mathbb 1_s`, where the inner maximum over the box :math:`[\bar P - \epsilon,
\bar P + \epsilon]\cap` simplex is greedy (lower ends, then the remaining mass to the largest
:math:`f` first). Tuning :math:`\eta = \gamma = \sqrt{L\ln(L|X||A|/\delta)/(T|X||A|)}` with
:math:`L = H`, :math:`|X| = HS`, :math:`T = K` (:func:`uob_reps_eta`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import _adv_kernels as _ak
from .adversarial import (
    AdversarialLearner,
    _check_int,
    _check_model,
    _check_real,
    _kernel,
    _policy_from_occupancy,
)

__all__ = [
    "UOBREPS",
    "ConfidenceProjection",
    "confidence_violation",
    "confidence_widths",
    "project_confidence_occupancy",
    "uob_reps_eta",
    "upper_occupancy_bound",
]


def uob_reps_eta(K: int, H: int, S: int, A: int, delta: float = 0.05) -> float:
    r"""The paper's :math:`\eta = \gamma = \sqrt{L\ln(L|X||A|/\delta)/(T|X||A|)}` with
    :math:`L = H`, :math:`|X| = HS`, :math:`T = K`."""
    K = _check_int("K", K, 1)
    X = H * S
    return math.sqrt(H * math.log(H * X * A / delta) / (K * X * A))


def confidence_widths(counts, P_bar, iota: float) -> np.ndarray:
    r""":math:`\epsilon_h(s'|s,a) = 2\sqrt{\bar P\iota/\max(1, N-1)} + 14\iota/(3\max(1,
    N-1))` for counts ``(H, S, A)`` and empirical kernels ``(H, S, A, S)``."""
    n = np.maximum(1.0, np.asarray(counts, dtype=float) - 1.0)[..., None]
    return 2.0 * np.sqrt(np.asarray(P_bar) * iota / n) + 14.0 * iota / (3.0 * n)




@dataclass(frozen=True)
class ConfidenceProjection:
    """Result of :func:`project_confidence_occupancy`.

    Attributes
    ----------
    W : ndarray
        Triple occupancy ``(H-1, S, A, S)``: :math:`w_h(s,a,s')`.
    q_last : ndarray
        Pair occupancy of the last step ``(S, A)``.
    q : ndarray
        Pair occupancy ``(H, S, A)`` (:math:`q_h(s,a) = \\sum_{s'} w_h(s,a,s')`).
    v : ndarray or None
        Flow multipliers ``(H, S)`` (Newton).
    iterations : int
    violation : float
        :func:`confidence_violation` of the result.
    method : str
    """

    W: np.ndarray
    q_last: np.ndarray
    q: np.ndarray
    v: np.ndarray | None
    iterations: int
    violation: float
    method: str


def _check_mu(mu, S: int) -> np.ndarray:
    """The initial distribution as a contiguous float vector of length ``S``, validated."""
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    if mu.shape != (S,) or np.any(~np.isfinite(mu)) or mu.min() < 0 or \
            abs(mu.sum() - 1) > 1e-9:
        raise ValueError(f"mu: expected a probability vector of length {S}")
    return mu


def _box(P_bar, eps, H: int, S: int, A: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(lo, hi) = (clip(P_bar - eps, 0, 1), clip(P_bar + eps, 0, 1))`` of shape
    ``(H-1, S, A, S)`` (a leading ``H`` axis is cut to its first ``H-1`` steps)."""
    P_bar = np.asarray(P_bar, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    for name, x in (("P_bar", P_bar), ("eps", eps)):
        if x.ndim != 4 or x.shape[1:] != (S, A, S) or x.shape[0] not in (H - 1, H):
            raise ValueError(f"{name} has shape {x.shape}, expected (H-1, S, A, S) or "
                             f"(H, S, A, S) = ({H}, {S}, {A}, {S})")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} must be finite")
    P_bar, eps = P_bar[:H - 1], eps[:H - 1]
    if eps.size and eps.min() < 0:
        raise ValueError(f"eps must be >= 0 (min {eps.min():.3g})")
    if P_bar.size and (P_bar.min() < 0 or np.abs(P_bar.sum(-1) - 1).max() > 1e-9):
        raise ValueError("P_bar: every row must be a probability distribution")
    lo = np.ascontiguousarray(np.clip(P_bar - eps, 0.0, 1.0))
    hi = np.ascontiguousarray(np.clip(P_bar + eps, 0.0, 1.0))
    return lo, hi


def _box_reach(lo_hi: np.ndarray, mu: np.ndarray, H: int) -> np.ndarray:
    """States reachable from mu under some kernel of the box (entries with ``hi > 0``)."""
    S = mu.shape[0]
    reach = np.zeros((H, S), dtype=bool)
    reach[0] = mu > 0
    for h in range(H - 1):
        reach[h + 1] = (lo_hi[h][reach[h]] > 0).any(axis=(0, 1))
    return reach


def confidence_violation(mu, P_bar, eps, W, q_last) -> float:
    r"""Largest violation by the triple measure ``(W, q_last)`` of the constraints of
    :math:`\Delta(\mathcal P)` (:func:`project_confidence_occupancy`): flow
    :math:`|\sum_a q_{h+1}(s',a) - \sum_{s,a}w_h(s,a,s')|` (and :math:`|\sum_a q_0(s,a) -
    \mu(s)|`), box :math:`\max(0, lo\,q - w, w - hi\,q)` and negativity."""
    W = np.asarray(W, dtype=np.float64)
    q_last = np.asarray(q_last, dtype=np.float64)
    H, S, A = W.shape[0] + 1, W.shape[1], W.shape[2]
    lo, hi = _box(P_bar, eps, H, S, A)
    mu = np.asarray(mu, dtype=np.float64)
    q = np.concatenate([W.sum(-1), q_last[None]], axis=0)
    inflow = np.concatenate([mu[None], W.sum(axis=(1, 2))], axis=0)
    flow = np.abs(q.sum(-1) - inflow).max()
    qw = q[:-1, :, :, None]
    box = max(0.0, float((lo * qw - W).max(initial=0.0)), float((W - hi * qw).max(initial=0.0)))
    neg = max(0.0, -float(W.min(initial=0.0)), -float(q_last.min()))
    return float(max(flow, box, neg))



_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "tol_ktratio": 1e-10,
          "max_iter": 500}  # Clarabel settings of the one-off reference projection


class _Projection:
    """The KL projection onto :math:`\\Delta(\\mathcal P)`, compiled once (cvxpy parameters:
    log of the point to project, empirical kernel, widths)."""

    def __init__(self, H, S, A, mu, solver, **solver_options):
        import cvxpy as cp

        self.H, self.S, self.A = H, S, A
        self.solver = solver
        self.solver_options = solver_options
        n_w = (H - 1) * S * A * S
        self.w = cp.Variable(n_w + S * A, nonneg=True)
        self.c = cp.Parameter(n_w + S * A)  # log of the point projected
        self.Pbar = [cp.Parameter((S * A, S), nonneg=True) for _ in range(H - 1)]
        self.eps = [cp.Parameter((S * A, S), nonneg=True) for _ in range(H - 1)]
        cons = []
        q = []
        W = []
        for h in range(H - 1):
            Wh = cp.reshape(self.w[h * S * A * S:(h + 1) * S * A * S], (S * A, S), order="C")
            W.append(Wh)
            q.append(cp.sum(Wh, axis=1))
        q.append(self.w[n_w:])
        for h in range(H - 1):
            dev = W[h] - cp.multiply(self.Pbar[h], cp.reshape(q[h], (S * A, 1), order="C"))
            bound = cp.multiply(self.eps[h], cp.reshape(q[h], (S * A, 1), order="C"))
            cons += [dev <= bound, -dev <= bound]
            incoming = cp.sum(W[h], axis=0)  # (S,)
            cons.append(cp.sum(cp.reshape(q[h + 1], (S, A), order="C"), axis=1) == incoming)
        cons.append(cp.sum(cp.reshape(q[0], (S, A), order="C"), axis=1) == mu)
        obj = cp.Minimize(-cp.sum(cp.entr(self.w)) - self.c @ self.w - cp.sum(self.w))
        self.problem = cp.Problem(obj, cons)
        self.n_w = n_w

    def __call__(self, log_point: np.ndarray, P_bar: np.ndarray, eps: np.ndarray) -> np.ndarray:
        H, S, A = self.H, self.S, self.A
        self.c.value = log_point
        for h in range(H - 1):
            self.Pbar[h].value = P_bar[h].reshape(S * A, S)
            self.eps[h].value = np.minimum(eps[h], 1.0).reshape(S * A, S)
        self.problem.solve(solver=self.solver, **self.solver_options)
        if self.w.value is None:  # pragma: no cover - solver failure
            raise RuntimeError(f"UOB-REPS projection failed: {self.problem.status}")
        return np.maximum(self.w.value, 0.0)

    def occupancy(self, w: np.ndarray) -> np.ndarray:
        """``q (H, S, A)`` from the triple vector."""
        H, S, A = self.H, self.S, self.A
        q = np.empty((H, S, A))
        if H > 1:
            q[:-1] = w[:self.n_w].reshape(H - 1, S, A, S).sum(-1)
        q[-1] = w[self.n_w:].reshape(S, A)
        return q




def project_confidence_occupancy(mu, P_bar, eps, logw, log_last, *, method: str = "newton",
                                 tol: float = 1e-12, max_iter: int = 100, v0=None
                                 ) -> ConfidenceProjection:
    r"""KL projection onto the occupancy measures consistent with a confidence set of kernels
    (the OMD step of UOB-REPS, Jin, Jin, Luo, Sra & Yu 2020, arXiv:1912.01192; their
    "efficient projection" is a dual method too, details unverified here).

    With triple variables :math:`w_h(s,a,s')` (:math:`h < H-1`) and :math:`q_{H-1}(s,a)`,
    :math:`q_h(s,a) = \sum_{s'}w_h(s,a,s')`, the set is

    .. math::

        \Delta(\mathcal P) = \Big\{w \ge 0:\ \sum_a q_0(s,a) = \mu(s),\
          \sum_a q_{h+1}(s',a) = \sum_{s,a}w_h(s,a,s'),\
          |w_h(s,a,s') - \bar P_h(s'|s,a)q_h(s,a)| \le \epsilon_h(s'|s,a)q_h(s,a)\Big\},

    the occupancy measures of all policies under all kernels of the box
    :math:`\mathcal P = \{\hat P: |\hat P - \bar P| \le \epsilon\}` (then
    :math:`\hat P_h(s'|s,a) = w_h(s,a,s')/q_h(s,a)`), and the projection of the point
    :math:`e^{c}` (``logw``, ``log_last``) is
    :math:`\arg\min_{w\in\Delta(\mathcal P)} \sum w\log(w/e^{c}) - w`.

    **Dual method** (``method="newton"``, :func:`mdplab.learn._adv_kernels.uob_project`).
    Writing :math:`w_h(s,a,\cdot) = q\,p` with :math:`p` in the box
    :math:`B_h(s,a) = [lo, hi]\cap\Delta_S`, :math:`lo = (\bar P-\epsilon)_+`,
    :math:`hi = \min(\bar P+\epsilon, 1)`, and dualising the flow constraints only
    (multipliers :math:`v\in\mathbb R^{H\times S}`), the Lagrangian separates over
    :math:`(h, s, a)`: for fixed :math:`v`,

    .. math::

        \varphi_{h,s,a}(v) = \min_{p\in B_h(s,a)}\sum_{s'}p(s')\big(\log p(s') - c_h(s,a,s')
          - v_{h+1}(s')\big),\qquad q_h(s,a) = e^{-v_h(s) - \varphi_{h,s,a}(v)},

    (:math:`\varphi = -c` at the last step), the inner minimiser
    :math:`p^\star = \mathrm{clip}(e^{c + v_{h+1} - \tau}, lo, hi)` is exact
    (:func:`mdplab.learn._adv_kernels.box_kl_project`), and :math:`v` minimises the convex dual
    :math:`F(v) = \sum_{h,s,a} q_h(s,a) + \sum_s\mu(s)v_0(s)` whose gradient is the flow
    residual :math:`\mathrm{inflow}_h(s) - \sum_a q_h(s,a)`,
    :math:`\mathrm{inflow}_{h+1}(s') = \sum_{s,a}q_h(s,a)p^\star_{h,s,a}(s')`. Its (generalised)
    Hessian :math:`\sum q\,cc^\top + q\,(\mathrm{diag}(p_F) - p_Fp_F^\top/\sum_F p)`
    (:math:`c = -e_{h,s} + p^\star`, :math:`F` the coordinates strictly inside the box) is block
    tridiagonal as for O-REPS (:func:`project_occupancy`), so the same damped Newton applies
    with :math:`H` dual blocks of size :math:`S` instead of a conic program over
    :math:`HS^2A` variables. ``method="cvxpy"`` solves the primal exponential-cone program
    (Clarabel), the reference the tests compare against.

    Parameters
    ----------
    mu : array_like
        Initial distribution ``(S,)``.
    P_bar, eps : array_like
        Centre and widths of the box, ``(H-1, S, A, S)`` or ``(H, S, A, S)`` (the last step is
        ignored); rows of ``P_bar`` are distributions, ``eps >= 0``.
    logw, log_last : array_like
        Logarithm of the point projected: triples ``(H-1, S, A, S)`` and last-step pairs
        ``(S, A)`` (finite).
    method : {"newton", "cvxpy"}
    tol, max_iter, v0
        Newton's stopping flow violation, iteration cap and warm start ``(H, S)`` (``None``: a
        backward pass that matches every state's outflow to a target mass,
        :func:`mdplab.learn._adv_kernels.uob_initial_v`).
    """
    logw = np.asarray(logw, dtype=np.float64)
    log_last = np.asarray(log_last, dtype=np.float64)
    if logw.ndim != 4 or logw.shape[1] != logw.shape[3]:
        raise ValueError(f"logw has shape {logw.shape}, expected (H-1, S, A, S)")
    Hm1, S, A, _ = logw.shape
    H = Hm1 + 1
    if log_last.shape != (S, A):
        raise ValueError(f"log_last has shape {log_last.shape}, expected {(S, A)}")
    if not (np.all(np.isfinite(logw)) and np.all(np.isfinite(log_last))):
        raise ValueError("logw and log_last must be finite everywhere")
    mu = _check_mu(mu, S)
    lo, hi = _box(P_bar, eps, H, S, A)
    if Hm1 and (lo.sum(-1).max() > 1 + 1e-12 or hi.sum(-1).min() < 1 - 1e-12):
        raise ValueError("the box [P_bar - eps, P_bar + eps] holds no distribution")
    if method not in ("newton", "cvxpy"):
        raise ValueError(f"method = {method!r}: expected 'newton' or 'cvxpy'")
    tol = _check_real("tol", tol, 0.0, open_low=True)
    max_iter = _check_int("max_iter", max_iter, 1)
    P_bar_c = np.asarray(P_bar, dtype=np.float64)[:Hm1]
    eps_c = np.asarray(eps, dtype=np.float64)[:Hm1]
    if method == "cvxpy":
        full = np.concatenate([P_bar_c, np.full((1, S, A, S), 1.0 / S)], axis=0)
        proj = _Projection(H, S, A, mu, "CLARABEL", **_TIGHT)
        with warnings.catch_warnings():  # at 1e-12 Clarabel may flag an accurate solution
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            w = proj(np.concatenate([logw.reshape(-1), log_last.reshape(-1)]), full,
                     np.concatenate([eps_c, np.zeros((1, S, A, S))], axis=0))
        W, ql = w[:proj.n_w].reshape(Hm1, S, A, S), w[proj.n_w:].reshape(S, A)
        q = np.concatenate([W.sum(-1), ql[None]], axis=0)
        return ConfidenceProjection(W, ql, q, None, 0,
                                    confidence_violation(mu, P_bar_c, eps_c, W, ql), "cvxpy")
    v = np.zeros((H, S)) if v0 is None else np.array(v0, dtype=np.float64)
    if v.shape != (H, S):
        raise ValueError(f"v0 has shape {v.shape}, expected {(H, S)}")
    reach = _box_reach(hi, mu, H)
    logw = np.ascontiguousarray(logw)
    log_last = np.ascontiguousarray(log_last)
    if v0 is None:
        _ak.uob_initial_v(logw, log_last, lo, hi, mu, reach, v)
    W = np.zeros((Hm1, S, A, S))
    ql = np.zeros((S, A))
    logq = np.zeros((H, S, A))
    it, _ = _ak.uob_project(logw, log_last, lo, hi, mu, reach, v, W, ql, logq, tol, max_iter)
    q = np.concatenate([W.sum(-1), ql[None]], axis=0)
    return ConfidenceProjection(W, ql, q, v, int(it),
                                confidence_violation(mu, P_bar_c, eps_c, W, ql), "newton")



def upper_occupancy_bound(pi, P_bar, eps, mu) -> np.ndarray:
    r"""Upper occupancy bound (Comp-UOB of Jin et al. 2020, arXiv:1912.01192; algorithm
    numbering unverified): :math:`u_h(s,a) = \max_{\hat P\in\mathcal P} q^{\hat P,\pi}_h(s,a)`
    over the kernels with :math:`|\hat P - \bar P| \le \epsilon` entrywise (rows
    distributions), for every ``(h, s, a)`` separately (the maximiser depends on the target).

    For a target :math:`(h, s)`: :math:`f_h = e_s`, and for :math:`k = h-1, \dots, 0`,
    :math:`f_k(x) = \sum_a\pi_k(a|x)\max_{p\in B_k(x,a)}\langle p, f_{k+1}\rangle` (dynamic
    programming is exact: the kernel rows of different :math:`(k, x, a)` are chosen
    independently), the inner linear maximum over the box-simplex
    :math:`B = [lo, hi]\cap\Delta_S` is greedy (every coordinate at its lower end, the remaining
    mass to the largest :math:`f` first); :math:`u_h(s,a) = \pi_h(a|s)\langle\mu, f_0\rangle`.
    :math:`O(H^2S^3A)` per call (Numba, :func:`mdplab.learn._adv_kernels.comp_uob`).

    ``pi (H, S, A)`` (rows distributions), ``P_bar``/``eps`` ``(H-1 or H, S, A, S)``,
    ``mu (S,)``. With ``eps = 0`` this is the occupancy of ``pi`` under ``P_bar``.
    """
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim != 3:
        raise ValueError(f"pi has shape {pi.shape}, expected (H, S, A)")
    H, S, A = pi.shape
    if not np.all(np.isfinite(pi)) or pi.min() < 0 or np.abs(pi.sum(-1) - 1).max() > 1e-9:
        raise ValueError("pi: every row must be a probability distribution")
    mu = _check_mu(mu, S)
    lo, hi = _box(P_bar, eps, H, S, A)  # (H-1, S, A, S); empty when H = 1
    u = np.zeros((H, S, A))
    _ak.comp_uob(np.ascontiguousarray(pi), lo, hi, mu, u)
    return u


def _bernstein_box(N, M, iota):
    """Empirical kernel (``1/S`` where unvisited) and :func:`confidence_widths` from counts."""
    S = M.shape[-1]
    P_bar = np.where(N[..., None] > 0, M / np.maximum(N, 1.0)[..., None], 1.0 / S)
    return P_bar, confidence_widths(N, P_bar, iota)


class _UOBREPSAgent:
    def __init__(self, mdp, K, eta, gamma, delta, confidence, projection, tol, solver):
        H, S, A = mdp.H, mdp.S, mdp.A
        self.shape = (H, S, A)
        self.mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
        self.eta, self.gamma, self.tol = eta, gamma, tol
        self.iota = math.log(K * H * S * A / delta)
        self.confidence = confidence
        self.P_true = _kernel(mdp) if confidence == "known" else None
        self.N = np.zeros((H, S, A))
        self.M = np.zeros((H, S, A, S))
        self.N_epoch = np.zeros((H, S, A))
        self.epochs = 1
        self.v = np.zeros((H, S))
        self.W = np.zeros((H - 1, S, A, S))
        self.q_last = np.zeros((S, A))
        self.logq = np.zeros(self.shape)
        self.pi = np.full(self.shape, 1.0 / A)
        self.u = np.zeros(self.shape)
        self.max_violation = 0.0
        self.newton_iterations = 0
        self.n_projections = 0
        self.cvx = _Projection(H, S, A, self.mu, solver) if projection == "cvxpy" else None
        self._set_confidence()
        # q_1: projection of the all-ones triple measure (cold start of the dual)
        cw, clast = np.zeros((H - 1, S, A, S)), np.zeros((S, A))
        _ak.uob_initial_v(cw, clast, self.lo, self.hi, self.mu, self.reach, self.v)
        self._project(cw, clast)

    def _set_confidence(self):
        if self.confidence == "known":
            self.P_bar = self.P_true
            self.eps = np.zeros_like(self.P_true)
        else:
            self.P_bar, self.eps = _bernstein_box(self.N, self.M, self.iota)
        H, S, A = self.shape
        self.lo, self.hi = _box(self.P_bar, self.eps, H, S, A)
        self.reach = _box_reach(self.hi, self.mu, H)
        self.N_epoch = self.N.copy()

    def _project(self, cw, clast):
        if self.cvx is None:
            it, viol = _ak.uob_project(cw, clast, self.lo, self.hi, self.mu, self.reach, self.v,
                                       self.W, self.q_last, self.logq, self.tol, 100)
            self.newton_iterations += int(it)
        else:
            H, S, A = self.shape
            w = self.cvx(np.concatenate([cw.reshape(-1), clast.reshape(-1)]), self.P_bar,
                         self.eps)
            self.W = w[:self.cvx.n_w].reshape(H - 1, S, A, S)
            self.q_last = w[self.cvx.n_w:].reshape(S, A)
            self.logq[-1] = np.log(np.maximum(self.q_last, 1e-300))
            viol = confidence_violation(self.mu, self.P_bar[:H - 1], self.eps[:H - 1], self.W,
                                        self.q_last)
        self.n_projections += 1
        self.max_violation = max(self.max_violation, float(viol))

    @property
    def q(self) -> np.ndarray:
        return np.concatenate([self.W.sum(-1), self.q_last[None]], axis=0)

    def diagnostics(self) -> dict:
        """State at the end of a run (stored by :func:`mdplab.learn.adversarial.run_adversarial`
        in ``log.attrs["diagnostics"]``)."""
        return {"epochs": self.epochs, "projections": self.n_projections,
                "mean_newton_iterations": self.newton_iterations / max(1, self.n_projections),
                "P_bar": self.P_bar.copy(), "eps": self.eps.copy(), "counts": self.N.copy()}

    def policy(self):
        _policy_from_occupancy(self.q, self.pi)
        _ak.comp_uob(self.pi, self.lo, self.hi, self.mu, self.u)
        return self.pi

    def update(self, states, actions, observed, table):
        H, S, A = self.shape
        lhat = np.zeros(self.shape)
        for h in range(H):
            s, a = states[h], actions[h]
            lhat[h, s, a] = observed[h] / (self.u[h, s, a] + self.gamma)
            self.N[h, s, a] += 1
            if h < H - 1:
                self.M[h, s, a, states[h + 1]] += 1
        if np.any(self.N >= 2 * np.maximum(self.N_epoch, 1)):
            self.epochs += 1
            self._set_confidence()
        # OMD step: KL projection of w exp(-eta lhat) (lhat replicated over s'), in logs
        with np.errstate(divide="ignore"):
            logW = np.log(self.W)
        cw = logW - self.eta * lhat[:-1, :, :, None]
        clast = self.logq[-1] - self.eta * lhat[-1]
        # entries without mass (unreachable states) stay finite for the kernel
        cw = np.where(np.isfinite(cw), cw, -745.0)
        clast = np.where(np.isfinite(clast), clast, -745.0)
        self._project(np.ascontiguousarray(cw), np.ascontiguousarray(clast))


@dataclass(frozen=True)
class UOBREPS(AdversarialLearner):
    r"""UOB-REPS (Jin, Jin, Luo, Sra & Yu 2020, arXiv:1912.01192): OMD over the occupancy
    measures consistent with an empirical-Bernstein confidence set of the unknown transitions,
    with the upper-occupancy-bound loss estimator (bandit feedback; module docstring).

    * Epochs: counts :math:`N_h(s,a)`, :math:`M_h(s,a,s')`; a new epoch (new confidence set)
      starts when some :math:`N_h(s,a)` has doubled since the last one.
    * Confidence set: :math:`|\hat P - \bar P| \le \epsilon` with the empirical-Bernstein
      widths :func:`confidence_widths` (``confidence="bernstein"``), or the oracle
      ``confidence="known"``: :math:`\bar P = P`, :math:`\epsilon = 0` (then the set is
      :math:`\Delta(P)` and the learner is O-REPS with bandit feedback and implicit
      exploration :math:`\gamma`, run as OMD over triples; a reference and a test of the
      reduction).
    * OMD: :math:`\hat w_{t+1} = \arg\min_{w\in\Delta(\mathcal P_{i(t+1)})}\eta\langle w,
      \hat\ell_t\rangle + D(w\|\hat w_t)`, :math:`\hat w_1` the projection of the all-ones
      triple measure; :math:`\pi_t(a|s)\propto\hat q_t(s,a)`.
    * Loss estimator: :math:`\hat\ell_t(h,s,a) = \ell_t(h,s,a)\mathbb 1\{(s_h,a_h)=(s,a)\}/
      (u_t(h,s,a) + \gamma)`, :math:`u_t` the upper occupancy bound of :math:`\pi_t` over the
      current set (:func:`upper_occupancy_bound`).

    Parameters
    ----------
    eta, gamma : float, optional
        Learning rate and implicit exploration (``None``: the paper's
        :math:`\eta = \gamma`, :func:`uob_reps_eta`).
    delta : float
        Confidence level of the transition set, in (0, 1).
    confidence : {"bernstein", "known"}
    projection : {"newton", "cvxpy"}
        The dual Newton method (default) or the compiled exponential-cone program.
    tol : float
        Flow-violation tolerance of the Newton projection.
    solver : str
        cvxpy solver of ``projection="cvxpy"`` (an exponential-cone solver).
    """

    eta: float | None = None
    gamma: float | None = None
    delta: float = 0.05
    confidence: str = "bernstein"
    projection: str = "newton"
    tol: float = 1e-11
    solver: str = "CLARABEL"
    feedback: str = "bandit"

    def __post_init__(self):
        if self.eta is not None:
            _check_real("eta", self.eta, 0.0)
        if self.gamma is not None:
            _check_real("gamma", self.gamma, 0.0)
        _check_real("delta", self.delta, 0.0, open_low=True)
        if self.delta >= 1:
            raise ValueError(f"delta = {self.delta!r} must lie in (0, 1)")
        if self.confidence not in ("bernstein", "known"):
            raise ValueError(f"confidence = {self.confidence!r}: expected 'bernstein' or "
                             "'known'")
        if self.projection not in ("newton", "cvxpy"):
            raise ValueError(f"projection = {self.projection!r}: expected 'newton' or 'cvxpy'")
        _check_real("tol", self.tol, 0.0, open_low=True)
        if self.feedback != "bandit":
            raise ValueError("UOB-REPS is a bandit-feedback algorithm (feedback='bandit')")

    @property
    def name(self) -> str:
        return "UOB-REPS" + (" (known P)" if self.confidence == "known" else "")

    def start(self, mdp, K, rng):
        _check_model(mdp)
        if mdp.H < 2:
            raise ValueError("UOB-REPS needs a horizon H >= 2 (transitions to learn)")
        tuned = uob_reps_eta(K, mdp.H, mdp.S, mdp.A, self.delta)
        eta = tuned if self.eta is None else float(self.eta)
        gamma = tuned if self.gamma is None else float(self.gamma)
        return _UOBREPSAgent(mdp, K, eta, gamma, float(self.delta), self.confidence,
                             self.projection, float(self.tol), self.solver)
