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
D(q\|\hat q_t)`, i.e. the KL projection of :math:`\hat q_t e^{-\eta\hat\ell_t}`; solved here
with cvxpy (exponential cone, the problem compiled once and re-solved with new parameters).
:math:`\hat q_1` is the projection of the uniform triple measure. Policy
:math:`\pi_t(a|s) \propto \hat q_{t,h}(s,a)`.

Loss estimator with the **upper occupancy bound**:
:math:`\hat\ell_t(h,s,a) = \ell_t(h,s,a)\,\mathbb 1\{(s_h,a_h) = (s,a)\} / (u_t(h,s,a) +
\gamma)`, :math:`u_t(h,s,a) = \max_{\hat P\in\mathcal P_i} q^{\hat P,\pi_t}_h(s,a)` computed by
Comp-UOB (:func:`upper_occupancy_bound`): for each target :math:`(h, s)`, a backward pass
:math:`f_k(x) = \sum_a\pi_t(a|x)\max_{\hat P(\cdot|x,a)}\sum_{x'}\hat P(x'|x,a)f_{k+1}(x')`,
:math:`f_h = \mathbb 1_s`, where the inner maximum over the box :math:`[\bar P - \epsilon,
\bar P + \epsilon]\cap` simplex is greedy (lower ends, then the remaining mass to the largest
:math:`f` first). Tuning :math:`\eta = \gamma = \sqrt{H\ln(HSA/\delta)/(KSA)}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .adversarial import AdversarialLearner, _check_int, _check_model, _check_real

__all__ = ["UOBREPS", "confidence_widths", "uob_reps_eta", "upper_occupancy_bound"]


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


def _greedy_max(lo: np.ndarray, hi: np.ndarray, f: np.ndarray) -> np.ndarray:
    r""":math:`\max\{\sum_{x'}p(x')f(x') : lo \le p \le hi, \sum p = 1\}` for every leading index
    (last axis :math:`x'`): lower ends, then the remaining mass to the largest ``f`` first."""
    order = np.argsort(-f, kind="stable")
    fo = f[order]
    base = lo @ f
    room = (hi - lo)[..., order]
    left = np.maximum(1.0 - lo.sum(-1), 0.0)[..., None]
    before = np.cumsum(room, axis=-1) - room
    add = np.clip(left - before, 0.0, room)
    return base + add @ fo


def upper_occupancy_bound(pi, P_bar, eps, mu) -> np.ndarray:
    r"""Comp-UOB: :math:`u_h(s,a) = \max_{\hat P} q^{\hat P,\pi}_h(s,a)` over the kernels with
    :math:`|\hat P - \bar P| \le \epsilon` (entrywise, each row a distribution).

    ``pi (H, S, A)``, ``P_bar`` and ``eps`` ``(H, S, A, S)`` (only steps ``< H-1`` are used),
    ``mu (S,)``. The maximum is taken separately for every target state (the maximiser
    may differ between targets), as in the paper; when ``eps = 0`` and ``P_bar`` is a kernel
    this is the occupancy of ``pi`` under ``P_bar``."""
    pi = np.asarray(pi, dtype=float)
    H, S, A = pi.shape
    lo = np.clip(P_bar - eps, 0.0, 1.0)
    hi = np.clip(P_bar + eps, 0.0, 1.0)
    u = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            f = np.zeros(S)
            f[s] = 1.0
            for k in range(h - 1, -1, -1):
                best = _greedy_max(lo[k], hi[k], f)  # (S, A)
                f = np.sum(pi[k] * best, axis=1)
            u[h, s] = (mu @ f) * pi[h, s]
    return u


class _Projection:
    """The KL projection onto :math:`\\Delta(\\mathcal P)`, compiled once (cvxpy parameters:
    log of the point to project, empirical kernel, widths)."""

    def __init__(self, H, S, A, mu, solver):
        import cvxpy as cp

        self.H, self.S, self.A = H, S, A
        self.solver = solver
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
        self.problem.solve(solver=self.solver)
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


class _UOBREPSAgent:
    def __init__(self, mdp, K, eta, gamma, delta, solver):
        H, S, A = mdp.H, mdp.S, mdp.A
        self.shape = (H, S, A)
        self.mu = np.asarray(mdp.mu, dtype=float)
        self.eta, self.gamma = eta, gamma
        self.iota = math.log(K * H * S * A / delta)
        self.N = np.zeros((H, S, A))
        self.M = np.zeros((H, S, A, S))
        self.N_epoch = np.zeros((H, S, A))
        self.epochs = 1
        self._set_confidence()
        self.proj = _Projection(H, S, A, self.mu, solver)
        self.w = self.proj(np.zeros(self.proj.w.size), self.P_bar, self.eps)
        self.q = self.proj.occupancy(self.w)
        self.pi = np.full(self.shape, 1.0 / A)
        self.u = None
        self.max_violation = 0.0

    def _set_confidence(self):
        n = np.maximum(self.N, 1.0)[..., None]
        self.P_bar = np.where(self.N[..., None] > 0, self.M / n, 1.0 / self.shape[1])
        self.eps = confidence_widths(self.N, self.P_bar, self.iota)
        self.N_epoch = self.N.copy()

    def policy(self):
        q = self.q
        tot = q.sum(-1, keepdims=True)
        self.pi = np.where(tot > 1e-300, q / np.maximum(tot, 1e-300), 1.0 / self.shape[2])
        self.pi /= self.pi.sum(-1, keepdims=True)
        self.u = upper_occupancy_bound(self.pi, self.P_bar, self.eps, self.mu)
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
        # OMD step: KL projection of w * exp(-eta * lhat) (lhat replicated over s')
        n_w = self.proj.n_w
        lw = np.concatenate([np.repeat(lhat[:-1].reshape(-1), S), lhat[-1].reshape(-1)])
        with np.errstate(divide="ignore"):
            log_point = np.log(np.maximum(self.w, 1e-300)) - self.eta * lw
        self.w = self.proj(log_point, self.P_bar, self.eps)
        self.q = self.proj.occupancy(self.w)
        del n_w


@dataclass(frozen=True)
class UOBREPS(AdversarialLearner):
    r"""UOB-REPS (Jin et al. 2020, arXiv:1912.01192): OMD over the occupancy measures
    consistent with an empirical-Bernstein confidence set of the unknown transitions, with
    the upper-occupancy-bound loss estimator (bandit feedback; module docstring).

    Parameters
    ----------
    eta, gamma : float, optional
        Learning rate and implicit-exploration term (``None``: :func:`uob_reps_eta`).
    delta : float
        Confidence level of the transition set, in (0, 1).
    solver : str
        cvxpy solver of the projection (an exponential-cone solver).
    """

    eta: float | None = None
    gamma: float | None = None
    delta: float = 0.05
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
        if self.feedback != "bandit":
            raise ValueError("UOB-REPS is a bandit-feedback algorithm (feedback='bandit')")

    @property
    def name(self) -> str:
        return "UOB-REPS"

    def start(self, mdp, K, rng):
        _check_model(mdp)
        tuned = uob_reps_eta(K, mdp.H, mdp.S, mdp.A, self.delta)
        eta = tuned if self.eta is None else float(self.eta)
        gamma = tuned if self.gamma is None else float(self.gamma)
        return _UOBREPSAgent(mdp, K, eta, gamma, float(self.delta), self.solver)
