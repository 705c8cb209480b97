r"""Adversarial finite-horizon MDPs with known transitions: O-REPS, adversaries, exact regret.

Setting
-------
A finite-horizon MDP with **known** kernels :math:`P_h` and initial distribution :math:`\mu`
(a :class:`mdplab.TabularMDP` built with ``horizon=H``; its rewards are ignored) and a sequence
of loss tables :math:`\ell_1, \dots, \ell_K \in [0,1]^{H \times S \times A}` chosen by an
adversary **before** the run (oblivious; an adaptive adversary is simulated against a given
learner beforehand, see :func:`adaptive_losses`). In episode :math:`k` the learner plays
:math:`\pi_k` and pays :math:`\ell_k(\pi_k) = \langle q^{\pi_k}, \ell_k\rangle`, where
:math:`q^{\pi}_h(s,a) = \Pr^\pi(s_h = s, a_h = a)` is the occupancy measure. It observes the whole
table :math:`\ell_k` (full information) or only :math:`\ell_k(h, s_h, a_h)` along its trajectory
(bandit feedback). The regret against the best fixed policy in hindsight,

.. math::

    \mathrm{Regret}(K) = \sum_{k=1}^K \langle q^{\pi_k}, \ell_k\rangle
        - \min_\pi \sum_{k=1}^K \langle q^{\pi}, \ell_k\rangle,

is computed **exactly**: :math:`\langle q^{\pi_k}, \ell_k\rangle` by forward propagation (the
runner's kernel :func:`mdplab.learn._kernels.policy_value`) and the minimum by backward
induction on :math:`-\sum_k \ell_k` (a deterministic policy attains it).

O-REPS
------
Zimin & Neu (2013), *Online learning in episodic Markovian decision processes by relative
entropy policy search*, NeurIPS 26 (no arXiv version; algorithm in Sec. 3-4, numbering
unverified). Their abstract states the regret bounds :math:`2L\sqrt{T\log(|X||A|/L)}` (full
information) and :math:`2\sqrt{L|X||A|T\log(|X||A|/L)}` (bandit) for :math:`L` layers,
:math:`|X|` states in all and :math:`T` episodes, i.e. :math:`2H\sqrt{K\log(SA)}` and
:math:`2H\sqrt{SAK\log(SA)}` here (:math:`L = H`, :math:`|X| = HS`). The set of occupancy
measures is the polytope

.. math::

    \Delta(P) = \Big\{q \ge 0:\ \sum_a q_0(s,a) = \mu(s),\ \
      \sum_a q_{h+1}(s',a) = \sum_{s,a} P_h(s'|s,a)\, q_h(s,a)\ \ (h < H-1)\Big\},

and O-REPS is online mirror descent on it with the unnormalised negative entropy
:math:`R(q) = \sum q\log q - q`:

.. math::

    q_{k+1} = \arg\min_{q\in\Delta(P)}\ \eta\langle q, \hat\ell_k\rangle + D_R(q \,\|\, q_k),
    \qquad q_1 = \arg\min_{q \in \Delta(P)} R(q),

:math:`\pi_k(a|s) = q_{k,h}(s,a)/\sum_b q_{k,h}(s,b)`. Because :math:`\Delta(P)` is cut out by
equality constraints only, this equals FTRL, :math:`q_{k+1} = \arg\min_{q\in\Delta(P)}
\langle q, \hat L_k\rangle + R(q)/\eta` with :math:`\hat L_k = \sum_{j\le k}\hat\ell_j`, i.e. the
entropic projection of :math:`e^{-\eta \hat L_k}` (both have the form
:math:`e^{-\eta\hat L_k + C^\top v}`; the tests check the two agree). mdplab implements the FTRL
form, which also allows the anytime rate :math:`\eta_k`. The projection is
:func:`project_occupancy`: Newton's method on the dual (default; Numba, see
:mod:`mdplab.learn._adv_kernels`) or the primal exponential-cone program in cvxpy (Clarabel).

Loss estimates: full information :math:`\hat\ell_k = \ell_k`; bandit feedback, importance
weighting with the exact occupancy (P is known)
:math:`\hat\ell_k(h,s,a) = \ell_k(h,s,a)\,\mathbb 1\{(s_h,a_h) = (s,a)\}/(q_{k,h}(s,a) + \gamma)`
(:math:`\gamma = 0`: unbiased; :math:`\gamma > 0`: implicit exploration, Neu 2015).

**Regret bound (our derivation of the standard OMD argument, constants explicit).** For any
comparator :math:`u \in \Delta(P)` and non-negative estimates, the Bregman projection lemma gives
:math:`\eta\langle q_k - u, \hat\ell_k\rangle \le D_R(u\|q_k) - D_R(u\|q_{k+1})
+ \sum q_k(e^{-\eta\hat\ell_k} - 1 + \eta\hat\ell_k)` and
:math:`e^{-x} - 1 + x \le x^2/2`; :math:`D_R(u\|q_1) = R(u) - R(q_1) \le H\log(SA)` because
:math:`q_1` minimises :math:`R` on the affine set. Hence, with a fixed :math:`\eta`,

.. math::

    \text{full information:}\quad \mathrm{Regret}(K) \le \frac{H\log(SA)}{\eta}
        + \frac{\eta}{2}\sum_k \langle q_k, \ell_k^2\rangle
        \le \frac{H\log(SA)}{\eta} + \frac{\eta K H}{2}
        = H\sqrt{2K\log(SA)} \ \text{ at } \eta = \sqrt{2\log(SA)/K};

    \text{bandit:}\quad \mathbb E\,\mathrm{Regret}(K) \le \frac{H\log(SA)}{\eta}
        + \frac{\eta K H S A}{2} = H\sqrt{2KSA\log(SA)}
        \ \text{ at } \eta = \sqrt{2\log(SA)/(KSA)}

(:math:`\mathbb E\langle q_k, \hat\ell_k^2\rangle = \sum \ell_k^2 \le HSA`): a factor
:math:`\sqrt 2` below the abstract's bounds. :func:`oreps_bound` evaluates both.

Policy optimisation
-------------------
:class:`PolicyFTRL` -- per-state FTRL over the action simplex (log-barrier or negative
entropy) on importance-weighted linear-Q estimates with the exact covariance (P known), the
ingredients of Dai, Luo, Wei & Zimmert (2023), *Refined regret for adversarial MDPs with linear
function approximation*, ICML, arXiv:2301.12942 (abstract: log-barrier FTRL whose refined
analysis tolerates arbitrarily negative estimates gives :math:`\tilde O(\sqrt K)` with a
simulator; theorem and algorithm numbering unverified; their dilated bonus and
magnitude-reduced estimator are not implemented). Formulas in the class docstring.

Unknown transitions: :mod:`mdplab.learn.adversarial_unknown` (UOB-REPS).

Adversaries
-----------
All return a ``(K, H, S, A)`` float array in [0, 1], fixed before the run:
:func:`oblivious_losses` (i.i.d. Bernoulli or uniform losses with fixed random means),
:func:`drifting_losses` (Bernoulli losses whose means drift sinusoidally),
:func:`switching_losses` (a random target policy has the lower mean, and the target changes
``n_phases`` times), :func:`hard_losses` (the catalogue's K-dependent instance: Bernoulli(1/2)
everywhere except the pairs of a target policy at :math:`1/2 - \Delta_K`,
:math:`\Delta_K = \min(1/4, c\sqrt{SA/K})`, so that regret is :math:`\Theta(\sqrt K)` and a
two-sided slope test is meaningful) and :func:`adaptive_losses` (loss 1 on the action the
given learner currently favours, simulated beforehand with the same random streams as
:func:`run_adversarial`, so a replay with the returned table reproduces the run exactly).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._utils import as_rng, spawn
from ..mdp import TabularMDP
from . import _adv_kernels as _ak
from . import _kernels as _k
from .runner import _dense_model, record_grid

__all__ = [
    "OREPS",
    "PolicyFTRL",
    "OccupancyProjection",
    "adaptive_losses",
    "best_policy_in_hindsight",
    "drifting_losses",
    "fixed_policy_regret",
    "flow_violation",
    "hard_losses",
    "oblivious_losses",
    "oreps_bound",
    "project_occupancy",
    "run_adversarial",
    "switching_losses",
]

COLUMNS = ["episode", "loss", "regret", "cum_regret", "hindsight_regret", "seconds"]


# ----------------------------------------------------------------------------- validation


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} = {value} must be >= {minimum}")
    return int(value)


def _check_real(name: str, value, low: float = 0.0, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    ok = value > low if open_low else value >= low
    if not (math.isfinite(value) and ok):
        raise ValueError(f"{name} = {value!r} must be finite and {'>' if open_low else '>='} "
                         f"{low:g}")
    return value


def _check_model(mdp) -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a TabularMDP (known transitions), got "
                        f"{type(mdp).__name__}")
    if mdp.discounted:
        raise ValueError(f"mdp is discounted (gamma = {mdp.gamma}); adversarial MDPs here are "
                         "episodic: build the model with horizon=H")
    return mdp


def _kernel(mdp: TabularMDP) -> np.ndarray:
    """Dense ``(H, S, A, S)`` kernel (every step materialised)."""
    P, _ = _dense_model(mdp)
    if P.shape[0] == 1:
        P = np.ascontiguousarray(np.broadcast_to(P, (mdp.H,) + P.shape[1:]))
    return P


def _reachable(P: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``(H, S)``: states reachable at step h from mu under some (equivalently, the uniform)
    policy."""
    H, S = P.shape[0], P.shape[1]
    reach = np.zeros((H, S), dtype=bool)
    reach[0] = mu > 0
    for h in range(H - 1):
        reach[h + 1] = (P[h][reach[h]] > 0).any(axis=(0, 1))
    return reach


def _check_losses(losses, mdp: TabularMDP) -> np.ndarray:
    try:
        arr = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"losses: expected an array of numbers ({exc})") from None
    shape = (mdp.H, mdp.S, mdp.A)
    if arr.ndim != 4 or arr.shape[1:] != shape or arr.shape[0] < 1:
        raise ValueError(f"losses has shape {arr.shape}, expected (K, H, S, A) = (K, "
                         f"{', '.join(map(str, shape))}) with K >= 1")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"losses[{idx}] is {arr[idx]}, expected a finite number")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"losses span [{lo:.6g}, {hi:.6g}], expected values in [0, 1]")
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class OccupancyProjection:
    """Result of :func:`project_occupancy`.

    Attributes
    ----------
    q : ndarray
        The projection, ``(H, S, A)``; each step sums to 1.
    v : ndarray or None
        Dual variables ``(H, S)`` (Newton) or the flow constraints' multipliers (cvxpy).
    iterations : int
        Newton iterations (0 for cvxpy).
    violation : float
        Largest flow-constraint violation of ``q`` (:func:`flow_violation`).
    method : str
    """

    q: np.ndarray
    v: np.ndarray | None
    iterations: int
    violation: float
    method: str


def flow_violation(mdp: TabularMDP, q) -> float:
    r"""Largest violation of the flow constraints of :math:`\Delta(P)` by ``q (H, S, A)``:
    :math:`\max_{h,s}|\sum_a q_h(s,a) - \mathrm{inflow}_h(s)|` (inflow :math:`\mu` at h = 0),
    and :math:`\max(0, -\min q)` for negativity."""
    _check_model(mdp)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"q has shape {q.shape}, expected {(mdp.H, mdp.S, mdp.A)}")
    P = _kernel(mdp)
    inflow = np.empty((mdp.H, mdp.S))
    inflow[0] = mdp.mu
    inflow[1:] = np.einsum("hsa,hsat->ht", q[:-1], P[:-1])
    return float(max(np.abs(q.sum(axis=2) - inflow).max(), max(0.0, -q.min())))


def _project_cvxpy(P, mu, reach, logw):
    import cvxpy as cp
    import scipy.sparse as sp

    H, S, A = logw.shape
    keep = np.repeat(reach[:, :, None], A, axis=2).reshape(-1)
    idx = np.flatnonzero(keep)
    n = idx.size
    rows, cols, vals = [], [], []
    # outflow of (h, s): + sum_a q_h(s, a)
    hs = idx // A
    rows.append(hs)
    cols.append(np.arange(n))
    vals.append(np.ones(n))
    # inflow of (h+1, t): - sum_{s,a} P_h(t|s,a) q_h(s,a)
    h_of = idx // (S * A)
    sa = idx % (S * A)
    for j in np.flatnonzero(h_of < H - 1):
        h = h_of[j]
        p = P[h].reshape(S * A, S)[sa[j]]
        nz = np.flatnonzero(p)
        rows.append((h + 1) * S + nz)
        cols.append(np.full(nz.size, j))
        vals.append(-p[nz])
    M = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(H * S, n))
    b = np.zeros((H, S))
    b[0] = mu
    r_keep = reach.reshape(-1)
    M = M[r_keep]
    b = b.reshape(-1)[r_keep]
    lw = logw.reshape(-1)[idx]
    shift = float(lw.max())
    w = np.exp(lw - shift)  # the objective scales by e^shift: sum q log(q / w) - q
    x = cp.Variable(n)
    # sum kl_div(x, w e^shift) = sum x log(x/w) - x + w e^shift - shift * sum(x): same argmin
    objective = cp.sum(cp.kl_div(x, w)) - shift * cp.sum(x)
    cons = [M @ x == b]
    prob = cp.Problem(cp.Minimize(objective), cons)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12,
                   tol_ktratio=1e-10, max_iter=500)
    if x.value is None:
        raise RuntimeError(f"project_occupancy(method='cvxpy'): no solution (status "
                           f"{prob.status})")
    q = np.zeros(H * S * A)
    q[idx] = np.maximum(x.value, 0.0)
    v = np.zeros(H * S)
    v[r_keep] = np.asarray(cons[0].dual_value).reshape(-1)
    return q.reshape(H, S, A), v.reshape(H, S)


def project_occupancy(mdp: TabularMDP, w=None, *, logw=None, method: str = "newton",
                      tol: float = 1e-12, max_iter: int = 100, v0=None) -> OccupancyProjection:
    r"""Entropic (unnormalised-KL) projection of a positive ``w`` onto the occupancy polytope.

    :math:`q^\star = \arg\min_{q\in\Delta(P)} \sum q\log(q/w) - q` (module docstrings of
    :mod:`mdplab.learn.adversarial` and :mod:`mdplab.learn._adv_kernels`).

    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon; gives ``P`` and ``mu``.
    w, logw : array_like
        The point ``(H, S, A)``, or its logarithm (exactly one of the two; use ``logw`` when
        entries under- or overflow). ``w = 1`` everywhere gives the maximum-entropy occupancy.
    method : {"newton", "cvxpy"}
        Dual Newton (Numba) or the primal exponential-cone program (cvxpy + Clarabel).
    tol : float
        Newton stops when the largest flow violation is ``<= tol``.
    max_iter : int
        Newton iterations at most.
    v0 : array_like, optional
        Warm start of the dual ``(H, S)`` (Newton); ``None``: a backward pass matching every
        state's outflow to a target mass (:func:`mdplab.learn._adv_kernels.oreps_initial_v`).
    """
    _check_model(mdp)
    if (w is None) == (logw is None):
        raise ValueError("give exactly one of w and logw")
    shape = (mdp.H, mdp.S, mdp.A)
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != shape:
            raise ValueError(f"w has shape {w.shape}, expected {shape}")
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("w must be finite and > 0 everywhere (pass logw for extreme "
                             "values)")
        logw = np.log(w)
    else:
        logw = np.asarray(logw, dtype=np.float64)
        if logw.shape != shape:
            raise ValueError(f"logw has shape {logw.shape}, expected {shape}")
        if not np.all(np.isfinite(logw)):
            raise ValueError("logw must be finite everywhere")
    if method not in ("newton", "cvxpy"):
        raise ValueError(f"method = {method!r}: expected 'newton' or 'cvxpy'")
    tol = _check_real("tol", tol, 0.0, open_low=True)
    max_iter = _check_int("max_iter", max_iter, 1)
    P = _kernel(mdp)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    reach = _reachable(P, mu)
    if method == "cvxpy":
        q, v = _project_cvxpy(P, mu, reach, logw)
        return OccupancyProjection(q, v, 0, flow_violation(mdp, q), "cvxpy")
    v = np.zeros((mdp.H, mdp.S)) if v0 is None else np.array(v0, dtype=np.float64)
    if v.shape != (mdp.H, mdp.S):
        raise ValueError(f"v0 has shape {v.shape}, expected {(mdp.H, mdp.S)}")
    q = np.zeros(shape)
    logw = np.ascontiguousarray(logw)
    if v0 is None:  # cold start: outflows matched by a backward pass (far points converge)
        _ak.oreps_initial_v(logw, P, mu, reach, v)
    it, viol = _ak.kl_project(logw, P, mu, reach, v, q, tol, max_iter)
    return OccupancyProjection(q, v, int(it), flow_violation(mdp, q), "newton")


def _policy_from_occupancy(q: np.ndarray, out: np.ndarray) -> np.ndarray:
    n = q.sum(axis=2, keepdims=True)
    np.divide(q, n, out=out, where=n > 0)
    A = q.shape[2]
    empty = np.broadcast_to(n <= 0, q.shape)
    out[empty] = 1.0 / A
    return out


# ----------------------------------------------------------------------------- regret bound


def oreps_bound(K, S: int, A: int, H: int, feedback: str = "full", eta=None,
                paper: bool = False) -> np.ndarray:
    r"""The OMD regret bound of the module docstring, :math:`H\log(SA)/\eta + \eta K H c/2`
    with :math:`c = 1` (full information) or :math:`c = SA` (bandit, in expectation); ``eta``
    defaults to the tuned :math:`\sqrt{2\log(SA)/(Kc)}` (then :math:`H\sqrt{2Kc\log(SA)}`).
    ``paper=True``: Zimin & Neu's stated :math:`2H\sqrt{Kc\log(SA)}` instead."""
    if feedback not in ("full", "bandit"):
        raise ValueError(f"feedback = {feedback!r}: expected 'full' or 'bandit'")
    K = np.asarray(K, dtype=float)
    c = 1.0 if feedback == "full" else float(S * A)
    log_sa = math.log(S * A)
    if paper:
        return 2.0 * H * np.sqrt(K * c * log_sa)
    if eta is None:
        eta = np.sqrt(2.0 * log_sa / (K * c))
    return H * log_sa / eta + eta * K * H * c / 2.0


def _tuned_eta(K: int, S: int, A: int, feedback: str) -> float:
    c = 1.0 if feedback == "full" else float(S * A)
    return math.sqrt(2.0 * math.log(max(S * A, 2)) / (K * c))


# ----------------------------------------------------------------------------- O-REPS


class AdversarialLearner:
    """Base class: ``start(mdp, K, rng)`` returns an agent with ``policy() -> (H, S, A)`` and
    ``update(states, actions, observed, table)`` (``table`` is ``None`` under bandit
    feedback)."""

    feedback: str = "full"
    name: str = "adversarial-learner"

    def start(self, mdp: TabularMDP, K: int, rng: np.random.Generator):
        raise NotImplementedError


class _OREPSAgent:
    def __init__(self, mdp, K, eta, anytime, feedback, gamma_ix, method, tol):
        self.P = _kernel(mdp)
        self.mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
        self.reach = _reachable(self.P, self.mu)
        self.mdp = mdp
        H, S, A = mdp.H, mdp.S, mdp.A
        self.shape = (H, S, A)
        self.eta, self.anytime, self.feedback = eta, anytime, feedback
        self.gamma_ix, self.method, self.tol = gamma_ix, method, tol
        self.Lhat = np.zeros(self.shape)
        self.v = np.zeros((H, S))
        self.q = np.zeros(self.shape)
        self.pi = np.zeros(self.shape)
        self.k = 0
        self.max_violation = 0.0
        self.newton_iterations = 0

    def current_eta(self) -> float:
        return self.eta / math.sqrt(self.k) if self.anytime else self.eta

    def policy(self):
        self.k += 1
        logw = -self.current_eta() * self.Lhat
        if self.method == "newton":
            it, viol = _ak.kl_project(logw, self.P, self.mu, self.reach, self.v, self.q,
                                      self.tol, 200)
            self.newton_iterations += int(it)
        else:
            self.q, _ = _project_cvxpy(self.P, self.mu, self.reach, logw)
            viol = flow_violation(self.mdp, self.q)
        self.max_violation = max(self.max_violation, float(viol))
        return _policy_from_occupancy(self.q, self.pi)

    def update(self, states, actions, observed, table):
        if table is not None:
            self.Lhat += table
            return
        for h in range(self.shape[0]):
            s, a = states[h], actions[h]
            self.Lhat[h, s, a] += observed[h] / (self.q[h, s, a] + self.gamma_ix)


@dataclass(frozen=True)
class OREPS(AdversarialLearner):
    r"""O-REPS (Zimin & Neu 2013): entropic FTRL / OMD over the occupancy polytope.

    Parameters
    ----------
    eta : float, optional
        Learning rate (``>= 0``; 0 never moves from the maximum-entropy occupancy). ``None``:
        the tuned :math:`\sqrt{2\log(SA)/(Kc)}`, :math:`c = 1` (full) or :math:`SA` (bandit).
        With ``anytime=True``, the rate of episode :math:`k` is ``eta / sqrt(k)`` (``None``:
        :math:`\sqrt{2\log(SA)/c}`).
    feedback : {"full", "bandit"}
    anytime : bool
        Use :math:`\eta_k = \eta/\sqrt k` (FTRL; no need to know ``K``).
    implicit : float
        :math:`\gamma \ge 0` of the bandit estimator's denominator ``q + gamma``.
    projection : {"newton", "cvxpy"}
        How the projection is solved (cvxpy is slow; for cross-checks).
    tol : float
        Flow-violation tolerance of the Newton projection.
    """

    eta: float | None = None
    feedback: str = "full"
    anytime: bool = False
    implicit: float = 0.0
    projection: str = "newton"
    tol: float = 1e-12

    def __post_init__(self):
        if self.eta is not None:
            _check_real("eta", self.eta, 0.0)
        if self.feedback not in ("full", "bandit"):
            raise ValueError(f"feedback = {self.feedback!r}: expected 'full' or 'bandit'")
        _check_real("implicit", self.implicit, 0.0)
        if self.projection not in ("newton", "cvxpy"):
            raise ValueError(f"projection = {self.projection!r}: expected 'newton' or "
                             "'cvxpy'")
        _check_real("tol", self.tol, 0.0, open_low=True)

    @property
    def name(self) -> str:
        return f"O-REPS ({self.feedback})"

    def start(self, mdp, K, rng):
        _check_model(mdp)
        S, A = mdp.S, mdp.A
        if self.eta is not None:
            eta = float(self.eta)
        elif self.anytime:
            eta = _tuned_eta(1, S, A, self.feedback)
        else:
            eta = _tuned_eta(K, S, A, self.feedback)
        return _OREPSAgent(mdp, K, eta, self.anytime, self.feedback, float(self.implicit),
                           self.projection, float(self.tol))


class _PolicyFTRLAgent:
    def __init__(self, mdp, K, eta, regularizer, baseline, features, ridge):
        self.P = _kernel(mdp)
        self.mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
        H, S, A = mdp.H, mdp.S, mdp.A
        self.H, self.S, self.A = H, S, A
        self.eta, self.regularizer, self.ridge = eta, regularizer, ridge
        self.b = (H - np.arange(H, dtype=float)) if baseline == "max" else np.zeros(H)
        self.F = None if features is None else features.reshape(S * A, -1)
        self.Lhat = np.zeros((H, S, A))
        self.pi = np.full((H, S, A), 1.0 / A)
        self.q = np.zeros((H, S, A))
        self.min_estimate = 0.0

    def policy(self):
        if self.regularizer == "logbarrier":
            _ak.logbarrier_policy(self.Lhat, self.eta, self.pi)
        else:
            _ak.entropy_policy(self.Lhat, self.eta, self.pi)
        _ak.occupancy_from_policy(self.P, self.mu, self.pi, self.q)
        return self.pi

    def update(self, states, actions, observed, table):
        H, S, A = self.H, self.S, self.A
        togo = np.cumsum(observed[::-1])[::-1]  # realised loss-to-go L_{k,h}
        for h in range(H):
            s, a = states[h], actions[h]
            y = togo[h] - self.b[h]
            if self.F is None:  # one-hot features: Sigma_h = diag(q_h)
                est = y / self.q[h, s, a]
                self.Lhat[h, s, a] += est
                self.min_estimate = min(self.min_estimate, est)
            else:
                F = self.F
                Sigma = (F * self.q[h].reshape(-1, 1)).T @ F
                Sigma[np.diag_indices_from(Sigma)] += self.ridge
                # pseudo-inverse: directions never reached by pi_k (q = 0) get no estimate
                theta = np.linalg.pinv(Sigma, rcond=1e-13, hermitian=True) @ (F[s * A + a] * y)
                Qhat = (F @ theta).reshape(S, A)
                self.Lhat[h] += Qhat
                self.min_estimate = min(self.min_estimate, float(Qhat.min()))


@dataclass(frozen=True, eq=False)
class PolicyFTRL(AdversarialLearner):
    r"""Per-state FTRL on importance-weighted Q estimates (policy optimisation, bandit
    feedback, known transitions): the tabular/linear-Q ingredients of Dai, Luo, Wei & Zimmert
    (2023), arXiv:2301.12942 (log-barrier FTRL that tolerates negative estimates), **not** their
    full algorithm (no dilated bonus, no magnitude-reduced estimator; details of their Alg. 1
    unverified here).

    At every ``(h, s)``, :math:`\pi_{k,h}(\cdot|s) = \arg\min_{p\in\Delta_A}\langle p,
    \sum_{j<k}\hat Q_{j,h}(s,\cdot)\rangle + \psi(p)/\eta` with the log-barrier
    :math:`\psi(p) = -\sum_a \log p(a)` or the negative entropy. The estimate is the linear-Q
    one with the exact covariance (P known: a perfect simulator),
    :math:`\hat\theta_{k,h} = \Sigma_{k,h}^{-1}\phi(s_h,a_h)(L_{k,h} - b_h)`,
    :math:`\Sigma_{k,h} = \sum_{s,a} q_{k,h}(s,a)\phi\phi^\top (+\text{ridge})`,
    :math:`\hat Q_{k,h} = \phi^\top\hat\theta_{k,h}`, with the realised loss-to-go
    :math:`L_{k,h}`; with one-hot features (default) this is
    :math:`\mathbb 1\{(s_h,a_h)=(s,a)\}(L_{k,h} - b_h)/q_{k,h}(s,a)`. ``baseline="max"``
    subtracts :math:`b_h = H - h` (an upper bound of :math:`L_{k,h}`), which leaves the policies
    unbiased in expectation (a constant per ``(h, s)`` does not change the per-state FTRL solution
    in expectation) but makes every estimate :math:`\le 0` and large in magnitude: the
    log-barrier tolerates it, exponential weights do not.

    Parameters
    ----------
    regularizer : {"logbarrier", "entropy"}
    eta : float, optional
        Learning rate; ``None``: :math:`1/(H\sqrt{KA})`.
    baseline : {"none", "max"}
    features : array_like, optional
        ``(S, A, d)`` features of the linear-Q estimate (one-hot when ``None``).
    ridge : float
        Added to the diagonal of :math:`\Sigma` (general features only). The estimate uses
        the pseudo-inverse: directions no policy reaches get no estimate.
    """

    regularizer: str = "logbarrier"
    eta: float | None = None
    baseline: str = "none"
    features: object = None
    ridge: float = 1e-9
    feedback = "bandit"

    def __post_init__(self):
        if self.regularizer not in ("logbarrier", "entropy"):
            raise ValueError(f"regularizer = {self.regularizer!r}: expected 'logbarrier' or "
                             "'entropy'")
        if self.eta is not None:
            _check_real("eta", self.eta, 0.0, open_low=True)
        if self.baseline not in ("none", "max"):
            raise ValueError(f"baseline = {self.baseline!r}: expected 'none' or 'max'")
        _check_real("ridge", self.ridge, 0.0)
        if self.features is not None:
            phi = np.array(self.features, dtype=np.float64)
            if phi.ndim != 3 or not np.all(np.isfinite(phi)):
                raise ValueError(f"features: expected a finite array (S, A, d), got shape "
                                 f"{phi.shape}")
            object.__setattr__(self, "features", phi)

    @property
    def name(self) -> str:
        return f"policy FTRL ({self.regularizer}{', baseline' if self.baseline == 'max' else ''})"

    def __repr__(self) -> str:
        d = "one-hot" if self.features is None else f"d={self.features.shape[2]}"
        return (f"PolicyFTRL(regularizer={self.regularizer!r}, eta={self.eta!r}, "
                f"baseline={self.baseline!r}, features={d})")

    def start(self, mdp, K, rng):
        _check_model(mdp)
        if self.features is not None and self.features.shape[:2] != (mdp.S, mdp.A):
            raise ValueError(f"features have shape {self.features.shape}, expected "
                             f"({mdp.S}, {mdp.A}, d)")
        eta = self.eta if self.eta is not None else 1.0 / (mdp.H * math.sqrt(K * mdp.A))
        return _PolicyFTRLAgent(mdp, K, float(eta), self.regularizer, self.baseline,
                                self.features, float(self.ridge))


# ----------------------------------------------------------------------------- adversaries


def _shape(mdp, K):
    _check_model(mdp)
    K = _check_int("K", K, 1)
    return K, (mdp.H, mdp.S, mdp.A)


def oblivious_losses(mdp: TabularMDP, K: int, rng=None, *, kind: str = "bernoulli",
                     means=None) -> np.ndarray:
    """i.i.d. losses with fixed means (``means (H, S, A)`` in [0, 1], uniform random when
    ``None``): ``kind="bernoulli"`` draws 0/1 losses, ``"uniform"`` draws
    ``U[0, 2 m]`` (``m <= 1/2``) or ``U[2m - 1, 1]`` (``m > 1/2``), both with mean ``m``."""
    K, shape = _shape(mdp, K)
    g = as_rng(rng)
    if means is None:
        means = g.random(shape)
    means = np.asarray(means, dtype=np.float64)
    if means.shape != shape or np.any(~np.isfinite(means)) or means.min() < 0 or \
            means.max() > 1:
        raise ValueError(f"means: expected an array of shape {shape} with values in [0, 1]")
    u = g.random((K,) + shape)
    if kind == "bernoulli":
        return (u < means).astype(np.float64)
    if kind == "uniform":
        lo = np.where(means <= 0.5, 0.0, 2 * means - 1)
        hi = np.where(means <= 0.5, 2 * means, 1.0)
        return lo + (hi - lo) * u
    raise ValueError(f"kind = {kind!r}: expected 'bernoulli' or 'uniform'")


def drifting_losses(mdp: TabularMDP, K: int, rng=None, *, cycles: float = 1.0,
                    amplitude: float = 0.4) -> np.ndarray:
    r"""Bernoulli losses with slowly drifting means
    :math:`m_k(h,s,a) = 1/2 + \text{amplitude}\,\sin(2\pi\,\text{cycles}\,k/K + \varphi_{h,s,a})`,
    random phases :math:`\varphi`."""
    K, shape = _shape(mdp, K)
    amplitude = _check_real("amplitude", amplitude, 0.0)
    if amplitude > 0.5:
        raise ValueError(f"amplitude = {amplitude!r} must be <= 0.5")
    cycles = _check_real("cycles", cycles, 0.0)
    g = as_rng(rng)
    phase = g.uniform(0, 2 * np.pi, shape)
    t = np.arange(1, K + 1)[:, None, None, None] / K
    means = 0.5 + amplitude * np.sin(2 * np.pi * cycles * t + phase)
    return (g.random((K,) + shape) < means).astype(np.float64)


def _random_target(mdp, g) -> np.ndarray:
    return g.integers(0, mdp.A, size=(mdp.H, mdp.S))


def switching_losses(mdp: TabularMDP, K: int, rng=None, *, n_phases: int = 4,
                     gap: float = 0.2) -> np.ndarray:
    """Bernoulli losses: in each of ``n_phases`` equal blocks of episodes a random target
    policy has mean ``1/2 - gap`` on its pairs, every other pair ``1/2``."""
    K, shape = _shape(mdp, K)
    n_phases = _check_int("n_phases", n_phases, 1)
    gap = _check_real("gap", gap, 0.0)
    if gap > 0.5:
        raise ValueError(f"gap = {gap!r} must be <= 0.5")
    g = as_rng(rng)
    means = np.full((K,) + shape, 0.5)
    bounds = np.linspace(0, K, n_phases + 1).round().astype(int)
    H, S = mdp.H, mdp.S
    hh, ss = np.meshgrid(np.arange(H), np.arange(S), indexing="ij")
    for i in range(n_phases):
        target = _random_target(mdp, g)
        means[bounds[i]:bounds[i + 1], hh, ss, target] = 0.5 - gap
    return (g.random((K,) + shape) < means).astype(np.float64)


def hard_losses(mdp: TabularMDP, K: int, rng=None, *, c: float = 1.0,
                target=None) -> np.ndarray:
    r"""The K-dependent hard instance: Bernoulli(1/2) losses except on the pairs
    :math:`(h, s, \pi^\dagger_h(s))` of a target policy (random when ``None``; an integer array
    ``(H, S)``), which have mean :math:`1/2 - \Delta_K`, :math:`\Delta_K = \min(1/4,
    c\sqrt{SA/K})`."""
    K, shape = _shape(mdp, K)
    c = _check_real("c", c, 0.0)
    g = as_rng(rng)
    H, S = mdp.H, mdp.S
    target = _random_target(mdp, g) if target is None else np.asarray(target)
    if target.shape != (H, S) or not np.issubdtype(target.dtype, np.integer) or \
            target.min() < 0 or target.max() >= mdp.A:
        raise ValueError(f"target: expected integers in [0, {mdp.A - 1}] of shape {(H, S)}")
    delta = min(0.25, c * math.sqrt(S * mdp.A / K))
    means = np.full(shape, 0.5)
    hh, ss = np.meshgrid(np.arange(H), np.arange(S), indexing="ij")
    means[hh, ss, target] = 0.5 - delta
    return (g.random((K,) + shape) < means).astype(np.float64)


def adaptive_losses(learner: AdversarialLearner, mdp: TabularMDP, K: int, rng=None
                    ) -> np.ndarray:
    r"""An adaptive worst case for ``learner``: :math:`\ell_k(h,s,a) = 1` on the action the
    learner's policy :math:`\pi_k` favours at :math:`(h, s)` (ties: lowest index), 0
    elsewhere. Simulated beforehand with the random streams :func:`run_adversarial` derives
    from ``rng``, so ``run_adversarial(learner, mdp, adaptive_losses(learner, mdp, K, rng),
    rng=rng)`` replays the same policies and its regret is exact."""
    _check_model(mdp)
    K = _check_int("K", K, 1)
    table = np.zeros((K, mdp.H, mdp.S, mdp.A))

    def loss_fn(k, pi):
        best = pi.argmax(axis=2)
        np.put_along_axis(table[k], best[..., None], 1.0, axis=2)
        return table[k]

    _play(learner, mdp, K, loss_fn, rng, None)
    return table


# ----------------------------------------------------------------------------- the runner


def best_policy_in_hindsight(mdp: TabularMDP, losses) -> tuple[np.ndarray, float]:
    r"""``(policy (H, S, A), total loss)`` of :math:`\arg\min_\pi \sum_k\langle q^\pi,
    \ell_k\rangle` (deterministic; by backward induction on :math:`-\sum_k \ell_k`)."""
    _check_model(mdp)
    losses = _check_losses(losses, mdp)
    P = _kernel(mdp)
    return _best(P, np.ascontiguousarray(mdp.mu, dtype=np.float64), losses.sum(axis=0))


def fixed_policy_regret(mdp: TabularMDP, policy, losses) -> np.ndarray:
    r"""Exact cumulative regret ``(K,)`` of playing one fixed ``policy (H, S, A)`` in every
    episode: :math:`R_k = \sum_{j\le k}\langle q^\pi - q^{\pi^\star}, \ell_j\rangle`, with
    :math:`\pi^\star` the best fixed policy for the whole sequence
    (:func:`best_policy_in_hindsight`), the comparator of :func:`run_adversarial`'s
    ``cum_regret``. A non-learning reference (e.g. the uniform policy) for regret curves."""
    _check_model(mdp)
    losses = _check_losses(losses, mdp)
    pi = np.asarray(policy, dtype=np.float64)
    if pi.shape != (mdp.H, mdp.S, mdp.A):
        raise ValueError(f"policy has shape {pi.shape}, expected {(mdp.H, mdp.S, mdp.A)}")
    if not np.all(np.isfinite(pi)) or pi.min() < 0 or np.abs(pi.sum(-1) - 1).max() > 1e-9:
        raise ValueError("policy: every row must be a probability distribution")
    P = _kernel(mdp)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    q = np.zeros((mdp.H, mdp.S, mdp.A))
    _ak.occupancy_from_policy(P, mu, np.ascontiguousarray(pi), q)
    pi_star, _ = _best(P, mu, losses.sum(axis=0))
    q_star = np.zeros_like(q)
    _ak.occupancy_from_policy(P, mu, np.ascontiguousarray(pi_star), q_star)
    return np.cumsum(np.einsum("khsa,hsa->k", losses, q - q_star))


def _best(P, mu, L):
    H, S, A = L.shape
    Q = np.empty((H, S, A))
    V = np.empty((H + 1, S))
    _k.backward_induction(P, np.ascontiguousarray(-L), Q, V)
    pi = np.eye(A)[Q.argmax(axis=2)]
    return pi, float(-(mu @ V[0]))


def _play(learner, mdp, K, loss_fn, rng, keep):
    """The episode loop; ``loss_fn(k, pi) -> (H, S, A)`` (0-based k). Returns per-episode
    expected losses, the wall times and the agent."""
    if not isinstance(learner, AdversarialLearner):
        raise TypeError(f"learner: expected an adversarial learner such as OREPS(), got "
                        f"{type(learner).__name__}")
    H, S, A = mdp.H, mdp.S, mdp.A
    P = _kernel(mdp)
    Pcdf = np.cumsum(P, axis=-1)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    mu_cdf = np.cumsum(mu)
    logref = np.zeros((1, S, A))
    env_rng, agent_rng = spawn(as_rng(rng), 2)
    agent = learner.start(mdp, K, agent_rng)
    full = learner.feedback == "full"
    states = np.empty(H + 1, dtype=np.int64)
    actions = np.empty(H, dtype=np.int64)
    obs = np.empty(H)
    losses = np.empty(K)
    seconds = np.empty(K)
    t0 = time.perf_counter()
    block = 512
    u = None
    for k in range(K):
        if k % block == 0:
            u = env_rng.random((min(block, K - k), 3 * H + 1))
        pi = agent.policy()
        ell = np.ascontiguousarray(loss_fn(k, pi), dtype=np.float64)
        _k.sample_episode(Pcdf, ell, mu_cdf, pi, u[k % block], False, states, actions, obs)
        J, _ = _k.policy_value(P, ell, mu, pi, logref)
        losses[k] = J
        agent.update(states, actions, obs, ell if full else None)
        seconds[k] = time.perf_counter() - t0
    return losses, seconds, agent


def run_adversarial(learner: AdversarialLearner, mdp: TabularMDP, losses, *, rng=None,
                    record_every: int = 1) -> pd.DataFrame:
    r"""Play ``learner`` against the fixed loss tables ``losses (K, H, S, A)``; exact regret.

    Columns: ``episode``; ``loss`` :math:`=\langle q^{\pi_k}, \ell_k\rangle` (exact);
    ``regret`` :math:`=` ``loss`` :math:`- \langle q^{\pi^\star}, \ell_k\rangle` with
    :math:`\pi^\star` the best fixed policy in hindsight over all ``K`` episodes;
    ``cum_regret`` (its running sum: at ``K`` the regret of the module docstring);
    ``hindsight_regret`` :math:`= \sum_{j\le k}\text{loss}_j - \min_\pi\sum_{j\le k}
    \langle q^\pi, \ell_j\rangle` (against the best policy for the first ``k`` episodes,
    exact, computed on the rows kept); ``seconds``. ``record_every`` thins the rows like
    :func:`mdplab.learn.run` (:func:`mdplab.learn.record_grid`). ``log.attrs`` holds
    ``best_policy``, ``best_loss``, ``learner``, ``max_violation`` (largest flow violation
    of the learner's projections, when it has one) and, for learners that report it (UOB-REPS,
    :mod:`mdplab.learn.adversarial_unknown`),
    ``diagnostics`` (a dict: epochs, Newton iterations, final confidence set).
    """
    _check_model(mdp)
    table = _check_losses(losses, mdp)
    K = table.shape[0]
    every = _check_int("record_every", record_every, 1)
    ell_fn = lambda k, pi: table[k]  # noqa: E731
    values, seconds, agent = _play(learner, mdp, K, ell_fn, rng, None)
    P = _kernel(mdp)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    pi_star, best_loss = _best(P, mu, table.sum(axis=0))
    logref = np.zeros((1, mdp.S, mdp.A))
    star = np.array([_k.policy_value(P, table[k], mu, pi_star, logref)[0] for k in range(K)])
    regret = values - star
    cum = np.cumsum(regret)
    rows = record_grid(K, every) - 1
    cumL = np.cumsum(table, axis=0)[rows] if K * table[0].size <= 5e7 else None
    hind = np.empty(rows.size)
    cum_values = np.cumsum(values)
    for i, r in enumerate(rows):
        L = cumL[i] if cumL is not None else table[:r + 1].sum(axis=0)
        hind[i] = cum_values[r] - _best(P, mu, L)[1]
    log = pd.DataFrame({"episode": rows + 1, "loss": values[rows], "regret": regret[rows],
                        "cum_regret": cum[rows], "hindsight_regret": hind,
                        "seconds": seconds[rows]})
    log.attrs.update(learner=repr(learner), best_policy=pi_star, best_loss=best_loss,
                     episodes=K, max_violation=getattr(agent, "max_violation", float("nan")))
    if hasattr(agent, "diagnostics"):
        log.attrs["diagnostics"] = agent.diagnostics()
    return log
